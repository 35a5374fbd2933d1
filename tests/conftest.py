"""Shared fixtures: tiny images written to tmp folders, the smoke config."""

import os

import numpy as np
import pytest
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(ROOT, "..", "shared", "data")


def write_png(path, array):
  Image.fromarray(array).save(path)
  return path


@pytest.fixture
def gray_folder(tmp_path):
  """A folder of 3 random gray 8-bit PNGs (40x48) in a sub-folder."""
  rng = np.random.default_rng(0)
  d = tmp_path / "gray"
  (d / "sub").mkdir(parents=True)
  for i in range(3):
    sub = d / "sub" if i == 2 else d
    write_png(str(sub / f"im{i}.png"),
              rng.integers(0, 256, (40, 48), dtype=np.uint8))
  return str(d)


@pytest.fixture
def smoke_config():
  from ddn import configs
  c = configs.apply_args(configs.autoencoder(), "smoke")
  c.data.train = "embedded:train"
  c.data.eval = "embedded:eval"
  return c
