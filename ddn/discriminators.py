"""Classifiers that tell real images from denoised ones (the adversaries).

The chapter's convention: the score is u = log P(denoised | x) / P(real | x),
so u > 0 means "denoised" and u <= 0 "real" (labels y = +1 real, -1 denoised;
see ddn.losses).

Two kinds share one convolutional encoder: `len(features)` levels of
`blocks` conv + activation layers; every level after the first starts by
halving the resolution (a stride-2 conv, or 2x2 average / max pooling).

  image  global pooling over space (average or max), optional fully
         connected layers (each followed by the activation), then a linear
         layer: one score per image, for any input size.
  patch  fully convolutional: a last conv to one channel gives a score map,
         one score per patch; the patch is the receptive field of the stack
         (`Classifier.patch_size`). With padding 'VALID' (the default for
         patches) every score sees exactly one patch inside the image.

With `detail`, the classifier also sees x minus its 3x3 binomial blur (x8,
`highpass`) as extra channels, so fine texture reaches it from the first
layer rather than after it has learned a high-pass filter itself; the blur
adds 2 px to the patch.

With `mscn`, it also sees the image's MSCN coefficients (I − μ) / (σ + C),
μ and σ the local mean and standard deviation under a Gaussian window of
std 7/6 px (9 x 9), C = 1/255 (BRISQUE's normalisation, `mscn`): grain
in a flat region, small in pixels, is large there, as it is to a
divisive-normalisation model of vision. Its window makes the patch 8 px
wider than no blur (6 more than detail's).

With `conditional` (pix2pix's conditional D, for denoising), D also sees
the noisy image its input came from: its input has twice the image's
channels, the image then the noisy image (`condition`), and it scores the
image beside the noise that was removed, RESIDUAL_GAIN · (noisy − image).
For a real pair that residual is the noise itself, white and independent
of the image; for G's output it also holds whatever texture G took away,
so D can catch smoothing the image alone would hide, and G is pushed to
remove noise and nothing else. The residual adds no pixels to the patch.
With `joint` as well, D holds both designs: beside each conditional stack
an image-only stack with its own weights (named 'img_...') scores the
image alone, as the unconditional D does; the scores are a tuple, the
conditional stacks' then the image-only ones', and every loss is their
mean (`per_scale`, as for scales). G must then fool a D that sees the
image alone (what the realism judges see) and one that sees the noise it
removed.

`features_of` returns the features at the end of every level (feature
matching, ddn.losses.feature_matching).

With `scales` = S > 1 (kind 'patch'; pix2pixHD's multi-scale D, Wang et al.
2018), S stacks of the same design, each with its own weights, score the
image average-pooled by 1, 2, ..., 2^(S-1): the k-th stack's patch covers
2^k times the first's side, so D sees more context for the same cost of
its first stack plus a quarter, a sixteenth... The scores are a tuple of S
maps, and every loss is the mean over scales of that scale's loss
(ddn.losses.per_scale).

Options: ReLU or leaky ReLU (slope `leaky_slope`, 0.2 by default), spectral
normalization of every conv and dense kernel (flax `nn.SpectralNorm`; its
power-iteration state lives in the 'batch_stats' collection, updated only
when `train=True`), dropout after every activation.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from ddn import models

KINDS = ("image", "patch")
DOWNSAMPLES = ("stride", "avg_pool", "max_pool")
POOLS = ("avg", "max")
PADDINGS = ("SAME", "VALID")
ACTIVATIONS = ("relu", "leaky_relu")
STATS = "batch_stats"  # collection of the spectral-norm state (u, sigma)


class Classifier(nn.Module):
  """Real-vs-denoised classifier; see the module docstring.

  Attributes:
    kind: 'image' (one score per image) or 'patch' (a score map).
    channels: image channels the classifier expects.
    features: conv widths per level, e.g. (32, 64, 128).
    blocks: conv layers per level.
    kernel_size: spatial size of every conv kernel.
    downsample: 'stride', 'avg_pool' or 'max_pool' (between levels).
    padding: 'SAME' or 'VALID' for every conv.
    pool: 'avg' or 'max' global pooling (kind 'image').
    dense: widths of the hidden fully connected layers (kind 'image').
    activation: 'relu' or 'leaky_relu'.
    leaky_slope: negative slope of the leaky ReLU.
    spectral_norm: spectrally normalize every conv and dense kernel.
    power_iterations: power-iteration steps per call (spectral norm).
    dropout: dropout rate after every activation (0 disables it).
    detail: also feed the image's detail channels (`highpass`).
    conditional: the input also holds the noisy image (`condition`); D sees
      the removed noise beside the image.
    joint: with `conditional`, also an image-only stack per scale (the
      scores become a tuple, conditional stacks first).
    scales: stacks on the image pooled by 1, 2, ... 2^(scales-1).
    dtype: of the conv activations (config.compute_dtype); pooling, dense
      layers and scores are float32, as are the parameters.
  """

  kind: str = "image"
  channels: int = 1
  features: Sequence[int] = (32, 64, 128)
  blocks: int = 1
  kernel_size: int = 3
  downsample: str = "stride"
  padding: str = "SAME"
  pool: str = "avg"
  dense: Sequence[int] = ()
  activation: str = "leaky_relu"
  leaky_slope: float = 0.2
  spectral_norm: bool = False
  power_iterations: int = 1
  dropout: float = 0.0
  detail: bool = False
  detail_width: int = 3  # the detail channel's binomial blur (highpass)
  mscn: bool = False
  conditional: bool = False
  joint: bool = False
  scales: int = 1
  dtype: Any = jnp.float32

  def _layer(self, layer: nn.Module, x, train: bool):
    if self.spectral_norm:
      return nn.SpectralNorm(layer, n_steps=self.power_iterations,
                             collection_name=STATS)(x, update_stats=train)
    return layer(x)

  def _act(self, x, train: bool):
    act = (functools.partial(nn.leaky_relu, negative_slope=self.leaky_slope)
           if self.activation == "leaky_relu" else nn.relu)
    return models.act_dropout(x, act, self.dropout, train)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False):
    """Scores a batch.

    Args:
      x: (B, H, W, channels) images in [0, 1]; with `conditional`,
        (B, H, W, 2 · channels): each image and its noisy input
        (`condition`).
      train: updates the spectral-norm state (call with
        `mutable=['batch_stats']`) and enables dropout (needs a 'dropout' rng).

    Returns:
      u: (B,) for kind 'image'; (B, H', W') for kind 'patch'; with `scales`
      = S > 1, a tuple of S score maps, the k-th of x average-pooled by 2^k
      (ddn.losses averages a loss over them, `per_scale`); with `joint`,
      a tuple of 2S: the conditional stacks' maps, then the image-only's.
    """
    if x.ndim != 4 or x.shape[-1] != self.in_channels:
      extra = (" (each image and its noisy input: config.disc.conditional)"
               if self.conditional else "")
      raise ValueError(f"classifier expects (B, H, W, {self.in_channels}) "
                       f"images{extra}, got shape {x.shape}; set "
                       "config.data.channels to match.")
    if self.scales == 1 and not self.joint:
      return self._scores(x, train, "", self.conditional)
    pool = lambda y, s: (nn.avg_pool(y, (2 ** s, 2 ** s), (2 ** s, 2 ** s))
                         if s else y)
    maps = [self._scores(pool(x, s), train, scale_prefix(s),
                         self.conditional) for s in range(self.scales)]
    if self.joint:
      image = x[..., :self.channels]
      maps += [self._scores(pool(image, s), train,
                            JOINT_PREFIX + scale_prefix(s), False)
               for s in range(self.scales)]
    return tuple(maps)

  def _scores(self, x: jax.Array, train: bool, prefix: str,
              conditional: bool) -> jax.Array:
    """One stack's scores of x; its modules and sown features are named
    with `prefix` ('' for the first scale, so a single-scale D's names do
    not change). `conditional`: x holds the noisy image after the image."""
    k = self.kernel_size
    conv = functools.partial(nn.Conv, kernel_size=(k, k), padding=self.padding,
                             dtype=self.dtype)
    x, noisy = x[..., :self.channels], x[..., self.channels:]
    y = 2.0 * x - 1.0  # centre [0, 1] on zero
    if self.detail:
      y = jnp.concatenate(
          [y, highpass(x, self.detail_width)[..., x.shape[-1]:]], axis=-1)
    if self.mscn:
      y = jnp.concatenate([y, mscn(x)], axis=-1)
    if conditional:
      y = jnp.concatenate([y, RESIDUAL_GAIN * (noisy - x)], axis=-1)
    for level, feat in enumerate(self.features):
      for i in range(self.blocks):
        first = level > 0 and i == 0
        if first and self.downsample == "avg_pool":
          y = nn.avg_pool(y, (2, 2), (2, 2))
        elif first and self.downsample == "max_pool":
          y = nn.max_pool(y, (2, 2), (2, 2))
        stride = 2 if (first and self.downsample == "stride") else 1
        y = self._layer(conv(feat, strides=(stride, stride),
                             name=f"{prefix}conv{level}_{i}"), y, train)
        y = self._act(y, train)
      # Each level's features, kept only when applied with
      # mutable=['intermediates'] (feature matching, `features_of`).
      self.sow("intermediates", f"{prefix}level{level}", y)
    if self.kind == "patch":
      u = self._layer(conv(1, dtype=jnp.float32, name=f"{prefix}score"), y,
                      train)
      return u[..., 0]
    y = y.astype(jnp.float32)
    y = jnp.mean(y, axis=(1, 2)) if self.pool == "avg" else jnp.max(
        y, axis=(1, 2))
    for i, width in enumerate(self.dense):
      y = self._act(self._layer(nn.Dense(width, name=f"{prefix}dense{i}"), y,
                                train), train)
    return self._layer(nn.Dense(1, name=f"{prefix}score"), y, train)[:, 0]

  def _stack(self) -> list[tuple[models.Layer, bool]]:
    """(layer, is_pooling) along one axis, up to the score map or pooling."""
    k = self.kernel_size

    def conv(stride):
      pad = models.same_padding(k, stride) if self.padding == "SAME" else 0
      return models.Layer(kernel=k, stride=stride, padding=pad), False

    out = []
    for level in range(len(self.features)):
      for i in range(self.blocks):
        first = level > 0 and i == 0
        if first and self.downsample != "stride":
          out.append((models.Layer(kernel=2, stride=2), True))
        out.append(conv(2 if (first and self.downsample == "stride") else 1))
    if self.kind == "patch":
      out.append(conv(1))
    return out

  def layers(self) -> list[models.Layer]:
    """The conv/pool stack (up to the score map or global pooling), along one
    axis, for `models.receptive_field`; with `detail` or `mscn`, the widest
    of their blurs first."""
    w = max([self.detail_width] * self.detail + [MSCN_WIDTH] * self.mscn,
            default=0)
    blur = [models.Layer(kernel=w, stride=1, padding=w // 2)] if w else []
    return blur + [layer for layer, _ in self._stack()]

  @property
  def in_channels(self) -> int:
    """Channels of D's input: the image's, twice with `conditional`."""
    return self.channels * (2 if self.conditional else 1)

  @property
  def patch_size(self) -> int:
    """Input pixels (per axis) one score sees: the stack's receptive field."""
    return models.receptive_field(self.layers()).size

  def output_size(self, size: int) -> int:
    """Side of the last feature map (the score map for kind 'patch') for an
    input of side `size`, of the coarsest scale's stack; < 1 when the input
    vanishes on the way."""
    size //= 2 ** (self.scales - 1)
    for layer, pooling in self._stack():
      if size < 1:
        return size
      if self.padding == "SAME" and not pooling:
        size = -(-size // layer.stride)
      else:  # VALID convs and pooling windows
        size = (size - layer.kernel) // layer.stride + 1
    return size

  def describe(self) -> str:
    """One line for logs: kind, patch size and stride of the scores."""
    cond = ("; conditional: sees the noise removed, noisy − image"
            if self.conditional else "")
    cond += ("; joint: and an image-only stack, its own weights"
             if self.joint else "")
    rf = models.receptive_field(self.layers())
    if self.kind == "patch" and self.scales > 1:
      top = 2 ** (self.scales - 1)
      return (f"multi-scale patch classifier: {self.scales} scales, one score "
              f"per {rf.size}x{rf.size} patch of the image pooled by 1 .. "
              f"{top} (up to {rf.size * top} px of context){cond}")
    if self.kind == "patch":
      return (f"patch classifier: one score per {rf.size}x{rf.size} patch, "
              f"patches every {rf.jump} px{cond}")
    return (f"whole-image classifier: {self.pool} pooling of features that "
            f"each see {rf.size}x{rf.size} px{cond}")


def features_of(disc: Classifier, variables: dict, x: jax.Array
                ) -> list[jax.Array]:
  """D's features of `x` at the end of each level (evaluation mode), the
  first level first (then the next scale's, with `scales` > 1; then, with
  `joint`, the image-only stacks' alike): what feature matching
  compares."""
  _, inter = disc.apply(variables, x, train=False,
                        mutable=["intermediates"])
  levels = inter["intermediates"]
  prefixes = [scale_prefix(s) for s in range(disc.scales)]
  if disc.joint:
    prefixes += [JOINT_PREFIX + p for p in prefixes]
  return [levels[f"{p}level{i}"][0]
          for p in prefixes for i in range(len(disc.features))]


def condition(disc: Classifier, x: jax.Array, noisy: jax.Array
              ) -> jax.Array:
  """D's input for images `x` denoised from (or, real, noised into)
  `noisy`: x itself, or with a conditional D, x and noisy side by side on
  the channel axis (a G that samples K times per noisy image passes
  `noisy` repeated to match)."""
  if not disc.conditional:
    return x
  return jnp.concatenate([x, noisy.astype(x.dtype)], axis=-1)


# The names' prefix of a joint D's image-only stacks (`joint`).
JOINT_PREFIX = "img_"


def scale_prefix(scale: int) -> str:
  """The names' prefix of a multi-scale D's stack `scale`: '' for the
  first (a one-scale D's names), 's1_', 's2_', ... after it."""
  return f"s{scale}_" if scale else ""


# The detail channel's binomial blurs, by width (config.disc.detail_width).
BINOMIAL = {3: (1.0, 2.0, 1.0), 5: (1.0, 4.0, 6.0, 4.0, 1.0)}


def _blur(x: jax.Array, taps, reflect: bool = False) -> jax.Array:
  """x (N, H, W, C) blurred channel by channel by the separable kernel
  `taps` (normalised to sum 1): zero outside the image, or with `reflect`
  its mirror (scipy's 'reflect'), the output the input's size."""
  taps = jnp.asarray(taps)
  k1 = (taps / taps.sum()).astype(x.dtype)
  c = x.shape[-1]
  k = jnp.tile((k1[:, None] * k1[None, :])[:, :, None, None], (1, 1, 1, c))
  padding = "SAME"
  if reflect:
    r = len(k1) // 2
    x = jnp.pad(x, ((0, 0), (r, r), (r, r), (0, 0)), mode="symmetric")
    padding = "VALID"
  return jax.lax.conv_general_dilated(
      x, k, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"),
      feature_group_count=c)


def highpass(x: jax.Array, width: int = 3) -> jax.Array:
  """x (N, H, W, C) and its detail (x minus a `width` x `width` binomial
  blur, x8) as 2C channels; width 5 puts the band half an octave lower."""
  return jnp.concatenate([x, 8.0 * (x - _blur(x, BINOMIAL[width]))], axis=-1)


# The conditional D's residual channel: noisy − image, ×4 (std 0.39 at
# σ = 25, 0.78 at σ = 50 for a real pair), on the scale of its other inputs.
RESIDUAL_GAIN = 4.0
MSCN_WIDTH = 9  # the MSCN window's side (std 7/6 px, as ddn.nss's)
MSCN_C = 1 / 255


def mscn(x: jax.Array) -> jax.Array:
  """x (N, H, W, C) -> its MSCN coefficients, channel by channel (the module
  docstring; ddn.nss.mscn's, with reflected borders, in float32: within
  1e-5 of it on random and on 8-bit near-flat images; the NSS judges take
  colour crops' luminance, this each channel)."""
  r = MSCN_WIDTH // 2
  taps = jnp.exp(-0.5 * (jnp.arange(-r, r + 1) / (7 / 6)) ** 2)
  blur = lambda a: _blur(a, taps, reflect=True)
  # Centred on each image's mean: E[x²] − μ² cancels less in float32.
  x = x - jnp.mean(x, axis=(1, 2), keepdims=True)
  mu = blur(x)
  # The floor keeps sqrt's gradient finite where a region is flat.
  sigma = jnp.sqrt(jnp.maximum(blur(x * x) - mu * mu, 0.0) + 1e-10)
  return (x - mu) / (sigma + MSCN_C)


def from_config(cfg, channels: int, crop: int | None = None,
                dtype: str = "float32") -> Classifier:
  """Builds the classifier of `config.disc` computing in `dtype`
  (config.compute_dtype); raises on impossible settings.

  `crop`, when given, is checked against the patch size and the depth.
  """
  checks = [("kind", cfg.kind, KINDS), ("downsample", cfg.downsample,
                                         DOWNSAMPLES),
            ("pool", cfg.pool, POOLS), ("activation", cfg.activation,
                                        ACTIVATIONS)]
  for field, value, valid in checks:
    if value not in valid:
      raise ValueError(f"config.disc.{field}={value!r}: valid values are "
                       f"{', '.join(valid)}.")
  padding = str(cfg.padding).upper()
  if padding not in PADDINGS:
    raise ValueError(f"config.disc.padding={cfg.padding!r}: valid values "
                     "are SAME, VALID.")
  features = tuple(int(f) for f in cfg.features)
  if not features or min(features) <= 0:
    raise ValueError(f"config.disc.features={cfg.features}: need at least one "
                     "level with a positive width, e.g. (32, 64, 128).")
  dense = tuple(int(f) for f in cfg.dense)
  if dense and min(dense) <= 0:
    raise ValueError(f"config.disc.dense={cfg.dense}: widths must be > 0 (use "
                     "() for no hidden layer).")
  if cfg.blocks < 1 or cfg.kernel_size < 1:
    raise ValueError("config.disc: blocks and kernel_size must be >= 1, got "
                     f"blocks={cfg.blocks}, kernel_size={cfg.kernel_size}.")
  if not 0 <= cfg.dropout < 1:
    raise ValueError(f"config.disc.dropout={cfg.dropout}: must be in [0, 1).")
  if cfg.leaky_slope < 0:
    raise ValueError(f"config.disc.leaky_slope={cfg.leaky_slope}: must be "
                     ">= 0.")
  scales = int(cfg.get("scales", 1))
  if scales < 1 or (scales > 1 and cfg.kind != "patch"):
    raise ValueError(f"config.disc.scales={cfg.get('scales')}: must be >= 1, "
                     "and > 1 only with kind='patch' (a multi-scale patch D).")
  detail_width = int(cfg.get("detail_width", 3))
  if detail_width not in BINOMIAL:
    raise ValueError(f"config.disc.detail_width={detail_width}: valid widths "
                     f"are {', '.join(map(str, BINOMIAL))} (the detail "
                     "channel's binomial blur).")
  conditional = bool(cfg.get("conditional", False))
  joint = bool(cfg.get("joint", False))
  if joint and not conditional:
    raise ValueError("config.disc.joint=True needs config.disc.conditional="
                     "True: a joint D is a conditional D with an image-only "
                     "stack beside it (an unconditional D is image-only).")
  if cfg.spectral_norm and cfg.power_iterations < 1:
    raise ValueError(f"config.disc.power_iterations={cfg.power_iterations}: "
                     "spectral norm needs at least 1.")
  model = Classifier(
      kind=cfg.kind, channels=channels, features=features,
      blocks=int(cfg.blocks), kernel_size=int(cfg.kernel_size),
      downsample=cfg.downsample, padding=padding, pool=cfg.pool, dense=dense,
      activation=cfg.activation, leaky_slope=float(cfg.leaky_slope),
      spectral_norm=bool(cfg.spectral_norm),
      power_iterations=int(cfg.power_iterations), dropout=float(cfg.dropout),
      detail=bool(cfg.get("detail", False)), detail_width=detail_width,
      mscn=bool(cfg.get("mscn", False)),
      conditional=conditional, joint=joint,
      scales=scales,
      dtype=jnp.dtype(dtype))
  if crop is not None and model.output_size(crop) < 1:
    need = model.patch_size * 2 ** (scales - 1)
    fix = (f"raise the crop to >= {need}, or use padding='SAME', fewer "
           "levels or scales, or a smaller kernel" if padding == "VALID" else
           "raise the crop or use fewer levels or scales")
    raise ValueError(
        f"config.data.crop={crop} is too small for config.disc "
        f"({model.describe()}): the input vanishes before the last layer; "
        f"{fix}.")
  return model
