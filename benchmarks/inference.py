"""Full-image denoising speed, ddn against BM3D on the same images, one run.

  python benchmarks/inference.py [--sigma=25] [--model=gray-s25]

Two gray images, noised once with the same seed (σ = 25 on the 0-255 scale):
(1) a 481x321 BSD68 photograph (../shared/data/BSD68 when it is there, else
skimage's camera cropped to 321x481); (2) a large image, a 3x3 mosaic of
such photographs (963x1443, 1.39 MP), which ddn denoises tile by tile
(--tile, default 256, and tile=auto under a 1 GiB budget) as well as whole.
For each: megapixels/s and PSNR of the shipped model (median of --reps runs
after one compiling run; devices set up as the command-line tools do) and
of BM3D (the `bm3d` package, σ given; one run: it is slow), and the speed
ratio ddn / BM3D; CPU utilisation (process CPU time / wall: 2.0 = both
cores). About 3 minutes on 2 cores; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BSD68 = os.path.join(ROOT, "..", "shared", "data", "BSD68")


def photos(n: int) -> tuple[list[np.ndarray], str]:
  """n gray 321x481 photographs in [0, 1] (landscape), and where from."""
  from ddn import methods  # pylint: disable=g-import-not-at-top
  if os.path.isdir(BSD68):
    src = methods.load_eval_source(f"folder:{BSD68}", 1)
    out = []
    for i in range(len(src)):
      img = src[i]
      img = img if img.shape[0] <= img.shape[1] else img.transpose(1, 0, 2)
      if img.shape[:2] == (321, 481):
        out.append(img)
      if len(out) == n:
        return out, "BSD68"
  import skimage.data  # pylint: disable=g-import-not-at-top
  names = ("camera", "brick", "grass", "gravel", "moon", "camera", "brick",
           "grass", "gravel")
  out = []
  for name in names[:n]:
    img = getattr(skimage.data, name)().astype(np.float32) / 255.0
    img = np.resize(img, (321, 481)) if min(img.shape) < 481 else img[
        :321, :481]
    out.append(img[:, :, None])
  return out, "skimage"


def psnr(x: np.ndarray, ref: np.ndarray) -> float:
  from ddn import losses  # pylint: disable=g-import-not-at-top
  return float(losses.psnr(x, ref))


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--sigma", type=float, default=25.0)
  p.add_argument("--model", default="gray-s25")
  p.add_argument("--tile", type=int, default=256)
  p.add_argument("--reps", type=int, default=5)
  a = p.parse_args()
  from ddn import runtime  # pylint: disable=g-import-not-at-top
  runtime.setup()
  import jax  # pylint: disable=g-import-not-at-top
  from ddn import baselines  # pylint: disable=g-import-not-at-top
  from ddn import inference  # pylint: disable=g-import-not-at-top

  imgs, where = photos(9)
  small = imgs[0]
  large = np.concatenate([np.concatenate(imgs[r * 3:r * 3 + 3], axis=1)
                          for r in range(3)], axis=0)
  rng = np.random.default_rng(0)
  noisy = {k: (v + rng.standard_normal(v.shape).astype(np.float32) *
               a.sigma / 255.0) for k, v in (("small", small),
                                             ("large", large))}
  clean = {"small": small, "large": large}
  print(f"JAX {jax.__version__}, {jax.device_count()} "
        f"{jax.default_backend()} device(s); images from {where}; "
        f"σ={a.sigma:g}; model {a.model}")

  def timed(fn, x, reps):
    """(output, median seconds, CPU utilisation: process CPU / wall)."""
    out = fn(x)  # compiles
    times = []
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(reps):
      t = time.perf_counter()
      out = fn(x)
      times.append(time.perf_counter() - t)
    util = (time.process_time() - c0) / (time.perf_counter() - w0)
    return out, float(np.median(times)), util

  bm3d = baselines.bm3d(a.sigma)
  rows = []
  for key, tiles in (("small", ["none"]),
                     ("large", ["none", str(a.tile), "auto"])):
    x, ref = noisy[key], clean[key]
    mp = x.shape[0] * x.shape[1] / 1e6
    t, c0 = time.perf_counter(), time.process_time()
    out_b = bm3d(x)  # one run: it is slow
    secs_b = time.perf_counter() - t
    util_b = (time.process_time() - c0) / secs_b
    rows.append((key, x.shape, "bm3d", psnr(out_b, ref), secs_b, mp / secs_b,
                 util_b))
    for tile in tiles:
      d = inference.load(a.model, tile=tile, memory_mb=1024).at(a.sigma)
      out, secs, util = timed(d, x, a.reps)
      rows.append((key, x.shape, f"ddn tile={tile}", psnr(out, ref), secs,
                    mp / secs, util))
    for r in rows[-len(tiles) - 1:]:
      print(f"{r[0]:<6}{r[1][1]}x{r[1][0]:<6}{r[2]:<16}PSNR {r[3]:6.2f} dB"
            f"  {r[4]:7.3f} s  {r[5]:7.3f} MP/s  CPU util {r[6]:.2f}",
            flush=True)

  def ratio(key, method):
    b = [r for r in rows if r[0] == key and r[2] == "bm3d"][0]
    d = [r for r in rows if r[0] == key and r[2] == method][0]
    return d[5] / b[5], d[3] - b[3]

  s_ratio, s_gain = ratio("small", "ddn tile=none")
  l_ratio, l_gain = ratio("large", "ddn tile=auto")
  print(f"inference: 481x321 ddn {s_ratio:.1f}x BM3D's speed "
        f"({s_gain:+.2f} dB); 1443x963 tile=auto {l_ratio:.1f}x "
        f"({l_gain:+.2f} dB)")


if __name__ == "__main__":
  main()
