"""Markdown table of ddn.evaluate records: method x data -> PSNR / SSIM.

  python -m ddn.report FILE.json [FILE2.json ...]
"""

from __future__ import annotations

import json
import os
import sys


def table(records: list[dict]) -> str:
  sigmas = sorted({r["sigma"] for r in records})
  rows = sorted({(r["method"], r["data"]) for r in records})
  head = "| method | data | " + " | ".join(f"σ={s:g}" for s in sigmas) + \
      " | s / image |"
  lines = [head, "|---|---|" + "---|" * (len(sigmas) + 1)]
  for method, data in rows:
    cells, secs, images = [], [], "?"
    for s in sigmas:
      match = [r for r in records if (r["method"], r["data"], r["sigma"]) ==
               (method, data, s)]
      if match:
        r = match[-1]
        cells.append(f"{r['psnr']:.2f} dB / {r['ssim']:.4f}")
        secs.append(r["seconds_per_image"])
        images = r["images"]
      else:
        cells.append("–")
    name = os.path.basename(data.split(":", 1)[-1].rstrip("/")) or data
    sec = f"{sum(secs) / len(secs):.3f}" if secs else "–"
    lines.append(f"| {method} | {name} ({images} images) | " +
                 " | ".join(cells) + f" | {sec} |")
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
