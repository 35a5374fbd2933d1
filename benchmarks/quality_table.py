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
--method picks other rows than single-pass ddn against BM3D's, e.g. the
network fused with BM3D (benchmarks/fusion_table.sh: --method="ddn + bm3d"),
and adds their paired difference from the single pass where the records
hold both.
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


def cells(paths, method: str = "ddn") -> dict:
  """(data, σ) -> {'ddn': record, 'bm3d': record} over all files ('ddn':
  the rows of `method`; plain ddn: single-pass rows, as paired_psnr.py
  reads them)."""
  out = {}
  names = [(method, "ddn"), ("bm3d", "bm3d")]
  if method != "ddn":  # the single pass too, for the method's own gain
    names.append(("ddn", "single"))
  for path in paths:
    for name, key in names:
      for (data, sigma), r in method_cells(path, name).items():
        out.setdefault((data, float(sigma)), {})[key] = r
  return {k: v for k, v in out.items() if "ddn" in v and "bm3d" in v}


def row(data: str, sigma: float, pair: dict) -> dict:
  p = paired(pair["ddn"], pair["bm3d"])
  lo, hi = p["ci95"]
  name = label(data)
  return {"data": data, "set": name, "sigma": sigma, "images": p["images"],
          "checkpoint": pair["ddn"].get("checkpoint"), "ddn": p["a"],
          "bm3d": p["b"], "ddn_minus_bm3d": p["diff"], "ci95": [lo, hi],
          "ddn_wins": p["a_wins"],
          "verdict": "ahead" if lo > 0 else "behind" if hi < 0 else "tie",
          "dncnn_s_published": DNCNN_S.get(name, {}).get(int(sigma)),
          **({"minus_single_pass": gain(pair["ddn"], pair["single"])}
             if "single" in pair else {})}


def gain(ra: dict, single: dict) -> dict:
  """A method's rows against the single-pass network's, paired."""
  p = paired(ra, single)
  return {"diff": p["diff"], "ci95": p["ci95"], "wins": p["a_wins"],
          "images": p["images"]}


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("records", nargs="+")
  p.add_argument("--out", default="")
  p.add_argument("--method", default="ddn", help="the rows set against "
                 "BM3D's (method field of the records)")
  args = p.parse_args()
  rows = [row(d, s, pair)
          for (d, s), pair in cells(args.records, args.method).items()]
  rank = lambda r: (ORDER.index(r["set"]) if r["set"] in ORDER else
                    len(ORDER), r["set"], r["sigma"])
  rows.sort(key=rank)
  if not rows:
    raise SystemExit(f"quality_table: no (data, σ) cell has both "
                     f"{args.method!r} and bm3d rows in "
                     + ", ".join(args.records))
  versus = any("minus_single_pass" in r for r in rows)
  print("| set | σ | ddn | BM3D | ddn − BM3D [95% CI] | ddn wins | "
        "DnCNN-S (paper) |" + (" − single pass [95% CI], wins |"
                               if versus else ""))
  print("|---|---|---|---|---|---|---|" + ("---|" if versus else ""))
  for r in rows:
    dn, g = r["dncnn_s_published"], r.get("minus_single_pass")
    print(f"| {r['set']} | {r['sigma']:g} | {r['ddn']:.2f} | {r['bm3d']:.2f} "
          f"| {r['ddn_minus_bm3d']:+.2f} [{r['ci95'][0]:+.2f}, "
          f"{r['ci95'][1]:+.2f}] | {r['ddn_wins']}/{r['images']} | "
          f"{'–' if dn is None else f'{dn:.2f}'} |" + (
              f" {g['diff']:+.2f} [{g['ci95'][0]:+.2f}, {g['ci95'][1]:+.2f}]"
              f", {g['wins']}/{g['images']} |" if g else
              (" – |" if versus else "")))
  if args.out:
    with open(args.out, "w") as f:
      json.dump({"sources": args.records, "method": args.method,
                 "rows": rows}, f, indent=1)


if __name__ == "__main__":
  main()
