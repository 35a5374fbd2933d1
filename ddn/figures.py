"""Figures over finished runs.

  # Learning-rate sweep: training and validation curves overlaid (the
  # chapter's Figure 17.4). Labels default to each run's optim.lr.
  python -m ddn.figures lr_sweep --runs=/tmp/ddn/lr/* --out=lr_sweep.png

  # Detail crops, same image and same noise for every run (Figure 17.7);
  # runs may be shipped models, --baselines adds classical methods:
  python -m ddn.figures detail --runs=SSD=/tmp/ddn/ae_l2,L1=/tmp/ddn/ae_l1 \
      --data=embedded:eval --index=0 --sigma=25 --out=detail.png
  python -m ddn.figures detail --runs=ddn=gray-s25 --baselines=gaussian,median \
      --tune_data=folder:../shared/data/Train400 --out=smoothing.png

  # Training vs validation loss of several runs on one axis:
  python -m ddn.figures generalization --runs=a=runs/x,b=runs/y --out=g.png

  # Classifiers: validation error rates vs images seen, one colour a run
  # (overall solid, real and denoised dashed), and the final rates printed:
  python -m ddn.figures classifiers --runs=image=runs/clf,patch=runs/clf_patch \
      --out=classifier_error.png

  # Perception-distortion plane over finished adversarial runs (also
  # drawn by python -m ddn.sweep --config=experiments/adv_pd.py):
  python -m ddn.figures perception --runs=runs/pd/* --out=pd.png

  # The perception-distortion plane of ddn.evaluate --realism records (runs
  # named as configs.perception_sweep names them; the network interpolation
  # as a curve), and the radial power spectra of outputs over clean's
  # (benchmarks/perception_distortion.sh draws both):
  python -m ddn.figures plane --records=runs/pd50/records.json --out=plane.png
  python -m ddn.figures spectra --runs=MSE=gray-s50,adv=gray-s50-adv \
      --data=folder:../shared/data/BSD68 --sigma=50 --out=spectra.png

  # Knocked-out blocks (benchmarks/knocked_out_blocks.sh): Gaussian noise
  # and 4 blocks of 24-40 px set to 0, PSNR and detail power inside them
  # with bootstrap 95% intervals; noisy | each run | clean around a block:
  python -m ddn.figures blocks --runs=MSE=runs/blocks/push0 \
      --data=folder:../shared/data/BSD68 --sigma=50 --indices=2 --out=b.png

  # Adversarial comparison (the chapter's Figure 17.5): noisy | each run |
  # clean, whole images with a magnified detail crop, same noise for all:
  python -m ddn.figures adversarial --data=embedded:eval --indices=0,1 \
      --runs="no adversary=runs/ae,big=runs/adv_big,small=runs/adv_small" \
      --out=adversarial_comparison.png

--runs is a comma-separated list of WORKDIR or LABEL=WORKDIR (a label holds
neither "=" nor ",").
"""

from __future__ import annotations

import glob
import json
import os
import re

from absl import app
from absl import flags
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

from ddn import checkpoint
from ddn import evaluate
from ddn import logs
from ddn import plots
from ddn import protocol
from ddn import runtime


def parse_runs(items: list[str]) -> dict[str, str]:
  """['a=DIR', 'DIR2', 'DIR*'] -> {label: workdir}; expands globs.

  An item that names existing paths as a whole is a path even if it holds
  '=' (sweep runs are named like lr=0.001); a glob keeps only directories.
  The comma-split pieces of one directory name are joined back
  (lr=0.001,weight=0.003, evaluate.rejoin_paths).
  """
  runs = {}
  for item in evaluate.rejoin_paths(items):
    label, path = "", item
    matches = sorted(glob.glob(item))
    if not matches:
      label, sep, path = item.partition("=")
      if not sep:
        label, path = "", item
      matches = sorted(glob.glob(path))
    paths = [p for p in matches if os.path.isdir(p)] if len(matches) > 1 else (
        matches or [path])
    for p in paths:
      if p in _shipped() and not os.path.exists(p):
        runs[label or p] = p
        continue
      if not os.path.exists(os.path.join(p, "metrics.jsonl")):
        raise ValueError(f"{p!r} is not a finished ddn run (no metrics.jsonl)")
      runs[label if (label and len(paths) == 1) else _default_label(p)] = p
  if not runs:
    raise ValueError("--runs: give at least one workdir.")
  return runs


