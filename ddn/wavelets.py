"""Wavelet statistics of image crops: the realism meter's third judge family.

A family that shares neither the CNN judges' pixels nor the NSS family's
local normalisation (ddn.nss), so that neither an adversarial D that sees
the image's detail channel nor one that sees its MSCN coefficients
(config.disc.mscn) is also the test. It sees the crops' orthonormal Haar
wavelet coefficients, amplitudes as they are:

  subbands   LEVELS levels of the 2-D Haar transform of the luminance (the
             mean of the channels); at each, the horizontal, vertical and
             diagonal detail.
  features   per subband, the log of its coefficients' energy E[x²] (their
             variance: Haar details have mean near 0) and the log of
             their moment ratio E[x²] / E[|x|]² (π/2 for a
             Gaussian, 2 for a Laplacian, larger the sparser; the
             generalised-Gaussian shape is a function of it, but its fit
             saturates on the few coefficients of a coarse level of one
             crop, and a handful of such outliers steered the judges):
             natural images' detail is sparse and its variance falls with
             scale; white grain is Gaussian and as strong at the finest
             scale as the noise it imitates. Per level below the
             coarsest and orientation, the correlation of coefficient
             magnitudes with their parent's (the same orientation one
             level coarser, at the same place): an edge's magnitudes
             persist across scales, grain's do not (Simoncelli 1999,
             "Modeling the joint statistics of images in the wavelet
             domain"). LEVELS * 3 * 2 + (LEVELS - 1) * 3 = 24 numbers.
  classifier the NSS family's: L2-regularised logistic regression on the
             standardised features (ddn.nss.fit).
"""

from __future__ import annotations

import numpy as np

LEVELS = 3
FEATURES = LEVELS * 3 * 2 + (LEVELS - 1) * 3  # 24
FLOOR = 0.1 / 255  # added to |x| and (squared) to x² of every subband


def haar(x: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
  """(N, H, W), H and W even -> (approximation, (horizontal, vertical,
  diagonal) detail), each (N, H/2, W/2): one level of the orthonormal 2-D
  Haar transform (energy is kept)."""
  a, b = x[:, 0::2, 0::2], x[:, 0::2, 1::2]
  c, d = x[:, 1::2, 0::2], x[:, 1::2, 1::2]
  return ((a + b + c + d) / 2, ((a + b - c - d) / 2, (a - b + c - d) / 2,
                                (a - b - c + d) / 2))


def _correlation(u: np.ndarray, v: np.ndarray) -> np.ndarray:
  """(N, n) and (N, n) -> (N,): Pearson correlation row by row (0 where a
  row is constant)."""
  u = u - u.mean(axis=1, keepdims=True)
  v = v - v.mean(axis=1, keepdims=True)
  den = np.sqrt(np.sum(u * u, axis=1) * np.sum(v * v, axis=1))
  return np.where(den > 0, np.sum(u * v, axis=1) / np.maximum(den, 1e-30),
                  0.0)


def features(crops: np.ndarray) -> np.ndarray:
  """(N, H, W, C) crops in [0, 1], H and W at least 2 ** LEVELS ->
  (N, FEATURES) features (module docstring)."""
  x = np.asarray(crops, np.float64).mean(axis=-1)
  n, h, w = x.shape
  m = 2 ** LEVELS
  if h < m or w < m:
    raise ValueError(f"wavelet features need crops of at least {m} x {m} "
                     f"px, got {h} x {w}.")
  x = x[:, :h // m * m, :w // m * m]
  cols, bands = [], []
  for _ in range(LEVELS):
    x, detail = haar(x)
    bands.append(detail)
    for d in detail:
      d = d.reshape(n, -1)
      # Floors a tenth of an 8-bit step: a flat (or one-pixel) subband
      # stays a few units from grain's, not tens of standard deviations.
      var = np.mean(d * d, axis=1) + FLOOR ** 2
      mean_abs = np.mean(np.abs(d), axis=1) + FLOOR
      cols += [np.log(var)[:, None], np.log(var / mean_abs ** 2)[:, None]]
  for child, parent in zip(bands[:-1], bands[1:]):
    for c, p in zip(child, parent):
      # The child's 2 x 2 block of magnitudes against its parent's one.
      _, ph, pw = p.shape
      mag = np.abs(c).reshape(n, ph, 2, pw, 2).mean(axis=(2, 4))
      cols.append(_correlation(mag.reshape(n, -1),
                               np.abs(p).reshape(n, -1))[:, None])
  return np.concatenate(cols, axis=1)
