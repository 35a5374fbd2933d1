"""Colour photographs with gray denoisers, and the noise level of an image.

A gray model denoises an RGB image in one of two ways (MODES):

  opponent     the image in an opponent colour space (BM3D's colour
               transform, as bm3d_rgb): luminance (R + G + B) / 3 and two
               colour differences (R - B) / 2 and (R - 2G + B) / 4, shifted
               into [0, 1]. The three rows are orthogonal, so white RGB noise
               of σ stays white and independent in each channel, at σ times
               the row's norm (0.58, 0.71 and 0.61); each channel is denoised
               by the model for its own σ, then the image turned back.
  per_channel  R, G and B each denoised on its own, all at σ.

`estimate_sigma` gives σ when the user does not (Donoho's wavelet median
estimator, scikit-image's `restoration.estimate_sigma`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

MODES = ("opponent", "per_channel")
OPPONENT = np.array([[1 / 3, 1 / 3, 1 / 3],
                     [1 / 2, 0.0, -1 / 2],
                     [1 / 4, -1 / 2, 1 / 4]])
OFFSET = np.array([0.0, 0.5, 0.5])  # colour differences centred in [0, 1]
GAIN = np.linalg.norm(OPPONENT, axis=1)  # noise σ per channel, relative


def to_opponent(rgb: np.ndarray) -> np.ndarray:
  return (rgb @ OPPONENT.T + OFFSET).astype(np.float32)


def from_opponent(opp: np.ndarray) -> np.ndarray:
  return ((opp - OFFSET) @ np.linalg.inv(OPPONENT).T).astype(np.float32)


def denoise_rgb(denoiser_for: Callable[[float], Callable], rgb: np.ndarray,
                sigma: float, mode: str = "opponent") -> np.ndarray:
  """An (H, W, 3) image denoised with gray models: `denoiser_for(s)` is the
  gray denoiser ((H, W, 1) -> (H, W, 1)) to use at noise σ = s (0-255)."""
  if mode not in MODES:
    raise ValueError(f"colour mode {mode!r}: valid modes are "
                     f"{', '.join(MODES)}.")
  if rgb.ndim != 3 or rgb.shape[-1] != 3:
    raise ValueError(f"expected an (H, W, 3) image, got shape {rgb.shape}.")
  if mode == "per_channel":
    d = denoiser_for(sigma)
    return np.concatenate([d(rgb[:, :, c:c + 1]) for c in range(3)], axis=-1)
  opp = to_opponent(rgb)
  out = np.concatenate([denoiser_for(sigma * GAIN[c])(opp[:, :, c:c + 1])
                        for c in range(3)], axis=-1)
  return from_opponent(out)


def estimate_sigma(image: np.ndarray) -> float:
  """The noise σ (0-255) of an (H, W, C) image in [0, 1]: the mean over
  channels of the wavelet median estimate."""
  from skimage import restoration  # pylint: disable=g-import-not-at-top
  return 255.0 * float(restoration.estimate_sigma(
      np.asarray(image, np.float64), average_sigmas=True, channel_axis=-1))
