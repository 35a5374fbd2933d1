"""Denoised images side by side, the same image and noise for every run:
detail crops (the chapter's Figure 17.7) and the adversarial comparison
(Figure 17.5)."""

from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

from ddn import baselines as baselines_lib
from ddn import methods
from ddn import plots
from ddn import protocol
from ddn.figures import runs as runs_lib


def detail(runs: dict[str, str], data_spec: str, index: int, sigma: float,
           out: str, crop: int = 64, baselines: list[str] = (),
           tune_data: str = "embedded:train") -> dict[str, float]:
  """noisy | each baseline | each run | clean, full and a magnified detail
  crop. Runs are workdirs or shipped models; the gaussian and median
  widths are tuned on `tune_data` at σ (ddn.baselines.tune).

  Returns:
    {label: PSNR in dB} on the full image (protocol of ddn.evaluate).
  """
  denoisers, channels = runs_lib.load_runs(runs)
  source = methods.load_eval_source(data_spec, channels)
  clean = np.asarray(source[index], np.float32)
  noisy = protocol.noisy_version(clean, sigma, index)
  panels = {"noisy": noisy}
  if baselines:
    _, tune = methods.tune_images(tune_data, channels, 16, [source])
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
  _detail_grid(panels, psnr, crop, f"{data_spec} #{index}, σ={sigma:g}", out)
  return psnr


def _detail_grid(panels: dict[str, np.ndarray], psnr: dict[str, float],
                 crop: int, title: str, out: str) -> None:
  """One column a panel: whole (captioned with its PSNR) over its crop x
  crop detail window (the clean panel's, plots.detail_window) magnified."""
  clean = panels["clean"]
  y, x = plots.detail_window(clean, crop)
  n = len(panels)
  fig, axes = plt.subplots(2, n, figsize=(2.6 * n, 5.4))
  cmap = "gray" if clean.shape[-1] == 1 else None
  for j, (k, v) in enumerate(panels.items()):
    v = np.clip(v, 0, 1)
    show = v[..., 0] if v.shape[-1] == 1 else v
    axes[0, j].imshow(show, cmap=cmap, vmin=0, vmax=1)
    axes[0, j].add_patch(plt.Rectangle((x, y), crop, crop, fill=False,
                                       edgecolor="red", lw=1))
    title_j = k if k == "clean" else f"{k}\n{psnr[k]:.2f} dB"
    axes[0, j].set_title(title_j, fontsize=9)
    axes[1, j].imshow(show[y:y + crop, x:x + crop], cmap=cmap, vmin=0, vmax=1,
                      interpolation="nearest")
    for ax in axes[:, j]:
      ax.set_xticks([])
      ax.set_yticks([])
  fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  plots.save_figure(fig, out)


def adversarial(runs: dict[str, str], data_spec: str, indices: list[int],
                sigma: float, out: str, crop: int = 64) -> dict[str, dict]:
  """noisy | each run | clean for the images `indices` of `data_spec`, the
  same noise for every run (ddn.evaluate's protocol), each panel whole with
  a magnified detail crop, captioned with its PSNR.

  Returns:
    {label: {'psnr': mean PSNR (dB) over the images, 'realism': the run's
     evaluation.json realism AUC of its final G, if it has one}}.
  """
  denoisers, channels = runs_lib.load_runs(runs)
  source = methods.load_eval_source(data_spec, channels)
  runs_lib.check_indices(indices, source, data_spec)
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


def cli_detail(f) -> None:
  """python -m ddn.figures detail: prints each panel's PSNR."""
  psnr = detail(runs_lib.parse_runs(f.runs or []), f.data, f.index, f.sigma,
                f.out, f.crop, f.baselines, f.tune_data)
  print(", ".join(f"{k} {v:.2f} dB" for k, v in psnr.items()))


def cli_adversarial(f) -> None:
  """python -m ddn.figures adversarial: prints each run's PSNR (and realism
  AUC from its evaluation.json)."""
  summary = adversarial(runs_lib.parse_runs(f.runs or []), f.data,
                        [int(i) for i in f.indices], f.sigma, f.out, f.crop)
  for label, r in summary.items():
    line = f"{label}: PSNR {r['psnr']:.2f} dB"
    if "realism" in r:
      line += f", realism AUC {r['realism']:.3f} (its evaluation.json)"
    print(line)
