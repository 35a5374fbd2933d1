"""The default model's table against BM3D, from ddn.evaluate records.

  python benchmarks/quality_table.py RECORDS.json [...] [--out=F.json]

Every (data, σ) cell that has single-pass `ddn` rows and `bm3d` rows on the
same noisy images (in any of the files) becomes one row: both mean PSNRs,
the mean paired difference ddn − BM3D with its bootstrap 95% interval over
the images (ddn.figures.stats.mean_ci; for a folder of copies of one image,
over its noise draws), how many images ddn wins, the verdict (ahead /
behind when the interval excludes zero, else a tie), and DnCNN-S's
published mean where its paper gives one (Zhang et al. 2017, Table 2:
Set12 and BSD68). Prints a markdown table; --out writes it as JSON.
benchmarks/quality_table.sh runs the evaluations and this.
"""

import argparse
import json
import os

from paired_psnr import method_cells
from paired_psnr import paired

# DnCNN-S (trained on Train400 at each σ), Zhang et al., IEEE TIP 2017.
DNCNN_S = {"Set12": {15: 32.86, 25: 30.44, 50: 27.18},
           "BSD68": {15: 31.73, 25: 29.23, 50: 26.23}}
NAMES = {"embedded": "11 photographs (scikit-image)",
         "structure_dev": "structure-rich (development)",
         "barbara": "Barbara (Set12 09.png), noise draws"}


ORDER = ("Set12", "BSD68", NAMES["embedded"], NAMES["structure_dev"],
         NAMES["barbara"])


def label(data: str) -> str:
  base = os.path.basename(data.rstrip("/").split(":", 1)[-1])
  return NAMES.get(base, base)


def cells(paths) -> dict:
  """(data, σ) -> {'ddn': record, 'bm3d': record} over all files (ddn:
  single-pass rows, as paired_psnr.py reads them)."""
  out = {}
  for path in paths:
    for method in ("ddn", "bm3d"):
      for (data, sigma), r in method_cells(path, method).items():
        out.setdefault((data, float(sigma)), {})[method] = r
  return {k: v for k, v in out.items() if len(v) == 2}


def row(data: str, sigma: float, pair: dict) -> dict:
  p = paired(pair["ddn"], pair["bm3d"])
  lo, hi = p["ci95"]
  name = label(data)
  return {"data": data, "set": name, "sigma": sigma, "images": p["images"],
          "checkpoint": pair["ddn"].get("checkpoint"), "ddn": p["a"],
          "bm3d": p["b"], "ddn_minus_bm3d": p["diff"], "ci95": [lo, hi],
          "ddn_wins": p["a_wins"],
          "verdict": "ahead" if lo > 0 else "behind" if hi < 0 else "tie",
          "dncnn_s_published": DNCNN_S.get(name, {}).get(int(sigma))}


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("records", nargs="+")
  p.add_argument("--out", default="")
  args = p.parse_args()
  rows = [row(d, s, pair) for (d, s), pair in cells(args.records).items()]
  rank = lambda r: (ORDER.index(r["set"]) if r["set"] in ORDER else
                    len(ORDER), r["set"], r["sigma"])
  rows.sort(key=rank)
  if not rows:
    raise SystemExit("quality_table: no (data, σ) cell has both single-pass "
                     "ddn and bm3d rows in " + ", ".join(args.records))
  print("| set | σ | ddn | BM3D | ddn − BM3D [95% CI] | ddn wins | "
        "DnCNN-S (paper) |")
  print("|---|---|---|---|---|---|---|")
  for r in rows:
    dn = r["dncnn_s_published"]
    print(f"| {r['set']} | {r['sigma']:g} | {r['ddn']:.2f} | {r['bm3d']:.2f} "
          f"| {r['ddn_minus_bm3d']:+.2f} [{r['ci95'][0]:+.2f}, "
          f"{r['ci95'][1]:+.2f}] | {r['ddn_wins']}/{r['images']} | "
          f"{'–' if dn is None else f'{dn:.2f}'} |")
  if args.out:
    with open(args.out, "w") as f:
      json.dump({"sources": args.records, "rows": rows}, f, indent=1)


if __name__ == "__main__":
  main()
