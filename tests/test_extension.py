"""Adding a task, a model or an evaluator is one module plus one registry
line (ddn.registry): each is shown here by registering a toy one and running
it end to end through the shared loop, the type checker and inference."""

import json
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from ddn import config_check
from ddn import configs
from ddn import evaluators
from ddn import inference
from ddn import registry
from ddn import train
from ddn.evaluators import base as ev_base
from ddn.tasks import autoencoder
from ddn.tasks import base


class ToyDenoiser(nn.Module):
  """One 3x3 conv predicting the noise: a denoiser in nine lines."""
  channels: int = 1
  features: int = 4
  dtype: jnp.dtype = jnp.float32

  shape_fields = ("features",)

  @staticmethod
  def default_config():
    return ml_collections.ConfigDict(dict(name="toy", features=4))

  @staticmethod
  def from_config(cfg, channels, dtype="float32"):
    if cfg.features < 1:
      raise ValueError(f"config.model.features={cfg.features}: must be >= 1.")
    return ToyDenoiser(channels, int(cfg.features), jnp.dtype(dtype))

  @nn.compact
  def __call__(self, x, train=False):
    del train
    h = nn.relu(nn.Conv(self.features, (3, 3), dtype=self.dtype)(x))
    return x - nn.Conv(self.channels, (3, 3), dtype=self.dtype)(h)


class MeanAbsError(ev_base.Evaluator):
  """A toy evaluator: the mean absolute error of each method's outputs."""
  name = "mae"

  def run(self, methods, images, outputs):
    return {m: {"mae": float(np.mean([np.abs(o - c).mean() for o, c in
                                      zip(outputs[m], images.clean)]))}
            for m in methods}


class ConstantTask(autoencoder.AutoencoderTask):
  """A toy task: the autoencoder's loop, state and evaluation, with a loss
  that only pulls the output towards a constant gray (its own defaults add
  one field)."""

  @staticmethod
  def default_config():
    c = autoencoder.default_config()
    c.task = "constant"
    c.gray = 0.5
    return c

  def make_step(self, shardings):
    model, tx, gray = self.model, self.setup.tx, float(self.config.gray)

    def step(state, batch, rng):
      del rng
      def loss_fn(p):
        return jnp.mean((model.apply({"params": p}, batch) - gray) ** 2)
      loss, g = jax.value_and_grad(loss_fn)(state.params)
      updates, opt = tx.update(g, state.opt_state, state.params)
      params = jax.tree_util.tree_map(lambda a, b: a + b, state.params,
                                      updates)
      return state.replace(step=state.step + 1, params=params,
                           opt_state=opt), {"ae/loss": loss, "ae/psnr": loss,
                                         "lr": self.setup.lr_fn(state.step)}
    return jax.jit(step)


@pytest.fixture
def toys():
  registry.register("model", "toy", ToyDenoiser)
  registry.register("evaluator", "mae", MeanAbsError)
  registry.register("task", "constant", ConstantTask, denoiser=True)
  yield
  for kind, name in (("model", "toy"), ("evaluator", "mae"),
                     ("task", "constant")):
    registry.unregister(kind, name)


def tiny(task="autoencoder", model=None):
  c = configs.apply_args(configs.defaults(task, model), "smoke")
  c.data.train, c.data.eval = "embedded:train", "embedded:eval"
  c.train.total_images = 32
  c.eval.every_images = 32
  return c


def metrics(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


def test_unknown_names_list_the_registered_ones():
  for kind, field in (("task", "config.task"), ("model", "config.model.name"),
                      ("evaluator", "config.evals")):
    with pytest.raises(ValueError, match=f"{field}='nope': valid {kind}s "
                       f"are {registry.names(kind)[0]}"):
      registry.lookup(kind, "nope")


def test_a_toy_model_trains_and_loads_by_name(toys, tmp_path):
  c = tiny(model="toy")
  assert dict(c.model) == {"name": "toy", "features": 4}
  c.model.features = 3
  config_check.validate(c)
  train.train_and_evaluate(c, str(tmp_path))
  m = [r for r in metrics(str(tmp_path)) if "val/psnr" in r]
  assert m and np.isfinite(m[-1]["val/psnr"]) and "val/ssim" in m[-1]
  d = inference.load(str(tmp_path))
  assert isinstance(d.model, ToyDenoiser) and d.model.features == 3
  noisy = np.random.default_rng(0).random((20, 24, 1), np.float32)
  assert d(noisy).shape == (20, 24, 1)
  # The type checker reads the toy's own fields: a U-Net field is unknown.
  c.model.blocks = 2
  with pytest.raises(ValueError, match=r"config\.model\.blocks: not a field"):
    config_check.validate(c)


def test_a_toy_evaluator_runs_in_training_from_config_evals(toys, tmp_path):
  c = tiny()
  c.evals = ("psnr", "mae")
  train.train_and_evaluate(c, str(tmp_path))
  [last] = [r for r in metrics(str(tmp_path)) if "val/mae" in r][-1:]
  assert 0 < last["val/mae"] < 1 and "val/psnr" in last
  c.evals = ("psnr", "nope")
  with pytest.raises(ValueError, match="valid evaluators are"):
    base.ImageEvaluator(None, c, None, None, None)


def test_the_same_evaluators_score_the_command_line(toys):
  from ddn import data as data_lib  # pylint: disable=import-outside-toplevel
  src = data_lib.load_source("embedded:eval", ml_collections.ConfigDict(dict(
      channels=1, convert_channels=False, tfds_data_dir="")))
  from ddn.evaluators import realism as ev_realism  # pylint: disable=g-import-not-at-top
  images = ev_base.noisy_images(src, ev_realism.gaussian(25), seed=0,
                                count=2)
  # Gaussian noise of one σ is the protocol's, as ddn.evaluate draws it.
  from ddn import protocol  # pylint: disable=import-outside-toplevel
  np.testing.assert_array_equal(
      images.noisy[1], protocol.noisy_version(images.clean[1], 25, 1, 0))
  ident = lambda x: x
  [psnr, mae] = evaluators.build(["psnr", "mae"])
  outs = {"id": [np.clip(x, 0, 1) for x in images.noisy],
          "clean": images.clean}
  r = psnr.run({"id": ident, "clean": ident}, images, outs)
  assert r["clean"]["psnr"] > 90 > 25 > r["id"]["psnr"] > 15
  assert mae.run({"clean": ident}, images, outs)["clean"]["mae"] == 0.0


def test_a_toy_task_trains_through_the_shared_loop(toys, tmp_path):
  c = tiny("constant")
  assert c.gray == 0.5
  c.gray = 0.25
  config_check.validate(c)
  train.train_and_evaluate(c, str(tmp_path))
  out = inference.load(str(tmp_path))(np.full((16, 16, 1), 0.8, np.float32))
  before = abs(0.8 - 0.25)
  assert abs(float(out.mean()) - 0.25) < before  # pulled towards its gray
  c.grey = 0.1  # a typo of its own field is named
  with pytest.raises(ValueError, match=r"did you mean config\.gray"):
    config_check.validate(c)


def test_runs_saved_before_config_evals_read_their_tasks_default():
  """Workdirs and shipped models saved before config.evals existed resume
  without a config difference: they get what their task's evaluation
  measured then (configs.with_added_fields)."""
  for task in ("autoencoder", "adversarial"):
    saved = configs.defaults(task).to_dict()
    del saved["evals"]
    assert configs.with_added_fields(saved)["evals"] == list(
        configs.defaults(task).evals)
  saved = configs.defaults("classifier").to_dict()  # no evaluators
  assert "evals" not in configs.with_added_fields(saved)
