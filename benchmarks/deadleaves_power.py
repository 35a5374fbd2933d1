"""Can dead-leaves images carry the realism test where 3
held-out photographs cannot? The shipped pair whose intervals separate on
BSD68 (gray-s50, gray-s50-adv) judged on N dead-leaves images at σ = 50,
beside the calibration rows.

  python benchmarks/deadleaves_power.py [N] [JSON realism overrides] [R_MIN]

The judges tune on N images of seed 1 (half real, half denoised by the
method judged), the test reads N images of seed 0 with the protocol's noise
(intervals over images). Prints the seconds, the calibration rows and each
model's record (ddn.realism.describe).

Dead leaves: discs of random grey level fall on the image one under another
until it is covered (Matheron's model); radii follow p(r) ∝ r^-3 between
R_MIN and R_MAX, which makes the image scale invariant with a power
spectrum near 1/f² and sharp occluding edges, as in natural photographs
(Lee, Mumford & Huang 2001). Each disc has a faint gradient and grain of
its own; rendered at twice the size and averaged 2×2 (anti-aliased edges).
Measured (docs/records/deadleaves_power.json): with R_MIN 2 and 8 px both
models are caught at AUC 1.000, so the test saturates and cannot rank them.
"""

import json
import sys
import time

import numpy as np

from ddn import configs
from ddn import inference
from ddn import protocol
from ddn import realism

SIGMA = 50.0
R_MIN, R_MAX = 2.0, 64.0  # disc radii, output pixels


def _radius(rng: np.random.Generator, r_min: float, r_max: float) -> float:
  """A draw of p(r) ∝ r^-3 on [r_min, r_max] (inverse CDF)."""
  u = rng.random()
  a, b = r_min ** -2, r_max ** -2
  return float((a - u * (a - b)) ** -0.5)


def image(index: int, size: int = 128, seed: int = 0,
          r_min: float = R_MIN, r_max: float = R_MAX,
          max_discs: int = 20_000) -> np.ndarray:
  """Dead-leaves image `index` of `seed`: (size, size, 1) float32 in [0, 1]."""
  rng = np.random.default_rng([seed, index, 0xDEAD])
  n = 2 * size  # rendered at twice the size
  out = np.full((n, n), np.nan, np.float32)
  yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
  left = n * n
  for _ in range(max_discs):
    r = 2 * _radius(rng, r_min, r_max)
    cy, cx = rng.uniform(-r, n + r, 2)
    y0, y1 = max(int(cy - r), 0), min(int(cy + r) + 1, n)
    x0, x1 = max(int(cx - r), 0), min(int(cx + r) + 1, n)
    if y0 >= y1 or x0 >= x1:
      continue
    sub = out[y0:y1, x0:x1]
    inside = ((yy[y0:y1, x0:x1] - cy) ** 2 + (xx[y0:y1, x0:x1] - cx) ** 2
              <= r * r) & np.isnan(sub)
    k = int(inside.sum())
    if not k:
      continue
    grey = rng.beta(1.2, 1.2)  # grey levels spread over [0, 1]
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * (xx[y0:y1, x0:x1] - cx)
            + np.sin(angle) * (yy[y0:y1, x0:x1] - cy)) / max(r, 1.0)
    shade = grey + 0.05 * ramp + 0.02 * rng.standard_normal(ramp.shape)
    sub[inside] = shade[inside]
    left -= k
    if left == 0:
      break
  out = np.where(np.isnan(out), rng.random(), out)
  out = out.reshape(size, 2, size, 2).mean(axis=(1, 3))
  return np.clip(out, 0.0, 1.0)[..., None].astype(np.float32)



def main(n: int, overrides: dict, r_min: float = R_MIN):
  cfg = configs.realism()
  cfg.update(dict(seeds=1, steps=600, test_crops=16, test_crop=64,
                  tune_tile=0))
  cfg.update(overrides)
  tune = [image(i, 128, 1, r_min=r_min) for i in range(n)]
  test = [image(i, 128, 0, r_min=r_min) for i in range(n)]
  data = realism.Data(
      tune, [protocol.noisy_version(c, SIGMA, i, realism.REALISM_SEED)
             for i, c in enumerate(tune)],
      test, [protocol.noisy_version(c, SIGMA, i, 0)
             for i, c in enumerate(test)])
  meter = realism.Meter(data, cfg, 0)
  t0 = time.time()
  for name, r in meter.calibrate(1.5).items():
    print(f"calibration, clean vs {name}: {realism.describe(r)}", flush=True)
  for model in ("gray-s50", "gray-s50-adv"):
    d = inference.load(model)
    fn = lambda x, d=d: np.clip(d(x, sigma=SIGMA), 0, 1)
    out = [fn(x) for x in data.test_noisy]
    psnr = np.mean([protocol.psnr(o, c) for o, c in zip(out, test)])
    r = meter.judge_fn(fn, test_out=out)
    print(f"{model}: PSNR {psnr:.2f} dB, realism {realism.describe(r)}",
          flush=True)
  print(f"{time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
  main(int(sys.argv[1]) if len(sys.argv) > 1 else 48,
       json.loads(sys.argv[2]) if len(sys.argv) > 2 else {},
       float(sys.argv[3]) if len(sys.argv) > 3 else R_MIN)