def _shipped() -> list[str]:
  from ddn import inference  # pylint: disable=g-import-not-at-top
  return inference.shipped_models()


def _lr(workdir: str) -> float | None:
  """The run's config.optim.lr, or None when it has no readable config."""
  try:
    return float(checkpoint.load_config(workdir)["optim"]["lr"])
  except (ValueError, KeyError):
    return None


def _default_label(workdir: str) -> str:
  lr = _lr(workdir)
  return (f"lr={lr:g}" if lr is not None
          else os.path.basename(os.path.normpath(workdir)))


def lr_sweep(runs: dict[str, str], out: str, window: int = 10) -> None:
  """Training (moving average) and validation loss vs images, one colour a run."""
  fig, (ax_t, ax_v) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
  for i, (label, workdir) in enumerate(sorted(runs.items(),
                                              key=lambda r: -(_lr(r[1]) or 0.0))):
    records = logs.read_metrics(os.path.join(workdir, "metrics.jsonl"))
    diverged = os.path.join(workdir, "diverged.json")
    if os.path.exists(diverged):
      with open(diverged) as f:
        at = json.load(f)["images"]
      label += f" (diverged at {at:,} images)"
      for ax in (ax_t, ax_v):  # where it stopped
        ax.axvline(at, color=f"C{i}", ls=":", lw=1.5)
    x, y = logs.series(records, "train/ae/loss")
    ax_t.plot(x, y, color=f"C{i}", alpha=0.2, lw=0.7)
    ax_t.plot(x, plots.moving_average(y, window), color=f"C{i}", label=label)
    x, y = logs.series(records, "val/loss")
    ax_v.plot(x, y, "o-", ms=3, color=f"C{i}", label=label)
  for ax, title in ((ax_t, f"training loss (moving average of ≤ {window})"),
                    (ax_v, "validation loss")):
    ax.set_title(title)
    ax.set_xlabel("images seen")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
  ax_t.set_ylabel("loss")
  fig.tight_layout()
  plots.save_figure(fig, out)


def generalization(runs: dict[str, str], out: str,
                   window: int = 10) -> dict[str, dict]:
  """Training loss (moving average, solid) and validation loss (markers,
  dashed) vs images seen, one colour a run, on one axis.

  Returns:
    {label: {'train': last training loss (moving average), 'val': last
     validation loss}}.
  """
  fig, ax = plt.subplots(figsize=(7.5, 4.5))
  final = {}
  for i, (label, workdir) in enumerate(runs.items()):
    records = logs.read_metrics(os.path.join(workdir, "metrics.jsonl"))
    x, y = logs.series(records, "train/ae/loss")
    smooth = plots.moving_average(y, window)
    ax.plot(x, smooth, color=f"C{i}", label=f"{label}: training")
    xv, yv = logs.series(records, "val/loss")
    ax.plot(xv, yv, "o--", ms=3, color=f"C{i}", label=f"{label}: validation")
    final[label] = {"train": float(smooth[-1]), "val": float(yv[-1])}
  ax.set_xlabel("images seen")
  ax.set_ylabel("loss (a·SSD + b·L1)")
  ax.set_yscale("log")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7, ncol=2)
  ax.set_title("training vs validation loss")
  fig.tight_layout()
  plots.save_figure(fig, out)
  return final


def classifiers(runs: dict[str, str], out: str) -> dict[str, dict]:
  """Validation error rates of classifier runs vs images seen.

  Returns:
    {label: the run's last validation record (val/err, val/err_real, ...)}.
  """
  fig, ax = plt.subplots(figsize=(7, 4.2))
  final = {}
  for i, (label, workdir) in enumerate(runs.items()):
    records = logs.read_metrics(os.path.join(workdir, "metrics.jsonl"))
    val = [r for r in records if "val/err" in r]
    if not val:
      raise ValueError(f"{workdir!r} has no classifier validation records "
                       "(val/err): is it a classifier run?")
    final[label] = val[-1]
    for key, style, name in (("val/err", "o-", ""), ("val/err_real", "--",
                                                     ", real"),
                             ("val/err_denoised", ":", ", denoised")):
      x, y = logs.series(records, key)
      ax.plot(x, y, style, ms=3, color=f"C{i}", label=f"{label}{name}")
  ax.axhline(0.5, color="gray", lw=0.8)
  ax.set_xlabel("images seen")
  ax.set_ylabel("validation error rate")
  ax.set_ylim(0, 1)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  plots.save_figure(fig, out)
  return final


