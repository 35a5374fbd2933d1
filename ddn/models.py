"""Convolutional denoising autoencoders (with optional U-Net skips).

Images are NHWC float arrays in [0, 1]. The encoder has `len(features)`
levels of `blocks` conv+activation layers; levels after the first start with
a stride-2 conv. The decoder mirrors it, upsampling x2 (transposed conv, or
resize then conv) and, with `skip=True`, concatenating the encoder features
of the same level (a U-Net). Inputs of any size work: the model reflect-pads
to a multiple of 2**(levels-1) and crops the output back.

Denoisers are looked up by `config.model.name` in ddn.registry.MODELS. A
registered model is a flax module called as `model.apply(variables, noisy,
train=..., [sigma=...])` on (B, H, W, C) images, with a `channels` field,
and on its class `default_config()` (its `config.model` group),
`from_config(cfg, channels, dtype)` and `shape_fields` (the fields that set
its parameters' shapes). Optional: `noise_map` (told σ), `multiple` (input
sides padded to a multiple of it), `encoder_layers()` and
`receptive_radius()` (receptive field, for tiling).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax
import ml_collections
import numpy as np

from ddn import attention as attention_lib
from ddn import nlm as nlm_lib
from ddn import registry

ACTIVATIONS = {
    "relu": nn.relu,
    "leaky_relu": lambda x: nn.leaky_relu(x, 0.2),
    "gelu": nn.gelu,
    "silu": nn.silu,
    "elu": nn.elu,
}
OUTPUTS = ("identity", "sigmoid", "clip", "residual")
UPSAMPLES = ("transpose", "resize")
ATTENTION = ("", "mdta", "nonlocal")
Z_AT = ("input", "decoder")  # where a G that samples takes z (Autoencoder)


# ----------------------------------------------------------------------------
# The 2x2 stride-2 transposed conv, written for XLA's CPU backend: with the
# parameters (names, shapes, initialisation) of flax's nn.ConvTranspose, so
# checkpoints and shipped models load either way, but its gradient computed
# as a per-pixel matmul and a depth-to-space: forward + gradients 8-22 ms
# against 110-128 ms for XLA's transposed conv (batch 16, one core,
# benchmarks/kernels.py). Without gradients XLA's own op is faster.


class Upsample2x(nn.Module):
  """nn.ConvTranspose(features, (2, 2), strides=(2, 2)) with the same
  parameters: each input pixel makes a 2x2 block of outputs, so it is a
  per-pixel matmul then a depth-to-space (`grad=True`), or XLA's
  conv_transpose as flax computes it (`grad=False`, faster forward)."""

  features: int
  dtype: Any = jnp.float32  # of the computation; parameters stay float32

  @nn.compact
  def __call__(self, x: jax.Array, grad: bool = True) -> jax.Array:
    b, h, w, c = x.shape
    kernel = self.param("kernel", nn.initializers.lecun_normal(),
                        (2, 2, c, self.features))
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias,
                                              dtype=self.dtype)
    if not grad:  # what nn.ConvTranspose computes
      return lax.conv_transpose(x, kernel, (2, 2), "SAME",
                                dimension_numbers=("NHWC", "HWIO",
                                                   "NHWC")) + bias
    # flax's transposed conv applies the kernel flipped: block offset (i, j)
    # takes kernel[1 - i, 1 - j].
    y = jnp.einsum("bhwc,ijco->bhiwjo", x, kernel[::-1, ::-1])
    return y.reshape(b, 2 * h, 2 * w, self.features) + bias


def act_dropout(x: jax.Array, act, rate: float, train: bool) -> jax.Array:
  """act(x), then dropout at `rate` when training (inside a compact module)."""
  x = act(x)
  if rate > 0:
    x = nn.Dropout(rate, deterministic=not train)(x)
  return x


class Autoencoder(nn.Module):
  """Conv encoder/decoder; `skip=True` makes it a U-Net.

  Attributes:
    channels: image channels (1 gray, 3 RGB); output has the same.
    features: feature channels per level, e.g. (32, 64, 128).
    blocks: conv layers per level (the first of a deeper level has stride 2).
    kernel_size: spatial size of every conv kernel.
    skip: concatenate encoder features into the decoder (U-Net).
    upsample: 'transpose' (stride-2 transposed conv) or 'resize' (bilinear x2
      then conv).
    activation: one of ACTIVATIONS.
    dropout: dropout rate after every activation (0 disables it).
    output: 'identity', 'sigmoid', 'clip' (to [0, 1]) or 'residual' (the
      network predicts the noise, which is subtracted from the input).
    noise_map: told the noise level (FFDNet): σ/255 enters as one more
      input channel, constant over the image, so one network serves every σ
      it was trained over; `__call__` then needs `sigma`.
    unshuffle: FFDNet's front end: the image is split into its
      unshuffle x unshuffle pixel phases (space-to-depth) so every
      convolution runs at 1/unshuffle the resolution, and the head's
      channels are put back (depth-to-space). 1 turns it off.
    noise_input: channels of random input z ~ N(0, 1), one value per pixel
      and channel, concatenated to the input (after the noise map), so G
      can sample: each z gives another plausible output for one noisy
      image (PSCGAN). z comes from the 'z' rng stream (`rngs={'z': key}`,
      see ddn.steps.z_rngs) or is given as `z`; without either `__call__`
      raises, except in `init`, which uses zeros. 0 turns it off (the
      network is then exactly the one without the field).
    z_at: where z enters. 'input': concatenated to the input, as above, so
      the encoder carries it down to the coarse levels. 'decoder': where
      texture lives (StyleGAN's noise injection): a 1x1 projection of z,
      one weight per z channel and feature, is added before the
      activation of each of the decoder's full-resolution convs (level 0),
      so z sets fine detail and leaves the coarse content to the noisy
      image; needs two levels or more.
    res_blocks: residual blocks per level, () for none: after a level's
      `blocks` convs (in the encoder, and in the decoder for every level
      but the deepest), res_blocks[level] blocks of x + conv(act(conv(x)))
      at that level's width (DRUNet's and EDSR's block: no activation after
      the sum). Zeros elsewhere: (0, 0, 2) deepens only the bottleneck.
    attention: a non-local block per level, () for none: '' (none),
      'mdta' (Restormer's transposed channel attention, linear in pixels)
      or 'nonlocal' (self-attention over positions, quadratic: for the
      bottleneck), after the level's convs and residual blocks in the
      encoder and, but for the deepest level, in the decoder
      (ddn.attention). Each starts as the identity (zero-initialised
      output), so a trained network takes them on unchanged.
    nlm: non-local means of the noisy input as more input channels (after
      the noise map and z), one per filter width, each a multiple of σ
      (ddn.nlm): the patches like each pixel's across a search window of
      (2 nlm_radius + 1)² pixels, averaged (BM3D's block matching,
      cheaply); the network learns how far to trust it. () turns it off;
      needs noise_map (the widths are multiples of the σ it is told).
    nlm_residual: the channels hold what the average removes, x − means
      (its estimate of the noise, which a residual output predicts too),
      instead of the means.
    nlm_radius, nlm_patch: the search window's and the patches' radii.
    dtype: of the activations (config.compute_dtype): float32, or bfloat16
      for TPUs. Parameters, the 1x1 head, the residual subtraction and the
      output are float32 either way.
  """

  channels: int = 1
  features: Sequence[int] = (32, 64, 128)
  blocks: int = 2
  kernel_size: int = 3
  skip: bool = True
  upsample: str = "transpose"
  activation: str = "relu"
  dropout: float = 0.0
  output: str = "residual"
  noise_map: bool = False
  unshuffle: int = 1
  res_blocks: Sequence[int] = ()
  attention: Sequence[str] = ()
  noise_input: int = 0
  z_at: str = "input"
  nlm: Sequence[float] = ()
  nlm_radius: int = 10
  nlm_patch: int = 2
  nlm_residual: bool = True
  dtype: Any = jnp.float32

  # The config.model fields that set the parameters' shapes (init_from and
  # inference compare them between runs).
  shape_fields = ("features", "blocks", "kernel_size", "skip", "upsample",
                  "noise_map", "unshuffle", "res_blocks", "noise_input",
                  "z_at", "attention", "nlm")

  @staticmethod
  def default_config() -> ml_collections.ConfigDict:
    """The `config.model` group of a U-Net, every field at its default."""
    return ml_collections.ConfigDict(dict(
        name="autoencoder", features=(32, 64, 128), blocks=2, kernel_size=3,
        skip=True, upsample="transpose", activation="relu", dropout=0.0,
        output="residual", noise_map=False, unshuffle=1, res_blocks=(),
        noise_input=0, z_at="input", attention=(), nlm=(), nlm_radius=10,
        nlm_patch=2, nlm_residual=True))

  @staticmethod
  def from_config(cfg, channels: int, dtype: str = "float32"):
    return autoencoder_from_config(cfg, channels, dtype)

  @staticmethod
  def smoke(cfg) -> None:
    """Shrinks a `config.model` group for configs.smoke (tiny widths)."""
    cfg.features = (8, 16)
    cfg.blocks = 1

  @property
  def levels(self) -> int:
    return len(self.features)

  def receptive_radius(self) -> int:
    """Radius, in pixels, of the whole network's receptive field (encoder
    down and decoder back up)."""
    m = self
    k = m.kernel_size // 2
    radius, scale = m.unshuffle - 1, m.unshuffle  # the pixel-phase blocks
    def convs(level):  # plain convs, then two per residual block
      return m.blocks + 2 * m.n_res(level)
    for level in range(m.levels):  # encoder
      if level > 0:
        scale *= 2
      radius += convs(level) * k * scale
    for level in range(m.levels - 2, -1, -1):  # decoder
      scale //= 2
      radius += scale + convs(level) * k * scale  # upsample, then convs
    if m.nlm:  # a pixel's input channels read its patch's matches
      radius += m.nlm_radius + m.nlm_patch
    return radius

  @property
  def multiple(self) -> int:
    """Input sides are padded to a multiple of this (and cropped back)."""
    return 2 ** (self.levels - 1) * self.unshuffle

  def n_res(self, level: int) -> int:
    """Residual blocks at `level` (0 where res_blocks does not say)."""
    return self.res_blocks[level] if level < len(self.res_blocks) else 0

  def _res(self, y, level, train, prefix):
    """The level's residual blocks: y + conv(act(conv(y))), each."""
    feat = self.features[level]
    for i in range(self.n_res(level)):
      z = self._act(self._conv(y, feat, name=f"{prefix}{level}_{i}a"), train)
      y = y + self._conv(z, feat, name=f"{prefix}{level}_{i}b")
    return y

  def _attend(self, y, level, prefix):
    """The level's non-local block (`attention`), if any."""
    kind = self.attention[level] if level < len(self.attention) else ""
    if kind == "mdta":
      return attention_lib.MDTA(dtype=self.dtype, name=f"{prefix}{level}")(y)
    if kind == "nonlocal":
      return attention_lib.NonLocal(dtype=self.dtype,
                                    name=f"{prefix}{level}")(y)
    return y

  def _conv(self, x, feat, stride=1, name=None):
    k = self.kernel_size
    return nn.Conv(feat, (k, k), strides=(stride, stride), padding="SAME",
                   dtype=self.dtype, name=name)(x)

  def _act(self, x, train):
    return act_dropout(x, ACTIVATIONS[self.activation], self.dropout, train)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False,
               sigma: jax.Array | float | None = None,
               z: jax.Array | None = None) -> jax.Array:
    """Denoises a batch.

    Args:
      x: (B, H, W, channels) noisy images, any H and W.
      train: enables dropout (needs a 'dropout' rng) and computes the
        upsampling the way that is fastest with gradients (`Upsample2x`);
        the values are the same either way.
      sigma: the Gaussian noise level on the 0-255 scale, a scalar or one
        per image (B,); read only by a `noise_map` model, which needs it.
      z: (B, H, W, noise_input) random input of a model that samples;
        when None it is drawn from the 'z' rng stream. Read only when
        noise_input > 0.

    Returns:
      (B, H, W, channels) denoised images (not clipped unless output='clip').
    """
    if x.shape[-1] != self.channels:
      raise ValueError(f"model expects {self.channels}-channel images, got "
                       f"shape {x.shape}; set config.data.channels to match.")
    h, w = x.shape[1:3]
    r = self.unshuffle
    y = self._inputs(x, sigma, z)
    zd = self._z_decoder(x, z)

    skips = []
    for level, feat in enumerate(self.features):
      for i in range(self.blocks):
        stride = 2 if (level > 0 and i == 0) else 1
        y = self._act(self._conv(y, feat, stride, f"enc{level}_{i}"), train)
      y = self._res(y, level, train, "encres")
      y = self._attend(y, level, "encatt")
      skips.append(y)
    for level in range(self.levels - 2, -1, -1):
      feat = self.features[level]
      if self.upsample == "transpose":
        y = Upsample2x(feat, dtype=self.dtype, name=f"up{level}")(
            y, grad=train)
      else:
        bb, hh, ww, cc = y.shape
        y = jax.image.resize(y, (bb, 2 * hh, 2 * ww, cc), "bilinear")
        y = self._conv(y, feat, name=f"up{level}")
      y = self._act(y, train)
      if self.skip:
        y = jnp.concatenate([y, skips[level]], axis=-1)
      for i in range(self.blocks):
        y = self._conv(y, feat, name=f"dec{level}_{i}")
        if level == 0 and zd is not None:
          y = y + nn.Conv(feat, (1, 1), use_bias=False, dtype=self.dtype,
                          name=f"zinj{level}_{i}")(zd)
        y = self._act(y, train)
      y = self._res(y, level, train, "decres")
      y = self._attend(y, level, "decatt")
    y = nn.Conv(self.channels * r * r, (1, 1), dtype=jnp.float32,
                name="head")(y)
    y = depth_to_space(y, r)[:, :h, :w, :]
    if self.output == "residual":
      return x - y
    if self.output == "sigmoid":
      return nn.sigmoid(y)
    if self.output == "clip":
      return jnp.clip(y, 0.0, 1.0)
    return y

  def _inputs(self, x, sigma, z):
    """The first conv's input: x padded to a multiple of the downsampling
    (reflected; repeated at the edge when too small), its pixel phases
    (unshuffle), then the noise-map channel, then z's pixel phases, then
    the non-local means channels (`nlm`)."""
    pad = lambda t: self._pad_like(x, t)
    y = pad(x)
    if self.noise_map:
      if sigma is None:
        raise ValueError("this model is told the noise level (noise_map): "
                         "pass sigma, the noise σ on the 0-255 scale.")
      level = jnp.asarray(sigma, jnp.float32).reshape(-1, 1, 1, 1) / 255.0
      y = jnp.concatenate(
          [y, jnp.broadcast_to(level, y.shape[:3] + (1,)).astype(y.dtype)], -1)
    if self.noise_input and self.z_at == "input":
      y = jnp.concatenate([y, pad(self._z(x, z)).astype(y.dtype)], -1)
    if self.nlm:
      means = nlm_lib.nonlocal_means(x, sigma, tuple(self.nlm),
                                     self.nlm_radius, self.nlm_patch)
      if self.nlm_residual:  # what the average removes: its noise estimate
        means = jnp.tile(x, (1, 1, 1, len(self.nlm))) - means
      y = jnp.concatenate([y, pad(means).astype(y.dtype)], -1)
    return y

  def _pad_like(self, x, t):
    """`t` (B, H, W, C), laid out as the network sees x: padded to a
    multiple of the downsampling (reflected; repeated at the edge when too
    small), then its pixel phases (unshuffle)."""
    h, w = x.shape[1:3]
    ph, pw = (-h) % self.multiple, (-w) % self.multiple
    mode = "reflect" if (ph < h and pw < w) else "edge"
    return space_to_depth(
        jnp.pad(t, ((0, 0), (0, ph), (0, pw), (0, 0)), mode=mode),
        self.unshuffle)

  def _z_decoder(self, x, z):
    """z laid out as the decoder's level 0 sees it (`_pad_like`) when it
    enters there (z_at='decoder'); else None."""
    if not self.noise_input or self.z_at != "decoder":
      return None
    return self._pad_like(x, self._z(x, z)).astype(self.dtype)

  def _z(self, x, z):
    """The random input: `z` when given, else N(0, 1) from the 'z' rng
    stream; zeros while initialising without one."""
    shape = x.shape[:3] + (self.noise_input,)
    if z is not None:
      if tuple(z.shape) != shape:
        raise ValueError(f"z has shape {tuple(z.shape)}; this model "
                         f"(noise_input={self.noise_input}) needs {shape}.")
      return z
    if self.has_rng("z"):
      return jax.random.normal(self.make_rng("z"), shape, jnp.float32)
    if self.is_initializing():
      return jnp.zeros(shape, jnp.float32)
    raise ValueError(
        f"this model samples (model.noise_input={self.noise_input}): give "
        "apply rngs={'z': key} (ddn.steps.z_rngs) or z; ddn.inference's "
        "Denoiser draws z from its seed.")

  def encoder_layers(self) -> list["Layer"]:
    """The encoder as a layer stack, for `receptive_field`."""
    k = self.kernel_size
    r = self.unshuffle
    layers = [Layer(kernel=r, stride=r)] if r > 1 else []
    for level in range(self.levels):
      for i in range(self.blocks):
        stride = 2 if (level > 0 and i == 0) else 1
        layers.append(Layer(kernel=k, stride=stride,
                            padding=same_padding(k, stride)))
      layers += [Layer(kernel=k, padding=same_padding(k))] * (
          2 * self.n_res(level))
    return layers


