"""The network fused with a non-local classical denoiser, weighted per image
by Stein's unbiased risk estimate (SURE): no clean image needed.

  out = α · network(y) + (1 − α) · partner(y),   α in [0, 1]

A U-Net sees a bounded neighbourhood; BM3D's block matching finds a patch's
repeats anywhere in its search window. On images rich in repeated structure
(facades, fabrics, Barbara) BM3D's estimate carries what the network
cannot, elsewhere the network's is better, and their errors are far from
identical, so a blend beats both. For y = x + n, n ~ N(0, s²) i.i.d.
(s = σ / 255), the mean squared error of any estimator f, per pixel, is
estimated without x by

  SURE(f) = |y − f(y)|² / n − s² + 2 s² div f(y) / n,

and the divergence of a black box (BM3D is one) by one Monte-Carlo probe
(Ramani, Blu & Unser, IEEE TIP 2008): div f(y) ≈ bᵀ (f(y + ε b) − f(y)) / ε,
b ~ N(0, 1). SURE of the blend is quadratic in α; its minimum is

  α* = (⟨y − p, g⟩ − s² (div f − div p)) / |g|²,   g = f − p,

clipped to [0, 1]. Cost: both denoisers twice (once on the probe). On 16
Train400 images the α chosen lost 0.012 / 0.020 dB on average to the best
α known from the clean image, at σ = 25 / 50 (docs/quality.md, "The
network fused with BM3D"). The noise must be Gaussian with a known σ (the
protocol's is); for real noise SURE's premise does not hold.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ddn import baselines

PARTNERS = ("bm3d",)
# ε = PROBE_SCALE · s. BM3D is not smooth (hard thresholds, block matching):
# a tiny probe's difference is dominated by the few coefficients that cross
# a threshold, a large one by BM3D's curvature; on development images
# (benchmarks/fusion_probe.py, 16 Train400 images at σ = 25 and 50) 0.1
# lost 0.012 / 0.020 dB to the clean image's best α on average, 0.01 lost
# 0.090 / 0.028 (worst 0.72 dB) and 0.3 lost 0.106 / 0.179.
PROBE_SCALE = 0.1
PROBE_STREAM = 0x50BE  # the probe's random stream, apart from the noise's


def check_partner(name: str) -> str:
  if name not in PARTNERS:
    raise ValueError(f"fuse={name!r}: give one of {', '.join(PARTNERS)} "
                     "(or nothing for the network alone).")
  return name


def partner(name: str, sigma: float) -> Callable[[np.ndarray], np.ndarray]:
  """The classical denoiser `name` at noise σ (0-255), (H, W, C) -> same,
  reproducible to the bit: one thread (the divergence probe divides BM3D's
  multi-threaded jitter, ~1e-7, by ε, which moved α by ~1e-5 between two
  runs on one image)."""
  return baselines.make(check_partner(name), sigma, threads=1)


def sure_alpha(noisy: np.ndarray, f: np.ndarray, p: np.ndarray,
               div_f: float, div_p: float, sigma: float) -> float:
  """The SURE-optimal α in [0, 1] of α f + (1 − α) p (module docstring)."""
  s2 = (sigma / 255.0) ** 2
  g = (f - p).astype(np.float64)
  gg = float(np.sum(g * g))
  if gg == 0.0:
    return 1.0
  a = (float(np.sum((noisy - p).astype(np.float64) * g))
       - s2 * (div_f - div_p)) / gg
  return float(np.clip(a, 0.0, 1.0))


def divergence(fn, noisy: np.ndarray, out: np.ndarray, probe: np.ndarray,
               eps: float) -> float:
  """One Monte-Carlo probe of fn's divergence at `noisy` (out = fn(noisy))."""
  moved = np.asarray(fn((noisy + eps * probe).astype(np.float32)), np.float64)
  return float(np.sum(probe * (moved - out)) / eps)


def fuse(network: Callable[[np.ndarray], np.ndarray], noisy: np.ndarray,
         sigma: float, other: str | Callable = "bm3d",
         seed: int = 0) -> tuple[np.ndarray, float]:
  """(α network(noisy) + (1 − α) other(noisy), α), α chosen by SURE at
  noise σ (0-255); `other` a PARTNERS name or any denoising function; the
  probe b is drawn from `seed`."""
  if not (sigma and np.isfinite(sigma) and sigma > 0):
    raise ValueError(f"fusion needs the noise level σ > 0, got {sigma}: "
                     "tell it (--sigma, Denoiser.at) or let it be "
                     "estimated.")
  other = partner(other, sigma) if isinstance(other, str) else other
  noisy = np.asarray(noisy, np.float32)
  # Not default_rng(int): the evaluation protocol draws its noise that way,
  # and a probe equal to the noise biases the divergence estimate.
  probe = np.random.default_rng([seed, PROBE_STREAM]).standard_normal(
      noisy.shape)
  eps = PROBE_SCALE * sigma / 255.0
  f = np.asarray(network(noisy), np.float64)
  p = np.asarray(other(noisy), np.float64)
  alpha = sure_alpha(noisy, f, p, divergence(network, noisy, f, probe, eps),
                     divergence(other, noisy, p, probe, eps), sigma)
  return (alpha * f + (1 - alpha) * p).astype(np.float32), alpha
