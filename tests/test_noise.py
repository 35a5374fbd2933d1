"""Noise statistics, determinism and validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ddn import configs
from ddn import noise as noise_lib
from ddn import steps


def spec(**over):
  c = configs.defaults("autoencoder").noise
  for k, v in over.items():
    node = c
    *parents, leaf = k.split(".")
    for p in parents:
      node = node[p]
    node[leaf] = v
  return noise_lib.spec_from_config(c)


CLEAN = jnp.full((8, 64, 64, 1), 0.5, jnp.float32)


def test_gaussian_sigma_measured():
  out = noise_lib.apply(CLEAN, jax.random.PRNGKey(0), spec())
  measured = float(jnp.std(out - CLEAN)) * 255
  assert abs(measured - 25.0) < 0.5
  bright = noise_lib.apply(CLEAN + 0.45, jax.random.PRNGKey(0), spec())
  assert float(jnp.max(bright)) > 1.0  # not clipped (the protocol)


def test_blind_sigma_per_image_in_range():
  s = spec(**{"gaussian.blind": True, "gaussian.sigma_min": 5.0,
              "gaussian.sigma_max": 50.0})
  out = noise_lib.apply(CLEAN, jax.random.PRNGKey(1), s)
  per_image = np.asarray(jnp.std(out - CLEAN, axis=(1, 2, 3))) * 255
  assert per_image.min() > 4.0 and per_image.max() < 52.0
  assert per_image.std() > 3.0  # σ really varies between images


def test_salt_pepper_rate():
  s = spec(kinds="salt_pepper", **{"salt_pepper.rate": 0.2})
  out = np.asarray(noise_lib.apply(CLEAN, jax.random.PRNGKey(2), s))
  hit = out != 0.5
  assert abs(hit.mean() - 0.2) < 0.01
  assert set(np.unique(out[hit])) == {0.0, 1.0}
  assert abs((out[hit] == 1.0).mean() - 0.5) < 0.05


def test_blocks_fraction_and_fill():
  s = spec(kinds="blocks", **{"blocks.count": 1, "blocks.size_min": 8,
                              "blocks.size_max": 8, "blocks.fill": "one"})
  out = np.asarray(noise_lib.apply(CLEAN, jax.random.PRNGKey(3), s))
  knocked = (out == 1.0).mean(axis=(1, 2, 3))
  np.testing.assert_allclose(knocked, 64 / 4096)  # one 8x8 block per image


def test_block_mask_is_where_the_blocks_are_knocked_out():
  s = spec(kinds="gaussian,blocks", **{"blocks.count": 3, "blocks.size_min": 6,
                                       "blocks.size_max": 20,
                                       "blocks.fill": "zero"})
  key = jax.random.PRNGKey(4)
  out = np.asarray(noise_lib.apply(CLEAN, key, s))
  # apply folds the kind's position into the key; blocks come second.
  mask = np.asarray(noise_lib.block_mask(CLEAN.shape, jax.random.fold_in(
      key, 1), s))
  assert mask.shape == CLEAN.shape and mask.dtype == bool
  np.testing.assert_array_equal(out == 0.0, mask)  # noise is never exactly 0
  area = mask.mean(axis=(1, 2, 3)) * 64 * 64
  assert (area >= 36).all() and (area <= 3 * 400).all()


@pytest.mark.parametrize("preset,sigma,sp_rate", [
    ("mild", 15.0, 0.0), ("moderate", 25.0, 0.02), ("severe", 50.0, 0.1)])
def test_presets_measured_statistics(preset, sigma, sp_rate):
  c = configs.apply_args(configs.defaults("autoencoder"), preset)
  s = noise_lib.spec_from_config(c.noise)
  assert s.sigma == sigma
  out = np.asarray(noise_lib.apply(CLEAN, jax.random.PRNGKey(4), s))
  assert bool(np.all(np.isfinite(out)))
  extreme = (out == 0.0) | (out == 1.0)  # salt-and-pepper (σ is not clipped)
  # Knocked-out blocks (severe) cover up to 4 * 12² of 64² pixels afterwards.
  lo = sp_rate * (1 - 4 * 144 / 4096) - 0.01 if sp_rate else 0.0
  assert lo <= extreme.mean() <= sp_rate + 0.01
  dev = out[~extreme] - 0.5
  robust_sigma = 1.4826 * np.median(np.abs(dev)) * 255  # robust to the blocks
  assert robust_sigma == pytest.approx(sigma, rel=0.08)
  if preset == "severe":
    assert s.kinds == ("gaussian", "salt_pepper", "blocks")


def test_determinism_from_step():
  s = spec()
  rng = jax.random.PRNGKey(0)
  a = noise_lib.apply(CLEAN, steps.step_key(rng, 5, steps.TAG_NOISE), s)
  b = noise_lib.apply(CLEAN, steps.step_key(rng, 5, steps.TAG_NOISE), s)
  c = noise_lib.apply(CLEAN, steps.step_key(rng, 6, steps.TAG_NOISE), s)
  np.testing.assert_array_equal(a, b)
  assert float(jnp.mean(jnp.abs(a - c))) > 0.01


@pytest.mark.parametrize("over,match", [
    ({"kinds": "gaussian,speckle"}, "unknown noise kind 'speckle'.*gaussian"),
    ({"gaussian.sigma": -1.0}, "sigma=-1.0.*>= 0"),
    ({"salt_pepper.rate": 1.5, "kinds": "salt_pepper"}, "rate"),
    ({"blocks.size_min": 0, "kinds": "blocks"}, "size_min"),
    ({"blocks.fill": "red", "kinds": "blocks"}, "valid fills"),
])
def test_bad_noise_config(over, match):
  with pytest.raises(ValueError, match=match):
    spec(**over)
