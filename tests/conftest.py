"""Shared fixtures: tiny images written to tmp folders, the smoke config."""

import atexit
import os
import shutil
import tempfile

import numpy as np
import pytest
from PIL import Image

# The suite compiles hundreds of small XLA programs and runs them on tiny
# inputs, so it is bound by compile time. Two XLA:CPU settings halve it twice:
# the backend's (LLVM) optimisations off (tests/scale_worker.py steps, cold
# cache: 40 s against 75 s) and the older elemental emitter for fusions
# instead of the MLIR fusion emitters (the same, 21 s of CPU against 40 s;
# the whole suite 4 min 52 s against 6 min 20 s, AMD EPYC, 2 cores). The
# programs compute the same operations; every test compares within
# tolerances. Set before JAX starts; subprocesses inherit it. Benchmarks and
# launch.py keep XLA's defaults: the fusion emitters' code trains faster
# (benchmarks/train_throughput.py: the AE step 63.5 img/s against 52.5).
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_backend_optimization_level=0"
                           " --xla_cpu_use_fusion_emitters=false").strip()

# Compiled programs are kept in a compilation cache of this run's own (made
# by the first process, inherited by xdist's workers and every subprocess),
# so a program compiled once is loaded, not recompiled, by the next test or
# the resumed run that needs it (the reliability tests run one config many
# times). It starts empty on every run: the suite never reads the user's
# ~/.cache/ddn/jax, so its time on a fresh machine is its time here.
if "DDN_TEST_CACHE_DIR" not in os.environ:
  os.environ["DDN_TEST_CACHE_DIR"] = tempfile.mkdtemp(prefix="ddn-test-xla-")
  atexit.register(shutil.rmtree, os.environ["DDN_TEST_CACHE_DIR"],
                  ignore_errors=True)
os.environ["DDN_CACHE_DIR"] = os.environ["DDN_TEST_CACHE_DIR"]
os.environ["JAX_COMPILATION_CACHE_DIR"] = os.environ["DDN_TEST_CACHE_DIR"]
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"

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


# The order in which pytest-xdist hands out whole files (pyproject.toml:
# --dist loadfile --no-loadscope-reorder): the long files first, so that the
# last file a worker takes is a short one and neither worker idles at the
# end (xdist's default, by test count, gave the two workers 9.3 and 6.9 min
# of tests; longest first 8.6 and 8.5). Seconds: each file's tests summed
# (--durations=0), AMD EPYC, 2 cores; files not listed follow, in pytest's
# order.
LONGEST_FIRST = (
    "test_reliability.py",  # 113 s: many tests, none over 30 s
    "test_adversarial.py",  # 110 s
    "test_scale.py",  # 79 s: 1, 4 and 8 devices
    "test_classifier.py",  # 64 s
    "test_reliability_adv.py",  # 63 s: a fault-injected adversarial run
    "test_models.py",  # 52 s
    "test_sampling.py",  # 40 s
    "test_notebook.py",  # 39 s: the Colab notebook
    "test_attention.py",  # 36 s
    "test_bad_config.py",
    "test_multiprocess.py",
    "test_daily_use.py",
    "test_train.py",
    "test_noise_map.py",
    "test_evaluation.py",
    "test_fuzz.py",
    "test_realism.py",
    "test_performance.py",
)


def pytest_collection_modifyitems(config, items):
  del config
  rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
  items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable

