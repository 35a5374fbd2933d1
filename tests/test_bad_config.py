"""Bad configs and setups of every task: one clear ValueError naming the
field, before any compute and before anything is written.

"Before any compute": jax.jit fails the test if it is called (the fresh
state, the steps and the evaluators are all jitted), and the workdir gets
no checkpoints and no metrics. Also launch.py: the same errors as one
`ddn:` line, no traceback.
"""

import os
import subprocess
import sys

import jax
import ml_collections
import numpy as np
import pytest

from ddn import config_check
from ddn import configs
from ddn import registry
from ddn import train

from conftest import ROOT
from conftest import write_png

TASKS = tuple(registry.TASKS)
DELETE = object()  # a change that removes the field


@pytest.fixture(scope="module")
def ae_dir(tmp_path_factory):
  """A 1-channel smoke autoencoder (features (8, 16)), 2 steps of 4."""
  workdir = str(tmp_path_factory.mktemp("ae"))
  c = configs.apply_args(configs.defaults("autoencoder"), "smoke")
  c.train.total_images = 8
  train.train_and_evaluate(c, workdir)
  return workdir


@pytest.fixture
def small_folder(tmp_path):
  """Two gray 24x24 PNGs: smaller than the smoke crop (32)."""
  d = tmp_path / "small"
  d.mkdir()
  rng = np.random.default_rng(0)
  for i in range(2):
    write_png(str(d / f"im{i}.png"),
              rng.integers(0, 256, (24, 24), dtype=np.uint8))
  return str(d)


def smoke(task: str, ae_dir: str):
  c = configs.apply_args(configs.defaults(task), "smoke")
  if task == "classifier":
    c.train.init_from = ae_dir  # the denoiser it needs
  return c


def change(c, path: str, value) -> None:
  node = c
  *parents, leaf = path.split(".")
  for p in parents:
    node = node[p]
  if value is DELETE:
    del node[leaf]
  else:
    node[leaf] = value


def snapshot(path: str) -> dict:
  """Every file under `path` with its size and modification time."""
  out = {}
  for root, _, files in os.walk(path):
    for f in files:
      st = os.stat(os.path.join(root, f))
      out[os.path.join(root, f)] = (st.st_size, st.st_mtime_ns)
  return out


def no_jit(*args, **kwargs):
  raise AssertionError("jax.jit was called before the config error")


def fails_before_compute(c, workdir, match, monkeypatch):
  """train_and_evaluate raises one ValueError matching `match` without
  compiling anything; returns its message."""
  monkeypatch.setattr(jax, "jit", no_jit)
  with pytest.raises(ValueError, match=match) as e:
    train.train_and_evaluate(c, str(workdir))
  for made in ("checkpoints", "metrics.jsonl", "config.json"):
    assert not os.path.exists(os.path.join(workdir, made)), made
  return str(e.value)


def every_task(path, value, match):
  """One case per task; `match` may use {task}."""
  return [pytest.param(t, {path: value}, match.format(task=t),
                       id=f"{t}-{path}={value!r}") for t in TASKS]


