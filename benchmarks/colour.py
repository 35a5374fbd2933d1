"""Colour photographs with ddn's gray models: opponent colour space (each
channel by the shipped model for its own σ) against R, G, B denoised one by
one at σ, with BM3D's colour version (bm3d_rgb) beside them.

  python benchmarks/colour.py [--sigmas=15,25,50] [--crop=256]

Images: scikit-image's colour photographs astronaut, chelsea, coffee and
rocket (none is in Train400, the shipped models' training data), centre
crops of --crop px; noise as ddn.evaluate's protocol (seeded per image).
Prints PSNR (8-bit, all three channels) per method and σ, with the mean
opponent-minus-per-channel difference and its 95% interval over images.
"""

import argparse
import time

import numpy as np
import skimage.data

from ddn import baselines
from ddn import colour
from ddn import denoise
from ddn import protocol

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def centre(x: np.ndarray, crop: int) -> np.ndarray:
  h, w = x.shape[:2]
  top, left = max(0, (h - crop) // 2), max(0, (w - crop) // 2)
  return x[top:top + crop, left:left + crop]


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--sigmas", default="15,25,50")
  p.add_argument("--crop", type=int, default=256)
  a = p.parse_args()
  photos = [centre(getattr(skimage.data, n)() / 255.0, a.crop).astype(
      np.float32) for n in PHOTOS]
  models = denoise.Models()
  print(f"{len(photos)} photographs ({', '.join(PHOTOS)}), {a.crop} px "
        "centre crops")
  print("| σ | opponent | per channel | bm3d_rgb | opponent − per channel "
        "[95% CI] | s/image (opp, per ch., bm3d) |")
  print("|---|---|---|---|---|---|")
  for sigma in [float(s) for s in a.sigmas.split(",")]:
    methods = {"opponent": lambda x: colour.denoise_rgb(
                   models.for_sigma, x, sigma, "opponent"),
               "per_channel": lambda x: colour.denoise_rgb(
                   models.for_sigma, x, sigma, "per_channel"),
               "bm3d_rgb": baselines.make("bm3d", sigma, None)}
    psnr = {m: [] for m in methods}
    secs = {m: 0.0 for m in methods}
    for i, clean in enumerate(photos):
      noisy = protocol.noisy_version(clean, sigma, i)
      for m, fn in methods.items():
        if i == 0 and m != "bm3d_rgb":
          fn(noisy)  # compile outside the timing (every crop has one shape)
        t = time.perf_counter()
        out = np.clip(fn(noisy), 0, 1)
        secs[m] += time.perf_counter() - t
        psnr[m].append(protocol.psnr_uint8(protocol.quantise(out),
                                           protocol.quantise(clean)))
    diff = np.subtract(psnr["opponent"], psnr["per_channel"])
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
    print(f"| {sigma:g} | {np.mean(psnr['opponent']):.2f} | "
          f"{np.mean(psnr['per_channel']):.2f} | "
          f"{np.mean(psnr['bm3d_rgb']):.2f} | {diff.mean():+.2f} "
          f"[{diff.mean() - half:+.2f}, {diff.mean() + half:+.2f}] | "
          + ", ".join(f"{secs[m] / len(photos):.2f}" for m in methods)
          + " |", flush=True)


if __name__ == "__main__":
  main()