detail_window = plots.detail_window


def _load_runs(runs: dict[str, str]) -> tuple[dict, int]:
  """({label: inference.Denoiser}, their channel count: 1 with no runs);
  a mix of gray and colour models is refused."""
  from ddn import inference  # pylint: disable=g-import-not-at-top
  denoisers = {k: inference.load(w) for k, w in runs.items()}
  channels = {d.channels for d in denoisers.values()} or {1}
  if len(channels) != 1:
    raise ValueError("--runs mix gray and colour models; compare like runs.")
  return denoisers, channels.pop()


def detail(runs: dict[str, str], data_spec: str, index: int, sigma: float,
           out: str, crop: int = 64, baselines: list[str] = (),
           tune_data: str = "embedded:train") -> dict[str, float]:
  """noisy | each baseline | each run | clean, full and a magnified detail
  crop. Runs are workdirs or shipped models; the gaussian and median
  widths are tuned on `tune_data` at σ (ddn.baselines.tune).

  Returns:
    {label: PSNR in dB} on the full image (protocol of ddn.evaluate).
  """
  from ddn import baselines as baselines_lib  # pylint: disable=g-import-not-at-top
  denoisers, channels = _load_runs(runs)
  source = evaluate.load_eval_source(data_spec, channels)
  clean = np.asarray(source[index], np.float32)
  noisy = protocol.noisy_version(clean, sigma, index)
  panels = {"noisy": noisy}
  if baselines:
    _, tune = evaluate.tune_images(tune_data, channels, 16, [source])
  for b in baselines:
    width = (baselines_lib.tune(b, sigma, tune)
             if b in baselines_lib.GRIDS else None)
    label = b if width is None else f"{b} ({width:g} px)"
    panels[label] = baselines_lib.make(b, sigma, width)(noisy)
  panels.update({k: d.at(sigma)(noisy) for k, d in denoisers.items()})
  panels["clean"] = clean
  ref = protocol.quantise(clean)
  psnr = {k: protocol.psnr_uint8(protocol.quantise(v), ref)
          for k, v in panels.items() if k != "clean"}
  y, x = detail_window(clean, crop)
  n = len(panels)
  fig, axes = plt.subplots(2, n, figsize=(2.6 * n, 5.4))
  cmap = "gray" if clean.shape[-1] == 1 else None
  for j, (k, v) in enumerate(panels.items()):
    v = np.clip(v, 0, 1)
    show = v[..., 0] if v.shape[-1] == 1 else v
    axes[0, j].imshow(show, cmap=cmap, vmin=0, vmax=1)
    axes[0, j].add_patch(plt.Rectangle((x, y), crop, crop, fill=False,
                                       edgecolor="red", lw=1))
    title = k if k == "clean" else f"{k}\n{psnr[k]:.2f} dB"
    axes[0, j].set_title(title, fontsize=9)
    axes[1, j].imshow(show[y:y + crop, x:x + crop], cmap=cmap, vmin=0, vmax=1,
                      interpolation="nearest")
    for ax in axes[:, j]:
      ax.set_xticks([])
      ax.set_yticks([])
  fig.suptitle(f"{data_spec} #{index}, σ={sigma:g}", fontsize=10)
  fig.tight_layout()
  plots.save_figure(fig, out)
  return psnr


def adversarial(runs: dict[str, str], data_spec: str, indices: list[int],
                sigma: float, out: str, crop: int = 64) -> dict[str, dict]:
  """noisy | each run | clean for the images `indices` of `data_spec`, the
  same noise for every run (ddn.evaluate's protocol), each panel whole with
  a magnified detail crop, captioned with its PSNR.

  Returns:
    {label: {'psnr': mean PSNR (dB) over the images, 'realism': the run's
     evaluation.json realism AUC of its final G, if it has one}}.
  """
  denoisers, channels = _load_runs(runs)
  source = evaluate.load_eval_source(data_spec, channels)
  bad = [i for i in indices if not 0 <= i < len(source)]
  if bad:
    raise ValueError(f"--indices {bad}: {data_spec} has {len(source)} "
                     f"images (0..{len(source) - 1}).")
  cleans = [np.asarray(source[i], np.float32) for i in indices]
  noisies = [protocol.noisy_version(c, sigma, i) for c, i in
             zip(cleans, indices)]
  columns = [("noisy", noisies)]
  columns += [(k, [d.at(sigma)(x) for x in noisies])
              for k, d in denoisers.items()]
  columns.append(("clean", cleans))
  notes, summary = {}, {}
  for label, images in columns[:-1]:
    psnr = [protocol.psnr_uint8(protocol.quantise(np.clip(v, 0, 1)),
                                protocol.quantise(c))
            for v, c in zip(images, cleans)]
    notes[label] = [f"{p:.2f} dB" for p in psnr]
    summary[label] = {"psnr": float(np.mean(psnr))}
    path = os.path.join(runs.get(label, ""), "evaluation.json")
    if label in runs and os.path.exists(path):
      with open(path) as f:
        summary[label]["realism"] = json.load(f)["g"]["realism_auc"]
  plots.comparison(columns, out, crop=crop, notes=notes,
                   title=f"{data_spec} {indices}, σ={sigma:g}")
  return summary


