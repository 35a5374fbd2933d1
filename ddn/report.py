"""Markdown table of ddn.evaluate records: method x set x σ -> PSNR / SSIM /
seconds per image.

  python -m ddn.report FILE.json [FILE2.json ...]
"""

from __future__ import annotations

import json
import os
import sys

# Rows: ddn runs first, then the classical baselines in this order.
_ORDER = ("gaussian", "median", "nlm", "bm3d")


def _set_name(data: str) -> str:
  return os.path.basename(data.split(":", 1)[-1].rstrip("/")) or data


def table(records: list[dict]) -> str:
  """One row per (method, set), one column per σ; each cell
  'PSNR dB / SSIM / s per image' (the last record wins for repeats); then,
  when records carry the realism test, realism_table()."""
  realism = realism_table(records)
  records = [r for r in records if not r.get("calibration")]
  sigmas = sorted({r["sigma"] for r in records})
  order = lambda m: (_ORDER.index(m) + 1 if m in _ORDER else 0, m)
  sets = list(dict.fromkeys(r["data"] for r in records))
  rows = sorted({(r["method"], r["data"]) for r in records},
                key=lambda md: (sets.index(md[1]), order(md[0])))
  head = ("| set | method | " + " | ".join(f"σ={s:g}" for s in sigmas) +
          " | MP/s |")
  lines = ["PSNR (dB) / SSIM / seconds per image; MP/s: megapixels per "
           "second over the set's σ values.", "",
           head, "|---|---|" + "---|" * (len(sigmas) + 1)]
  for method, data in rows:
    cells, mps, images = [], [], "?"
    for s in sigmas:
      match = [r for r in records if (r["method"], r["data"], r["sigma"]) ==
               (method, data, s)]
      if match:
        r = match[-1]
        cells.append(f"{r['psnr']:.2f} / {r['ssim']:.4f} / "
                     f"{r['seconds_per_image']:.3f}")
        if "megapixels_per_second" in r:
          mps.append(r["megapixels_per_second"])
        images = r["images"]
      else:
        cells.append("–")
    rate = f"{sum(mps) / len(mps):.3g}" if mps else "–"
    lines.append(f"| {_set_name(data)} ({images}) | {method} | " +
                 " | ".join(cells) + f" | {rate} |")
  return "\n".join(lines) + ("\n\n" + realism if realism else "")


def realism_table(records: list[dict]) -> str:
  """One row per (set, σ, method) with the realism test of ddn.realism:
  AUC [95% interval], balanced error, high-frequency power ratio, gradient
  histogram distance; calibration rows last. '' when there is none."""
  rows = [r for r in records if "realism_auc" in r]
  if not rows:
    return ""
  lines = ["Realism (ddn.realism): judges' AUC [95% interval] (0.5 = "
           "indistinguishable from clean, 1 = always caught), balanced "
           "error, high-frequency power / clean, gradient-histogram "
           "distance to clean.", "",
           "| set | σ | method | PSNR | AUC [95% CI] | error | HF power | "
           "grad. dist. |", "|---|---|---|---|---|---|---|---|"]
  rows.sort(key=lambda r: (r["data"], r["sigma"], bool(r.get("calibration"))))
  for r in rows:
    lo, hi = r["realism_auc_ci95"]
    psnr = f"{r['psnr']:.2f}" if "psnr" in r else "–"
    lines.append(
        f"| {_set_name(r['data'])} | {r['sigma']:g} | {r['method']} | {psnr} "
        f"| {r['realism_auc']:.3f} [{lo:.3f}, {hi:.3f}] | "
        f"{r['realism_error']:.3f} | {r['spectrum_hf_ratio']:.2f} | "
        f"{r['grad_hist_distance']:.4f} |")
  return "\n".join(lines)


def main(paths: list[str]) -> None:
  if not paths:
    raise SystemExit("usage: python -m ddn.report FILE.json [FILE2.json ...]")
  records = []
  for p in paths:
    with open(p) as f:
      records += json.load(f)
  print(table(records))


if __name__ == "__main__":
  main(sys.argv[1:])
