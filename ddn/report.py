"""Markdown table of ddn.evaluate records: method x set x σ -> PSNR / SSIM /
seconds per image.

  python -m ddn.report FILE.json [FILE2.json ...]
"""

from __future__ import annotations

import json
import os

# Rows: ddn runs first, then the classical baselines in this order.
_ORDER = ("gaussian", "median", "nlm", "bm3d")


def _set_name(data: str) -> str:
  """A source's short name: its folder's (pairs: their common folder's, or
  both)."""
  kind, _, rest = data.partition(":")
  if kind == "pairs":
    dirs = [os.path.normpath(d) for d in rest.split(",", 1)]
    common = os.path.basename(os.path.commonpath(dirs)) if len(dirs) == 2 and (
        os.path.isabs(dirs[0]) == os.path.isabs(dirs[1])) else ""
    return (f"{common} pairs" if common else
            "+".join(os.path.basename(d) for d in dirs))
  return os.path.basename(rest.rstrip("/")) or data


def _sigma_order(s) -> tuple:
  return (s is None, s or 0.0)  # estimated per image (pairs) last


def _sigma_label(s) -> str:
  return "σ est." if s is None else f"σ={s:g}"


def table(records: list[dict]) -> str:
  """One row per (method, set), one column per σ; each cell
  'PSNR dB / SSIM / s per image' (the last record wins for repeats); then,
  when records carry the realism test, realism_table()."""
  realism = realism_table(records)
  records = [r for r in records if not r.get("calibration")]
  sigmas = sorted({r["sigma"] for r in records}, key=_sigma_order)
  order = lambda m: (_ORDER.index(m) + 1 if m in _ORDER else 0, m)
  sets = list(dict.fromkeys(r["data"] for r in records))
  rows = sorted({(r["method"], r["data"]) for r in records},
                key=lambda md: (sets.index(md[1]), order(md[0])))
  head = ("| set | method | " + " | ".join(map(_sigma_label, sigmas)) +
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


def interval_note(unit: str | None, images: int | None) -> str:
  """What a realism interval resamples (a record's ci_unit: 'images' or
  'tiles', '+seeds'; 'image' / 'crop' in older records), with a warning
  when it is over tiles: ddn.realism does so under 10 held-out images."""
  text = {"image": "images", "crop": "tiles"}.get(unit, unit or "?")
  if text.startswith("tiles"):
    of = f" of {images} images" if images else ""
    text += (f"{of} (WARNING: fewer than 10 images; tiles of one image are "
             "not independent, so the interval is too narrow)")
  return text


def realism_table(records: list[dict]) -> str:
  """One row per (set, σ, method) with the realism test of ddn.realism:
  the CNN judges' AUC [95% interval] and what the interval is over, the
  natural-scene-statistics and the wavelet judges' AUC [interval] (– in
  records from before a family), balanced error,
  high-frequency power ratio, gradient histogram distance; calibration rows
  last; a warning under the table when an interval is over tiles. '' when
  there is none."""
  rows = [r for r in records if "realism_auc" in r]
  if not rows:
    return ""
  lines = ["Realism (ddn.realism): judges' AUC [95% interval] (0.5 = "
           "indistinguishable from clean, 1 = always caught) of the CNN "
           "judges, of the natural-scene-statistics (NSS) judges and of the "
           "wavelet judges, what the intervals resample, balanced error, "
           "high-frequency power / clean, gradient-histogram distance to "
           "clean.", "",
           "| set | σ | method | PSNR | AUC [95% CI] | NSS AUC [95% CI] | "
           "wavelet AUC [95% CI] | CI over | error | HF power | grad. dist. |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
  rows.sort(key=lambda r: (r["data"], r["sigma"], bool(r.get("calibration"))))
  warn = set()
  ci = lambda n: (f"{n['auc']:.3f} [{n['auc_ci95'][0]:.3f}, "
                  f"{n['auc_ci95'][1]:.3f}]" if n else "–")
  for r in rows:
    psnr = f"{r['psnr']:.2f}" if "psnr" in r else "–"
    unit = {"image": "images", "crop": "tiles"}.get(
        r.get("realism_ci_unit"), r.get("realism_ci_unit", "?"))
    if unit.startswith("tiles"):
      warn.add((_set_name(r["data"]), r.get("realism_ci_images",
                                              r.get("images"))))
    lines.append(
        f"| {_set_name(r['data'])} | {r['sigma']:g} | {r['method']} | {psnr} "
        f"| {ci({'auc': r['realism_auc'], 'auc_ci95': r['realism_auc_ci95']})}"
        f" | {ci(r.get('realism_nss'))} | {ci(r.get('realism_wavelet'))} | "
        f"{unit} | "
        f"{r['realism_error']:.3f} | {r['spectrum_hf_ratio']:.2f} | "
        f"{r['grad_hist_distance']:.4f} |")
  for name, images in sorted(warn, key=str):
    lines += ["", f"{name}: intervals over "
              + interval_note("tiles", images)]
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
  from absl import app  # pylint: disable=g-import-not-at-top
  from ddn import runtime  # pylint: disable=g-import-not-at-top
  app.run(lambda argv: main(argv[1:]), flags_parser=runtime.parse_flags)
