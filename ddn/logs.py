"""Metric writers: a JSON-lines file, TensorBoard event files and the console.

`workdir/metrics.jsonl` holds one JSON object per line: {"step", "images",
then slash-named scalars}. It is opened for appending, so resumed runs add to
it; readers keep the last record for a (step, key) pair.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Mapping

import numpy as np


class Writer:
  """Writes scalars and images to JSON lines, TensorBoard and the log."""

  def __init__(self, workdir: str, tensorboard: bool = True):
    os.makedirs(workdir, exist_ok=True)
    self.path = os.path.join(workdir, "metrics.jsonl")
    self._file = open(self.path, "a", encoding="utf-8")
    self._tb = None
    if tensorboard:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))

  def scalars(self, step: int, images: int, values: Mapping[str, float]):
    record = {"step": int(step), "images": int(images)}
    record.update({k: float(v) for k, v in values.items()})
    self._file.write(json.dumps(record) + "\n")
    self._file.flush()
    if self._tb is not None:
      for k, v in values.items():
        self._tb.add_scalar(k, float(v), int(images))

  def image(self, step: int, images: int, name: str, array: np.ndarray):
    """array: (H, W, C) float in [0, 1]."""
    del step
    if self._tb is not None:
      a = np.clip(np.asarray(array), 0, 1)
      if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
      self._tb.add_image(name, (a * 255).round().astype(np.uint8), int(images),
                         dataformats="HWC")

  def close(self):
    self._file.close()
    if self._tb is not None:
      self._tb.close()


class NullWriter:
  """What processes other than process 0 write: nothing."""

  path = None

  def scalars(self, step: int, images: int, values: Mapping[str, float]):
    del step, images, values

  def image(self, step: int, images: int, name: str, array: np.ndarray):
    del step, images, name, array

  def close(self):
    pass


def read_metrics(path: str) -> list[dict]:
  """Records of a metrics.jsonl, the last one winning for a repeated step.

  Records from a step logged again after a resume replace the earlier ones
  key by key, so curves have no duplicated steps.
  """
  by_step: dict[int, dict] = {}
  if not os.path.exists(path):
    return []
  with open(path, encoding="utf-8") as f:
    for line in f:
      line = line.strip()
      if not line:
        continue
      try:
        rec = json.loads(line)
      except json.JSONDecodeError:
        logging.warning("%s: skipping a malformed line.", path)
        continue
      by_step.setdefault(rec["step"], {}).update(rec)
  return [by_step[s] for s in sorted(by_step)]


def series(records: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
  """(images, values) of `key` over the records that have it."""
  pts = [(r["images"], r[key]) for r in records if key in r]
  if not pts:
    return np.zeros(0), np.zeros(0)
  x, y = zip(*pts)
  return np.asarray(x, float), np.asarray(y, float)
