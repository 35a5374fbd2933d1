"""What ddn.evaluate and ddn.figures share, below both command lines: the
method under evaluation, the image sources it is scored and tuned on, and
the path lists their flags take.

  source = methods.load_eval_source("folder:../shared/data/BSD68", 1)
  name, tune = methods.tune_images("embedded:train", 1, 16, [source])
  methods.rejoin_paths("runs/lr=0.001,weight=0.003,gray-s25".split(","))
"""

from __future__ import annotations

import os
from typing import Callable

import ml_collections
import numpy as np

from ddn import data as data_lib


class Method:
  """One denoiser under evaluation: `fn(noisy (H, W, C)) -> (H, W, C)`.

  `compiled` methods get one untimed call per image size first.
  """

  def __init__(self, name: str, fn: Callable[[np.ndarray], np.ndarray],
               compiled: bool = False, extra: dict | None = None):
    self.name, self.fn, self.compiled = name, fn, compiled
    self.extra = extra or {}


def load_eval_source(spec: str, channels: int):
  """The images of `spec` (ddn.data.load_source) with `channels` channels,
  unconverted: the evaluation protocol's test images."""
  cfg = ml_collections.ConfigDict(dict(channels=channels,
                                       convert_channels=False,
                                       tfds_data_dir=""))
  return data_lib.load_source(spec, cfg)


def tune_images(spec: str, channels: int, count: int,
                eval_sources: list) -> tuple[str, list[np.ndarray]]:
  """Up to `count` images of `spec` for tuning baseline widths; refuses a
  source that shares an image with an evaluation set."""
  src = load_eval_source(spec, channels)
  for held_out in eval_sources:
    try:
      data_lib.check_disjoint(src, held_out)
    except ValueError:
      raise ValueError(
          f"--tune_data={spec} shares images with the evaluation set "
          f"{held_out.name}; baseline widths must be chosen on training "
          "images (e.g. folder:../shared/data/Train400).") from None
  idx = np.linspace(0, len(src) - 1, min(count, len(src))).round().astype(int)
  return src.name, [np.asarray(src[int(i)], np.float32)
                    for i in sorted(set(idx))]


def rejoin_paths(parts: list) -> list:
  """A list flag's comma-split pieces (ddn.evaluate's --checkpoint,
  ddn.figures' --runs), with the pieces of one directory name that holds
  commas joined back (ddn.sweep names a run of several overrides
  'lr=0.001,weight=0.003'): the longest run of pieces whose comma-join is a
  directory wins, other pieces stay as they are."""
  out, i = [], 0
  while i < len(parts):
    for j in range(len(parts), i + 1, -1):
      if all(isinstance(p, str) for p in parts[i:j]) and os.path.isdir(
          ",".join(parts[i:j])):
        out.append(",".join(parts[i:j]))
        i = j
        break
    else:
      out.append(parts[i])
      i += 1
  return out
