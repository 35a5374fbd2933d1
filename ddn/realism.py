"""Realism: can fresh judges tell a denoiser's outputs from clean images?

Perceptual quality as Blau & Michaeli (CVPR 2018) define it, measured as a
classifier two-sample test (Lopez-Paz & Oquab, ICLR 2017):

  Judges. For every method, fresh classifiers of each architecture in
  `judges` (JUDGES: 'image', a whole-image CNN; 'patch', a fully
  convolutional CNN whose 18 px patch scores are averaged over the crop),
  `seeds` of each, are trained from scratch. They
  are never the adversarial run's own D, so a G that merely fooled that one
  gains nothing here. Beside them, two families that share nothing with
  an adversarial run's D (which is a CNN on patches, as these are):
  `seeds` logistic regressions on natural-scene statistics of the crops
  (ddn.nss: BRISQUE's fits of locally normalised luminances, 'nss'), and
  as many on their Haar wavelet statistics (ddn.wavelets: subband
  variances, moment ratios and parent-child magnitude correlations,
  amplitudes as they are, 'wavelet'), each reported apart, so a G that
  learnt the CNN family's blind spots shows there, and a G whose D saw
  the MSCN coefficients (config.disc.mscn) still meets a family it did
  not.
  Training data. Crops of tuning images (by default the model's training
  images): clean crops of the even-numbered images are "real", crops of the
  method's outputs for the noisy versions of the odd-numbered images are
  "denoised", so no judge sees the same content both ways. Crops are drawn
  at random positions, with flips, every step. With few, large tuning
  images (the embedded photographs), `tune_tile` > 0 cuts each image (and
  the method's whole-image output) into tiles of that size, and the tiles
  play the part of images: on a checkerboard, one colour real, the other
  denoised. Both sides then hold some of every photograph, so a judge
  cannot win by learning which scenes are real, and no pixel is seen both
  ways.
  Test. Fixed non-overlapping tiles (`test_crop`, larger than the training
  crops: both judges score any size, so a tile's score pools more texture)
  of held-out images, on a checkerboard: the clean tiles of one colour are
  real, the method's output on the other colour (for the image's noisy
  version) is denoised, the colours swapping from image to image. So no
  tile is seen both ways, neither side gets more tiles of one position,
  and clean vs clean is a true null. An image under two tiles wide and
  high gets tiles flush with its corners instead (tile_grid).
  Everything but the method is a function of the seed and the image: every
  method is judged on the same crops with the same noise.

  Choosing the architecture. With several, every fourth tuning image (or
  tile, with `tune_tile`) of each half is held out of the judges' training;
  the architecture whose ensemble tells those apart best (`selection_auc`) is
  the one reported. Choosing on the test tiles would bias the reported AUC
  upward (the larger of two noisy estimates).

The numbers (`Meter.judge`):
  auc        the chosen architecture's AUC (its seeds' scores averaged
             per crop): P(score of an output > score of a clean crop).
             0.5 = indistinguishable, 1 = always caught.
  auc_ci95   [lo, hi], the 2.5 and 97.5 percentiles of a bootstrap over
             held-out images (each image's crops move together) and over
             the ensemble's judges (seeds drawn with replacement); with
             fewer than 10 images, over tiles.
  ci_unit    what the interval resamples: 'images' or 'tiles', '+seeds'
             with several judges; ci_images: how many images carry it.
  error      that ensemble's balanced error at its own threshold (u = 0).
  seed_aucs  each of its judges' AUC (the spread the seeds add).
  judges     every single judge's AUC, {architecture: [per seed]}.
  selection_auc  {architecture: its ensemble's AUC on the held-out tuning
             images}, which chose `judge`.
  spectrum_hf_ratio   high-frequency power (0.25-0.5 cycles/pixel) of the
             outputs over that of the clean images: < 1 smoother than real
             (an MSE denoiser's blur), > 1 noisier.
  grad_hist_distance  earth mover's distance between the histograms of
             gradient magnitude of outputs and clean images (0: the same).
  nss, wavelet  the NSS and the wavelet family's auc, auc_ci95, ci_unit,
             ci_images, crops, error and seed_aucs, as above.

Calibration (`Meter.calibrate`): the same test of clean vs clean (AUC near
0.5), clean vs the noisy inputs and clean vs Gaussian smoothing of them
(near 1). Read a method's realism only next to these rows, and only from a
meter that catches an MSE denoiser (AUC >= 0.8 at σ = 50 on BSD68).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from scipy import ndimage

from ddn import configs
from ddn import discriminators
from ddn import losses
from ddn import models
from ddn import nss
from ddn import protocol
from ddn import report
from ddn import steps
from ddn import wavelets

REALISM_SEED = 30_000  # crop positions and the judges' init: seed + this
# Fewer held-out images than this: the interval resamples crops (tiles that
# do not overlap), not images; the record says which ('ci_unit').
MIN_IMAGES_FOR_IMAGE_CI = 10
# The judge families on hand-made statistics: random training crops of each
# side (STATS_CROPS, every family), and per family its features and its tag in
# the seeds of those crops.
STATS_CROPS = 1024
STATS_FAMILIES = {"nss": (nss.features, 77),
                  "wavelet": (wavelets.features, 78)}

# The judges' architectures (config.disc groups, ddn.discriminators).
JUDGES = {
    # Whole image: features of 34 px (strided convs to 1/16), average
    # pooling, one hidden layer.
    "image": dict(kind="image", features=(32, 64, 64, 64), blocks=1,
                  kernel_size=3, downsample="stride", padding="SAME",
                  pool="avg", dense=(64,)),
    # Patches of 18 px (every 4 px), scores averaged over the crop.
    "patch": dict(kind="patch", features=(32, 64), blocks=1,
                  kernel_size=3, downsample="stride", padding="VALID",
                  pool="avg", dense=()),
}
_DISC_DEFAULTS = dict(activation="leaky_relu", leaky_slope=0.2,
                      spectral_norm=False, power_iterations=1, dropout=0.0,
                      loss="logistic", margin=1.0)


def validate(cfg) -> None:
  """Checks a `config.eval.realism` group before any compute; raises a
  ValueError naming the field."""
  bad = [j for j in cfg.judges if j not in JUDGES]
  tile = cfg.get("tune_tile", 0)  # absent from configs saved before it
  checks = [("judges", cfg.judges and not bad,
             f"valid judges are {', '.join(JUDGES)}"),
            ("seeds", cfg.seeds >= 1, "need >= 1 judge of each kind"),
            ("crop", cfg.crop >= 24, "judges need crops of >= 24 px"),
            ("test_crop", cfg.test_crop >= cfg.crop,
             f"test tiles must be >= the training crop {cfg.crop}"),
            ("steps", cfg.steps >= 1, "must be >= 1"),
            ("batch_size", cfg.batch_size >= 2,
             "must be >= 2 (half real, half denoised)"),
            ("lr", cfg.lr > 0, "the learning rate must be > 0, e.g. 1e-3"),
            ("test_crops", cfg.test_crops >= 1, "must be >= 1"),
            ("tune_images", cfg.tune_images >= 2,
             "need >= 2 (half real, half denoised)"),
            ("bootstrap", cfg.bootstrap >= 10, "must be >= 10, e.g. 1000"),
            ("tune_tile", tile == 0 or tile >= cfg.crop,
             f"tiles must be >= the judges' crop {cfg.crop} (or 0: whole "
             "images)")]
  for field, ok, why in checks:
    if not ok:
      raise ValueError(f"config.eval.realism.{field}={cfg[field]}: {why}.")


# ----------------------------------------------------------------------------
# Statistics.


def auc(u_real: np.ndarray, u_fake: np.ndarray) -> float:
  """P(u_fake > u_real) + P(tie) / 2 (Mann-Whitney): 0.5 = chance."""
  u_real, u_fake = np.sort(np.ravel(u_real)), np.ravel(u_fake)
  if np.isnan(u_real).any() or np.isnan(u_fake).any():
    return float("nan")  # a judge that diverged says nothing
  below = np.searchsorted(u_real, u_fake, side="left")  # reals < each fake
  tied = np.searchsorted(u_real, u_fake, side="right") - below
  return float((below.sum() + 0.5 * tied.sum()) / (len(u_real) * len(u_fake)))


def auc_ci(u_real: Sequence[np.ndarray], u_fake: Sequence[np.ndarray],
           reps: int = 1000, seed: int = 0, level: float = 0.95,
           unit: str = "image") -> tuple[float, float]:
  """Bootstrap percentile interval of the AUC of (u_real, u_fake), given
  per held-out image (u_real[i], u_fake[i]: the scores of image i's real
  and denoised tiles). unit 'image' resamples images with replacement (an
  image's tiles move together); 'crop' resamples the tiles of each side.

  Scores of shape (k, n_i) are k judges' (seeds), whose mean is the
  ensemble's score: every resample then also draws k of the judges with
  replacement, so the interval holds the judges' seed-to-seed variation
  beside the images' (or tiles')."""
  rng = np.random.default_rng(seed)
  u_real = [np.atleast_2d(u) for u in u_real]
  u_fake = [np.atleast_2d(u) for u in u_fake]
  k = u_real[0].shape[0]
  if unit == "crop":
    u_real = [np.concatenate(u_real, axis=1)]
    u_fake = [np.concatenate(u_fake, axis=1)]
  n = len(u_real)
  values = []
  for _ in range(reps):
    w = (np.bincount(rng.integers(0, k, k), minlength=k) / k if k > 1
         else np.ones(1))
    if unit == "crop":
      r, f = w @ u_real[0], w @ u_fake[0]
      values.append(auc(r[rng.integers(0, len(r), len(r))],
                        f[rng.integers(0, len(f), len(f))]))
    else:
      rows = rng.integers(0, n, n)
      values.append(auc(np.concatenate([w @ u_real[i] for i in rows]),
                        np.concatenate([w @ u_fake[i] for i in rows])))
  tail = (1 - level) / 2 * 100
  lo, hi = np.percentile(values, [tail, 100 - tail])
  return float(lo), float(hi)


def ci_unit(unit: str, judges: int) -> str:
  """What an auc_ci interval resamples, as records say it: 'images' or
  'tiles' (auc_ci's unit 'image' or 'crop'), '+seeds' with several judges."""
  return {"image": "images", "crop": "tiles"}[unit] + (
      "+seeds" if judges > 1 else "")


def balanced_error(u_real: np.ndarray, u_fake: np.ndarray) -> float:
  """Mean of the error on real (u > 0) and on denoised (u <= 0)."""
  return float(0.5 * (np.mean(np.ravel(u_real) > 0)
                      + np.mean(np.ravel(u_fake) <= 0)))


def radial_spectrum(images: Sequence[np.ndarray], bins: int = 32
                    ) -> tuple[np.ndarray, np.ndarray]:
  """(frequency of each bin in cycles/pixel, mean power per bin) of the
  images' (H, W, C) Hann-windowed, mean-removed 2-D spectra, averaged over
  the images and channels."""
  edges = np.linspace(0, 0.5, bins + 1)
  power = np.zeros(bins)
  for im in images:
    im = np.asarray(im, np.float64)
    h, w = im.shape[:2]
    win = np.outer(np.hanning(h), np.hanning(w))[:, :, None]
    spec = np.abs(np.fft.fft2((im - im.mean(axis=(0, 1))) * win,
                              axes=(0, 1))) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    radius = np.hypot(fy, fx)
    which = np.clip(np.digitize(radius, edges) - 1, 0, bins)
    per_pixel = spec.mean(axis=-1) / (h * w)
    sums = np.bincount(which.ravel(), per_pixel.ravel(), bins + 1)[:bins]
    counts = np.bincount(which.ravel(), minlength=bins + 1)[:bins]
    power += sums / np.maximum(counts, 1)
  return (edges[:-1] + edges[1:]) / 2, power / max(len(images), 1)


def spectrum_hf_ratio(outputs, clean, band=(0.25, 0.5)) -> float:
  """High-frequency power of `outputs` over that of `clean` (see module)."""
  f, p_out = radial_spectrum(outputs)
  _, p_clean = radial_spectrum(clean)
  return band_ratio(f, p_out, p_clean, band)


def band_ratio(f, p_out, p_clean, band=(0.25, 0.5)) -> float:
  """Power of one radial spectrum over another's in the band of
  frequencies `band` (cycles/pixel), from radial_spectrum's arrays."""
  sel = (f >= band[0]) & (f <= band[1])
  return float(p_out[sel].sum() / max(p_clean[sel].sum(), 1e-20))


def gradient_histogram(images, bins: int = 100, top: float = 0.5):
  """Normalised histogram of |∇| (forward differences, values in [0, 1])
  over all pixels of the images, on [0, top]."""
  hist = np.zeros(bins)
  for im in images:
    im = np.asarray(im, np.float64)
    gx, gy = np.diff(im, axis=1)[:-1], np.diff(im, axis=0)[:, :-1]
    mag = np.hypot(gx, gy).ravel()
    hist += np.histogram(np.minimum(mag, top), bins, (0, top))[0]
  return hist / max(hist.sum(), 1)


def grad_hist_distance(outputs, clean, bins: int = 100,
                       top: float = 0.5) -> float:
  """Earth mover's distance (in gradient units) between the gradient
  magnitude histograms of `outputs` and `clean`."""
  a = gradient_histogram(outputs, bins, top)
  b = gradient_histogram(clean, bins, top)
  return float(np.abs(np.cumsum(a) - np.cumsum(b)).sum() * top / bins)


# ----------------------------------------------------------------------------
# Judges.


def judge_model(name: str, channels: int, crop: int):
  cfg = ml_collections.ConfigDict({**_DISC_DEFAULTS, **JUDGES[name]})
  return discriminators.from_config(cfg, channels, crop)


def _as_image(x: np.ndarray) -> np.ndarray:
  """What the protocol scores: clipped to [0, 1] and quantised to 8 bits."""
  return protocol.quantise(x).astype(np.float32) / 255.0


def tile_grid(size: tuple[int, int], tile: int, parity: int | None = None,
              corners: bool = False) -> list[tuple[int, int]]:
  """Top-left corners (y, x), row by row, of the non-overlapping tile x tile
  tiles of an image of `size` (a grid from its top left corner); with
  `parity`, only those whose row + column has that parity (the white or the
  black squares of a checkerboard).

  An image that holds one such tile only (both sides under 2 x tile) leaves
  one colour empty. With `corners` (the held-out tiles, which train no
  judge), its grid is then, along each side at least 1.5 tiles long, two
  tiles flush with the ends, overlapping by at most half a tile (a 180 x
  180 image, tiles of 96: a 2 x 2 grid, 12 px strips shared by neighbours):
  both colours get tiles and no tile is on both. check_test_size says which
  images cannot have two. Tuning parts never overlap (no `corners`)."""
  h, w = size
  ys, xs = range(0, h - tile + 1, tile), range(0, w - tile + 1, tile)
  if corners and len(ys) * len(xs) == 1:
    ys, xs = (sorted({0, n - tile}) if 2 * n >= 3 * tile else [0]
              for n in (h, w))
  return [(y, x) for r, y in enumerate(ys) for c, x in enumerate(xs)
          if parity is None or (r + c) % 2 == parity]


def check_test_size(size: tuple[int, int], tile: int, field: str) -> None:
  """Raises a ValueError naming `field` (the setting of `tile`) when an
  image of `size` cannot give a tile of each colour of tile_grid's
  checkerboard."""
  h, w = size
  if min(h, w) >= tile and len(tile_grid(size, tile, corners=True)) >= 2:
    return
  most = min(min(h, w), 2 * max(h, w) // 3)  # 1.5 tiles along one side
  raise ValueError(
      f"realism: a held-out image of {h}x{w} holds "
      f"{'no' if min(h, w) < tile else 'one'} {tile} px tile; the test "
      f"needs one real and one denoised: lower {field} to at most {most}, "
      "or use larger held-out images.")


def fixed_crops(images: Sequence[np.ndarray], per_image: int, crop: int,
                seed: int, parity: int | Sequence[int] | None = None
                ) -> list[np.ndarray]:
  """Per image i, (n_i, crop, crop, C): up to `per_image` of its
  non-overlapping crop x crop tiles (a grid from its top left corner; with
  `parity`, only the tiles whose row + column has that parity: the white or
  the black squares of a checkerboard; an image of one tile then gets
  tile_grid's corner tiles), chosen by default_rng([seed, i]) from its
  size alone."""
  out = []
  for i, im in enumerate(images):
    par = parity if parity is None or isinstance(parity, int) else parity[i]
    tiles = tile_grid(im.shape[:2], crop, par, corners=par is not None)
    rng = np.random.default_rng([seed, i])
    keep = sorted(rng.permutation(len(tiles))[:per_image])
    out.append(np.stack([im[tiles[k][0]:tiles[k][0] + crop,
                            tiles[k][1]:tiles[k][1] + crop] for k in keep]))
  return out


def random_crops(images: Sequence[np.ndarray], n: int, crop: int,
                 rng: np.random.Generator) -> np.ndarray:
  """n crops of random images at random positions, randomly flipped."""
  out = []
  for j in rng.integers(0, len(images), n):
    im = images[j]
    h, w = im.shape[:2]
    y, x = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
    c = im[y:y + crop, x:x + crop]
    if rng.random() < 0.5:
      c = c[:, ::-1]
    if rng.random() < 0.5:
      c = c[::-1]
    out.append(c)
  return np.stack(out)


def tune_parts(images: Sequence[np.ndarray | None], tile: int
               ) -> tuple[list, list]:
  """(real parts, denoised parts) of the tuning images: with `tile` 0, the
  even and the odd images; else every image's non-overlapping tile x tile
  tiles (a grid from its top left corner; an image smaller than a tile is
  one part), tile (r, c) of image i real when r + c + i is even. None
  (an image the method was not run on) has no parts."""
  if not tile:
    return list(images[0::2]), list(images[1::2])
  parts = ([], [])
  for i, im in enumerate(images):
    if im is None:
      continue
    if min(im.shape[:2]) < tile:
      parts[i % 2].append(im)
      continue
    for side in (0, 1):
      parts[side].extend(im[y:y + tile, x:x + tile] for y, x in
                         tile_grid(im.shape[:2], tile, (i + side) % 2))
  return parts


def space_to_depth(x: jax.Array) -> jax.Array:
  """(N, H, W, C) -> (N, H/2, W/2, 4C), every 2x2 block of pixels as
  channels: lossless, and XLA:CPU's convolutions run several times faster
  on fewer, deeper pixels (FFDNet's pixel-unshuffle front end)."""
  _, h, w, _ = x.shape
  return models.space_to_depth(x[:, :h - h % 2, :w - w % 2], 2)


@functools.lru_cache(maxsize=None)
def judge_fns(name: str, channels: int, crop: int, steps_: int, lr: float,
              detail: bool):
  """(model, optimizer, jitted update, jitted crop scores), shared by every
  judge of one architecture and setting (compiled once). Judges train on
  one device: they are small, and a replicated update would only repeat the
  same work on every device."""
  model = judge_model(name, channels * (2 if detail else 1) * 4, crop // 2)
  prep = lambda x: space_to_depth(
      discriminators.highpass(x) if detail else x)
  tx = optax.adam(optax.cosine_decay_schedule(lr, steps_, 0.01))

  @jax.jit
  def update(params, opt_state, x, y, key, i):
    params, _, opt_state, *_ = steps.disc_update(
        params, {}, opt_state, prep(x), y, jax.random.fold_in(key, i),
        disc=model, tx=tx, loss="logistic", margin=1.0)
    return params, opt_state

  @jax.jit
  def score(params, x):  # one score per crop: the mean over its patches
    u = steps.classify(params, {}, prep(x), disc=model)
    return u if u.ndim == 1 else jnp.mean(u, axis=tuple(range(1, u.ndim)))
  return model, tx, update, score


def _scores(score, params, crops: np.ndarray, batch: int = 256) -> np.ndarray:
  return np.concatenate([np.asarray(score(params, crops[i:i + batch]))
                         for i in range(0, len(crops), batch)])


@dataclasses.dataclass
class Data:
  """A meter's images: `tune_*` to train judges, `test_*` held out; the
  noisy versions are the methods' inputs (fixed noise)."""
  tune_clean: list[np.ndarray]
  tune_noisy: list[np.ndarray]
  test_clean: list[np.ndarray]
  test_noisy: list[np.ndarray]


class Meter:
  """The realism test of the module docstring, over fixed images."""

  def __init__(self, data: Data, cfg: ml_collections.ConfigDict | None = None,
               seed: int = 0):
    cfg = cfg or configs.realism()
    validate(cfg)
    self.cfg, self.seed, self.data = cfg, int(seed), data
    small = [im.shape[:2] for im in data.tune_clean
             if min(im.shape[:2]) < int(cfg.crop)]
    if small:
      raise ValueError(
          f"realism: an image of {small[0][0]}x{small[0][1]} is smaller "
          f"than the judges' crop {cfg.crop}; lower "
          "config.eval.realism.crop.")
    for im in data.test_clean:  # before any judge trains
      check_test_size(im.shape[:2], int(cfg.test_crop),
                      "config.eval.realism.test_crop")
    if len(data.tune_clean) < 2 or not data.test_clean:
      raise ValueError("realism: need >= 2 tuning images and >= 1 held-out "
                       f"image, got {len(data.tune_clean)} and "
                       f"{len(data.test_clean)}.")
    self.channels = data.tune_clean[0].shape[-1]
    self.tune_tile = int(cfg.get("tune_tile", 0))
    self._stats = {}  # each statistics family's real features (_stats_family)
    real = [_as_image(im) for im in
            tune_parts(data.tune_clean, self.tune_tile)[0]]
    self.real, self.select_real = self._split(real)
    if self.select_real:
      self.select_real = fixed_crops(self.select_real, int(cfg.test_crops),
                                     int(cfg.crop), self.seed + REALISM_SEED)
    # Real: one colour of each held-out image's checkerboard of tiles,
    # denoised: the other (judge()), so no tile is both; the colours swap
    # from image to image, so that neither side gets more of the tiles
    # that differ by position (a grid of odd size has every corner on one
    # colour, and corners are often sky or blur).
    self.real_parity = [i % 2 for i in range(len(data.test_clean))]
    self.test_clean = [_as_image(im) for im in data.test_clean]
    self.test_real = fixed_crops(self.test_clean,
                                 int(cfg.test_crops), int(cfg.test_crop),
                                 self.seed + REALISM_SEED,
                                 parity=self.real_parity)

  def _split(self, images: list) -> tuple[list, list]:
    """(judges' training images, architecture-selection images): every
    fourth held out when there are architectures to choose between."""
    if len(self.cfg.judges) < 2 or len(images) < 2:
      return images, []
    return ([im for i, im in enumerate(images) if i % 4 != 3],
            [im for i, im in enumerate(images) if i % 4 == 3])

  def _fns(self, name: str):
    c = self.cfg
    return judge_fns(name, self.channels, int(c.crop), int(c.steps),
                     float(c.lr), bool(c.detail))

  def _train_judge(self, name: str, k: int, fake: list[np.ndarray]):
    """Judge k of architecture `name` against `fake` (the odd tuning
    images' outputs); returns its parameters."""
    cfg, crop = self.cfg, int(self.cfg.crop)
    model, tx, update, _ = self._fns(name)
    tag = list(JUDGES).index(name)
    key = jax.random.PRNGKey(self.seed + REALISM_SEED + 1000 * k + tag)
    size = jnp.zeros((1, crop // 2, crop // 2, model.channels))
    params = model.init(key, size)["params"]
    opt_state = tx.init(params)
    bs = int(cfg.batch_size)
    half = bs // 2
    y = np.concatenate([np.full(half, losses.REAL, np.float32),
                        np.full(bs - half, losses.DENOISED, np.float32)])
    rng = np.random.default_rng([self.seed + REALISM_SEED, k, tag])
    for i in range(int(cfg.steps)):
      x = np.concatenate([random_crops(self.real, half, crop, rng),
                          random_crops(fake, bs - half, crop, rng)])
      params, opt_state = update(params, opt_state, x, y, key, np.int32(i))
    return params

  def judge(self, tune_out: Sequence[np.ndarray],
            test_out: Sequence[np.ndarray]) -> dict:
    """The realism record (module docstring) of a method whose outputs for
    data.tune_noisy and data.test_noisy are `tune_out` and `test_out`."""
    cfg = self.cfg
    fake, select_fake = self._split(
        [_as_image(o) for o in tune_parts(tune_out, self.tune_tile)[1]])
    select_fake = (fixed_crops(select_fake, int(cfg.test_crops),
                               int(cfg.crop), self.seed + REALISM_SEED + 1)
                   if select_fake else [])
    test_out = [_as_image(o) for o in test_out]
    test_fake = self.test_fake_tiles(test_out)
    scores, selection = self._cnn_family(fake, select_fake, test_fake)
    best = (max(selection, key=selection.get) if selection
            else next(iter(scores)))
    stats = {name: self._verdict(*self._stats_family(name, fake, test_fake),
                                 test_fake) for name in STATS_FAMILIES}
    return {**self._verdict(*scores[best], test_fake), "judge": best,
            "judges": {name: [auc(r, f) for r, f in zip(*s)]
                       for name, s in scores.items()},
            "selection_auc": selection,
            **stats,
            "spectrum_hf_ratio": spectrum_hf_ratio(test_out,
                                                   self.test_clean),
            "grad_hist_distance": grad_hist_distance(test_out,
                                                     self.test_clean)}

  def test_fake_tiles(self, test_out: Sequence[np.ndarray]
                      ) -> list[np.ndarray]:
    """Per held-out image, the tiles of the method's output judged as
    denoised: the other colour of its checkerboard than test_real's."""
    return fixed_crops(test_out, int(self.cfg.test_crops),
                       int(self.cfg.test_crop), self.seed + REALISM_SEED,
                       parity=[1 - p for p in self.real_parity])

  def _cnn_family(self, fake: list, select_fake: list,
                  test_fake: list) -> tuple[dict, dict]:
    """Every CNN architecture's judges, trained on self.real vs `fake`:
    ({name: (scores of the real, of the denoised test tiles), each (seeds,
    tiles)}, {name: its ensemble's AUC on the selection crops})."""
    cfg = self.cfg
    real_tiles, fake_tiles = (np.concatenate(self.test_real),
                              np.concatenate(test_fake))
    scores, selection = {}, {}
    for name in cfg.judges:
      *_, score = self._fns(name)
      us, sel = [], []
      for k in range(int(cfg.seeds)):
        p = self._train_judge(name, k, fake)
        us.append((_scores(score, p, real_tiles),
                   _scores(score, p, fake_tiles)))
        if select_fake:
          sel.append((_scores(score, p, np.concatenate(self.select_real)),
                      _scores(score, p, np.concatenate(select_fake))))
      scores[name] = tuple(np.stack(side) for side in zip(*us))
      if sel:
        selection[name] = auc(*(np.mean(side, axis=0) for side in zip(*sel)))
    return scores, selection

  def _stats_family(self, name: str, fake: list, test_fake: list
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The judges of statistics family `name` (STATS_FAMILIES), `seeds` of
    them, each a logistic regression (ddn.nss.fit) on STATS_CROPS random
    crops a side of self.real and `fake`: the scores (seeds, tiles) of the
    real and of the denoised test tiles."""
    crop, seeds = int(self.cfg.crop), int(self.cfg.seeds)
    of, tag = STATS_FAMILIES[name]
    base = [self.seed + REALISM_SEED, tag]
    if name not in self._stats:  # what every method shares: computed once
      self._stats[name] = (
          [of(random_crops(self.real, STATS_CROPS, crop,
                           np.random.default_rng(base + [k, 0])))
           for k in range(seeds)],
          nss.tile_features(np.concatenate(self.test_real), crop, of))
    real_feats, test_real = self._stats[name]
    test_fake = nss.tile_features(np.concatenate(test_fake), crop, of)
    u_real, u_fake = [], []
    for k in range(seeds):
      rng = np.random.default_rng(base + [k, 1])
      clf = nss.fit(real_feats[k],
                    of(random_crops(fake, STATS_CROPS, crop, rng)))
      u_real.append(nss.tile_scores(clf, test_real))
      u_fake.append(nss.tile_scores(clf, test_fake))
    return np.stack(u_real), np.stack(u_fake)

  def _verdict(self, u_real: np.ndarray, u_fake: np.ndarray,
               test_fake: list) -> dict:
    """The numbers of one family's ensemble from its judges' scores
    (judges, tiles) of the real test tiles and of `test_fake`'s."""
    cuts = lambda tiles: np.cumsum([len(t) for t in tiles])[:-1]
    n_images = len(self.test_real)
    unit = "image" if n_images >= MIN_IMAGES_FOR_IMAGE_CI else "crop"
    r, f = u_real.mean(axis=0), u_fake.mean(axis=0)
    lo, hi = auc_ci(np.split(u_real, cuts(self.test_real), axis=1),
                    np.split(u_fake, cuts(test_fake), axis=1),
                    int(self.cfg.bootstrap), self.seed, unit=unit)
    each = [auc(a, b) for a, b in zip(u_real, u_fake)]
    return {"auc": auc(r, f), "auc_ci95": [lo, hi],
            "ci_unit": ci_unit(unit, len(u_real)), "ci_images": n_images,
            "crops": int(r.size + f.size), "error": balanced_error(r, f),
            "seed_aucs": each}

  def judge_fn(self, denoise: Callable[[np.ndarray], np.ndarray],
               test_out: Sequence[np.ndarray] | None = None) -> dict:
    """judge() of `denoise(noisy (H, W, C)) -> (H, W, C)`, applied to every
    noisy tuning image that has denoised parts (the odd ones, or all with
    `tune_tile`) and to every test image when `test_out` is not given."""
    tune_out = [None if i % 2 == 0 and not self.tune_tile
                else np.asarray(denoise(x))
                for i, x in enumerate(self.data.tune_noisy)]
    if test_out is None:
      test_out = [np.asarray(denoise(x)) for x in self.data.test_noisy]
    return self.judge(tune_out, test_out)

  def calibrate(self, gaussian_width: float = 1.5) -> dict[str, dict]:
    """The calibration rows: clean, the noisy inputs and their Gaussian
    smoothing (std `gaussian_width` px), each judged as a method."""
    d = self.data
    smooth = lambda x: ndimage.gaussian_filter(
        x, (gaussian_width, gaussian_width, 0), mode="reflect")
    return {"clean": self.judge(d.tune_clean, d.test_clean),
            "noisy": self.judge(d.tune_noisy, d.test_noisy),
            "gaussian": self.judge([smooth(x) for x in d.tune_noisy],
                                   [smooth(x) for x in d.test_noisy])}


def record_fields(r: dict, prefix: str = "realism_") -> dict:
  """A judge() record as the flat fields of an evaluation record."""
  keys = ("auc", "auc_ci95", "ci_unit", "ci_images", "crops", "error",
          "seed_aucs", "judge", "judges", "selection_auc", "nss", "wavelet")
  return {**{f"{prefix}{k}": r[k] for k in keys},
          "spectrum_hf_ratio": r["spectrum_hf_ratio"],
          "grad_hist_distance": r["grad_hist_distance"]}


def describe(r: dict) -> str:
  """One line of a judge() record (or of its record_fields without the
  prefix): both families' AUCs with what their intervals are over."""
  lo, hi = r["auc_ci95"]
  seeds = ", ".join(f"{a:.3f}" for a in r.get("seed_aucs", ()))
  line = (f"AUC {r['auc']:.3f} [{lo:.3f}, {hi:.3f}] ({r['judge']} judges"
          + (f", by seed {seeds}" if seeds else "") + "), error "
          f"{r['error']:.3f}")
  for key, label in (("nss", "NSS"), ("wavelet", "wavelet")):
    if r.get(key):
      n = r[key]
      line += (f"; {label} judges AUC {n['auc']:.3f} "
               f"[{n['auc_ci95'][0]:.3f}, {n['auc_ci95'][1]:.3f}]")
  return (f"{line}; HF power ×{r['spectrum_hf_ratio']:.2f}, gradient EMD "
          f"{r['grad_hist_distance']:.4f}; 95% intervals over "
          + report.interval_note(r.get("ci_unit"), r.get("ci_images")))
