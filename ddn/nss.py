"""Natural-scene statistics of image crops, and a small classifier on them.

A realism judge of another family than the CNN judges (and than an
adversarial run's D): it sees no pixels, only how the crops' locally
normalised luminances are distributed, the statistics of the no-reference
quality measure BRISQUE (Mittal, Moorthy & Bovik, IEEE TIP 2012):

  MSCN       (I - μ) / (σ + C), μ and σ the local mean and standard
             deviation under a Gaussian window (std 7/6 px, 9 x 9:
             scipy's truncation at 3 std),
             C = 1/255 (BRISQUE's C = 1 on the 0-255 scale); natural images
             give near-Gaussian MSCN coefficients, blur and noise do not.
  features   per scale: the generalised-Gaussian fit (shape α, log
             variance) of the MSCN coefficients, and the asymmetric
             generalised-Gaussian fit (shape, mean, log left and right
             variances) of the products of neighbouring coefficients in 4
             orientations (horizontal, vertical, both diagonals); at 2 scales
             (the crop and its 2 x 2 block means): 36 numbers a crop.
             Variances enter as logarithms (BRISQUE: as they are), so a
             linear classifier sees them on a usable scale.
  classifier L2-regularised logistic regression on the standardised
             features, fitted by Newton's method (deterministic, no
             learning rate); its logit is the crop's score, > 0 denoised.

Colour crops are judged on their luminance (the mean of the channels).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage
from scipy import special

WINDOW_STD = 7 / 6  # BRISQUE's Gaussian window (9 x 9 at truncate=3)
C = 1 / 255
SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # H, V, D1, D2 neighbours
FEATURES = 2 * (2 + 4 * len(SHIFTS))  # 36
_SHAPES = np.arange(0.2, 10.0, 0.001)  # α grid of the moment-matching fits
# E[x²] / E[|x|]² of a generalised Gaussian of each shape: decreasing in α.
_RATIO = (special.gamma(1 / _SHAPES) * special.gamma(3 / _SHAPES)
          / special.gamma(2 / _SHAPES) ** 2)


def mscn(x: np.ndarray) -> np.ndarray:
  """(N, H, W) images -> their MSCN coefficients (module docstring)."""
  x = np.asarray(x, np.float64)
  blur = lambda a: ndimage.gaussian_filter(a, (0, WINDOW_STD, WINDOW_STD),
                                           mode="reflect", truncate=3.0)
  mu = blur(x)
  sigma = np.sqrt(np.abs(blur(x * x) - mu * mu))
  return (x - mu) / (sigma + C)


def _shape_from_ratio(ratio: np.ndarray) -> np.ndarray:
  """The α whose generalised Gaussian has this E[x²] / E[|x|]²."""
  return np.interp(ratio, _RATIO[::-1], _SHAPES[::-1])


def ggd_fit(x: np.ndarray) -> np.ndarray:
  """(N, n) samples -> (N, 2): shape α and variance of a zero-mean
  generalised Gaussian, by moment matching (Sharifi & Leon-Garcia)."""
  var = np.mean(x * x, axis=1)
  mean_abs = np.mean(np.abs(x), axis=1)
  return np.stack([_shape_from_ratio(var / np.maximum(mean_abs ** 2, 1e-20)),
                   var], axis=1)


def aggd_fit(x: np.ndarray) -> np.ndarray:
  """(N, n) samples -> (N, 4): shape, mean, left and right variances of an
  asymmetric generalised Gaussian (BRISQUE's moment-matching fit)."""
  neg, pos = x < 0, x > 0
  left = np.sum(np.where(neg, x * x, 0), 1) / np.maximum(neg.sum(1), 1)
  right = np.sum(np.where(pos, x * x, 0), 1) / np.maximum(pos.sum(1), 1)
  gam = np.sqrt(left) / np.maximum(np.sqrt(right), 1e-10)
  r_hat = np.mean(np.abs(x), 1) ** 2 / np.maximum(np.mean(x * x, 1), 1e-20)
  r_norm = r_hat * (gam ** 3 + 1) * (gam + 1) / (gam ** 2 + 1) ** 2
  shape = _shape_from_ratio(1 / np.maximum(r_norm, 1e-10))
  mean = ((np.sqrt(right) - np.sqrt(left)) * special.gamma(2 / shape)
          / np.sqrt(special.gamma(1 / shape) * special.gamma(3 / shape)))
  return np.stack([shape, mean, left, right], axis=1)


def _one_scale(x: np.ndarray) -> np.ndarray:
  """(N, H, W) -> (N, 18): the fits of one scale, variances as logs."""
  m = mscn(x)
  n = len(m)
  g = ggd_fit(m.reshape(n, -1))
  cols = [g[:, :1], np.log(g[:, 1:] + 1e-6)]
  h, w = m.shape[1:]
  for dy, dx in SHIFTS:
    a = m[:, :h - dy, max(-dx, 0):w - max(dx, 0)]
    b = m[:, dy:, max(dx, 0):w + min(dx, 0)]
    f = aggd_fit((a * b).reshape(n, -1))
    cols += [f[:, :2], np.log(f[:, 2:] + 1e-6)]
  return np.concatenate(cols, axis=1)


def features(crops: np.ndarray) -> np.ndarray:
  """(N, H, W, C) crops in [0, 1] -> (N, 36) features (module docstring)."""
  x = np.asarray(crops, np.float64).mean(axis=-1)
  h, w = (x.shape[1] // 2) * 2, (x.shape[2] // 2) * 2
  half = x[:, :h, :w].reshape(len(x), h // 2, 2, w // 2, 2).mean(axis=(2, 4))
  return np.concatenate([_one_scale(x), _one_scale(half)], axis=1)


@dataclasses.dataclass
class Classifier:
  """Logistic regression on standardised features: score = logit."""
  mean: np.ndarray
  std: np.ndarray
  weights: np.ndarray  # (features + 1,), the bias last

  def score(self, feats: np.ndarray) -> np.ndarray:
    z = (feats - self.mean) / self.std
    return z @ self.weights[:-1] + self.weights[-1]


def fit(real: np.ndarray, denoised: np.ndarray, l2: float = 1e-2,
        iters: int = 100) -> Classifier:
  """A Classifier telling `denoised` features (score > 0) from `real`
  ones: L2-regularised (not the bias) logistic regression, Newton steps
  until the step is below 1e-8."""
  x = np.concatenate([real, denoised]).astype(np.float64)
  y = np.concatenate([np.zeros(len(real)), np.ones(len(denoised))])
  mean, std = x.mean(0), x.std(0) + 1e-8
  z = np.concatenate([(x - mean) / std, np.ones((len(x), 1))], axis=1)
  penalty = np.full(z.shape[1], l2)
  penalty[-1] = 0.0
  w = np.zeros(z.shape[1])
  for _ in range(iters):
    p = special.expit(z @ w)
    grad = z.T @ (p - y) / len(y) + penalty * w
    hess = (z * (p * (1 - p))[:, None]).T @ z / len(y) + np.diag(penalty)
    step = np.linalg.solve(hess + 1e-10 * np.eye(len(w)), grad)
    w -= step
    if np.max(np.abs(step)) < 1e-8:
      break
  return Classifier(mean, std, w)


def tile_features(tiles: np.ndarray, crop: int, of=None) -> np.ndarray:
  """(N, T, T, C) tiles -> (S, N, F): the features (`of`, default this
  module's `features`; ddn.wavelets.features for that family) of each
  tile's S non-overlapping crop x crop sub-tiles (a grid from its top left
  corner), the size the classifier is fitted on."""
  n, h, w = tiles.shape[:3]
  subs = [tiles[:, y:y + crop, x:x + crop]
          for y in range(0, h - crop + 1, crop)
          for x in range(0, w - crop + 1, crop)]
  return (of or features)(np.concatenate(subs)).reshape(len(subs), n, -1)


def tile_scores(clf: Classifier, feats: np.ndarray) -> np.ndarray:
  """(S, N, F) tile_features -> (N,): each tile's mean sub-tile score."""
  return clf.score(feats).mean(axis=0)
