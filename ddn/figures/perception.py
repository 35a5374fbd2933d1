"""The perception-distortion plane: PSNR against the realism judges' AUC,
over finished adversarial runs (perception) or over ddn.evaluate --realism
records (plane)."""

from __future__ import annotations

import json
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

from ddn import checkpoint
from ddn import plots
from ddn.figures import runs as runs_lib
from ddn.figures import stats


def _adversary(cfg: dict) -> str:
  d = cfg.get("disc", {})
  return ("small (patch D)" if d.get("kind") == "patch"
          else "big (whole-image D)")


def _run_point(label: str, workdir: str) -> dict:
  """A finished adversarial run's point (see perception)."""
  path = os.path.join(workdir, "evaluation.json")
  if not os.path.exists(path):
    raise ValueError(f"{workdir!r} has no evaluation.json: not a finished "
                     "adversarial run.")
  with open(path) as f:
    e = json.load(f)
  cfg = checkpoint.load_config(workdir)
  return {
      "run": label, "adversary": _adversary(cfg),
      "weight": float(cfg["adv"]["weight"]), "psnr": e["g"]["psnr"],
      "realism": e["g"]["realism_auc"],
      "realism_ci95": e["g"]["realism_auc_ci95"],
      "start_psnr": e["ref"]["psnr"],
      "start_realism": e["ref"]["realism_auc"],
      "start_realism_ci95": e["ref"]["realism_auc_ci95"]}


def perception(runs: dict[str, str], out: str) -> list[dict]:
  """The perception-distortion plane: each finished adversarial run's final
  G at (realism AUC, PSNR) from its evaluation.json (ddn.realism), one
  curve per adversary size ordered by λ; a λ = 0 run (D does not touch G)
  starts every curve. The bars are the AUC's 95% intervals. Also writes OUT
  with .json: the points.

  Returns:
    [{'run', 'adversary', 'weight', 'psnr', 'realism', 'realism_ci95',
      'start_psnr', 'start_realism', 'start_realism_ci95'}], by adversary
    then λ.
  """
  points = [_run_point(label, workdir) for label, workdir in runs.items()]
  points.sort(key=lambda p: (p["adversary"], p["weight"]))
  zero = [p for p in points if p["weight"] == 0]
  fig, ax = plt.subplots(figsize=(6.5, 4.5))
  kinds = sorted({p["adversary"] for p in points if p["weight"] > 0})
  for i, kind in enumerate(kinds or ["λ = 0"]):
    curve = zero + [p for p in points if p["adversary"] == kind and
                    p["weight"] > 0]
    ax.errorbar([p["realism"] for p in curve], [p["psnr"] for p in curve],
                xerr=stats.ci_bars(curve), fmt="o-", color=f"C{i}",
                capsize=3, label=kind)
    for p in curve:
      ax.annotate(f"λ={p['weight']:g}", (p["realism"], p["psnr"]),
                  textcoords="offset points", xytext=(4, 4), fontsize=8)
  start = (np.mean([p["start_realism"] for p in points]),
           np.mean([p["start_psnr"] for p in points]))
  ax.plot(*start, "k*", ms=10, label="start (G before the adversary)")
  _plane_axes(ax, "perception-distortion plane: final G of each run", 8)
  _save_with_points(fig, out, points)
  return points


def _plane_axes(ax, title: str, fontsize: int):
  """Axes, chance line, grid and legend of a perception-distortion plane."""
  ax.axvline(0.5, color="gray", ls=":", lw=1)
  ax.set_xlabel("realism: judges' AUC (0.5 = indistinguishable from "
                "clean, 1 = always caught)")
  ax.set_ylabel("PSNR (dB)")
  ax.set_title(title, fontsize=fontsize + 1)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=fontsize)


def _save_with_points(fig, out: str, points: list[dict]):
  """Saves the figure as OUT and its points as OUT with .json."""
  fig.tight_layout()
  plots.save_figure(fig, out)
  with open(os.path.splitext(out)[0] + ".json", "w") as f:
    json.dump(points, f, indent=1)


_PUSH = re.compile(r"^(?:(?P<family>[a-z]+)-)?push(?P<weight>[0-9.e+-]+)$")


def plane_points(records: list[dict]) -> list[dict]:
  """The realism-judged records of ddn.evaluate --realism as points of the
  perception-distortion plane: {'name', 'data', 'sigma', 'family',
  'param', 'psnr', 'realism', 'realism_ci95', 'hf'}. Families come from the
  names recipes.perception_sweep gives its runs: 'FAMILY-pushW' (an
  adversary FAMILY at relative push λ = W), 'pushW' (λ = W for every
  family, e.g. the λ = 0 control), 'α=A' (inference.interpolate between the
  first two checkpoints, A = 0 and 1 being those two); any other model is
  its own point. Calibration records are left out."""
  points = []
  for r in records:
    if r.get("calibration") or "realism_auc" not in r:
      continue
    name = r["method"].removeprefix("ddn ").strip()
    family, param = "", None
    m = _PUSH.match(name)
    if m:
      family, param = m["family"] or "", float(m["weight"])
    elif name.startswith("α="):
      family, param = "interpolation", float(name[2:])
    points.append({"name": name, "data": r["data"], "sigma": r["sigma"],
                   "family": family, "param": param, "psnr": r["psnr"],
                   "realism": r["realism_auc"],
                   "realism_ci95": r["realism_auc_ci95"],
                   "hf": r.get("spectrum_hf_ratio"),
                   "checkpoint": r.get("checkpoint", "")})
  return points


