"""Statistics the figures report: bootstrap intervals and detail power."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def mean_ci(values, over=None, seed: int = 0, n: int = 2000
            ) -> tuple[float, list]:
  """mean(values), or sum(values) / sum(over), and its bootstrap 95%
  interval over the items (images)."""
  v = np.asarray(values, np.float64)
  d = np.ones_like(v) if over is None else np.asarray(over, np.float64)
  idx = np.random.default_rng(seed).integers(0, len(v), (n, len(v)))
  boot = v[idx].sum(axis=1) / np.maximum(d[idx].sum(axis=1), 1e-12)
  lo, hi = np.percentile(boot, [2.5, 97.5])
  return float(v.sum() / max(d.sum(), 1e-12)), [float(lo), float(hi)]


def ci_bars(points: list[dict], key: str = "realism") -> np.ndarray:
  """Asymmetric error bars (2, n) of each point's [lo, hi] interval
  (point[key + '_ci95'])."""
  return np.array([[p[key] - p[f"{key}_ci95"][0] for p in points],
                   [p[f"{key}_ci95"][1] - p[key] for p in points]])


def detail_energy(x: np.ndarray) -> np.ndarray:
  """Per-pixel detail power: (x minus its 3x3 binomial blur)², (H, W)."""
  k1 = np.array([1.0, 2.0, 1.0]) / 4
  g = x[..., 0].astype(np.float64)
  return (g - ndimage.convolve(g, np.outer(k1, k1), mode="reflect")) ** 2
