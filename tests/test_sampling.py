"""A G that samples (config.model.noise_input, config.adv.samples): z
channels drawn in the step, PSCGAN's mean-of-samples Pred term, the grown
start from a model without z, and the mean of N samples at inference."""

import json
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from ddn import checkpoint
from ddn import configs
from ddn import denoise
from ddn import discriminators
from ddn import evaluate
from ddn import inference
from ddn import losses
from ddn import models
from ddn import noise as noise_lib
from ddn import optim
from ddn import steps
from ddn import train
from ddn.tasks import adversarial

TINY = dict(features=(8, 16), blocks=1)


def _images(n=2, size=24, seed=0):
  rng = np.random.default_rng(seed)
  return jnp.asarray(rng.uniform(0, 1, (n, size, size, 1)), jnp.float32)


def _sampler(seed=0, strength=0.5):
  """A tiny G with 2 z channels whose z weights are large enough that its
  samples visibly differ (an untrained init would do too, less clearly)."""
  cfg = models.Autoencoder.default_config()
  cfg.update(dict(TINY, noise_input=2))
  model = models.from_config(cfg, 1)
  params = model.init(jax.random.PRNGKey(seed), _images())["params"]
  kernel = params["enc0_0"]["kernel"]
  params["enc0_0"]["kernel"] = kernel.at[:, :, 1:].set(
      strength * jnp.sign(kernel[:, :, 1:]))
  return cfg, model, params


def test_without_noise_input_the_network_is_unchanged():
  """noise_input = 0 (the default, and what ADDED_FIELDS gives a saved
  config without the field): the same parameters from the same key, the
  same outputs bit for bit, no z asked for and a z stream ignored."""
  cfg = models.Autoencoder.default_config()
  cfg.update(TINY)
  old = cfg.to_dict()
  del old["noise_input"]
  assert configs.with_added_fields({"model": dict(old)})["model"][
      "noise_input"] == 0
  a = models.from_config(cfg, 1)
  b = models.from_config(ml_collections.ConfigDict(old), 1)
  x = _images(size=21)
  pa = a.init(jax.random.PRNGKey(0), x)["params"]
  pb = b.init(jax.random.PRNGKey(0), x)["params"]
  for u, v in zip(jax.tree_util.tree_leaves(pa), jax.tree_util.tree_leaves(pb)):
    np.testing.assert_array_equal(u, v)
  assert pa["enc0_0"]["kernel"].shape[2] == 1
  y = a.apply({"params": pa}, x)
  np.testing.assert_array_equal(y, b.apply({"params": pa}, x))
  np.testing.assert_array_equal(y, a.apply(
      {"params": pa}, x, rngs={"z": jax.random.PRNGKey(1)}))
  np.testing.assert_array_equal(y, steps.denoise(pa, x, model=a))


def test_samples_differ_by_key_and_a_missing_key_is_named():
  _, model, params = _sampler()
  x = _images()
  assert params["enc0_0"]["kernel"].shape[2] == 3  # image + 2 z channels
  f = lambda k: np.asarray(model.apply({"params": params}, x,
                                       rngs={"z": jax.random.PRNGKey(k)}))
  np.testing.assert_array_equal(f(1), f(1))
  assert np.abs(f(1) - f(2)).mean() > 1e-3
  with pytest.raises(ValueError, match=r"noise_input=2.*rngs=\{'z'"):
    model.apply({"params": params}, x)
  with pytest.raises(ValueError, match="needs"):
    model.apply({"params": params}, x, z=jnp.zeros((2, 24, 24, 1)))
  z = jax.random.normal(jax.random.PRNGKey(3), (2, 24, 24, 2))
  np.testing.assert_array_equal(  # an explicit z is the same field
      model.apply({"params": params}, x, z=z),
      model.apply({"params": params}, x, z=z))
  with pytest.raises(ValueError, match="noise_input=-1"):
    models.from_config(ml_collections.ConfigDict(
        dict(models.Autoencoder.default_config(), noise_input=-1)), 1)


