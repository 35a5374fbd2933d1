"""Pictures of a run: learning curves and image grids (matplotlib, Agg)."""

from __future__ import annotations

import os
import sys

import numpy as np
from PIL import Image

from ddn import logs


def figure(**kw):
  """A matplotlib Figure outside pyplot: no global backend or figure list
  (a notebook's own plots are left alone), drawn by Agg when saved.
  Imported at the first figure: a run that stops at a config error draws
  nothing and needs none of matplotlib's half second of imports."""
  from matplotlib import figure as mfig  # pylint: disable=g-import-not-at-top
  return mfig.Figure(**kw)


def smoothing_window(n: int, window: int) -> int:
  """The window actually used for n points: at most a quarter of the series,
  so a short run's curve is not one long ramp out of its first value."""
  return max(1, min(window, n // 4))


def moving_average(y: np.ndarray, window: int) -> np.ndarray:
  """Trailing moving average (shorter windows at the start) over
  smoothing_window(len(y), window) points."""
  window = smoothing_window(len(y), window)
  if len(y) == 0 or window <= 1:
    return np.asarray(y, float)
  c = np.cumsum(np.insert(np.asarray(y, float), 0, 0.0))
  idx = np.arange(1, len(y) + 1)
  lo = np.maximum(idx - window, 0)
  return (c[idx] - c[lo]) / (idx - lo)


def _loss_panel(ax, records: list[dict], train_key: str, val_key: str,
                window: int, ylabel: str) -> None:
  """Training loss (raw and moving average) and validation loss vs images."""
  x, y = logs.series(records, train_key)
  if len(x):
    ax.plot(x, y, color="C0", alpha=0.25, lw=0.8, label="train")
    ax.plot(x, moving_average(y, window), color="C0",
            label=f"train (moving average of "
                  f"{smoothing_window(len(y), window)})")
  x, y = logs.series(records, val_key)
  if len(x):
    ax.plot(x, y, "o-", color="C1", ms=3, label="validation")
  ax.set_xlabel("images seen")
  ax.set_ylabel(ylabel)
  ax.grid(alpha=0.3)
  ax.legend()


def learning_curve(metrics_path: str, out_path: str, window: int = 10,
                   train_key: str = "train/ae/loss",
                   val_key: str = "val/loss", psnr_key: str = "val/psnr"):
  """Training and validation loss (and validation PSNR) vs images seen."""
  records = logs.read_metrics(metrics_path)
  fig = figure(figsize=(11, 4))
  ax, ax2 = fig.subplots(1, 2)
  _loss_panel(ax, records, train_key, val_key, window, "loss")
  ax.set_yscale("log")
  x, y = logs.series(records, psnr_key)
  if len(x):
    ax2.plot(x, y, "o-", color="C2", ms=3, label="validation PSNR")
  x, y = logs.series(records, "val/psnr_noisy")
  if len(x):
    ax2.plot(x, y, "--", color="gray", label="noisy input")
  ax2.set_xlabel("images seen")
  ax2.set_ylabel("PSNR (dB)")
  ax2.grid(alpha=0.3)
  ax2.legend()
  fig.tight_layout()
  save_figure(fig, out_path)


def classifier_curve(metrics_path: str, out_path: str, window: int = 10,
                     title: str = ""):
  """The chapter's Figure 17.3 for a real-vs-denoised classifier: training
  loss, and validation error rates (overall, on real, on denoised) with the
  training error, vs images seen."""
  records = logs.read_metrics(metrics_path)
  fig = figure(figsize=(11, 4))
  ax, ax2 = fig.subplots(1, 2)
  _loss_panel(ax, records, "train/d/loss", "val/loss", window,
              "classifier loss")
  x, y = logs.series(records, "train/d/err")
  if len(x):
    ax2.plot(x, moving_average(y, window), color="C0", alpha=0.6,
             label="train (moving average)")
  styles = [("val/err", "validation", "C1", "o-"),
            ("val/err_real", "validation, real", "C2", "--"),
            ("val/err_denoised", "validation, denoised", "C3", "--"),
            ("val/err_image", "validation, per image (mean score)", "C4",
             ":")]
  for key, label, color, style in styles:
    x, y = logs.series(records, key)
    if len(x):
      ax2.plot(x, y, style, color=color, ms=3, label=label)
  ax2.axhline(0.5, color="gray", lw=0.8, ls=":")
  ax2.set_xlabel("images seen")
  ax2.set_ylabel("error rate")
  ax2.set_ylim(0, 1)
  ax2.grid(alpha=0.3)
  ax2.legend(fontsize=8)
  if title:
    fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  save_figure(fig, out_path)


def adversarial_curve(metrics_path: str, out_path: str, window: int = 10,
                      title: str = ""):
  """The chapter's Figure 17.6 for an adversarial run: G's overall loss, its
  "Pred" (reconstruction) term, D's loss and the adversarial term vs images
  seen, moving-averaged; beside it the balance: D's accuracy on real and on
  G's outputs (training batches) and D's validation error."""
  records = logs.read_metrics(metrics_path)
  fig = figure(figsize=(15, 4))
  axes = fig.subplots(1, 3)
  panels = [(axes[0], [("train/g/loss", "overall (Pred + λ·adv)", "C0"),
                       ("train/g/pred", "Pred (a·SSD + b·L1)", "C1")],
             "G loss", True),
            (axes[1], [("train/d/loss", "disc loss", "C3"),
                       ("train/g/adv", "adv term (before λ)", "C2")],
             "D loss / adversarial term", False)]
  for ax, series, ylabel, log_y in panels:
    for key, label, color in series:
      x, y = logs.series(records, key)
      if len(x):
        ax.plot(x, y, color=color, alpha=0.2, lw=0.8)
        ax.plot(x, moving_average(y, window), color=color,
                label=f"{label} (moving average of "
                      f"{smoothing_window(len(y), window)})")
    ax.set_xlabel("images seen")
    ax.set_ylabel(ylabel)
    if log_y:
      ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  ax = axes[2]
  for key, label, color, style in [
      ("train/d/acc_real", "D accuracy, real (train)", "C2", "-"),
      ("train/d/acc_fake", "D accuracy, G's outputs (train)", "C3", "-"),
      ("val/d_err", "D error, held-out crops", "C1", "o-")]:
    x, y = logs.series(records, key)
    if len(x):
      y = moving_average(y, window) if style == "-" else y
      ax.plot(x, y, style, color=color, ms=3, label=label)
  ax.axhline(0.5, color="gray", lw=0.8, ls=":")
  ax.set_ylim(0, 1.02)
  ax.set_xlabel("images seen")
  ax.set_ylabel("rate")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  if title:
    fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  save_figure(fig, out_path)


def detail_window(image: np.ndarray, size: int) -> tuple[int, int]:
  """Top-left corner of the size x size window with the most gradient energy."""
  g = image.mean(-1)
  energy = np.abs(np.diff(g, axis=0))[:, :-1] + np.abs(np.diff(g, axis=1))[:-1]
  c = np.cumsum(np.cumsum(np.pad(energy, ((1, 0), (1, 0))), 0), 1)
  s = min(size, energy.shape[0], energy.shape[1])
  sums = c[s:, s:] - c[:-s, s:] - c[s:, :-s] + c[:-s, :-s]
  y, x = np.unravel_index(np.argmax(sums), sums.shape)
  return int(y), int(x)


def comparison(columns: list[tuple[str, list[np.ndarray]]], out_path: str,
               crop: int = 64, title: str = "", notes: dict | None = None,
               windows: list[tuple[int, int]] | None = None):
  """The chapter's Figure 17.5: one column per method (e.g. noisy | no
  adversary | adversaries | clean), one image a row, each shown whole with
  a red box and beside it that box magnified. The box is where the clean
  image (last column) has the most detail. `notes[label][row]`: a caption
  line under that panel (e.g. its PSNR); `windows[row]`: that row's box's
  top-left corner (y, x) instead."""
  from matplotlib import patches  # pylint: disable=g-import-not-at-top
  n_rows = len(columns[0][1])
  n_cols = len(columns)
  fig = figure(figsize=(2.4 * n_cols, 4.8 * n_rows))
  axes = fig.subplots(2 * n_rows, n_cols, squeeze=False)
  for i in range(n_rows):
    clean = columns[-1][1][i]
    y, x = windows[i] if windows else detail_window(clean, crop)
    s = min(crop, clean.shape[0], clean.shape[1])
    for j, (label, images) in enumerate(columns):
      v = np.clip(images[i], 0, 1)
      gray = v.shape[-1] == 1
      show = v[..., 0] if gray else v
      kw = dict(cmap="gray" if gray else None, vmin=0, vmax=1)
      top, bottom = axes[2 * i, j], axes[2 * i + 1, j]
      top.imshow(show, **kw)
      top.add_patch(patches.Rectangle((x, y), s, s, fill=False,
                                      edgecolor="red", lw=1))
      caption = label
      if notes and label in notes:
        caption += f"\n{notes[label][i]}"
      top.set_title(caption, fontsize=8)
      bottom.imshow(show[y:y + s, x:x + s], interpolation="nearest", **kw)
      for ax in (top, bottom):
        ax.set_xticks([])
        ax.set_yticks([])
  if title:
    fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  save_figure(fig, out_path)


def save_figure(fig, out_path: str):
  """Saves atomically (write then rename) so readers never see half a PNG."""
  os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
  tmp = out_path + ".tmp.png"
  fig.savefig(tmp, dpi=110)
  if "matplotlib.pyplot" in sys.modules:  # a pyplot figure (ddn.figures)
    sys.modules["matplotlib.pyplot"].close(fig)
  os.replace(tmp, out_path)


def center_crop(a: np.ndarray, size: int) -> np.ndarray:
  h, w = a.shape[:2]
  s = min(size, h, w)
  y, x = (h - s) // 2, (w - s) // 2
  return a[y:y + s, x:x + s]


def grid(rows: list[list[np.ndarray]], pad: int = 2) -> np.ndarray:
  """Tiles equal-sized (H, W, C) images into one image, rows x columns."""
  h, w, c = rows[0][0].shape
  n_r, n_c = len(rows), max(len(r) for r in rows)
  out = np.ones((n_r * (h + pad) - pad, n_c * (w + pad) - pad, c), np.float32)
  for i, row in enumerate(rows):
    for j, im in enumerate(row):
      out[i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = im
  return out


def save_image(a: np.ndarray, path: str, bits: int = 8):
  """Saves a float (H, W, C) image in [0, 1] as PNG (clipped, rounded)."""
  a = np.clip(np.asarray(a, np.float64), 0, 1)
  if a.ndim == 3 and a.shape[-1] == 1:
    a = a[:, :, 0]
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  if bits == 16:
    Image.fromarray((a * 65535).round().astype(np.uint16)).save(path)
  else:
    Image.fromarray((a * 255).round().astype(np.uint8)).save(path)
