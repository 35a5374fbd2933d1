"""Metric writers: a JSON-lines file, TensorBoard event files and the console.

`workdir/metrics.jsonl` holds one JSON object per line: {"step", "images",
then slash-named scalars}. It is only ever appended to. Each training session
first appends a marker {"step": S, "images": ..., "event": "start"}: a run
resumed from step S recomputes the steps after S (a killed run may have
logged some of them before its last checkpoint), so `read_metrics` drops the
records after S that come before the marker, and every step appears once.
TensorBoard gets the same rule through `purge_step`.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Mapping

import numpy as np


START = "start"  # the "event" of a session's first record


class Writer:
  """Writes scalars and images to JSON lines, TensorBoard and the log.

  Args:
    start: (step, images) where this session starts: appends the start
      marker and makes TensorBoard purge later events.
  """

  def __init__(self, workdir: str, tensorboard: bool = True,
               start: tuple[int, int] = (0, 0)):
    os.makedirs(workdir, exist_ok=True)
    self.path = os.path.join(workdir, "metrics.jsonl")
    torn = False
    if os.path.exists(self.path) and os.path.getsize(self.path):
      with open(self.path, "rb") as f:  # a kill mid-line leaves no newline
        f.seek(-1, os.SEEK_END)
        torn = f.read(1) != b"\n"
    self._file = open(self.path, "a", encoding="utf-8")
    step, images = (int(v) for v in start)
    self._file.write(("\n" if torn else "") + json.dumps(
        {"step": step, "images": images, "event": START}) + "\n")
    self._file.flush()
    self._tb = None
    if tensorboard:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"),
                               purge_step=images if images else None)

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


_WARNED: set[str] = set()  # metrics files whose malformed lines were reported


def read_metrics(path: str) -> list[dict]:
  """The records of a metrics.jsonl by step, each step once.

  A session's start marker at step S drops the records after S written
  before it (their steps are logged again by the resumed run); records of
  one step merge key by key, the last value winning.
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
      except json.JSONDecodeError:  # e.g. the torn last line of a kill
        if path not in _WARNED:
          _WARNED.add(path)
          logging.warning("%s: skipping a malformed line.", path)
        continue
      if rec.get("event") == START:
        by_step = {s: r for s, r in by_step.items() if s <= rec["step"]}
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