CASES = [
    *every_task("optim.lrr", 0.1, r"^config\.optim\.lrr: not a field of the "
                r"{task} config; did you mean config\.optim\.lr\?"),
    *every_task("data.crop", True, r"^config\.data\.crop=True \(bool\): "
                r"expected an int, e.g\. config\.data\.crop=48\."),
    *every_task("noise.gaussian.blind", None,
                r"^config\.noise\.gaussian\.blind=None \(NoneType\): "
                r"expected a bool"),
    *every_task("noise.gaussian.sigma", -5.0,
                r"config\.noise\.gaussian\.sigma=-5\.0: σ must be >= 0"),
    *every_task("optim.lr", 0.0,
                r"config\.optim\.lr=0\.0: the learning rate must be > 0"),
    *every_task("data.batch_size", 0, r"config\.data\.batch_size=0: must be"),
    *every_task("task", "gan", r"config\.task='gan': valid tasks are "
                "autoencoder, classifier, adversarial"),
    pytest.param("autoencoder", {"loss.l1_weight": DELETE},
                 r"config\.loss\.l1_weight is missing \(e\.g\. 0\.1\)",
                 id="missing-field"),
    pytest.param("autoencoder", {"lr": 1e-3},
                 r"^config\.lr: not a field .*did you mean config\.optim\.lr\?",
                 id="field-in-the-wrong-group"),
    pytest.param("autoencoder", {"noise.gaussian.sigma": float("nan")},
                 r"config\.noise\.gaussian\.sigma=nan: must be finite",
                 id="sigma-nan"),
    pytest.param("autoencoder", {"data.crop": 0}, "config.data.crop=0: the "
                 "crop must be > 0", id="crop-0"),
    pytest.param("autoencoder", {"data.train": "s3://bucket"},
                 "unknown data source 's3://bucket'", id="data-source"),
    pytest.param("autoencoder", {"model.output": "tanh"},
                 r"config\.model\.output='tanh': valid values",
                 id="model-output"),
    pytest.param("autoencoder", {"train.total_images": 0},
                 r"config\.train\.total_images=0: must be > 0",
                 id="total-images-0"),
    pytest.param("autoencoder", {"data.bad_files": "ignore"},
                 r"config\.data\.bad_files='ignore': valid values",
                 id="bad-files"),
    pytest.param("autoencoder", {"train.skip_nonfinite": -1},
                 r"config\.train\.skip_nonfinite=-1: must be >= 0",
                 id="skip-nonfinite<0"),
    pytest.param("autoencoder", {"train.max_to_keep": 0},
                 r"config\.train\.max_to_keep=0: must be > 0",
                 id="max-to-keep-0"),
    pytest.param("classifier", {"model": {"features": (8, 32)}},
                 r"^config\.model: not a field of the classifier config \(the "
                 r"classifier's denoiser is the network of config\.train\."
                 "init_from", id="classifier-model"),
    pytest.param("adversarial", {"adv.weight": -1.0},
                 r"config\.adv\.weight=-1\.0: must be >= 0", id="lambda<0"),
    pytest.param("adversarial", {"adv.max_weight": -0.1},
                 r"config\.adv\.max_weight=-0\.1: must be >= 0",
                 id="max-lambda<0"),
    pytest.param("autoencoder", {"model.unshuffle": 3},
                 r"config\.model\.unshuffle=3: valid values are 1 \(off\)",
                 id="unshuffle=3"),
    pytest.param("adversarial", {"adv.n_d": 0}, r"config\.adv\.n_d=0: must "
                 "be >= 1", id="n_d=0"),
    pytest.param("adversarial", {"disc_optim.lr": -1e-3},
                 r"config\.disc_optim\.lr=-0\.001: the learning rate must be "
                 "> 0", id="disc-lr<0"),
    pytest.param("adversarial", {"eval.realism.lr": 0.0},
                 r"config\.eval\.realism\.lr=0\.0: the learning rate must be "
                 "> 0", id="realism-lr-0"),
    pytest.param("adversarial", {"eval.realism.judges": ("image", "vit")},
                 r"config\.eval\.realism\.judges=\('image', 'vit'\): valid "
                 "judges are image, patch", id="realism-judges"),
    pytest.param("adversarial", {"eval.realism.test_crop": 4096},
                 r"validation image .* is smaller than the realism judges' "
                 r"tiles config\.eval\.realism\.test_crop=4096",
                 id="realism-tiles"),
]


@pytest.mark.parametrize("task,changes,match", CASES)
def test_bad_config_is_one_error_before_any_compute(
    task, changes, match, ae_dir, tmp_path, monkeypatch):
  c = smoke(task, ae_dir)
  for path, value in changes.items():
    change(c, path, value)
  workdir = tmp_path / "w"
  fails_before_compute(c, workdir, match, monkeypatch)
  assert not workdir.exists()