def _adversary(cfg: dict) -> str:
  d = cfg.get("disc", {})
  return ("small (patch D)" if d.get("kind") == "patch"
          else "big (whole-image D)")


def _ci_bars(points: list[dict], key: str = "realism") -> np.ndarray:
  """Asymmetric error bars (2, n) of each point's [lo, hi] interval."""
  return np.array([[p[key] - p[f"{key}_ci95"][0] for p in points],
                   [p[f"{key}_ci95"][1] - p[key] for p in points]])


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
  points = []
  for label, workdir in runs.items():
    path = os.path.join(workdir, "evaluation.json")
    if not os.path.exists(path):
      raise ValueError(f"{workdir!r} has no evaluation.json: not a finished "
                       "adversarial run.")
    with open(path) as f:
      e = json.load(f)
    cfg = checkpoint.load_config(workdir)
    points.append({
        "run": label, "adversary": _adversary(cfg),
        "weight": float(cfg["adv"]["weight"]), "psnr": e["g"]["psnr"],
        "realism": e["g"]["realism_auc"],
        "realism_ci95": e["g"]["realism_auc_ci95"],
        "start_psnr": e["ref"]["psnr"],
        "start_realism": e["ref"]["realism_auc"],
        "start_realism_ci95": e["ref"]["realism_auc_ci95"]})
  points.sort(key=lambda p: (p["adversary"], p["weight"]))
  zero = [p for p in points if p["weight"] == 0]
  fig, ax = plt.subplots(figsize=(6.5, 4.5))
  kinds = sorted({p["adversary"] for p in points if p["weight"] > 0})
  for i, kind in enumerate(kinds or ["λ = 0"]):
    curve = zero + [p for p in points if p["adversary"] == kind and
                    p["weight"] > 0]
    ax.errorbar([p["realism"] for p in curve], [p["psnr"] for p in curve],
                xerr=_ci_bars(curve), fmt="o-", color=f"C{i}", capsize=3,
                label=kind)
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
  names configs.perception_sweep gives its runs: 'FAMILY-pushW' (an
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
    ends = {p["checkpoint"]: p for p in points if p["family"] != "interpolation"}
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
    curves = _curves(these)
    for i, (fam, curve) in enumerate(curves.items()):
      interp = fam == "interpolation"
      ax.errorbar([p["realism"] for p in curve], [p["psnr"] for p in curve],
                  xerr=_ci_bars(curve), fmt="s--" if interp else "o-",
                  color=f"C{i}", capsize=3, ms=4,
                  label=("interpolation (α)" if interp else f"{fam} (λ)"))
      for p in curve:
        if p["param"] is not None and (interp or p["family"]):
          ax.annotate(f"{'α' if interp else 'λ'}={p['param']:g}",
                      (p["realism"], p["psnr"]), textcoords="offset points",
                      xytext=(4, 4), fontsize=7, color=f"C{i}")
    for p in these:  # models on no curve: stars
      if p["family"] == "" and (p["param"] is None or not curves):
        ax.errorbar([p["realism"]], [p["psnr"]], xerr=_ci_bars([p]),
                    fmt="k*", ms=10, capsize=3, label=p["name"])
    _plane_axes(ax, f"{data}, σ={sigma:g}", 7)
  _save_with_points(fig, out, points)
  return points


def spectra(runs: dict[str, str], data_spec: str, sigma: float,
            out: str) -> dict[str, float]:
  """Radially averaged power spectra of each run's outputs over the clean
  images' (1 = clean's power at that frequency), with the noisy inputs'
  beside them, the same noise for every run (ddn.evaluate's protocol).

  Returns:
    {label: the high-frequency (0.25-0.5 cycles/pixel) power ratio}.
  """
  from ddn import realism  # pylint: disable=g-import-not-at-top
  denoisers, channels = _load_runs(runs)
  source = evaluate.load_eval_source(data_spec, channels)
  cleans = [np.asarray(source[i], np.float32) for i in range(len(source))]
  noisies = [protocol.noisy_version(c, sigma, i) for i, c in enumerate(cleans)]
  f, p_clean = realism.radial_spectrum(cleans)
  outputs = {"noisy": noisies}
  outputs.update({k: [np.clip(d.at(sigma)(x), 0, 1) for x in noisies]
                  for k, d in denoisers.items()})
  fig, ax = plt.subplots(figsize=(6.5, 4.5))
  ratios = {}
  for i, (label, images) in enumerate(outputs.items()):
    _, p = realism.radial_spectrum(images)
    ax.semilogy(f, p / np.maximum(p_clean, 1e-20), color=f"C{i}",
                ls=":" if label == "noisy" else "-", label=label)
    ratios[label] = realism.band_ratio(f, p, p_clean)
  ax.axhline(1.0, color="k", lw=1)
  ax.axvspan(0.25, 0.5, color="gray", alpha=0.1)
  ax.set_xlabel("frequency (cycles/pixel)")
  ax.set_ylabel("power / clean's")
  ax.set_title(f"radially averaged power spectra, {data_spec}, σ={sigma:g}",
               fontsize=9)
  ax.grid(alpha=0.3, which="both")
  ax.legend(fontsize=7)
  fig.tight_layout()
  plots.save_figure(fig, out)
  return ratios


# Knocked-out blocks of the blocks figure: 4 squares of 24-40 px per test
# image, set to 0 after the Gaussian noise (experiments/adv_blocks.py trains
# on one 16-40 px block per 64 px crop).
BLOCKS = dict(block_count=4, block_size_min=24, block_size_max=40)


def _detail_energy(x: np.ndarray) -> np.ndarray:
  """Per-pixel detail power: (x minus its 3x3 binomial blur)², (H, W)."""
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  k1 = np.array([1.0, 2.0, 1.0]) / 4
  g = x[..., 0].astype(np.float64)
  return (g - ndimage.convolve(g, np.outer(k1, k1), mode="reflect")) ** 2


def mean_ci(values, over=None, seed: int = 0, n: int = 2000
             ) -> tuple[float, list]:
  """mean(values), or sum(values) / sum(over), and its bootstrap 95%
  interval over the items (images)."""
  v = np.asarray(values, np.float64)
  d = np.ones_like(v) if over is None else np.asarray(over, np.float64)
  idx = np.random.default_rng(seed).integers(0, len(v), (n, len(v)))
  boot = v[idx].sum(axis=1) / np.maximum(d[idx].sum(axis=1), 1e-12)
  lo, hi = np.percentile(boot, [2.5, 97.5])
  return float(v.sum() / max(d.sum(), 1e-12)), [float(lo), float(hi)]


def knocked_out(clean: np.ndarray, sigma: float, index: int
                ) -> tuple[np.ndarray, np.ndarray]:
  """(noisy, mask): test image `index` with ddn.evaluate's Gaussian noise at
  σ, then BLOCKS knocked out (set to 0) where mask (H, W) is True; the same
  blocks for every run."""
  import jax  # pylint: disable=g-import-not-at-top
  from ddn import noise  # pylint: disable=g-import-not-at-top
  spec = noise.NoiseSpec(kinds=("blocks",), block_fill="zero", **BLOCKS)
  mask = np.asarray(noise.block_mask((1,) + clean.shape,
                                     jax.random.PRNGKey(index), spec))[0]
  noisy = protocol.noisy_version(clean, sigma, index)
  return np.where(mask, 0.0, noisy).astype(np.float32), mask[..., 0]


def blocks(runs: dict[str, str], data_spec: str, sigma: float, out: str,
           indices: list[int], crop: int = 96) -> dict[str, dict]:
  """Knocked-out blocks: every image of `data_spec` with Gaussian noise at σ
  and BLOCKS knocked out, denoised by each run; noisy | each run | clean
  on the images `indices`, each with a box around its largest block
  magnified.

  Returns:
    {label: {'psnr', 'psnr_blocks', 'psnr_rest' (dB, over the whole image,
     inside the blocks, outside them; means over the images),
     'detail_blocks' (the outputs' detail power inside the blocks, 2 px in
     from their edges, over clean's, pooled over the images: 1 = as much
     fine structure as clean, 0 = flat), each with '<key>_ci95', a bootstrap
     95% interval over the images}}.
  """
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  denoisers, channels = _load_runs(runs)
  if channels != 1:
    raise ValueError("blocks compares gray models.")
  source = evaluate.load_eval_source(data_spec, channels)
  bad = [i for i in indices if not 0 <= i < len(source)]
  if bad:
    raise ValueError(f"--indices {bad}: {data_spec} has {len(source)} "
                     f"images (0..{len(source) - 1}).")
  labels = ["noisy"] + list(denoisers)
  stats = {k: {"psnr": [], "psnr_blocks": [], "psnr_rest": [],
               "detail_blocks": []} for k in labels}
  shown = {}  # index -> ({label: image}, its box)
  detail_clean = []
  for i in range(len(source)):
    clean = np.asarray(source[i], np.float32)
    noisy, mask = knocked_out(clean, sigma, i)
    outputs = {"noisy": noisy}
    outputs.update({k: d.at(sigma)(noisy) for k, d in denoisers.items()})
    ref = protocol.quantise(clean)
    inner = ndimage.binary_erosion(mask, iterations=2)  # blur stays inside
    detail_clean.append(_detail_energy(clean)[inner].sum())
    for k, v in outputs.items():
      q = protocol.quantise(v)
      stats[k]["psnr"].append(protocol.psnr_uint8(q, ref))
      stats[k]["psnr_blocks"].append(protocol.psnr_uint8(q[mask], ref[mask]))
      stats[k]["psnr_rest"].append(protocol.psnr_uint8(q[~mask], ref[~mask]))
      stats[k]["detail_blocks"].append(
          _detail_energy(np.clip(v, 0, 1))[inner].sum())
    if i in indices:
      shown[i] = ({**outputs, "clean": clean}, _block_window(mask, crop))
  summary = {}
  for k, s in stats.items():
    summary[k] = {}
    for key, values in s.items():
      over = detail_clean if key == "detail_blocks" else None
      summary[k][key], summary[k][f"{key}_ci95"] = mean_ci(values, over)
  columns = [(k, [shown[i][0][k] for i in indices])
             for k in labels + ["clean"]]
  notes = {k: [f"{stats[k]['psnr_blocks'][i]:.1f} dB in blocks"
               for i in indices] for k in labels}
  windows = [shown[i][1] for i in indices]
  plots.comparison(columns, out, crop=crop, notes=notes, windows=windows,
                   title=f"{data_spec} {indices}, σ={sigma:g}, "
                   f"{BLOCKS['block_count']} blocks of "
                   f"{BLOCKS['block_size_min']}-{BLOCKS['block_size_max']} px "
                   "knocked out")
  with open(os.path.splitext(out)[0] + ".json", "w") as fh:
    json.dump({"data": data_spec, "sigma": sigma, "blocks": BLOCKS,
               "runs": runs, "summary": summary}, fh, indent=1)
  return summary


def _block_window(mask: np.ndarray, crop: int) -> tuple[int, int]:
  """Top-left (y, x) of a crop x crop box centred on the mask's largest
  knocked-out square (the one with the most pixels around its centre)."""
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  h, w = mask.shape
  depth = ndimage.distance_transform_edt(mask)
  cy, cx = np.unravel_index(np.argmax(depth), mask.shape)
  y = int(np.clip(cy - crop // 2, 0, max(h - crop, 0)))
  x = int(np.clip(cx - crop // 2, 0, max(w - crop, 0)))
  return y, x


FIGURES = ("lr_sweep", "detail", "classifiers", "adversarial", "perception",
           "generalization", "plane", "spectra", "blocks")


def define_flags():
  """Command-line flags; defined only when run as a program."""
  flags.DEFINE_list("runs", None, "WORKDIR or LABEL=WORKDIR, ...")
  flags.DEFINE_string("out", None, "Output PNG.")
  flags.DEFINE_string("data", "embedded:eval", "detail: image source.")
  flags.DEFINE_integer("index", 0, "detail: image index in --data.")
  flags.DEFINE_float("sigma", 25.0, "detail: noise σ (0-255 scale).")
  flags.DEFINE_integer("crop", 64, "detail, adversarial, blocks: magnified "
                       "crop size.")
  flags.DEFINE_list("indices", ["0"], "adversarial, blocks: image indices in "
                    "--data.")
  flags.DEFINE_list("baselines", [], "detail: classical methods to show too "
                    "(gaussian, median, nlm, bm3d).")
  flags.DEFINE_string("tune_data", "embedded:train", "detail: images the "
                      "gaussian/median widths are chosen on.")
  flags.DEFINE_string("records", None, "plane: ddn.evaluate --realism's "
                      "JSON output.")
  flags.mark_flags_as_required(["out"])


def main(argv):
  if len(argv) != 2 or argv[1] not in FIGURES:
    raise app.UsageError(f"name one figure: {', '.join(FIGURES)}.")
  runtime.setup()
  try:
    f = flags.FLAGS
    runs = parse_runs(f.runs or []) if argv[1] != "plane" else {}
    if argv[1] == "lr_sweep":
      lr_sweep(runs, f.out)
    elif argv[1] == "classifiers":
      for label, r in classifiers(runs, f.out).items():
        line = (f"{label}: validation error {r['val/err']:.3f} (real "
                f"{r['val/err_real']:.3f}, denoised "
                f"{r['val/err_denoised']:.3f})")
        if "val/err_image" in r:
          line += f", per image {r['val/err_image']:.3f}"
        print(f"{line} at {r['images']} images")
    elif argv[1] == "adversarial":
      summary = adversarial(runs, f.data, [int(i) for i in f.indices],
                            f.sigma, f.out, f.crop)
      for label, r in summary.items():
        line = f"{label}: PSNR {r['psnr']:.2f} dB"
        if "realism" in r:
          line += f", realism AUC {r['realism']:.3f} (its evaluation.json)"
        print(line)
    elif argv[1] == "generalization":
      for label, r in generalization(runs, f.out).items():
        print(f"{label}: training loss {r['train']:.5f}, validation "
              f"{r['val']:.5f} (ratio {r['val'] / r['train']:.2f})")
    elif argv[1] == "plane":
      if not f.records:
        raise ValueError("plane needs --records=F.json (ddn.evaluate "
                         "--realism's output).")
      if os.path.splitext(f.out)[0] == os.path.splitext(f.records)[0]:
        raise ValueError(f"--out={f.out} would write its points over "
                         f"--records={f.records}; name the figure otherwise.")
      with open(f.records) as fh:
        for p in plane(json.load(fh), f.out):
          lo, hi = p["realism_ci95"]
          print(f"{p['data']} σ={p['sigma']:g} {p['name']}: PSNR "
                f"{p['psnr']:.2f} dB, realism AUC {p['realism']:.3f} "
                f"[{lo:.3f}, {hi:.3f}]")
    elif argv[1] == "spectra":
      for label, r in spectra(runs, f.data, f.sigma, f.out).items():
        print(f"{label}: high-frequency power ×{r:.2f} of clean's")
    elif argv[1] == "blocks":
      for label, r in blocks(runs, f.data, f.sigma, f.out,
                             [int(i) for i in f.indices], f.crop).items():
        lo, hi = r["detail_blocks_ci95"]
        print(f"{label}: PSNR {r['psnr']:.2f} dB, in the blocks "
              f"{r['psnr_blocks']:.2f} dB (outside {r['psnr_rest']:.2f}), "
              f"detail in the blocks ×{r['detail_blocks']:.2f} of clean's "
              f"[{lo:.2f}, {hi:.2f}]")
    elif argv[1] == "perception":
      for p in perception(runs, f.out):
        lo, hi = p["realism_ci95"]
        print(f"{p['run']}: {p['adversary']}, λ={p['weight']:g}: PSNR "
              f"{p['start_psnr']:.2f} -> {p['psnr']:.2f} dB, realism AUC "
              f"{p['start_realism']:.3f} -> {p['realism']:.3f} "
              f"[{lo:.3f}, {hi:.3f}]")
    else:
      psnr = detail(runs, f.data, f.index, f.sigma, f.out, f.crop,
                    f.baselines, f.tune_data)
      print(", ".join(f"{k} {v:.2f} dB" for k, v in psnr.items()))
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  print(f"wrote {flags.FLAGS.out}")


if __name__ == "__main__":
  define_flags()
  app.run(main)