def test_a_start_without_z_grows_zero_weights_and_keeps_its_function():
  cfg, model, _ = _sampler()
  plain = models.from_config(ml_collections.ConfigDict(
      dict(cfg, noise_input=0)), 1)
  x = _images(size=20)
  start = plain.init(jax.random.PRNGKey(4), x)["params"]
  expected = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), x))[
      "params"]
  grown = models.grow_z_inputs(jax.device_get(start), expected)
  checkpoint.check_compatible(grown, expected, "grown")
  assert not np.any(grown["enc0_0"]["kernel"][:, :, 1:])
  np.testing.assert_array_equal(grown["enc0_0"]["kernel"][:, :, :1],
                                start["enc0_0"]["kernel"])
  for k in (1, 2):  # whatever z is, the start's function
    np.testing.assert_allclose(
        model.apply({"params": grown}, x, rngs={"z": jax.random.PRNGKey(k)}),
        plain.apply({"params": start}, x), atol=1e-6)
  shapes = models.grow_z_inputs(expected, expected)  # shapes only: unchanged
  assert shapes["enc0_0"]["kernel"].shape == expected["enc0_0"]["kernel"].shape


def test_z_init_grows_scaled_fresh_weights_so_samples_differ_at_once():
  cfg, model, _ = _sampler()
  plain = models.from_config(ml_collections.ConfigDict(
      dict(cfg, noise_input=0)), 1)
  x = _images(size=20)
  start = jax.device_get(plain.init(jax.random.PRNGKey(4), x)["params"])
  fresh = jax.device_get(model.init(
      {"params": jax.random.PRNGKey(5), "z": jax.random.PRNGKey(6)}, x)[
          "params"])
  grown = models.grow_z_inputs(start, fresh, 0.25)
  kernel = grown["enc0_0"]["kernel"]
  np.testing.assert_array_equal(kernel[:, :, :1], start["enc0_0"]["kernel"])
  np.testing.assert_allclose(kernel[:, :, 1:],
                             0.25 * fresh["enc0_0"]["kernel"][:, :, 1:])
  assert np.any(kernel[:, :, 1:])
  f = lambda k: np.asarray(model.apply({"params": grown}, x,
                                       rngs={"z": jax.random.PRNGKey(k)}))
  assert np.abs(f(1) - f(2)).mean() > 1e-4  # the samples differ at step 0
  # With scale 0 (the default) the same call keeps zero z weights.
  assert not np.any(models.grow_z_inputs(start, fresh)["enc0_0"]["kernel"][
      :, :, 1:])


def _decoder_sampler(features=(8, 16)):
  cfg = models.Autoencoder.default_config()
  cfg.update(dict(TINY, features=features, noise_input=2, z_at="decoder"))
  return cfg, models.from_config(cfg, 1)


def test_z_at_decoder_enters_only_the_full_resolution_decoder_convs():
  """z_at='decoder': the image alone enters the first conv; z reaches the
  output through one 1x1 projection per level-0 decoder conv, so the
  samples differ by key, and with those projections zero every z gives
  the same output."""
  cfg, model = _decoder_sampler()
  x = _images(size=21)
  params = jax.device_get(model.init(jax.random.PRNGKey(0), x)["params"])
  assert params["enc0_0"]["kernel"].shape[2] == 1
  assert sorted(k for k in params if k.startswith("zinj")) == ["zinj0_0"]
  assert params["zinj0_0"]["kernel"].shape == (1, 1, 2, 8)
  f = lambda p, k: np.asarray(model.apply({"params": p}, x,
                                          rngs={"z": jax.random.PRNGKey(k)}))
  assert np.abs(f(params, 1) - f(params, 2)).mean() > 1e-3
  np.testing.assert_array_equal(f(params, 1), f(params, 1))
  silent = {**params, "zinj0_0": {"kernel": 0 * params["zinj0_0"]["kernel"]}}
  np.testing.assert_array_equal(f(silent, 1), f(silent, 2))
  two = models.from_config(ml_collections.ConfigDict(
      dict(cfg, blocks=2)), 1).init(jax.random.PRNGKey(0), x)["params"]
  assert sorted(k for k in two if k.startswith("zinj")) == ["zinj0_0",
                                                           "zinj0_1"]