@pytest.mark.parametrize("task,field,value,match", [
    ("autoencoder", "data.channels", 3, r"config\.data\.channels=1 \(here 3\)"),
    ("adversarial", "data.channels", 3, r"config\.data\.channels=1 \(here 3\)"),
    ("adversarial", "model.features", (8, 32),
     r"config\.model\.features=\(8, 16\) \(here \(8, 32\)\)"),
    ("autoencoder", "model.res_blocks", (0, 1),
     r"config\.model\.res_blocks=\(\) \(here \(0, 1\)\)"),
    ("classifier", "data.channels", 3,
     "trained on 1-channel images but config.data.channels=3"),
])
def test_mismatched_init_from_changes_nothing(
    task, field, value, match, ae_dir, tmp_path, monkeypatch):
  """(The autoencoder with other model.features: tests/test_train.py.)"""
  c = smoke(task, ae_dir)
  c.train.init_from = ae_dir
  change(c, field, value)
  before = snapshot(ae_dir)
  workdir = tmp_path / "w"
  message = fails_before_compute(c, workdir, match, monkeypatch)
  assert "init_from" in message or "denoiser" in message
  assert not workdir.exists()
  assert snapshot(ae_dir) == before  # the trained run is untouched


@pytest.mark.parametrize("task,field,match", [
    *[(t, "train", r"every image of folder:.* is smaller than the crop 32x32 "
       r".*lower config\.data\.crop to <= 24") for t in TASKS],
    *[(t, "eval", r"validation image .* is 24x24, smaller than the crop 32; "
       r"lower config\.data\.crop to <= 24")
      for t in ("classifier", "adversarial")]])
def test_crop_larger_than_the_images(task, field, match, ae_dir, small_folder,
                                     tmp_path, monkeypatch):
  """Training images (every task) or validation crops (the tasks that cut
  them) smaller than the crop."""
  c = smoke(task, ae_dir)
  c.data[field] = f"folder:{small_folder}"
  workdir = tmp_path / "w"
  fails_before_compute(c, workdir, match, monkeypatch)
  assert not workdir.exists()  # the images are checked before the workdir


def test_validate_a_config_made_from_a_dict():
  """As a notebook may build one, e.g. from a saved config.json: lists for
  tuples pass, and every problem is named up to three."""
  d = configs.apply_args(configs.defaults("autoencoder"), "smoke").to_dict()
  d["model"]["features"] = [8, 16]  # a list where the default is a tuple
  d["eval"]["sigma"] = None  # read as "the train σ"
  del d["task"]  # tasks.build: the autoencoder
  config_check.validate(ml_collections.ConfigDict(d))
  d["optim"]["lrr"] = 0.1
  d["data"]["crop"] = None
  d["log"]["every_images"] = 1.5
  d["seed"] = "0"
  with pytest.raises(ValueError) as e:
    config_check.validate(ml_collections.ConfigDict(d))
  message = str(e.value)
  assert message.startswith("config.")
  for field in ("data.crop", "log.every_images", "optim.lrr"):
    assert f"config.{field}" in message
  assert "(and 1 more)" in message


# ----------------------------------------------------------------------------
# launch.py: the same errors, one line each.


def run_launch(*args, env=None):
  return subprocess.run(
      [sys.executable, os.path.join(ROOT, "launch.py"), *args],
      capture_output=True, text=True, cwd=ROOT, timeout=120,
      env=dict(os.environ, **(env or {})))


@pytest.mark.slow
@pytest.mark.parametrize("override,named", [
    ("--config.optim.lrr=0.1", "lrr"),
    ("--config.data.crop=big", "crop"),
    ("--config.noise.gaussian.sigma=-1", "config.noise.gaussian.sigma=-1.0: "
     "σ must be >= 0"),
    ("--config.model.res_blocks=(0,0,0,0)", "config.model.res_blocks=(0, 0, "
     "0, 0): give one count >= 0 per level (at most 2"),
])
def test_launch_bad_config_is_one_message(tmp_path, override, named):
  r = run_launch("--config=experiments/ae.py:smoke",
                 f"--workdir={tmp_path}/w", override)
  assert r.returncode != 0
  assert named in r.stderr
  assert "Traceback" not in r.stderr
  assert not os.path.exists(tmp_path / "w")


@pytest.mark.slow
@pytest.mark.parametrize("variable", ["DDN_NUM_PROCESSES", "DDN_PROCESS_ID"])
def test_launch_bad_environment_is_one_message(tmp_path, variable):
  r = run_launch("--config=experiments/ae.py:smoke",
                 f"--workdir={tmp_path}/w", env={variable: "two"})
  assert r.returncode != 0
  assert f"ddn: {variable}='two': must be an integer" in r.stderr
  assert "Traceback" not in r.stderr
  assert not os.path.exists(tmp_path / "w")