def _curves(points: list[dict]) -> dict[str, list[dict]]:
  """{family: its points in order of λ (or α)}; the λ-only points ('pushW')
  start every λ family, and the interpolation runs from its first to its
  second model (found by the checkpoints its records name)."""
  shared = [p for p in points if p["family"] == "" and p["param"] is not None]
  curves = {}
  for fam in sorted({p["family"] for p in points} - {"", "interpolation"}):
    curves[fam] = sorted(shared + [p for p in points if p["family"] == fam],
                         key=lambda p: p["param"])
  inter = sorted((p for p in points if p["family"] == "interpolation"),
                 key=lambda p: p["param"])
  if inter:
    a, _, rest = inter[0]["checkpoint"].partition("~")
    b = rest.rsplit("@", 1)[0]
    ends = {p["checkpoint"]: p for p in points
            if p["family"] != "interpolation"}
    curve = inter
    if a in ends:
      curve = [dict(ends[a], param=0.0)] + curve
    if b in ends:
      curve = curve + [dict(ends[b], param=1.0)]
    curves["interpolation"] = curve
  return curves


def plane(records: list[dict], out: str) -> list[dict]:
  """The perception-distortion plane of ddn.evaluate --realism records
  (plane_points): PSNR against the judges' AUC with its 95% interval, one
  panel per (data, σ), one curve per adversary family along λ, the network
  interpolation as a dashed curve along α, other models as stars. Also
  writes OUT with .json: the points.

  Returns:
    The points (plane_points).
  """
  points = plane_points(records)
  if not points:
    raise ValueError("no realism-judged records: run ddn.evaluate with "
                     "--realism first.")
  panels = sorted({(p["data"], p["sigma"]) for p in points})
  fig, axes = plt.subplots(1, len(panels), squeeze=False,
                           figsize=(6.5 * len(panels), 4.8))
  for ax, (data, sigma) in zip(axes[0], panels):
    these = [p for p in points if (p["data"], p["sigma"]) == (data, sigma)]
    _plane_panel(ax, these)
    _plane_axes(ax, f"{data}, σ={sigma:g}", 7)
  _save_with_points(fig, out, points)
  return points


def _plane_panel(ax, points: list[dict]) -> None:
  """One (data, σ) panel of plane: its curves (_curves), models on no
  curve as stars."""
  curves = _curves(points)
  for i, (fam, curve) in enumerate(curves.items()):
    interp = fam == "interpolation"
    ax.errorbar([p["realism"] for p in curve], [p["psnr"] for p in curve],
                xerr=stats.ci_bars(curve), fmt="s--" if interp else "o-",
                color=f"C{i}", capsize=3, ms=4,
                label=("interpolation (α)" if interp else f"{fam} (λ)"))
    for p in curve:
      if p["param"] is not None and (interp or p["family"]):
        ax.annotate(f"{'α' if interp else 'λ'}={p['param']:g}",
                    (p["realism"], p["psnr"]), textcoords="offset points",
                    xytext=(4, 4), fontsize=7, color=f"C{i}")
  for p in points:  # models on no curve: stars
    if p["family"] == "" and (p["param"] is None or not curves):
      ax.errorbar([p["realism"]], [p["psnr"]], xerr=stats.ci_bars([p]),
                  fmt="k*", ms=10, capsize=3, label=p["name"])


def cli_perception(f) -> None:
  """python -m ddn.figures perception: prints each run's move on the
  plane."""
  for p in perception(runs_lib.parse_runs(f.runs or []), f.out):
    lo, hi = p["realism_ci95"]
    print(f"{p['run']}: {p['adversary']}, λ={p['weight']:g}: PSNR "
          f"{p['start_psnr']:.2f} -> {p['psnr']:.2f} dB, realism AUC "
          f"{p['start_realism']:.3f} -> {p['realism']:.3f} "
          f"[{lo:.3f}, {hi:.3f}]")


def cli_plane(f) -> None:
  """python -m ddn.figures plane --records=F.json: prints each point."""
  if not f.records:
    raise ValueError("plane needs --records=F.json (ddn.evaluate "
                     "--realism's output).")
  if os.path.splitext(f.out)[0] == os.path.splitext(f.records)[0]:
    raise ValueError(f"--out={f.out} would write its points over "
                     f"--records={f.records}; name the figure otherwise.")
  with open(f.records) as fh:
    points = plane(json.load(fh), f.out)
  for p in points:
    lo, hi = p["realism_ci95"]
    print(f"{p['data']} σ={p['sigma']:g} {p['name']}: PSNR "
          f"{p['psnr']:.2f} dB, realism AUC {p['realism']:.3f} "
          f"[{lo:.3f}, {hi:.3f}]")
