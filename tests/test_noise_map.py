"""A denoiser told the noise level (config.model.noise_map, FFDNet's map)."""

import functools
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import ml_collections
import optax
import pytest

from ddn import colour
from ddn import configs
from ddn import denoise
from ddn import evaluate
from ddn import inference
from ddn import init_from
from ddn import losses
from ddn import models
from ddn import noise as noise_lib
from ddn import steps
from ddn import train
from ddn.tasks import autoencoder as ae_task

from test_configs import load
from conftest import ROOT

TINY = dict(features=(8, 16), blocks=1)


def _images(n, size, seed):
  """Photograph-like gray images: gradients, discs, edges, soft texture."""
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:size, 0:size] / size
  out = []
  for _ in range(n):
    a, b, c = rng.uniform(-0.5, 0.5, 3)
    img = 0.5 + a * x + b * np.sin(6 * y + c)
    cy, cx, r = rng.uniform(0.2, 0.8, 3) * (1, 1, 0.3)
    img[(y - cy) ** 2 + (x - cx) ** 2 < r ** 2] = rng.uniform(0, 1)
    img[:, int(rng.integers(size))] = rng.uniform(0, 1)
    out.append(np.clip(img, 0, 1))
  return np.asarray(out, np.float32)[..., None]


def test_the_model_needs_sigma_and_reads_it_per_image():
  model = models.Autoencoder(noise_map=True, **TINY)
  x = jnp.asarray(_images(3, 16, 0))
  params = model.init(jax.random.PRNGKey(0), x, sigma=0.0)["params"]
  assert params["enc0_0"]["kernel"].shape[2] == 2  # image + σ map
  with pytest.raises(ValueError, match="pass sigma"):
    model.apply({"params": params}, x)
  f = lambda s: np.asarray(model.apply({"params": params}, x, sigma=s))
  assert np.abs(f(10.0) - f(50.0)).max() > 1e-4  # σ changes the output
  np.testing.assert_allclose(f(30.0), f(jnp.full((3,), 30.0)), atol=1e-6)
  mixed = f(jnp.array([5.0, 40.0, 70.0]))
  for i, s in enumerate((5.0, 40.0, 70.0)):  # each image with its own σ
    np.testing.assert_allclose(mixed[i], f(s)[i], atol=1e-6)
  # A model not told the level ignores it.
  plain = models.Autoencoder(**TINY)
  p2 = plain.init(jax.random.PRNGKey(0), x)["params"]
  np.testing.assert_array_equal(plain.apply({"params": p2}, x, sigma=10.0),
                                plain.apply({"params": p2}, x))


def test_apply_with_sigma_is_apply_and_the_sigma_each_image_got():
  clean = jnp.full((6, 64, 64, 1), 0.5)
  key = jax.random.PRNGKey(3)
  blind = noise_lib.NoiseSpec(kinds=("gaussian", "salt_pepper"), blind=True,
                              sigma_min=5.0, sigma_max=70.0)
  noisy, sigma = noise_lib.apply_with_sigma(clean, key, blind)
  np.testing.assert_array_equal(noisy, noise_lib.apply(clean, key, blind))
  assert sigma.shape == (6,) and 5 <= sigma.min() and sigma.max() <= 70
  assert float(sigma.max() - sigma.min()) > 10  # drawn per image
  measured = np.std(np.asarray(noisy - clean), axis=(1, 2, 3)) * 255
  np.testing.assert_allclose(measured, sigma, rtol=0.05)
  fixed = noise_lib.NoiseSpec(kinds=("gaussian",), sigma=25.0)
  np.testing.assert_array_equal(
      noise_lib.apply_with_sigma(clean, key, fixed)[1], np.full(6, 25.0))
  none = noise_lib.NoiseSpec(kinds=("blocks",), block_count=1)
  np.testing.assert_array_equal(
      noise_lib.apply_with_sigma(clean, key, none)[1], np.zeros(6))


def test_a_model_told_the_true_sigma_beats_itself_told_a_wrong_one():
  """A tiny map model trained over σ in [0, 75] for 300 steps: at σ = 50
  told 50 beats told 10; at σ = 10 told 10 beats told 50."""
  model = models.Autoencoder(noise_map=True, **TINY)
  tx = optax.adam(3e-3)
  spec = noise_lib.NoiseSpec(kinds=("gaussian",), blind=True,
                             sigma_min=0.0, sigma_max=75.0)
  state = ae_task.init_state(jax.random.PRNGKey(0), model, tx, 32)
  step = jax.jit(functools.partial(
      ae_task.ae_train_step, model=model, tx=tx, lr_fn=lambda s: 3e-3,
      noise_spec=spec, ssd_weight=1.0, l1_weight=0.0))
  train_images = _images(64, 32, seed=1)
  rng = jax.random.PRNGKey(1)
  for i in range(300):
    batch = train_images[np.arange(i * 8, i * 8 + 8) % 64]
    state, _ = step(state, jnp.asarray(batch), rng)
  clean = jnp.asarray(_images(8, 32, seed=2))
  for true, wrong in ((50.0, 10.0), (10.0, 50.0)):
    noisy = clean + true / 255 * jax.random.normal(jax.random.PRNGKey(9),
                                                   clean.shape)
    psnr = lambda s: float(jnp.mean(losses.psnr(jnp.clip(
        steps.denoise(state.params, noisy, s, model=model), 0, 1), clean,
        axis=(1, 2, 3))))
    assert psnr(true) > psnr(wrong) + 0.5, (true, psnr(true), psnr(wrong))


