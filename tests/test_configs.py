"""Every experiment config loads, locks, validates and takes its modifiers
(bad configs: tests/test_bad_config.py)."""

import glob
import importlib.util
import os

import jax
import numpy as np
import pytest

from ddn import configs
from ddn import tasks
from ddn import train

from conftest import ROOT

EXPERIMENTS = sorted(glob.glob(os.path.join(ROOT, "experiments", "*.py")))


def load(path):
  spec = importlib.util.spec_from_file_location(
      os.path.basename(path)[:-3], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_experiments_exist():
  names = {os.path.basename(p) for p in EXPERIMENTS}
  assert {"ae.py", "ae_noskip.py", "ae_l2.py", "ae_l1.py", "ae_halve.py",
          "ae_tenth.py", "classifier.py", "classifier_patch.py"} <= names


@pytest.mark.parametrize("path", EXPERIMENTS, ids=os.path.basename)
@pytest.mark.parametrize("arg", [None, "smoke", "smoke,severe"])
def test_config_loads_locked_and_validates(path, arg):
  module = load(path)
  assert module.__doc__ and "launch.py" in module.__doc__
  c = module.get_config(arg)
  c.lock()
  with pytest.raises(AttributeError):
    c.optim.lrr = 1.0  # a typo cannot create a field
  tasks.build(c, train.Setup(c))  # every field passes validation


def test_sweep_is_lr_values():
  sweep = load(os.path.join(ROOT, "experiments", "ae.py")).get_sweep()
  # The chapter's four rates, after two that show divergence.
  assert [s["optim.lr"] for s in sweep] == [5e-1, 5e-2, 5e-3, 1e-3, 1e-4,
                                            1e-5]


@pytest.mark.parametrize("name", ["adv_s50.py", "adv_s25.py"])
def test_perception_sweep_applies_and_names_its_families(name):
  """Every run of the plane's sweep is a valid config of the experiment, and
  its name is one ddn.figures plane reads as (family, λ) and ddn.evaluate
  --checkpoint can list (no comma)."""
  from ddn import sweep
  from ddn.figures import perception
  module = load(os.path.join(ROOT, "experiments", name))
  seen = set()
  for overrides in module.get_sweep():
    c = sweep.apply_overrides(module.get_config(), overrides)
    tasks.build(c, train.Setup(c))
    run = sweep.run_name(overrides)
    assert "," not in run
    [p] = perception.plane_points([{"method": f"ddn {run}", "data": "d",
                                    "sigma": 50.0, "psnr": 25.0,
                                    "realism_auc": 0.9,
                                    "realism_auc_ci95": [0.8, 1.0]}])
    assert p["param"] == c.adv.weight
    seen.add((p["family"], c.disc.kind, bool(c.adv.freeze_disc)))
  assert seen == {("", "patch", False), ("small", "patch", False),
                  ("big", "image", False), ("frozen", "patch", True)}


def test_modifiers():
  c = configs.apply_args(configs.defaults("autoencoder"), "smoke,severe")
  assert c.data.crop == 32
  assert c.noise.kinds == "gaussian,salt_pepper,blocks"
  assert c.noise.gaussian.sigma == 50.0
  with pytest.raises(ValueError, match="unknown config modifier 'tiny'.*smoke"):
    configs.apply_args(configs.defaults("autoencoder"), "tiny")


@pytest.mark.parametrize("name", ["adv.py"])  # adv_s50.py: the same recipe
def test_adversarial_recipe_starts_g_and_ref_from_the_shipped_model(
    name, tmp_path):
  """The recipe's smoke config: G and G's reference loaded from the shipped
  MSE model (kept at its size). Its run to the end, final evaluation and
  calibration rows included, is the Colab notebook's
  (tests/test_notebook.py) and tests/test_adversarial.py's."""
  from ddn import inference
  c = load(os.path.join(ROOT, "experiments", name)).get_config("smoke")
  c.data.train, c.data.eval = "embedded:train", "embedded:eval"
  shipped = inference.load(c.train.init_from).params
  run = train.Run(c, str(tmp_path))
  run.mngr.close()
  for a, b, g in zip(jax.tree_util.tree_leaves(shipped),
                     jax.tree_util.tree_leaves(run.state.ref),
                     jax.tree_util.tree_leaves(run.state.params)):
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, g)


def test_blocks_sweep_is_the_recipe_on_knocked_out_blocks():
  """experiments/adv_blocks.py: every run a valid config; λ = 0, the small
  patch adversary and the big whole-image one, each on crops with one
  knocked-out block."""
  from ddn import sweep
  module = load(os.path.join(ROOT, "experiments", "adv_blocks.py"))
  kinds = {}
  for overrides in module.get_sweep():
    c = sweep.apply_overrides(module.get_config(), overrides)
    tasks.build(c, train.Setup(c))
    assert c.noise.kinds == "gaussian,blocks" and c.noise.blocks.count == 1
    assert c.noise.blocks.size_max <= c.data.crop
    kinds[sweep.run_name(overrides)] = (c.disc.kind, c.adv.weight)
  assert kinds == {"push0": ("patch", 0.0), "small-push3": ("patch", 3.0),
                   "big-push1": ("image", 1.0)}
