"""Losses against numpy; schedules and optimizers."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ddn import configs
from ddn import losses
from ddn import optim


def test_losses_match_numpy():
  rng = np.random.default_rng(0)
  p = rng.random((2, 5, 7, 3)).astype(np.float32)
  t = rng.random((2, 5, 7, 3)).astype(np.float32)
  np.testing.assert_allclose(losses.ssd(p, t), np.mean((p - t) ** 2), 1e-6)
  np.testing.assert_allclose(losses.l1(p, t), np.mean(np.abs(p - t)), 1e-6)
  total, parts = losses.reconstruction(p, t, 1.0, 0.1)
  np.testing.assert_allclose(
      total, np.mean((p - t) ** 2) + 0.1 * np.mean(np.abs(p - t)), 1e-6)
  assert set(parts) == {"ssd", "l1"}
  mse = np.mean((np.clip(p, 0, 1) - t) ** 2)
  np.testing.assert_allclose(losses.psnr(p, t), -10 * np.log10(mse), 1e-4)


def test_sigma_weighted_loss_is_the_weighted_mean_of_each_images_loss():
  rng = np.random.default_rng(1)
  p = rng.random((4, 6, 6, 1)).astype(np.float32)
  t = rng.random((4, 6, 6, 1)).astype(np.float32)
  sigma = np.array([0.0, 10.0, 25.0, 50.0], np.float32)
  w = np.asarray(losses.sigma_weights(sigma, 1.0, 5.0))
  expect = np.array([1 / 5, 1 / 10, 1 / 25, 1 / 50])
  np.testing.assert_allclose(w, expect / expect.mean(), rtol=1e-6)
  np.testing.assert_allclose(losses.sigma_weights(sigma, 0.0, 5.0), 1.0)
  total, parts = losses.reconstruction(p, t, 1.0, 0.1, jnp.asarray(w))
  per_image = (np.mean((p - t) ** 2, (1, 2, 3))
               + 0.1 * np.mean(np.abs(p - t), (1, 2, 3)))
  np.testing.assert_allclose(total, np.mean(w * per_image), rtol=1e-5)
  np.testing.assert_allclose(parts["ssd"], np.mean((p - t) ** 2), rtol=1e-6)
  ones = losses.reconstruction(p, t, 1.0, 0.1, jnp.ones(4))[0]
  np.testing.assert_allclose(ones, losses.reconstruction(p, t, 1.0, 0.1)[0],
                             rtol=1e-6)


def test_lr_mult_scales_only_the_named_modules():
  """lr_mult: parameters under a module whose name starts with one of
  lr_mult_prefixes step lr_mult times further (Adam's first step is lr per
  unit gradient sign); the rest, and every parameter with lr_mult = 1, at
  lr. The same state shape as without it when it is off."""
  c = cfg(lr=0.01, schedule="constant", warmup_images=0, lr_mult=10.0,
          lr_mult_prefixes=("encatt", "decatt"))
  params = {"encatt1": {"out": {"kernel": jnp.ones(3)}},
            "enc0_0": {"kernel": jnp.ones(3)},
            "dec1": {"decatt_like": jnp.ones(2)},  # inner name: matched too
            "att": {"kernel": jnp.ones(2)}}  # not a prefix match
  assert optim.module_labels(params, ("encatt", "decatt")) == {
      "encatt1": {"out": {"kernel": "mult"}}, "enc0_0": {"kernel": "base"},
      "dec1": {"decatt_like": "mult"}, "att": {"kernel": "base"}}
  grads = jax.tree_util.tree_map(jnp.ones_like, params)
  tx = optim.optimizer(c, optim.schedule(c, 1, 100))
  up, _ = tx.update(grads, tx.init(params), params)
  np.testing.assert_allclose(up["encatt1"]["out"]["kernel"], -0.1, rtol=1e-4)
  np.testing.assert_allclose(up["dec1"]["decatt_like"], -0.1, rtol=1e-4)
  np.testing.assert_allclose(up["enc0_0"]["kernel"], -0.01, rtol=1e-4)
  np.testing.assert_allclose(up["att"]["kernel"], -0.01, rtol=1e-4)
  off = cfg(lr=0.01, schedule="constant", warmup_images=0)
  tx0 = optim.optimizer(off, optim.schedule(off, 1, 100))
  same = optim.optimizer(cfg(lr=0.01, schedule="constant", warmup_images=0,
                             lr_mult=1.0, lr_mult_prefixes=("encatt",)),
                         optim.schedule(off, 1, 100))
  assert (jax.tree_util.tree_structure(tx0.init(params))
          == jax.tree_util.tree_structure(same.init(params)))
  typo = optim.optimizer(cfg(lr=0.01, lr_mult=10.0,
                             lr_mult_prefixes=("encatn",)),
                         optim.schedule(off, 1, 100))
  with pytest.raises(ValueError, match=r"lr_mult_prefixes=\('encatn',\): "
                     "no module's name starts with these.*encatt1"):
    typo.init(params)


@pytest.mark.parametrize("over,match", [
    ({"sigma_power": -1.0}, r"config\.loss\.sigma_power=-1\.0"),
    ({"sigma_floor": 0.0}, r"config\.loss\.sigma_floor=0\.0"),
])
def test_bad_sigma_weighting(over, match):
  c = configs.defaults("autoencoder").loss
  c.update(over)
  with pytest.raises(ValueError, match=match):
    losses.validate(c)


def test_default_loss_is_chapter_ratio():
  c = configs.defaults("autoencoder")
  assert c.loss.l1_weight / c.loss.ssd_weight == pytest.approx(0.1)


def cfg(**over):
  c = configs.defaults("autoencoder").optim
  c.update(over)
  return c


def test_step_schedule_halves_every_n_images():
  fn = optim.schedule(cfg(schedule="step", decay_factor=0.5,
                          decay_every_images=640, warmup_images=0), 32, 10_000)
  # 640 images = 20 steps of 32.
  assert float(fn(19)) == pytest.approx(1e-3)
  assert float(fn(20)) == pytest.approx(5e-4)
  assert float(fn(40)) == pytest.approx(2.5e-4)


def test_tenth_schedule_and_warmup():
  fn = optim.schedule(cfg(schedule="step", decay_factor=0.1,
                          decay_every_images=3200, warmup_images=320), 32, 9e3)
  assert float(fn(0)) == 0.0
  assert float(fn(5)) == pytest.approx(5e-4)
  assert float(fn(10)) == pytest.approx(1e-3)
  # Decays count images from the start, warm-up included: 3200 = 100 steps.
  assert float(fn(99)) == pytest.approx(1e-3)
  assert float(fn(100)) == pytest.approx(1e-4)
  assert float(fn(200)) == pytest.approx(1e-5)


def test_cosine_ends_at_final_fraction():
  fn = optim.schedule(cfg(schedule="cosine", warmup_images=0,
                          final_fraction=0.01), 10, 1000)
  assert float(fn(0)) == pytest.approx(1e-3)
  assert float(fn(100)) == pytest.approx(1e-5)


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_optimizers_decrease_a_quadratic(name):
  c = cfg(name=name, lr=0.1, schedule="constant", warmup_images=0,
          weight_decay=0.01 if name == "adamw" else 0.0)
  tx = optim.optimizer(c, optim.schedule(c, 1, 100))
  params = {"w": jnp.array([3.0, -2.0])}
  state = tx.init(params)
  for _ in range(50):
    grads = {"w": 2 * params["w"]}
    updates, state = tx.update(grads, state, params)
    params = optax.apply_updates(params, updates)
  assert float(jnp.sum(params["w"] ** 2)) < 1.0


def test_weight_decay_is_decoupled():
  # With zero gradient, AdamW still shrinks weights by lr * wd per step.
  c = cfg(name="adamw", lr=0.1, schedule="constant", warmup_images=0,
          weight_decay=0.5)
  tx = optim.optimizer(c, optim.schedule(c, 1, 100))
  params = {"w": jnp.array([2.0])}
  updates, _ = tx.update({"w": jnp.zeros(1)}, tx.init(params), params)
  np.testing.assert_allclose(updates["w"], [-0.1 * 0.5 * 2.0], rtol=1e-5)


@pytest.mark.parametrize("over,match", [
    ({"lr": 0.0}, "lr=0.0.*> 0"),
    ({"lr": -1.0}, "lr=-1.0"),
    ({"schedule": "linear"}, "valid schedules"),
    ({"name": "rmsprop"}, "valid optimizers"),
    ({"name": "adam", "weight_decay": 0.1}, "adamw"),
    ({"lr_mult": 0.0, "lr_mult_prefixes": ("att",)}, r"lr_mult=0.0: must be > 0"),
])
def test_bad_optim_config(over, match):
  c = cfg(**over)
  with pytest.raises(ValueError, match=match):
    optim.optimizer(c, optim.schedule(c, 32, 1000))
