"""Radially averaged power spectra of the runs' outputs over clean's."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

from ddn import methods
from ddn import plots
from ddn import protocol
from ddn import realism
from ddn.figures import runs as runs_lib


def spectra(runs: dict[str, str], data_spec: str, sigma: float,
            out: str) -> dict[str, float]:
  """Radially averaged power spectra of each run's outputs over the clean
  images' (1 = clean's power at that frequency), with the noisy inputs'
  beside them, the same noise for every run (ddn.evaluate's protocol).

  Returns:
    {label: the high-frequency (0.25-0.5 cycles/pixel) power ratio}.
  """
  denoisers, channels = runs_lib.load_runs(runs)
  source = methods.load_eval_source(data_spec, channels)
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


def cli_spectra(f) -> None:
  """python -m ddn.figures spectra: prints each run's high-frequency power
  ratio."""
  for label, r in spectra(runs_lib.parse_runs(f.runs or []), f.data,
                          f.sigma, f.out).items():
    print(f"{label}: high-frequency power ×{r:.2f} of clean's")
