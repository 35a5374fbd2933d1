"""The screen that chose ddn.fusion's design, on the structure-rich
development set (benchmarks/structure_devset.py), never a test set.

  python benchmarks/fusion_screen.py --sigma=25 --every=3 --out=F.json

For every `every`-th image (from `start`) at noise σ (the protocol's noise
for the image's position in the folder), gray-map's output f and BM3D's p,
each also on the image plus a small probe (for the Monte-Carlo divergence
of ddn.fusion), and these blends, PSNR each:

  sure           α f + (1 − α) p, one α per image by SURE (what ships)
  oracle         the same with the best α known from the clean image
  let3           SURE-LET over f, p and the noisy image (three free weights)
  sure_tiles64/128, oracle_tiles64/128
                 one α per 64 / 128 px tile (SURE, or the clean image's)
  bands1/2/4, oracle_bands1/2/4
                 p + a_low · L(f − p) + a_high · H(f − p), L a Gaussian
                 blur of width 1, 2 or 4 px and H = 1 − L (SURE-LET)
  wiener         BM3D's Wiener stage with f as its pilot estimate
  sure_wiener    f and that, one α per image by SURE

Prints a row per image and the means; --out writes the rows as JSON. About
25 s per 512 px image on a 2-core CPU (BM3D and its Wiener stage twice).
"""

import argparse
import glob
import json
import os

import bm3d
import numpy as np
from scipy import ndimage
from skimage import io

from ddn import inference
from ddn import protocol


def let(noisy, base, terms, divs, s2):
  """SURE-LET weights of base + Σ a_k terms[k] (divs: their divergences)."""
  g = np.stack([t.ravel() for t in terms]).astype(np.float64)
  rhs = g @ (noisy - base).ravel() - s2 * np.asarray(divs)
  return np.linalg.solve(g @ g.T + 1e-9 * np.eye(len(terms)), rhs)


def best(clean, base, terms):
  """The weights the clean image would choose (least squares)."""
  g = np.stack([t.ravel() for t in terms]).astype(np.float64)
  return np.linalg.solve(g @ g.T + 1e-9 * np.eye(len(terms)),
                         g @ (clean - base).ravel())


def blend(base, terms, a):
  return base + sum(np.clip(ak, 0, 1) * t for ak, t in zip(a, terms))


def per_tile(clean, noisy, f, p, div_map_g, size, s2, oracle):
  """One α per size x size tile, by SURE (div_map_g: the probe's per-pixel
  divergence terms of f − p) or by the clean image."""
  out = np.empty_like(f)
  for r in range(0, f.shape[0], size):
    for c in range(0, f.shape[1], size):
      t = (slice(r, r + size), slice(c, c + size))
      g = f[t] - p[t]
      a = (best(clean[t], p[t], [g]) if oracle else
           let(noisy[t], p[t], [g], [div_map_g[t].sum()], s2))
      out[t] = blend(p[t], [g], a)
  return out


def screen(path, index, sigma, denoiser):
  clean = io.imread(path).astype(np.float64) / 255
  noisy = protocol.noisy_version(clean[..., None], sigma, index)[..., 0]
  s = sigma / 255
  eps, s2 = s / 100, s * s
  probe = np.random.default_rng(1000 + index).standard_normal(noisy.shape)
  moved = (noisy + eps * probe).astype(np.float32)
  net = lambda y: denoiser(y[..., None])[..., 0].astype(np.float64)
  f, fp = net(noisy), net(moved)
  p = bm3d.bm3d(noisy, sigma_psd=s).astype(np.float64)
  pp = bm3d.bm3d(moved, sigma_psd=s).astype(np.float64)
  w = bm3d.bm3d(noisy, sigma_psd=s, stage_arg=f).astype(np.float64)
  wp = bm3d.bm3d(moved, sigma_psd=s, stage_arg=fp).astype(np.float64)
  div = lambda a, ap: float(np.sum(probe * (ap - a)) / eps)
  psnr = lambda z: protocol.psnr(z, clean)
  g, gp = f - p, fp - pp
  a = let(noisy, p, [g], [div(g, gp)], s2)
  row = {"image": os.path.basename(path), "ddn": psnr(f), "bm3d": psnr(p),
         "sure": psnr(blend(p, [g], a)), "alpha": float(np.clip(a[0], 0, 1)),
         "oracle": psnr(blend(p, [g], best(clean, p, [g])))}
  terms = [f, p, noisy]
  coef = let(noisy, 0 * p, terms, [div(f, fp), div(p, pp), noisy.size], s2)
  row["let3"] = psnr(sum(c * t for c, t in zip(coef, terms)))
  div_map = probe * (gp - g) / eps
  for size in (64, 128):
    for oracle in (False, True):
      key = f"{'oracle' if oracle else 'sure'}_tiles{size}"
      row[key] = psnr(per_tile(clean, noisy, f, p, div_map, size, s2, oracle))
  for width in (1, 2, 4):
    low, lowp = ndimage.gaussian_filter(g, width), ndimage.gaussian_filter(
        gp, width)
    bands, divs = [low, g - low], [div(low, lowp), div(g - low, gp - lowp)]
    row[f"bands{width}"] = psnr(blend(p, bands, let(noisy, p, bands, divs,
                                                    s2)))
    row[f"oracle_bands{width}"] = psnr(blend(p, bands,
                                             best(clean, p, bands)))
  gw = f - w
  row["wiener"] = psnr(w)
  row["sure_wiener"] = psnr(blend(w, [gw], let(noisy, w, [gw],
                                                 [div(gw, gp - wp)], s2)))
  return row


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--sigma", type=float, default=25.0)
  ap.add_argument("--every", type=int, default=3)
  ap.add_argument("--start", type=int, default=0)
  ap.add_argument("--dev", default="runs/structure_dev")
  ap.add_argument("--out", default="")
  args = ap.parse_args()
  files = sorted(glob.glob(os.path.join(args.dev, "*.png")))
  if not files:
    raise SystemExit(f"no PNG in {args.dev}: build it with python "
                     "benchmarks/structure_devset.py")
  denoiser = inference.load("gray-map").at(args.sigma)
  rows = []
  for index in range(args.start, len(files), args.every):
    rows.append(screen(files[index], index, args.sigma, denoiser))
    print({k: round(v, 3) if isinstance(v, float) else v
           for k, v in rows[-1].items()}, flush=True)
  means = {k: float(np.mean([r[k] for r in rows]))
           for k in rows[0] if k != "image"}
  print("mean over", len(rows), "images:",
        {k: round(v, 3) for k, v in means.items()})
  if args.out:
    with open(args.out, "w") as fh:
      json.dump({"sigma": args.sigma, "every": args.every,
                 "start": args.start, "means": means, "rows": rows}, fh,
                indent=1)


if __name__ == "__main__":
  main()