def test_z_at_is_checked_and_old_configs_read_as_input():
  cfg, _ = _decoder_sampler()
  with pytest.raises(ValueError, match=r"z_at='middle'.*'input', 'decoder'"):
    models.from_config(ml_collections.ConfigDict(dict(cfg, z_at="middle")), 1)
  with pytest.raises(ValueError, match="one level"):
    models.from_config(ml_collections.ConfigDict(dict(cfg, features=(8,))), 1)
  old = models.Autoencoder.default_config().to_dict()
  del old["z_at"]
  assert configs.with_added_fields({"model": old})["model"]["z_at"] == "input"


def test_a_start_without_z_grows_decoder_projections_zero_or_scaled():
  """A start without z, grown to z_at='decoder': projections of zero keep
  its function whatever z is; z_init scales a fresh init's instead."""
  cfg, model = _decoder_sampler()
  plain = models.from_config(ml_collections.ConfigDict(
      dict(cfg, noise_input=0)), 1)
  x = _images(size=20)
  start = jax.device_get(plain.init(jax.random.PRNGKey(4), x)["params"])
  fresh = jax.device_get(model.init(jax.random.PRNGKey(5), x)["params"])
  shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), x))[
      "params"]
  checkpoint.check_compatible(models.grow_z_inputs(start, shapes), shapes,
                              "grown")
  out = lambda p, k: np.asarray(model.apply(
      {"params": p}, x, rngs={"z": jax.random.PRNGKey(k)}))
  zero = models.grow_z_inputs(start, fresh)
  assert not np.any(zero["zinj0_0"]["kernel"])
  for k in (1, 2):
    np.testing.assert_allclose(out(zero, k), plain.apply({"params": start}, x),
                               atol=1e-6)
  scaled = models.grow_z_inputs(start, fresh, 0.25)
  np.testing.assert_allclose(scaled["zinj0_0"]["kernel"],
                             0.25 * fresh["zinj0_0"]["kernel"])
  np.testing.assert_array_equal(scaled["enc0_0"]["kernel"],
                                start["enc0_0"]["kernel"])
  assert np.abs(out(scaled, 1) - out(scaled, 2)).mean() > 1e-4


