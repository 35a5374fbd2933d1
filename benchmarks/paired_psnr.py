"""Paired PSNR difference of two ddn.evaluate record files, image by image.

For every (data, σ) cell the two files share (rows of the chosen methods:
single-pass ddn by default, or e.g. "ddn, self-ensemble" or bm3d), prints
A's and B's mean PSNR, the mean of A − B over the images with a 95%
bootstrap interval over images (ddn.figures.stats.mean_ci), and how many
images A wins.
Both files must come from the same noisy images (ddn.evaluate's fixed noise).
  python benchmarks/paired_psnr.py A.json B.json
e.g. docs/quality.md's wider U-Net against the first gray-map:
  python benchmarks/paired_psnr.py docs/records/map_w48.json \
    docs/records/gray_map_v1.json
and the default model against BM3D's records (--method_b picks B's rows):
  python benchmarks/paired_psnr.py docs/records/default_vs_bm3d.json \
    docs/records/default_vs_bm3d.json --method_b=bm3d
"""

import argparse
import json

import numpy as np

from ddn.figures import stats


def method_cells(path, method):
  with open(path) as f:
    # A self-ensemble run may keep the method name "ddn" (--method unset):
    # plain "ddn" means single-pass rows.
    return {(r["data"], r["sigma"]): r for r in json.load(f)
            if r.get("method") == method
            and not (method == "ddn" and r.get("ensemble"))}


def paired(ra: dict, rb: dict) -> dict:
  """Two records of one (data, σ) cell, image by image: A's and B's mean
  PSNR over the images both hold, the mean of A − B with its bootstrap 95%
  interval over those images, and how many A wins."""
  ia = {x["name"]: x["psnr"] for x in ra["per_image"]}
  ib = {x["name"]: x["psnr"] for x in rb["per_image"]}
  names = sorted(set(ia) & set(ib))
  d = np.array([ia[n] - ib[n] for n in names])
  mean, (lo, hi) = stats.mean_ci(d)  # bootstrap over the images
  return {"images": len(names), "a": float(np.mean([ia[n] for n in names])),
          "b": float(np.mean([ib[n] for n in names])), "diff": mean,
          "ci95": [lo, hi], "a_wins": int((d > 0).sum())}


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("a")
  p.add_argument("b")
  p.add_argument("--method_a", default="ddn", help="A's rows (method field)")
  p.add_argument("--method_b", default="ddn", help="B's rows, e.g. bm3d")
  args = p.parse_args()
  a = method_cells(args.a, args.method_a)
  b = method_cells(args.b, args.method_b)
  shared = sorted(set(a) & set(b))
  if not shared:
    raise SystemExit(f"no (data, σ) cell has {args.method_a!r} rows in "
                     f"{args.a} and {args.method_b!r} rows in {args.b}")
  print("data | σ | A | B | A − B [95% CI] | A wins")
  for key in shared:
    p = paired(a[key], b[key])
    print(f"{key[0]} | {key[1]:g} | {p['a']:.2f} | {p['b']:.2f} | "
          f"{p['diff']:+.3f} [{p['ci95'][0]:+.3f}, {p['ci95'][1]:+.3f}] | "
          f"{p['a_wins']}/{p['images']}")


if __name__ == "__main__":
  main()
