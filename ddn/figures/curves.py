"""Curves over training: the learning-rate sweep (the chapter's Figure
17.4), training vs validation loss, and classifiers' error rates."""

from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

from ddn import logs
from ddn import plots
from ddn.figures import runs as runs_lib


def lr_sweep(runs: dict[str, str], out: str, window: int = 10) -> None:
  """Training (moving average) and validation loss vs images, one colour
  a run."""
  fig, (ax_t, ax_v) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
  by_lr = sorted(runs.items(), key=lambda r: -(runs_lib.run_lr(r[1]) or 0.0))
  for i, (label, workdir) in enumerate(by_lr):
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


def cli_lr_sweep(f) -> None:
  """python -m ddn.figures lr_sweep --runs=... --out=..."""
  lr_sweep(runs_lib.parse_runs(f.runs or []), f.out)


def cli_generalization(f) -> None:
  """python -m ddn.figures generalization: prints each run's final losses."""
  for label, r in generalization(runs_lib.parse_runs(f.runs or []),
                                 f.out).items():
    print(f"{label}: training loss {r['train']:.5f}, validation "
          f"{r['val']:.5f} (ratio {r['val'] / r['train']:.2f})")


def cli_classifiers(f) -> None:
  """python -m ddn.figures classifiers: prints each run's final rates."""
  for label, r in classifiers(runs_lib.parse_runs(f.runs or []),
                              f.out).items():
    line = (f"{label}: validation error {r['val/err']:.3f} (real "
            f"{r['val/err_real']:.3f}, denoised "
            f"{r['val/err_denoised']:.3f})")
    if "val/err_image" in r:
      line += f", per image {r['val/err_image']:.3f}"
    print(f"{line} at {r['images']} images")
