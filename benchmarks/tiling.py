"""Tiled inference, measured: (1) tiled vs whole-image PSNR on BSD68 with
the shipped gray σ=25 model (the protocol of ddn.evaluate, σ=25), per image
and in the mean; (2) peak memory of denoising a 4000 x 3000 image with
tile=auto (1 GiB budget), in a child process so its peak is its own.

  python benchmarks/tiling.py [--data=folder:../shared/data/BSD68] [--tile=128]

Prints the figures; about 5 minutes on a 2-core CPU.
"""

import argparse
import subprocess
import sys

import numpy as np

from ddn import evaluate
from ddn import inference
from ddn import methods
from ddn import runtime

BIG = """
import resource, time, numpy as np
from ddn import inference, runtime
runtime.setup()
d = inference.load("gray-s25", tile="{tile}", memory_mb=1024)
rng = np.random.default_rng(0)
y, x = np.mgrid[0:3000, 0:4000] / 4000.0
img = (0.5 + 0.3 * np.sin(20 * x) * np.cos(15 * y))[:, :, None].astype(np.float32)
noisy = img + rng.standard_normal(img.shape).astype(np.float32) * (25 / 255)
print("plan: core", d.plan(3000, 4000), "margin", d.margin, "blend", d.blend,
      "bytes/pixel", round(d.bytes_per_pixel()))
t = time.perf_counter(); out = d(noisy); secs = time.perf_counter() - t
mse = float(np.mean((np.clip(out, 0, 1) - img) ** 2))
print(f"4000x3000: {{secs:.1f}} s ({{12 / secs:.2f}} MP/s), PSNR "
      f"{{10 * np.log10(1 / mse):.2f}} dB, peak RSS "
      f"{{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f}} GiB")
"""


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--data", default="folder:../shared/data/BSD68")
  p.add_argument("--tile", type=int, default=128)
  p.add_argument("--sigma", type=float, default=25.0)
  a = p.parse_args()
  runtime.setup()
  whole = inference.load("gray-s25", tile="none")
  tiled = inference.load("gray-s25", tile=a.tile)
  source = methods.load_eval_source(a.data, 1)
  recs = evaluate.evaluate_methods(
      [methods.Method("whole", whole, compiled=True),
       methods.Method(f"tile={a.tile}", tiled, compiled=True)],
      source, a.sigma)
  w, t = recs["whole"], recs[f"tile={a.tile}"]
  diffs = [abs(x["psnr"] - y["psnr"]) for x, y in zip(w["per_image"],
                                                    t["per_image"])]
  print(f"{a.data} σ={a.sigma:g}, {w['images']} images: whole "
        f"{w['psnr']:.4f} dB, tile={a.tile} (margin {tiled.margin}, blend "
        f"{tiled.blend}) {t['psnr']:.4f} dB; |mean difference| "
        f"{abs(w['psnr'] - t['psnr']):.5f} dB, largest per image "
        f"{max(diffs):.5f} dB; {w['seconds_per_image']:.3f} vs "
        f"{t['seconds_per_image']:.3f} s/image")
  for tile in ("auto", "none"):
    r = subprocess.run([sys.executable, "-c", BIG.format(tile=tile)],
                       capture_output=True, text=True)
    print(f"tile={tile}: " + (r.stdout.strip().replace("\n", "; ") or
                               r.stderr.strip().splitlines()[-1]))


if __name__ == "__main__":
  main()
