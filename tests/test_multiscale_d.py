"""The multi-scale patch D (config.disc.scales): one stack per scale of the
average-pooled image, losses averaged over the scales, the adversarial steps
and evaluator on its tuple of score maps, and its checks."""

import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ddn import configs
from ddn import discriminators
from ddn import losses
from ddn.tasks import adversarial
from ddn.tasks import classifier as classifier_task

from tests.test_adversarial import (_batch, _changed, _config, _copy,
                                   _parts, _train_held_out_d_errors)


def _disc_config(scales=2, **kw):
  return configs.disc(kind="patch", padding="VALID", features=(8, 8),
                      blocks=1, dense=(), detail=True, scales=scales, **kw)


def test_each_scale_is_the_one_scale_d_on_the_pooled_image():
  """Scale k's scores are a one-scale D, with that scale's own weights, on
  x average-pooled by 2^k; the first scale keeps a one-scale D's names."""
  disc = discriminators.from_config(_disc_config(3), 1, 64)
  one = discriminators.from_config(_disc_config(1), 1, 64)
  x = _batch(n=2, size=64)
  params = disc.init(jax.random.PRNGKey(0), x)["params"]
  u = disc.apply({"params": params}, x)
  assert isinstance(u, tuple) and len(u) == 3
  assert set(one.init(jax.random.PRNGKey(0), x)["params"]) <= set(params)
  for s in range(3):
    prefix = f"s{s}_" if s else ""
    own = {k[len(prefix):]: v for k, v in params.items()
           if k.startswith(prefix) and (s or not re.match(r"s\d+_", k))}
    pooled = nn.avg_pool(x, (2 ** s,) * 2, (2 ** s,) * 2) if s else x
    np.testing.assert_allclose(u[s], one.apply({"params": own}, pooled),
                               rtol=1e-5, atol=1e-6)
  assert u[0].shape[1] > u[1].shape[1] > u[2].shape[1] >= 1
  # The scales' weights are their own: changing scale 1's changes only u[1].
  moved = dict(params, s1_score=jax.tree_util.tree_map(
      lambda a: a + 1.0, params["s1_score"]))
  v = disc.apply({"params": moved}, x)
  np.testing.assert_array_equal(v[0], u[0])
  np.testing.assert_array_equal(v[2], u[2])
  assert not np.allclose(v[1], u[1])
  assert len(discriminators.features_of(disc, {"params": params}, x)) == 6
  assert "3 scales" in disc.describe()


def test_losses_and_metrics_are_the_mean_over_scales():
  """Every loss and metric of a tuple of maps is the mean of its per-scale
  values, not the mean over all patches (the scales' patch counts differ)."""
  rng = np.random.default_rng(0)
  u = (jnp.asarray(rng.normal(size=(4, 6, 6)), jnp.float32),
       jnp.asarray(rng.normal(size=(4, 2, 2)) + 1.0, jnp.float32))
  y = jnp.array([losses.REAL, losses.DENOISED] * 2)
  mean2 = lambda f: 0.5 * (f(u[0]) + f(u[1]))
  for name in losses.DISC_LOSSES:
    np.testing.assert_allclose(losses.disc_loss(name, u, y),
                               mean2(lambda a: losses.disc_loss(name, a, y)),
                               rtol=1e-6)
  for name in ("score", "nonsaturating", "hinge"):
    np.testing.assert_allclose(
        losses.generator_loss(name, u),
        mean2(lambda a: losses.generator_loss(name, a)), rtol=1e-6)
  real = tuple(a - 1.0 for a in u)  # the relativistic loss pairs the scales
  np.testing.assert_allclose(
      losses.generator_loss("relativistic", u, 1.0, real),
      0.5 * sum(losses.generator_loss("relativistic", a, 1.0, r)
                for a, r in zip(u, real)), rtol=1e-6)
  m = losses.classification_metrics(u, y)
  for k, v in m.items():
    np.testing.assert_allclose(
        v, mean2(lambda a: losses.classification_metrics(a, y)[k]), rtol=1e-6)
  flat = jnp.concatenate([a.reshape(4, -1) for a in u], axis=1)
  assert not np.isclose(float(losses.disc_loss("logistic", u, y)),
                        float(losses.disc_loss("logistic", flat, y)))
  np.testing.assert_allclose(losses.image_scores(u),
                             0.5 * (u[0].mean((1, 2)) + u[1].mean((1, 2))),
                             rtol=1e-6)
  np.testing.assert_allclose(losses.mean_score(u), mean2(jnp.mean), rtol=1e-6)


def _multiscale_parts():
  c = _config()
  c.disc.update(dict(_disc_config(2)))
  c.data.crop = 32
  return _parts(c)


def test_adversarial_steps_train_every_scale():
  """D's step moves both scales' weights (R1 included); G's step reads the
  tuple of scores and moves G."""
  state, d_kw, g_kw, *_ = _multiscale_parts()
  x = _batch(n=4, size=32)
  step_d = jax.jit(lambda s, b, r: adversarial.d_train_step(s, b, r, r1=1.0,
                                                            **d_kw))
  after, m = step_d(_copy(state), x, jax.random.PRNGKey(1))
  for name in ("conv0_0", "s1_conv0_0"):
    assert not np.allclose(state.d_params[name]["kernel"],
                           after.d_params[name]["kernel"]), name
  assert np.isfinite(m["d/loss"]) and float(m["d/r1"]) > 0
  g_after, gm = jax.jit(lambda s, b, r: adversarial.g_train_step(
      s, b, r, **g_kw))(_copy(state), x, jax.random.PRNGKey(2))
  assert _changed(state, g_after, "params")
  assert np.isfinite(gm["g/adv"]) and np.isfinite(gm["g/u_fake"])


@pytest.mark.parametrize("overrides", [
    dict(scales=0),
    dict(kind="image", padding="SAME", dense=(8,)),  # scales 2, no patches
])
def test_impossible_scales_are_one_error(overrides):
  cfg = configs.disc(**{**dict(_disc_config(2)), **overrides})
  with pytest.raises(ValueError, match=r"config\.disc\.scales"):
    discriminators.from_config(cfg, 1, 64)


def test_a_crop_too_small_for_the_coarsest_scale_names_the_crop_it_needs():
  cfg = configs.disc(kind="patch", padding="VALID", features=(32, 64, 64),
                     blocks=2, dense=(), detail=True, scales=2)
  discriminators.from_config(cfg, 1, 96)  # the screen's setting fits
  with pytest.raises(ValueError, match=r"crop=48 .*>= 66"):
    discriminators.from_config(cfg, 1, 48)


def test_the_classifier_task_refuses_scales():
  c = configs.apply_args(configs.defaults("classifier"), "smoke")
  c.disc.scales = 2
  with pytest.raises(ValueError, match="config.disc.scales=2"):
    classifier_task.ClassifierTask(c, None)


def test_an_old_config_reads_one_scale():
  saved = {"disc": {"kind": "patch"}}
  assert configs.with_added_fields(saved)["disc"]["scales"] == 1


@pytest.mark.slow
def test_a_run_with_a_multiscale_d_trains_and_validates(tmp_path):
  """launch's path end to end: the held-out D error (the evaluator scores
  clean crops and G's outputs, a tuple per batch) is finite, and both
  scales' weights are in the checkpointed state."""
  c = _config(n_d=1)
  c.disc.update(dict(_disc_config(2)))
  c.data.crop = 32
  state, errs = _train_held_out_d_errors(c, tmp_path)
  assert {"conv0_0", "s1_conv0_0", "s1_score"} <= set(state.d_params)
  assert errs and all(0.0 <= e <= 1.0 for e in errs)
