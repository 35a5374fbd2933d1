"""The runs a figure compares: --runs parsed into {label: workdir}, and the
runs loaded as denoisers."""

from __future__ import annotations

import glob
import os

from ddn import checkpoint
from ddn import inference
from ddn import methods


def parse_runs(items: list[str]) -> dict[str, str]:
  """['a=DIR', 'DIR2', 'DIR*'] -> {label: workdir}; expands globs.

  An item that names existing paths as a whole is a path even if it holds
  '=' (sweep runs are named like lr=0.001); a glob keeps only directories.
  The comma-split pieces of one directory name are joined back
  (lr=0.001,weight=0.003, methods.rejoin_paths).
  """
  runs = {}
  for item in methods.rejoin_paths(items):
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
      if p in inference.shipped_models() and not os.path.exists(p):
        runs[label or p] = p
        continue
      if not os.path.exists(os.path.join(p, "metrics.jsonl")):
        raise ValueError(f"{p!r} is not a finished ddn run (no metrics.jsonl)")
      runs[label if (label and len(paths) == 1) else default_label(p)] = p
  if not runs:
    raise ValueError("--runs: give at least one workdir.")
  return runs


def run_lr(workdir: str) -> float | None:
  """The run's config.optim.lr, or None when it has no readable config."""
  try:
    return float(checkpoint.load_config(workdir)["optim"]["lr"])
  except (ValueError, KeyError):
    return None


def default_label(workdir: str) -> str:
  """'lr=LR' of the run's learning rate, else its directory's name."""
  lr = run_lr(workdir)
  return (f"lr={lr:g}" if lr is not None
          else os.path.basename(os.path.normpath(workdir)))


def load_runs(runs: dict[str, str]) -> tuple[dict, int]:
  """({label: inference.Denoiser}, their channel count: 1 with no runs);
  a mix of gray and colour models is refused."""
  denoisers = {k: inference.load(w) for k, w in runs.items()}
  channels = {d.channels for d in denoisers.values()} or {1}
  if len(channels) != 1:
    raise ValueError("--runs mix gray and colour models; compare like runs.")
  return denoisers, channels.pop()


def check_indices(indices: list[int], source, data_spec: str) -> None:
  """Refuses --indices outside the images of `source` (`data_spec`'s)."""
  bad = [i for i in indices if not 0 <= i < len(source)]
  if bad:
    raise ValueError(f"--indices {bad}: {data_spec} has {len(source)} "
                     f"images (0..{len(source) - 1}).")