def test_a_negative_z_init_is_refused(tmp_path):
  c = _config(samples=2)
  c.adv.z_init = -0.1
  with pytest.raises(ValueError, match=r"config.adv.z_init=-0.1: must be >= 0"):
    train.train_and_evaluate(c, str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()


def test_the_mean_of_n_samples_varies_less_and_tiles_agree():
  cfg, _, params = _sampler()
  noisy = np.asarray(_images(1, 48, 5)[0])
  load = lambda **kw: inference.Denoiser(dict(cfg), 1, params, 0, "t", {},
                                         tile="none", **kw)
  one = np.stack([load(seed=s)(noisy) for s in range(6)])
  mean8 = np.stack([load(seed=s, samples=8)(noisy) for s in range(6)])
  np.testing.assert_array_equal(one[0], load(seed=0)(noisy))  # seeded
  assert one.var(0).mean() > 1e-5  # samples differ
  assert mean8.var(0).mean() < 0.4 * one.var(0).mean()  # ~1/8 for linear G
  # Sample i of a call with samples=N is sample i of seed's stream: the mean
  # of 8 is the mean of the first 8 single samples drawn with index i.
  d = load(seed=2)
  by_hand = np.mean([d._whole_or_tiled(np.concatenate(
      [noisy, d.draw_z(noisy.shape[:2], i)], -1), None, None)
                     for i in range(8)], 0)
  np.testing.assert_allclose(mean8[2], by_hand, atol=1e-6)
  # z is one field for the whole image: a tiled sample is the whole one.
  tiled = inference.Denoiser(dict(cfg), 1, params, 0, "t", {}, tile=16,
                             margin=16)(noisy)
  np.testing.assert_allclose(tiled, one[0], atol=1e-5)


def _config(**adv):
  c = configs.apply_args(configs.defaults("adversarial"), "smoke")
  c.optim.schedule = "constant"
  c.model.noise_input = 2
  for k, v in adv.items():
    c.adv[k] = v
  return c


def test_g_step_puts_pred_on_the_mean_of_its_samples():
  """K = 2: Pred is the reconstruction loss of the mean of two samples of
  each crop (lower than the samples' own mean loss, as they differ), the
  adversarial term sees each sample, and g/sample_std is their spread."""
  c = _config(samples=2)
  g = models.from_config(c.model, 1)
  disc = discriminators.from_config(c.disc, 1, c.data.crop)
  tx = optim.optimizer(c.optim, optim.schedule(c.optim, 4, 96))
  state = adversarial.init_adversarial_state(
      jax.random.PRNGKey(0), g, disc, tx, tx, c.data.crop, ema=False)
  k = state.params["enc0_0"]["kernel"]
  state = state.replace(params={**state.params, "enc0_0": {
      **state.params["enc0_0"], "kernel": k.at[:, :, 1:].set(0.5)}})
  spec = noise_lib.spec_from_config(c.noise)
  kw = dict(g=g, disc=disc, tx=tx, lr_fn=optim.schedule(c.optim, 4, 96),
            noise_spec=spec, ssd_weight=1.0, l1_weight=0.1, adv_weight=1.0,
            g_loss="score", margin=1.0, ema_decay=0.0, n_g=1, samples=2)
  batch, rng = _images(4, 32, 1), jax.random.PRNGKey(7)
  params = state.params
  _, m = jax.jit(lambda s, b, r: adversarial.g_train_step(s, b, r, **kw))(
      state, batch, rng)
  key = lambda tag: steps.step_key(rng, jnp.int32(0), tag)
  noisy, _ = noise_lib.apply_with_sigma(batch, key(steps.TAG_NOISE), spec)
  outs = g.apply({"params": params}, jnp.repeat(noisy, 2, axis=0),
                 train=True, rngs={"dropout": key(steps.TAG_DROPOUT),
                                   "z": key(steps.TAG_Z)})
  per = outs.reshape((4, 2) + outs.shape[1:])
  pred = losses.reconstruction(per.mean(1), batch, 1.0, 0.1)[0]
  each = losses.reconstruction(outs, jnp.repeat(batch, 2, axis=0), 1.0,
                               0.1)[0]
  np.testing.assert_allclose(m["g/pred"], pred, rtol=1e-5)
  assert float(m["g/pred"]) < float(each) - 1e-5
  np.testing.assert_allclose(m["g/sample_std"], jnp.std(per, axis=1).mean(),
                             rtol=1e-4)
  u = steps.classify(state.d_params, state.d_stats, jnp.clip(outs, 0, 1),
                     disc=disc)
  np.testing.assert_allclose(m["g/adv"], jnp.mean(u), rtol=1e-5)
  np.testing.assert_allclose(m["g/u_fake"], jnp.mean(u), rtol=1e-5)


def test_samples_need_a_g_that_samples(tmp_path):
  c = _config(samples=2)
  c.model.noise_input = 0
  with pytest.raises(ValueError, match=r"adv.samples=2 needs .*noise_input"):
    train.train_and_evaluate(c, str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.parametrize("z_at", ["input", "decoder"])
def test_a_grown_start_samples_from_its_first_g_step_with_z_init(tmp_path,
                                                                  z_at):
  """init_from a run without z: with adv.z_init the first G step's samples
  already differ; with the default 0 they start equal (zero z weights),
  wherever z enters."""
  ae = configs.apply_args(configs.defaults("autoencoder"), "smoke")
  ae.train.total_images = 16
  ae.data.train, ae.data.eval = "embedded:train", "embedded:eval"
  train.train_and_evaluate(ae, str(tmp_path / "plain"))
  first = {}
  for z_init in (0.0, 0.5):
    c = _config(samples=2, z_init=z_init, g_warmup_images=0,
                d_warmup_images=0)
    c.model = ae.model.copy_and_resolve_references()
    c.model.noise_input = 2
    c.model.z_at = z_at
    c.train.init_from = str(tmp_path / "plain")
    c.train.total_images = 16
    c.log.every_images = 8
    c.data.train, c.data.eval = "embedded:train", "embedded:eval"
    c.eval.final = False
    run = str(tmp_path / f"z{z_init}")
    train.train_and_evaluate(c, run)
    records = [json.loads(line) for line in open(
        os.path.join(run, "metrics.jsonl"))]
    first[z_init] = [r["train/g/sample_std"] for r in records
                     if "train/g/sample_std" in r][0]
  assert first[0.5] > 1e-3 and first[0.5] > 20 * first[0.0]


def test_the_autoencoder_task_refuses_a_g_that_samples(tmp_path):
  c = configs.apply_args(configs.defaults("autoencoder"), "smoke")
  c.model.noise_input = 2
  with pytest.raises(ValueError, match="noise_input=2: a G that samples is "
                     "trained adversarially"):
    train.train_and_evaluate(c, str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
  """A smoke adversarial run of a G with 2 z channels, 2 samples per crop."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  held_out = tmp_path_factory.mktemp("held_out")  # small: evaluations are
  for i, a in enumerate(np.asarray(_images(3, 64, seed=3))):  # G on each
    Image.fromarray((a[..., 0] * 255).astype(np.uint8)).save(
        str(held_out / f"{i}.png"))
  c = _config(samples=2)
  c.data.train, c.data.eval = "embedded:train", f"folder:{held_out}"
  c.eval.final = False
  workdir = str(tmp_path_factory.mktemp("sample"))
  return c, workdir, train.train_and_evaluate(c, workdir)


@pytest.mark.slow
def test_a_sampling_run_trains_resumes_exactly_and_evaluates(sample_run,
                                                             tmp_path):
  c, workdir, full = sample_run
  assert int(full.step) == 24
  records = [json.loads(line) for line in open(
      os.path.join(workdir, "metrics.jsonl"))]
  spread = [r["train/g/sample_std"] for r in records
            if "train/g/sample_std" in r]
  assert spread and all(np.isfinite(spread)) and spread[-1] > 0
  assert any("val/psnr" in r for r in records)
  # Stopped at 48 images and resumed: the uninterrupted run's parameters.
  part = c.copy_and_resolve_references()
  part.train.total_images = 48
  split = str(tmp_path / "split")
  train.train_and_evaluate(part, split)
  resumed = train.train_and_evaluate(c.copy_and_resolve_references(), split)
  for name in ("params", "d_params", "opt_state"):
    for a, b in zip(jax.tree_util.tree_leaves(getattr(full, name)),
                    jax.tree_util.tree_leaves(getattr(resumed, name))):
      np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  # Inference and the two commands: the mean of N samples, recorded.
  assert inference.load(workdir).noise_input == 2
  assert denoise.Models(workdir, samples=3).fixed.samples == 3
  out = str(tmp_path / "ev.json")
  one = evaluate.run(workdir, [c.data.eval], [50.0], out, samples=1)
  four = evaluate.run(workdir, [c.data.eval], [50.0], out, samples=4)
  assert one[0]["samples"] == 1 and four[0]["samples"] == 4
  assert one[0]["psnr"] != four[0]["psnr"]


def test_evaluate_warns_that_samples_do_nothing_to_a_model_that_does_not(
    tmp_path, capsys):
  src = tmp_path / "img"
  src.mkdir()
  from PIL import Image  # pylint: disable=g-import-not-at-top
  Image.fromarray(np.asarray(_images(1, 32)[0, ..., 0] * 255, np.uint8)).save(
      str(src / "a.png"))
  records = evaluate.run("gray-s50", [f"folder:{src}"], [50.0],
                         str(tmp_path / "e.json"), samples=4)
  assert "--samples=4 ignored for gray-s50" in capsys.readouterr().err
  assert "samples" not in records[0]