def space_to_depth(x: jax.Array, r: int) -> jax.Array:
  """(B, H, W, C) -> (B, H/r, W/r, r*r*C): each r x r block's pixels become
  channels (row-major within the block, then C)."""
  if r == 1:
    return x
  b, h, w, c = x.shape
  x = x.reshape(b, h // r, r, w // r, r, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(b, h // r, w // r, r * r * c)


def depth_to_space(x: jax.Array, r: int) -> jax.Array:
  """The inverse of `space_to_depth`."""
  if r == 1:
    return x
  b, h, w, c = x.shape
  x = x.reshape(b, h, w, r, r, c // (r * r)).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(b, h * r, w * r, c // (r * r))


def from_config(cfg, channels: int, dtype: str = "float32") -> nn.Module:
  """Builds the denoiser `config.model.name` names (ddn.registry.MODELS),
  computing in `dtype` (config.compute_dtype); raises ValueError on an
  unknown name or invalid values."""
  return registry.lookup("model", cfg.name).from_config(cfg, channels, dtype)


def shape_fields(model_name: str) -> tuple[str, ...]:
  """Config fields that set the shapes of a denoiser's parameters:
  `model.name`, the model's own (its class's `shape_fields`) and
  `data.channels`."""
  model = registry.lookup("model", model_name)
  return (("model.name",) + tuple(f"model.{f}" for f in model.shape_fields)
          + ("data.channels",))


def autoencoder_from_config(cfg, channels: int, dtype: str = "float32"
                            ) -> Autoencoder:
  """The Autoencoder of a `config.model` group computing in `dtype`
  (config.compute_dtype); raises on invalid values."""
  checks = [
      ("activation", cfg.activation, tuple(ACTIVATIONS)),
      ("output", cfg.output, OUTPUTS),
      ("upsample", cfg.upsample, UPSAMPLES),
  ]
  for field, value, valid in checks:
    if value not in valid:
      raise ValueError(f"config.model.{field}={value!r}: valid values are "
                       f"{', '.join(valid)}.")
  features = tuple(int(f) for f in cfg.features)
  if not features or min(features) <= 0:
    raise ValueError(f"config.model.features={cfg.features}: need at least "
                     "one level with a positive width, e.g. (32, 64, 128).")
  if cfg.blocks < 1 or cfg.kernel_size < 1 or cfg.kernel_size % 2 == 0:
    raise ValueError("config.model: blocks must be >= 1 and kernel_size an "
                     f"odd number >= 1, got blocks={cfg.blocks}, "
                     f"kernel_size={cfg.kernel_size}.")
  if not 0 <= cfg.dropout < 1:
    raise ValueError(f"config.model.dropout={cfg.dropout}: must be in [0, 1).")
  unshuffle = cfg.get("unshuffle", 1)
  if unshuffle not in (1, 2, 4):
    raise ValueError(f"config.model.unshuffle={unshuffle}: valid values are "
                     "1 (off), 2 and 4.")
  res_blocks = cfg.get("res_blocks", ())
  res_blocks = ((res_blocks,) * len(features) if isinstance(res_blocks, int)
                else tuple(res_blocks))
  if (len(res_blocks) > len(features)
      or not all(isinstance(n, int) and n >= 0 for n in res_blocks)):
    raise ValueError(f"config.model.res_blocks={cfg.get('res_blocks')}: give "
                     "one count >= 0 per level (at most "
                     f"{len(features)} for features={features}), e.g. "
                     "(0, 0, 2), or one count for every level.")
  attention = tuple(cfg.get("attention", ()))
  if (len(attention) > len(features)
      or not all(a in ATTENTION for a in attention)):
    raise ValueError(f"config.model.attention={attention}: give one of "
                     f"{ATTENTION} per level (at most {len(features)}), e.g. "
                     "('', 'mdta', 'mdta').")
  noise_input = cfg.get("noise_input", 0)
  if not isinstance(noise_input, int) or noise_input < 0:
    raise ValueError(f"config.model.noise_input={noise_input!r}: give the "
                     "number of random input channels, >= 0 (0: off).")
  z_at = cfg.get("z_at", "input")
  if z_at not in Z_AT:
    raise ValueError(f"config.model.z_at={z_at!r}: give one of {Z_AT}.")
  if z_at == "decoder" and noise_input and len(features) < 2:
    raise ValueError(f"config.model.z_at='decoder' injects z into the "
                     f"decoder, which features={features} (one level) lacks:"
                     " give two levels or more, or z_at='input'.")
  nlm, nlm_radius, nlm_patch, nlm_residual = _nlm_fields(cfg)
  return Autoencoder(
      channels=channels, features=features, blocks=int(cfg.blocks),
      kernel_size=int(cfg.kernel_size), skip=bool(cfg.skip),
      upsample=cfg.upsample, activation=cfg.activation,
      dropout=float(cfg.dropout), output=cfg.output,
      noise_map=bool(cfg.get("noise_map", False)), unshuffle=int(unshuffle),
      res_blocks=res_blocks, noise_input=noise_input, z_at=z_at,
      attention=attention, nlm=nlm, nlm_radius=nlm_radius,
      nlm_patch=nlm_patch, nlm_residual=nlm_residual,
      dtype=jnp.dtype(dtype))


def _nlm_fields(cfg) -> tuple[tuple[float, ...], int, int, bool]:
  """config.model's (nlm, nlm_radius, nlm_patch, nlm_residual), checked. A
  config without nlm_residual predates it: the means themselves
  (configs.ADDED_FIELDS); new configs say True (default_config)."""
  nlm = cfg.get("nlm", ())
  nlm = (nlm,) if isinstance(nlm, (int, float)) else tuple(nlm)
  radius, patch = cfg.get("nlm_radius", 10), cfg.get("nlm_patch", 2)
  if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
             and v > 0 for v in nlm):
    raise ValueError(f"config.model.nlm={cfg.get('nlm')!r}: give the filter "
                     "widths, each a multiple of σ > 0, e.g. (0.4, 1.0); () "
                     "turns non-local means off.")
  if nlm and not cfg.get("noise_map", False):
    raise ValueError("config.model.nlm needs config.model.noise_map=True: "
                     "the non-local means' widths are multiples of the σ "
                     "the model is told.")
  if nlm and cfg.get("noise_input", 0):
    # init_from grows a start's first conv by appending channels, which
    # cannot place z's weights before a start's non-local means channels.
    raise ValueError("config.model.nlm and config.model.noise_input (z) "
                     "together are not supported: keep one of them.")
  if not (isinstance(radius, int) and radius >= 1
          and isinstance(patch, int) and patch >= 0):
    raise ValueError(f"config.model.nlm_radius={radius!r}, nlm_patch="
                     f"{patch!r}: give a search radius >= 1 and a patch "
                     "radius >= 0 (pixels).")
  return (tuple(float(v) for v in nlm), radius, patch,
          bool(cfg.get("nlm_residual", False)))


def grow_z_inputs(params, expected, scale: float = 0.0):
  """`params` of a U-Net that does not sample, fitted to `expected` (a tree
  of arrays or shapes of the same U-Net with noise_input > 0): the first
  conv's kernel gets weights for z's input channels (the last on its input
  axis). `scale` = 0: zero weights, so the grown network computes the same
  function whatever z is, and training can then learn to use z; `scale` >
  0 (with `expected` holding arrays, a fresh initialisation): `scale` times
  the fresh kernel's z weights, so the samples differ from the first step.
  The same for z's decoder projections (z_at='decoder'), which the start
  lacks: zero, or `scale` times `expected`'s. Non-local means channels
  (`nlm`, never with z) are grown the same way, at scale 0 (init_from).
  Returns `params` unchanged when the first kernels differ otherwise
  (check_compatible then says how).
  """
  params = _grow_z_projections(params, expected, scale)
  try:
    have, want = params["enc0_0"]["kernel"], expected["enc0_0"]["kernel"]
  except (KeyError, TypeError):
    return params
  hs, ws = tuple(have.shape), tuple(want.shape)
  if len(hs) != 4 or hs[:2] + hs[3:] != ws[:2] + ws[3:] or hs[2] >= ws[2]:
    return params
  if isinstance(have, (np.ndarray, jax.Array)):
    have = np.asarray(have)
    if scale and isinstance(want, (np.ndarray, jax.Array)):
      z = scale * np.asarray(want)[:, :, hs[2]:, :].astype(have.dtype)
    else:
      z = np.zeros(hs[:2] + (ws[2] - hs[2], hs[3]), have.dtype)
    grown = np.concatenate([have, z], axis=2)
  else:  # shapes only (a checkpoint's metadata)
    grown = jax.ShapeDtypeStruct(ws, have.dtype)
  return {**params, "enc0_0": {**params["enc0_0"], "kernel": grown}}


def _missing_modules(params, expected, prefixes) -> dict:
  """`expected`'s modules named with one of `prefixes` that `params` lacks
  ({} unless both are dicts of modules)."""
  if not isinstance(params, dict) or not isinstance(expected, dict):
    return {}
  return {k: v for k, v in expected.items()
          if k not in params and k.startswith(prefixes)}


def _grow_z_projections(params, expected, scale: float):
  """grow_z_inputs for z_at='decoder': the 'zinj' modules `params` lacks."""
  new = {}
  for name, module in _missing_modules(params, expected, ("zinj",)).items():
    want = module["kernel"]
    if isinstance(want, (np.ndarray, jax.Array)):
      want = np.asarray(want, np.float32) * scale
    new[name] = {"kernel": want}
  return {**params, **new} if new else params


def add_new_blocks(params, expected):
  """`params` of a U-Net without some of `expected`'s non-local blocks
  (config.model.attention) with those blocks taken from `expected` (fresh,
  zero-initialised output: the identity), so a trained network takes them
  on unchanged. Any other difference is left for check_compatible."""
  new = _missing_modules(params, expected, ("encatt", "decatt"))
  return {**params, **new} if new else params


# ----------------------------------------------------------------------------
# Receptive field of a layer stack.


@dataclasses.dataclass(frozen=True)
class Layer:
  """One conv or pooling layer along one spatial axis.

  Attributes:
    kernel: kernel size (pooling window for a pooling layer).
    stride: stride.
    padding: pixels padded before the first input (e.g. 1 for a 3x3 'SAME').
    dilation: kernel dilation (1 for ordinary convs and pooling).
  """

  kernel: int
  stride: int = 1
  padding: int = 0
  dilation: int = 1


def same_padding(kernel: int, stride: int = 1, dilation: int = 1) -> int:
  """Leading padding of XLA's 'SAME' when the input divides by the stride."""
  return max((kernel - 1) * dilation + 1 - stride, 0) // 2


@dataclasses.dataclass(frozen=True)
class ReceptiveField:
  """Receptive field of the last layer of a stack.

  Attributes:
    size: input pixels (per axis) that one output unit sees.
    jump: input pixels between neighbouring output units (product of strides).
    start: input coordinate of the centre of output unit 0 (may be negative:
      padding).
  """

  size: int
  jump: int
  start: float


def receptive_field(layers: Sequence[Layer]) -> ReceptiveField:
  """Receptive field size, jump and offset of a stack of conv/pool layers.

  The standard recursion: r <- r + (k_eff - 1) * j, j <- j * s,
  start <- start + ((k_eff - 1) / 2 - p) * j, with k_eff = d * (k - 1) + 1.
  """
  size, jump, start = 1, 1, 0.0
  for layer in layers:
    k_eff = layer.dilation * (layer.kernel - 1) + 1
    size += (k_eff - 1) * jump
    start += ((k_eff - 1) / 2 - layer.padding) * jump
    jump *= layer.stride
  return ReceptiveField(size=size, jump=jump, start=start)


def count_params(params) -> int:
  return int(sum(math.prod(p.shape) for p in jax.tree_util.tree_leaves(params)))
