"""Non-local means as input channels (ddn.nlm, config.model.nlm): the filter
against a direct loop, what it does to repeated structure, and the U-Net
that reads it: grown from a model without it, its receptive field, tiles,
and bad fields."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ddn import configs
from ddn import inference
from ddn import init_from
from ddn import models
from ddn import nlm


def reference(x, sigma, h, radius, patch):
  """Non-local means of one (H, W, C) image by explicit loops: (H, W, C *
  len(h)), C channels per width."""
  s = max(sigma / 255.0, nlm.MIN_SIGMA)
  m = radius + patch
  xp = np.pad(x, ((m, m), (m, m), (0, 0)), mode="reflect")
  c = x.shape[-1]
  out = np.zeros(x.shape[:2] + (len(h), c))
  for i in range(x.shape[0]):
    for j in range(x.shape[1]):
      p = xp[i + radius:i + radius + 2 * patch + 1,
             j + radius:j + radius + 2 * patch + 1]
      num, den = np.zeros((len(h), c)), np.zeros((len(h), 1))
      for di in range(2 * radius + 1):
        for dj in range(2 * radius + 1):
          q = xp[i + di:i + di + 2 * patch + 1, j + dj:j + dj + 2 * patch + 1]
          d = np.mean((q - p) ** 2)  # over the patch and the channels
          w = np.exp(-max(d - 2 * s * s, 0.0) / (np.asarray(h) * s) ** 2)
          num += w[:, None] * xp[i + di + patch, j + dj + patch][None]
          den += w[:, None]
      out[i, j] = num / den
  return out.reshape(x.shape[:2] + (len(h) * c,))


@pytest.mark.parametrize("channels", [1, 3])
def test_matches_a_direct_loop_per_image_sigma(channels):
  """Every pixel, both widths, two images told different σ; colour patches
  are compared over all their channels (one weight for the three)."""
  rng = np.random.default_rng(0)
  x = rng.random((2, 9, 11, channels)).astype(np.float32)
  got = np.asarray(nlm.nonlocal_means(x, np.array([20.0, 60.0]),
                                      (0.4, 1.0), radius=2, patch=1))
  assert got.shape == (2, 9, 11, 2 * channels)
  for b, sigma in enumerate((20.0, 60.0)):
    np.testing.assert_allclose(got[b], reference(x[b], sigma, (0.4, 1.0),
                                                 2, 1),
                               rtol=1e-5, atol=1e-6)


def test_constant_stays_and_channels_are_grouped_by_width():
  x = np.full((1, 12, 12, 3), 0.3, np.float32)
  out = np.asarray(nlm.nonlocal_means(x, 25.0, (0.4, 1.0), radius=3))
  assert out.shape == (1, 12, 12, 6)
  np.testing.assert_allclose(out, 0.3, atol=1e-6)
  # Colour: channel c of width k is output channel k * C + c.
  x = np.random.default_rng(1).random((1, 10, 10, 3)).astype(np.float32)
  x[..., 1] += 1.0
  out = np.asarray(nlm.nonlocal_means(x, 25.0, (0.4, 1.0), radius=2))
  assert out[..., 1].mean() > 0.9 and out[..., 4].mean() > 0.9
  assert out[..., [0, 2, 3, 5]].max() < 1.0


def test_repeats_denoise_where_a_plain_average_blurs():
  """Stripes of period 4 under σ = 25: the filter finds the stripes'
  repeats and removes most of the noise; the plain mean over the window
  (infinite width) wipes the stripes out."""
  rng = np.random.default_rng(2)
  clean = np.tile(np.array([0.2, 0.2, 0.8, 0.8], np.float32), (48, 12))
  noisy = clean + rng.normal(0, 25 / 255, clean.shape).astype(np.float32)
  x = noisy[None, :, :, None]
  err = lambda y: float(np.sqrt(np.mean((y[8:-8, 8:-8] - clean[8:-8, 8:-8])
                                        ** 2)))
  filtered = np.asarray(nlm.nonlocal_means(x, 25.0, (0.4, 1e6), 5))[0]
  assert err(filtered[..., 0]) < 0.5 * err(noisy)
  assert err(filtered[..., 1]) > 2 * err(noisy)


def tiny_cfg(**kw):
  cfg = models.Autoencoder.default_config()
  cfg.features, cfg.blocks, cfg.noise_map = (4, 8), 1, True
  cfg.update(kw)
  return cfg


def test_grown_from_a_model_without_it_starts_at_that_function():
  """init_from's growth (zero first-conv weights for the new channels):
  the same output as the start; other weights make the channels count."""
  plain, with_nlm = (models.from_config(tiny_cfg(), 1),
                     models.from_config(tiny_cfg(nlm=(0.4, 1.0),
                                                 nlm_radius=3), 1))
  assert init_from.grows_inputs(tiny_cfg(nlm=(0.4,)))
  assert not init_from.grows_inputs(tiny_cfg())
  x = jax.random.uniform(jax.random.PRNGKey(1), (2, 16, 20, 1))
  p_plain = plain.init(jax.random.PRNGKey(0), x, sigma=25.0)["params"]
  p_nlm = with_nlm.init(jax.random.PRNGKey(2), x, sigma=25.0)["params"]
  assert p_nlm["enc0_0"]["kernel"].shape[2] == 4  # image, map, 2 widths
  grown = models.grow_z_inputs(p_plain, p_nlm)
  y = with_nlm.apply({"params": grown}, x, sigma=25.0)
  np.testing.assert_array_equal(y, plain.apply({"params": p_plain}, x,
                                               sigma=25.0))
  assert not np.allclose(with_nlm.apply({"params": p_nlm}, x, sigma=25.0), y)


def test_receptive_field_holds_the_search_and_tiles_agree():
  cfg = tiny_cfg(nlm=(0.4,), nlm_radius=4, nlm_patch=1)
  plain = models.from_config(tiny_cfg(), 1).receptive_radius()
  model = models.from_config(cfg, 1)
  assert model.receptive_radius() == plain + 5
  x = jnp.asarray(np.random.default_rng(3).random((1, 48, 48, 1),
                                                  np.float32))
  params = model.init(jax.random.PRNGKey(0), x, sigma=25.0)["params"]
  params = jax.tree_util.tree_map(lambda p: jnp.abs(p) + 0.01, params)
  img = np.asarray(jax.random.uniform(jax.random.PRNGKey(5), (96, 88, 1)))
  def tiled_vs_whole(margin):
    d = inference.Denoiser(cfg.to_dict(), 1, params, 0, "tiny",
                           {"sigma": 25.0}, margin=margin, blend=0).at(25)
    return d(img, tile=16), d(img, tile="none")
  # Margins of the whole field: tiles are exact; without the filter's
  # reach (5 px) they are not, so the field must count it.
  np.testing.assert_allclose(*tiled_vs_whole(plain + 5), rtol=1e-5,
                             atol=1e-6)
  assert not np.allclose(*tiled_vs_whole(plain), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fields, match", [
    (dict(nlm=(0.4,), noise_map=False), r"nlm needs config\.model\.noise_map"),
    (dict(nlm=(0.4, -1.0)), r"config\.model\.nlm=\(0\.4, -1\.0\)"),
    (dict(nlm=(0.4,), nlm_radius=0), r"nlm_radius=0"),
    (dict(nlm=(True,)), r"config\.model\.nlm=\(True,\)"),
    (dict(nlm=(0.4,), noise_input=2), r"nlm and config\.model\.noise_input"),
])
def test_bad_fields_are_named(fields, match):
  with pytest.raises(ValueError, match=match):
    models.from_config(tiny_cfg(**fields), 1)


def test_old_configs_read_no_nlm():
  saved = configs.with_added_fields({"model": {"features": [4, 8]}})
  assert tuple(saved["model"]["nlm"]) == ()


@pytest.mark.parametrize("residual", [True, False])
def test_the_first_conv_reads_the_noise_estimate_or_the_means(residual):
  """Input channels: the image, the noise map, then per width what the
  means remove (nlm_residual) or the means."""
  model = models.from_config(tiny_cfg(nlm=(0.4, 1.0), nlm_radius=2,
                                      nlm_residual=residual), 1)
  x = jax.random.uniform(jax.random.PRNGKey(4), (1, 16, 16, 1))
  params = model.init(jax.random.PRNGKey(0), x, sigma=30.0)["params"]
  y = model.apply({"params": params}, x, 30.0, None,
                  method=models.Autoencoder._inputs)
  means = nlm.nonlocal_means(x, 30.0, (0.4, 1.0), radius=2)
  want = jnp.tile(x, (1, 1, 1, 2)) - means if residual else means
  np.testing.assert_allclose(y[..., 0:1], x)
  np.testing.assert_allclose(y[..., 1], 30.0 / 255.0, rtol=1e-6)
  np.testing.assert_allclose(y[..., 2:], want, rtol=1e-6, atol=1e-7)
