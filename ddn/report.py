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
  'PSNR dB / SSIM / s per image' (the last record wins for repeats)."""
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
