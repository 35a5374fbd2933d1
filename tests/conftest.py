"""Shared fixtures: tiny images written to tmp folders, the smoke config."""

import os

import numpy as np
import pytest
from PIL import Image

# The suite compiles hundreds of small XLA programs and runs them on tiny
# inputs: with XLA's backend (LLVM) optimisations off they compile about twice
# as fast (tests/scale_worker.py steps, cold cache: 40 s against 75 s). The
# programs compute the same operations; every test compares within
# tolerances. Set before JAX starts; subprocesses inherit it. Benchmarks and
# launch.py keep XLA's defaults.
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_backend_optimization_level=0").strip()

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
  c = configs.apply_args(configs.defaults("autoencoder"), "smoke")
  c.data.train = "embedded:train"
  c.data.eval = "embedded:eval"
  return c