def _map_denoiser(**kw):
  cfg = {**configs.defaults("autoencoder").model.to_dict(), **TINY,
         "noise_map": True}
  model = models.from_config(ml_collections.ConfigDict(cfg), 1)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 16, 16, 1)),
                      sigma=0.0)["params"]
  return inference.Denoiser(cfg, 1, params, 0, "map", {
      "blind": True, "sigma_min": 0.0, "sigma_max": 75.0, "map": True}, **kw)


def test_the_denoiser_is_told_sigma_or_estimates_it():
  d = _map_denoiser(margin=8, blend=4)
  x = _images(1, 40, 5)[0] + 0.1 * np.random.default_rng(0).standard_normal(
      (40, 40, 1)).astype(np.float32)
  assert d.noise_map and d.sigma is None
  np.testing.assert_allclose(d.at(30)(x), d(x, sigma=30), atol=1e-6)
  assert d.at(30).params is d.params and d.sigma is None  # a view
  assert np.abs(d.at(30)(x) - d.at(60)(x)).max() > 1e-4
  np.testing.assert_allclose(d(x), d(x, sigma=colour.estimate_sigma(x)),
                             atol=1e-6)
  # Tiled and ensembled passes are told the same σ.
  np.testing.assert_allclose(d.at(30)(x, tile=16)[8:-8, 8:-8],
                             d.at(30)(x)[8:-8, 8:-8], atol=1e-5)
  assert d.at(30)(x, ensemble=True).shape == x.shape
  with pytest.raises(ValueError, match="give sigma"):
    d.apply_batch(x[None])


def _fake_shipped(tmp_path, monkeypatch, entries):
  for name, noise in entries.items():
    folder = tmp_path / name
    folder.mkdir()
    (folder / inference.PARAMS_FILE).write_bytes(b"")
    (folder / inference.MODEL_FILE).write_text(json.dumps(
        {"channels": 1, "noise": noise, "objective": "mse"}))
  monkeypatch.setattr(inference, "SHIPPED_DIR", str(tmp_path))


def test_best_shipped_prefers_a_map_model_within_its_range(tmp_path,
                                                           monkeypatch):
  _fake_shipped(tmp_path, monkeypatch, {
      "s25": {"blind": False, "sigma": 25.0},
      "blind": {"blind": True, "sigma_min": 0.0, "sigma_max": 55.0},
      "map": {"blind": True, "sigma_min": 0.0, "sigma_max": 75.0,
              "map": True}})
  assert [inference.best_shipped(s) for s in (0, 15, 25, 50, 75)] == [
      "map"] * 5
  # Beyond every range: the nearest (map's 75 is nearer 90 than s25's 25).
  assert inference.best_shipped(90) == "map"


def test_a_map_run_trains_evaluates_and_denoises(tmp_path):
  c = load(os.path.join(ROOT, "experiments", "ae_map.py")).get_config("smoke")
  workdir = str(tmp_path / "run")
  state = train.train_and_evaluate(c, workdir)
  assert int(state.step) == 24
  d = inference.load(workdir)
  assert d.noise_map and d.noise["map"] and d.noise["sigma_max"] == 75.0
  img = tmp_path / "img"
  img.mkdir()
  denoise.write(str(img / "a.png"), _images(1, 40, 7)[0], 8)
  records = evaluate.run([workdir], [f"folder:{img}"], [10.0, 50.0],
                         str(tmp_path / "e.json"))
  assert [r["sigma"] for r in records] == [10.0, 50.0]
  assert all(np.isfinite(r["psnr"]) for r in records)
  m = denoise.Models(workdir)
  assert m.for_sigma(40).sigma == 40.0 and m.for_sigma(40).noise_map
  # A Denoiser told σ keeps it in denoise_files (no estimate).
  rows = denoise.denoise_files([(str(img / "a.png"), str(tmp_path / "o.png"))],
                               d.at(33), progress=False)
  assert rows[0]["sigma"] == 33 and not rows[0]["sigma_estimated"]
  # Evaluated during training at one σ, which blind noise does not fix: the
  # run stops before it computes or writes anything.
  c.eval.sigma = -1.0
  with pytest.raises(ValueError, match="config.eval.sigma=-1"):
    train.train_and_evaluate(c, str(tmp_path / "blind_eval"))
  assert not os.path.exists(tmp_path / "blind_eval" / "config.json")


