"""The evaluation protocol of denoising tables (DnCNN, BM3D), in one place.

ddn.evaluate, ddn.baselines (width tuning), ddn.denoise (--add_noise) and
ddn.figures all use these functions, so every figure and record is measured
the same way:

  * clean image: the file as float in [0, 1] (8-bit: uint8 / 255);
  * noise: for the image at position i of the source (folders: sorted by
    path), `numpy.random.default_rng(seed + i).standard_normal(shape)` *
    σ/255 in float64, cast to float32 and added; the noisy input is NOT
    clipped. The same noise pattern, scaled, is used for every σ;
  * output: clipped to [0, 1], quantised to uint8 (round(255 x)), then
    PSNR = 10 log10(255^2 / MSE) against the uint8 clean image, and SSIM by
    scikit-image (Gaussian window σ=1.5, no sample covariance: Wang et
    al. 2004) on the same uint8 images.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity


def noisy_version(clean: np.ndarray, sigma: float, index: int,
                  seed: int = 0) -> np.ndarray:
  """The protocol's noisy input for the image at position `index`."""
  rng = np.random.default_rng(seed + index)
  noise = rng.standard_normal(clean.shape) * (sigma / 255.0)
  return (clean.astype(np.float64) + noise).astype(np.float32)


def quantise(x: np.ndarray) -> np.ndarray:
  return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def psnr_uint8(a: np.ndarray, b: np.ndarray) -> float:
  mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
  return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-10)))


def ssim_uint8(a: np.ndarray, b: np.ndarray) -> float:
  return float(structural_similarity(
      a, b, data_range=255, channel_axis=-1, gaussian_weights=True, sigma=1.5,
      use_sample_covariance=False))


def psnr(output: np.ndarray, clean: np.ndarray) -> float:
  """PSNR (dB) of a float output against the float clean image, both
  quantised as the protocol says."""
  return psnr_uint8(quantise(output), quantise(clean))
