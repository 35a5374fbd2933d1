"""Figures over finished runs, one module per family, looked up by name.

  module      figure          what it draws
  curves      lr_sweep        training and validation loss of an lr sweep
              generalization  training vs validation loss on one axis
              classifiers     classifiers' validation error rates
  denoised    detail          detail crops, same image and noise for all
              adversarial     noisy | each run | clean, magnified crops
  perception  perception      perception-distortion plane of finished runs
              plane           the plane of ddn.evaluate --realism records
  spectra     spectra         radial power spectra of outputs over clean's
  blocks      blocks          knocked-out blocks: PSNR, detail inside them

Each family module holds its figures (functions of runs or records that
write OUT) and, for the command line (python -m ddn.figures NAME, see
__main__), a `cli_NAME(f)` that reads the options f (--runs, --out, ...),
draws and prints the figure's numbers. The shared pieces: runs (--runs
parsed and loaded), stats (bootstrap intervals, detail power).

A new figure is a new module with its `cli_NAME(f)` and one line in
FIGURES.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

FIGURES = {
    "lr_sweep": "ddn.figures.curves:cli_lr_sweep",
    "generalization": "ddn.figures.curves:cli_generalization",
    "classifiers": "ddn.figures.curves:cli_classifiers",
    "detail": "ddn.figures.denoised:cli_detail",
    "adversarial": "ddn.figures.denoised:cli_adversarial",
    "perception": "ddn.figures.perception:cli_perception",
    "plane": "ddn.figures.perception:cli_plane",
    "spectra": "ddn.figures.spectra:cli_spectra",
    "blocks": "ddn.figures.blocks:cli_blocks",
}


def lookup(name: str) -> Callable[[Any], None]:
  """The command-line entry `cli(f)` of figure `name` (FIGURES: its
  'module:function', imported now)."""
  if name not in FIGURES:
    raise ValueError(f"no figure {name!r}: name one of "
                     f"{', '.join(FIGURES)}.")
  module, _, function = FIGURES[name].partition(":")
  return getattr(importlib.import_module(module), function)


def run(name: str, f) -> None:
  """Draws figure `name` with the options f (attributes as the flags of
  python -m ddn.figures: runs, out, data, index, sigma, crop, indices,
  baselines, tune_data, records) and prints its numbers."""
  lookup(name)(f)
