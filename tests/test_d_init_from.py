"""config.adv.d_init_from: D starts from an adversarial run's D or from the D
a shipped adversarial model ships (ddn.inference.export writes it), with a
fresh optimizer; bad sources are refused before anything is written; a
resumed run keeps its own D."""

import json
import os

import jax
import numpy as np
import pytest
from PIL import Image

from ddn import checkpoint
from ddn import configs
from ddn import inference
from ddn import tasks
from ddn import train


def _config(tmp_path, **adv):
  c = configs.apply_args(configs.defaults("adversarial"), "smoke")
  c.train.total_images = 48
  c.train.checkpoint_every_images = 16
  c.eval.final = False
  held_out = tmp_path / "held_out"
  if not held_out.exists():
    held_out.mkdir()
    rng = np.random.default_rng(3)
    for i in range(2):
      Image.fromarray(rng.integers(0, 256, (48, 48), np.uint8)).save(
          str(held_out / f"{i}.png"))
  c.data.train, c.data.eval = "embedded:train", f"folder:{held_out}"
  c.adv.update(adv)
  return c


@pytest.fixture(scope="module")
def adv_run(tmp_path_factory):
  """A smoke adversarial run: the D the others start from."""
  tmp = tmp_path_factory.mktemp("d_src")
  workdir = str(tmp / "run")
  train.train_and_evaluate(_config(tmp), workdir)
  return tmp, workdir


def _started(c):
  """The state a fresh run of `c` starts from (task.start), as numpy."""
  setup = train.Setup(c)
  task = tasks.build(c, setup)
  state, how = task.start(train.fresh_state(setup, task,
                                            jax.random.PRNGKey(c.seed)))
  return jax.tree_util.tree_map(np.asarray, jax.device_get(state)), how


def _assert_same(a, b):
  la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
  assert len(la) == len(lb)
  for x, y in zip(la, lb):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_d_starts_from_the_runs_d_with_a_fresh_optimizer(adv_run):
  tmp, src = adv_run
  saved, stats, step = checkpoint.load_disc(src)
  assert jax.tree_util.tree_leaves(stats)  # the smoke D has spectral norm
  fresh, _ = _started(_config(tmp))
  started, how = _started(_config(tmp, d_init_from=src))
  _assert_same(started.d_params, saved)
  _assert_same(started.d_stats, stats)  # its power iterations' state too
  assert f"D initialised from {src} step {step}" in how
  # Only D moved: G is the fresh init, D's optimizer has taken no step.
  _assert_same(started.params, fresh.params)
  _assert_same(started.d_opt_state, fresh.d_opt_state)
  assert any(not np.array_equal(x, y) for x, y in zip(
      jax.tree_util.tree_leaves(saved),
      jax.tree_util.tree_leaves(fresh.d_params)))


def test_export_ships_the_d_and_its_name_starts_a_d(adv_run, monkeypatch):
  tmp, src = adv_run
  root = tmp / "shipped"
  folder = inference.export(src, "tiny-adv", {"note": "test"},
                            out_root=str(root))
  meta = json.load(open(os.path.join(folder, inference.MODEL_FILE)))
  assert meta["disc"]["features"] == [8, 16]
  monkeypatch.setattr(inference, "SHIPPED_DIR", str(root))
  params, stats, disc = inference.shipped_disc("tiny-adv")
  saved, saved_stats, _ = checkpoint.load_disc(src)
  _assert_same(params, saved)
  _assert_same(stats, saved_stats)
  assert disc["features"] == [8, 16]
  started, _ = _started(_config(tmp, d_init_from="tiny-adv"))
  _assert_same(started.d_params, params)
  _assert_same(started.d_stats, stats)
  # Re-exported as a model without D, the folder keeps no stale D.
  monkeypatch.undo()
  inference.export_interpolation("gray-s25", "gray-s25-adv", 0.5,
                                 "tiny-adv", {}, out_root=str(root))
  assert not os.path.exists(os.path.join(folder, inference.DISC_FILE))


@pytest.mark.parametrize("case, match", [
    ("missing", r"d_init_from='.*nowhere' has no checkpoint: give an "
                "adversarial run's workdir"),
    ("autoencoder", r"has no discriminator \(not an adversarial run\)"),
    ("other_design", r"that D has config.disc.features=\(8, 16\) "
                     r"\(here \(8, 32\)\)"),
    ("same_shapes", r"that D has config.disc.activation='leaky_relu' "
                    r"\(here 'relu'\)"),
    ("shipped_without_d", r"shipped model 'gray-s25' ships no "
                          "discriminator"),
])
def test_a_bad_source_is_refused_before_anything_is_written(
    adv_run, tmp_path, case, match):
  tmp, src = adv_run
  if case == "autoencoder":
    ae = configs.apply_args(configs.defaults("autoencoder"), "smoke")
    ae.train.total_images = 8
    ae.data.train, ae.data.eval = "embedded:train", "embedded:eval"
    src = str(tmp_path / "ae")
    train.train_and_evaluate(ae, src)
  c = _config(tmp, d_init_from={"missing": str(tmp_path / "nowhere"),
                                "shipped_without_d": "gray-s25"}.get(case,
                                                                    src))
  if case == "other_design":
    c.disc.features = (8, 32)
  if case == "same_shapes":  # another function with the same parameters
    c.disc.activation = "relu"
  workdir = tmp_path / "run"
  with pytest.raises(ValueError, match=match):
    train.train_and_evaluate(c, str(workdir))
  assert not workdir.exists()


@pytest.mark.slow
def test_a_resumed_run_keeps_its_own_d(adv_run, tmp_path):
  """Stopped half way and resumed: the uninterrupted run's D and G, bit
  for bit (the start's D is read once, not again on resume)."""
  tmp, src = adv_run
  c = _config(tmp, d_init_from=src)
  c.train.total_images = 64
  c.optim.schedule = "constant"  # the same learning rates when stopped early
  full = train.train_and_evaluate(c, str(tmp_path / "full"))
  half = c.copy_and_resolve_references()
  half.train.total_images = 48
  train.train_and_evaluate(half, str(tmp_path / "split"))
  resumed = train.train_and_evaluate(c.copy_and_resolve_references(),
                                     str(tmp_path / "split"))
  for name in ("params", "d_params", "d_opt_state"):
    _assert_same(getattr(full, name), getattr(resumed, name))
  assert any(not np.array_equal(x, y) for x, y in zip(
      jax.tree_util.tree_leaves(full.d_params),
      jax.tree_util.tree_leaves(checkpoint.load_disc(src)[0])))
