"""Pictures of a run: learning curves and image grids (matplotlib, Agg)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np
from PIL import Image

from ddn import logs


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
  fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
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
  fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
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


def save_figure(fig, out_path: str):
  """Saves atomically (write then rename) so readers never see half a PNG."""
  os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
  tmp = out_path + ".tmp.png"
  fig.savefig(tmp, dpi=110)
  plt.close(fig)
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