def test_configs_saved_before_noise_map_read_as_without_it(tmp_path):
  c = configs.defaults("autoencoder")
  old = json.loads(c.to_json_best_effort())
  del old["model"]["noise_map"]
  (tmp_path / "config.json").write_text(json.dumps(old))
  saved = train._saved_config(str(tmp_path))  # pylint: disable=protected-access
  assert saved["model"]["noise_map"] is False
  assert train._config_diff(  # pylint: disable=protected-access
      saved, json.loads(c.to_json_best_effort())) == []
  # Starting a map model from a shipped model without the map names why.
  m = load(os.path.join(ROOT, "experiments", "ae_map.py")).get_config()
  m.train.init_from = "gray-s25"
  assert "config.model.noise_map=False (here True)" in (
      init_from._differences("gray-s25", m))  # pylint: disable=protected-access
  # Interpolation: a config without the field and one with False agree.
  cfg = {k: v
         for k, v in configs.defaults("autoencoder").model.to_dict().items()
         if k != "noise_map"}
  cfg.update(TINY)
  params = models.from_config(ml_collections.ConfigDict(cfg), 1).init(
      jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 1)))["params"]
  a = inference.Denoiser(cfg, 1, params, 0, "a", {"sigma": 25.0})
  b = inference.Denoiser({**cfg, "noise_map": False}, 1, params, 0, "b",
                         {"sigma": 25.0})
  assert inference.interpolate(a, b, 0.5).name == "a~b@0.5"


def test_a_noise_kind_given_twice_is_refused():
  c = configs.defaults("autoencoder")
  c.noise.kinds = "gaussian,gaussian"
  with pytest.raises(ValueError, match="each kind at most once"):
    noise_lib.spec_from_config(c.noise)


def test_every_shipped_model_is_small_and_says_how_it_was_trained():
  names = inference.shipped_models()
  assert names
  for name in names:
    folder = os.path.join(inference.SHIPPED_DIR, name)
    size = sum(os.path.getsize(os.path.join(folder, f))
               for f in os.listdir(folder))
    assert size <= 5e6, (name, size)
    info = inference.shipped_meta(name)["info"]
    for key in ("command", "training_wall_seconds", "machine"):
      assert info.get(key), (name, key)


def test_sigma_power_weighs_low_noise_crops_more_and_only_when_sigma_varies():
  """loss.sigma_power: with σ drawn per crop the step's loss is the mean of
  each crop's loss weighted by max(σ, floor)^-p; at one fixed σ it is the
  plain loss."""
  model = models.Autoencoder(noise_map=True, **TINY)
  tx = optax.adam(1e-3)
  state = ae_task.init_state(jax.random.PRNGKey(0), model, tx, 16)
  batch = jnp.asarray(_images(8, 16, seed=3))
  rng = jax.random.PRNGKey(4)

  def loss(spec, power):
    step = jax.jit(functools.partial(
        ae_task.ae_train_step, model=model, tx=tx, lr_fn=lambda s: 1e-3,
        noise_spec=spec, ssd_weight=1.0, l1_weight=0.0, sigma_power=power))
    return float(step(state, batch, rng)[1]["ae/loss"])

  blind = noise_lib.NoiseSpec(kinds=("gaussian",), blind=True,
                              sigma_min=0.0, sigma_max=75.0)
  @jax.jit
  def noisy_and_out():  # what the step draws and denoises
    noisy, sigma = noise_lib.apply_with_sigma(
        batch, steps.step_key(rng, state.step, steps.TAG_NOISE), blind)
    return steps.denoise(state.params, noisy, sigma, model=model), sigma

  out, sigma = noisy_and_out()
  per_crop = np.mean(np.square(np.asarray(out - batch)), (1, 2, 3))
  w = np.maximum(np.asarray(sigma), 5.0) ** -1.0
  weighted = loss(blind, 1.0)
  np.testing.assert_allclose(weighted, np.sum(w * per_crop) / w.sum(),
                             rtol=1e-4)
  assert weighted < loss(blind, 0.0)  # the noisy crops weigh less
  fixed = noise_lib.NoiseSpec(kinds=("gaussian",), sigma=25.0)
  np.testing.assert_allclose(loss(fixed, 1.0), loss(fixed, 0.0), rtol=1e-6)


def test_configs_saved_before_sigma_weighting_read_as_unweighted(tmp_path):
  c = configs.defaults("autoencoder")
  old = json.loads(c.to_json_best_effort())
  del old["loss"]["sigma_power"], old["loss"]["sigma_floor"]
  (tmp_path / "config.json").write_text(json.dumps(old))
  saved = train._saved_config(str(tmp_path))  # pylint: disable=protected-access
  assert saved["loss"]["sigma_power"] == 0.0
  assert train._config_diff(  # pylint: disable=protected-access
      saved, json.loads(c.to_json_best_effort())) == []
