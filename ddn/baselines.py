"""Classical denoisers to compare against, all given the true σ.

  gaussian  Gaussian smoothing (scipy.ndimage.gaussian_filter per channel);
            its width (std in pixels) chosen on training images.
  median    median filter (scipy.ndimage.median_filter, square window per
            channel); its window chosen on training images.
  nlm       scikit-image non-local means, σ given, with the parameters of
            scikit-image's own example: patch_size=5, patch_distance=6,
            h=0.6σ, fast_mode=True (colour: one joint patch distance).
  bm3d      BM3D (the `bm3d` package, Mäkinen et al. 2020), sigma_psd=σ,
            both stages, default profile; colour images by bm3d_rgb (the
            opponent-colour BM3D).

Widths are tuned per σ on up to `tune_images` training images (their noisy
versions by ddn.protocol with seed TUNE_SEED, never the test
noise), by mean PSNR over a fixed grid; the choice is kept in the records.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import ndimage

from ddn import protocol

BASELINES = ("gaussian", "median", "nlm", "bm3d")
GRIDS = {
    "gaussian": (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0),  # std, pixels
    "median": (3, 5, 7, 9),  # window side, pixels
}
TUNE_SEED = 50_000  # tuning noise: default_rng(TUNE_SEED + i) for image i


def parse(text: str | list[str]) -> list[str]:
  names = ([n.strip() for n in text.split(",")] if isinstance(text, str)
           else [n.strip() for n in text])
  names = [n for n in names if n]
  bad = [n for n in names if n not in BASELINES]
  if bad:
    raise ValueError(f"--baselines: unknown {', '.join(bad)}; valid "
                     f"baselines are {', '.join(BASELINES)}.")
  return names


def _per_channel(fn, x: np.ndarray) -> np.ndarray:
  return np.stack([fn(x[:, :, c]) for c in range(x.shape[-1])], axis=-1)


def gaussian(width: float) -> Callable[[np.ndarray], np.ndarray]:
  return lambda x: _per_channel(
      lambda a: ndimage.gaussian_filter(a, width, mode="reflect"), x)


def median(width: int) -> Callable[[np.ndarray], np.ndarray]:
  return lambda x: _per_channel(
      lambda a: ndimage.median_filter(a, size=int(width), mode="reflect"), x)


def nlm(sigma: float) -> Callable[[np.ndarray], np.ndarray]:
  from skimage.restoration import denoise_nl_means  # pylint: disable=g-import-not-at-top
  s = sigma / 255.0

  def run(x):
    if s == 0:
      return x
    out = denoise_nl_means(x, h=0.6 * s, sigma=s, patch_size=5,
                           patch_distance=6, fast_mode=True, channel_axis=-1)
    return np.asarray(out, np.float32).reshape(x.shape)
  return run


def bm3d(sigma: float, threads: int = 0
         ) -> Callable[[np.ndarray], np.ndarray]:
  """BM3D at noise σ (0-255). threads=0 uses every core; the library's
  threads sum in varying order, so two runs on one image can differ by
  ~1e-7. threads=1 is reproducible to the bit (about 1.5x slower on 2
  cores): fusion needs it, its divergence probe amplifies that jitter."""
  try:
    import bm3d as bm3d_lib  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise ValueError("baseline bm3d needs the bm3d package: pip install "
                     "bm3d (it is in ddn's dependencies).") from None
  s = sigma / 255.0
  profile = bm3d_lib.BM3DProfile()
  profile.num_threads = threads

  def run(x):
    if s == 0:
      return x
    if x.shape[-1] == 3:
      return np.asarray(bm3d_lib.bm3d_rgb(x, s, profile), np.float32)
    return np.asarray(bm3d_lib.bm3d(x[:, :, 0], sigma_psd=s, profile=profile),
                      np.float32)[:, :, None]
  return run


def make(name: str, sigma: float, width=None, threads: int = 0) -> Callable:
  if name == "gaussian":
    return gaussian(width)
  if name == "median":
    return median(width)
  if name == "nlm":
    return nlm(sigma)
  if name == "bm3d":
    return bm3d(sigma, threads)
  raise ValueError(f"unknown baseline {name!r}; valid: {', '.join(BASELINES)}.")


def tune(name: str, sigma: float, images: list[np.ndarray]) -> float | None:
  """The width in GRIDS[name] with the best mean PSNR on `images` (clean,
  float (H, W, C)) at σ; None for baselines without a width."""
  if name not in GRIDS:
    return None
  if not images:
    raise ValueError(f"tuning {name}: no training images to tune on.")
  noisy = [protocol.noisy_version(c, sigma, i, TUNE_SEED)
           for i, c in enumerate(images)]
  refs = [protocol.quantise(c) for c in images]

  def score(width):
    f = make(name, sigma, width)
    return np.mean([protocol.psnr_uint8(protocol.quantise(f(x)), r)
                    for x, r in zip(noisy, refs)])
  return max(GRIDS[name], key=score)
