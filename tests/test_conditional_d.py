"""The conditional D (config.disc.conditional): D sees each image beside
its noisy input, as the noise removed (noisy − image); every call site (D's
step, G's adversarial and feature-matching terms, the held-out D error)
pairs an image with its own noisy input."""

import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ddn import configs
from ddn import discriminators
from ddn import losses
from ddn import noise as noise_lib
from ddn import steps
from ddn.tasks import adversarial
from ddn.tasks import classifier as classifier_task

from tests.test_adversarial import (_batch, _changed, _config, _copy,
                                   _parts, _train_held_out_d_errors)


def _disc_config(**kw):
  return configs.disc(**{**dict(kind="patch", padding="VALID",
                                features=(8, 8), blocks=1, dense=(),
                                detail=True), **kw})


def _first_kernel(params):
  return params["conv0_0"]["kernel"]


def test_the_residual_channel_is_the_noise_removed():
  """Input: image channels, then the noisy image's. With noisy = image the
  residual is zero and D is the unconditional D with the same weights on
  the image's channels; with only the residual's weights non-zero, D
  depends on noisy − image alone (a shift of both changes nothing)."""
  cond = discriminators.from_config(_disc_config(conditional=True), 1, 32)
  plain = discriminators.from_config(_disc_config(), 1, 32)
  assert cond.in_channels == 2 and plain.in_channels == 1
  x, noisy = _batch(n=2), _batch(n=2, seed=1)
  params = cond.init(jax.random.PRNGKey(0),
                     discriminators.condition(cond, x, noisy))["params"]
  kernel = _first_kernel(params)  # (3, 3, image + detail + residual, 8)
  assert kernel.shape[2] == 3
  same = cond.apply({"params": params},
                    discriminators.condition(cond, x, x))
  plain_params = dict(params, conv0_0=dict(params["conv0_0"],
                                           kernel=kernel[:, :, :2]))
  np.testing.assert_allclose(same, plain.apply({"params": plain_params}, x),
                             rtol=1e-5, atol=1e-6)
  only = dict(params, conv0_0=dict(params["conv0_0"],
                                   kernel=kernel.at[:, :, :2].set(0.0)))
  u = cond.apply({"params": only}, discriminators.condition(cond, x, noisy))
  shifted = cond.apply({"params": only},
                       discriminators.condition(cond, x + 0.3, noisy + 0.3))
  np.testing.assert_allclose(u, shifted, rtol=1e-4, atol=1e-5)
  flipped = cond.apply({"params": only},
                       discriminators.condition(cond, noisy, x))
  assert not np.allclose(u, flipped, atol=1e-3)  # noisy − x, not |x − noisy|
  # Its sign and gain: without the detail channel, D on (x, noisy) with zero
  # weights on the image is the plain D, with the residual's weights, on the
  # image z whose centred 2z − 1 is 4 · (noisy − x).
  bare = discriminators.from_config(_disc_config(detail=False,
                                                 conditional=True), 1, 32)
  one = discriminators.from_config(_disc_config(detail=False), 1, 32)
  p = bare.init(jax.random.PRNGKey(2),
                discriminators.condition(bare, x, noisy))["params"]
  kb = _first_kernel(p)
  residual_only = dict(p, conv0_0=dict(p["conv0_0"],
                                       kernel=kb.at[:, :, :1].set(0.0)))
  plain_residual = dict(p, conv0_0=dict(p["conv0_0"], kernel=kb[:, :, 1:]))
  z = (discriminators.RESIDUAL_GAIN * (noisy - x) + 1.0) / 2.0
  np.testing.assert_allclose(
      bare.apply({"params": residual_only},
                 discriminators.condition(bare, x, noisy)),
      one.apply({"params": plain_residual}, z), rtol=1e-4, atol=1e-5)
  assert "conditional" in cond.describe()
  assert discriminators.condition(plain, x, noisy) is x
  with pytest.raises(ValueError, match=r"\(B, H, W, 2\) images .*conditional"):
    cond.apply({"params": params}, x)


def _cond_parts(**adv):
  c = _config(**adv)
  c.disc.update(dict(_disc_config(conditional=True)))
  return _parts(c)


def _spy_on_d_inputs(monkeypatch) -> dict:
  """Wraps steps.disc_update; the dict returned receives the inputs x and
  labels y of every D update that follows."""
  seen = {}
  update = steps.disc_update

  def spy(params, stats, opt_state, x, y, *a, **kw):
    seen["x"], seen["y"] = x, y
    return update(params, stats, opt_state, x, y, *a, **kw)

  monkeypatch.setattr(steps, "disc_update", spy)
  return seen


def test_d_step_pairs_each_image_with_its_noisy_input(monkeypatch):
  """D's 2B inputs: a real image beside the noisy version G denoised, whose
  residual is the step's Gaussian noise, then G's output beside the same
  noisy image."""
  state, d_kw, *_ = _cond_parts()
  seen = _spy_on_d_inputs(monkeypatch)
  batch = _batch(n=4)
  after, m = adversarial.d_train_step(_copy(state), batch,
                                      jax.random.PRNGKey(1), **d_kw)
  x, y = np.asarray(seen["x"]), np.asarray(seen["y"])
  assert x.shape == (8, 32, 32, 2)
  real, fake = x[y == losses.REAL], x[y == losses.DENOISED]
  np.testing.assert_array_equal(real[..., :1], np.asarray(batch))
  np.testing.assert_array_equal(real[..., 1:], fake[..., 1:])  # same noisy
  noisy, _ = noise_lib.apply_with_sigma(
      batch, steps.step_key(jax.random.PRNGKey(1), state.d_step,
                            adversarial.TAG_D_NOISE), d_kw["noise_spec"])
  np.testing.assert_allclose(real[..., 1:], np.asarray(noisy), atol=1e-6)
  g_out = d_kw["g"].apply({"params": state.params}, noisy, train=False)
  np.testing.assert_allclose(fake[..., :1], np.clip(g_out, 0, 1), atol=1e-6)
  assert _changed(state, after, "d_params") and np.isfinite(m["d/loss"])


@pytest.mark.parametrize("samples,g_loss", [
    (1, "nonsaturating"), (2, "nonsaturating"), (2, "relativistic")])
def test_g_terms_score_each_sample_beside_its_noisy_input(samples, g_loss):
  """G's adversarial term is the generator loss of D's scores of each
  (clipped) sample beside its own noisy input (and, relativistic, of each
  clean image beside its own), so the residual channel carries gradient to
  G; feature matching compares the same pairs."""
  c = _config()
  c.disc.update(dict(_disc_config(conditional=True)))
  if samples > 1:
    c.model.noise_input = 2
  state, _, g_kw, *_ = _parts(c)
  batch = _batch(n=2)
  noisy = jnp.clip(batch + 0.1 * _batch(n=2, seed=3) - 0.05, 0, 1)
  sigma = jnp.full((2,), 25.0)
  rngs = {"dropout": jax.random.PRNGKey(4), **steps.z_rngs(
      g_kw["g"], jax.random.PRNGKey(5))}
  kw = dict(d_vars=(state.d_params, state.d_stats), batch=batch, noisy=noisy,
            sigma=sigma, rngs=rngs, weights=None, g=g_kw["g"],
            disc=g_kw["disc"], samples=samples, ssd_weight=1.0, l1_weight=0.0,
            g_loss=g_loss, margin=1.0, fm_weight=1.0)
  (_, adv), (_, _, outs, u_mean, fm) = adversarial.g_terms(state.params, **kw)
  disc, d_vars = g_kw["disc"], {"params": state.d_params,
                                steps.STATS: state.d_stats}
  rep = jnp.repeat(noisy, samples, axis=0)
  fake_in = jnp.concatenate([jnp.clip(outs, 0, 1), rep], axis=-1)
  real_in = jnp.concatenate([jnp.repeat(batch, samples, axis=0), rep], -1)
  u = disc.apply(d_vars, fake_in)
  u_real = (disc.apply(d_vars, jnp.concatenate([batch, noisy], axis=-1))
            if g_loss == "relativistic" else None)
  want_fm = losses.feature_matching(
      discriminators.features_of(disc, d_vars, fake_in),
      discriminators.features_of(disc, d_vars, real_in))
  np.testing.assert_allclose(
      adv, losses.generator_loss(g_loss, u, 1.0, u_real) + want_fm,
      rtol=1e-5)
  np.testing.assert_allclose(fm, want_fm, rtol=1e-5)
  np.testing.assert_allclose(u_mean, losses.mean_score(u), rtol=1e-5)
  # The residual channel alone moves G: zero D's weights on the image's
  # channels and the adversarial gradient is still there.
  k = _first_kernel(state.d_params)
  only = dict(state.d_params, conv0_0=dict(state.d_params["conv0_0"],
                                           kernel=k.at[:, :, :2].set(0.0)))
  grad = jax.grad(lambda p: adversarial.g_terms(
      p, **dict(kw, d_vars=(only, state.d_stats), fm_weight=0.0))[0][1])(
          state.params)
  assert optax_norm(grad) > 0


def optax_norm(tree) -> float:
  return float(jnp.sqrt(sum(jnp.sum(jnp.square(a))
                            for a in jax.tree_util.tree_leaves(tree))))


def test_g_step_with_a_conditional_d_trains_g():
  state, _, g_kw, *_ = _cond_parts()
  after, m = jax.jit(lambda s, b, r: adversarial.g_train_step(
      s, b, r, **g_kw))(_copy(state), _batch(), jax.random.PRNGKey(2))
  assert _changed(state, after, "params")
  assert np.isfinite(m["g/adv"]) and np.isfinite(m["g/u_fake"])


def test_the_held_out_d_error_scores_each_crop_beside_its_noisy_crop():
  """The evaluator's D scores: each clean crop, and G's (clipped) output
  for its noisy crop, each beside that noisy crop."""
  state, _, g_kw, *_ = _cond_parts()
  disc, g = g_kw["disc"], g_kw["g"]
  ev = types.SimpleNamespace(sigma=25.0, task=types.SimpleNamespace(
      model=g, disc=disc))
  clean = _batch(n=3)
  noisy = clean + 0.1 * jnp.asarray(
      np.random.default_rng(7).normal(size=clean.shape), jnp.float32)
  u_real, u_fake = adversarial.AdversarialEvaluator._real_and_fake_scores(
      ev, (state.params, state.d_params, state.d_stats), clean, noisy)
  fake = jnp.clip(steps.denoise(state.params, noisy, 25.0, model=g), 0, 1)
  score = lambda a: steps.classify(state.d_params, state.d_stats,
                                   jnp.concatenate([a, noisy], -1), disc=disc)
  np.testing.assert_allclose(u_real, score(clean), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(u_fake, score(fake), rtol=1e-5, atol=1e-6)


def _r1_of_one_real_image(disc):
  """D's step's R1 penalty (γ = 1) on a batch of one real and one denoised
  image beside noisy inputs; returns (penalty, params, real image, its
  noisy input)."""
  x, noisy = _batch(n=2), _batch(n=2, seed=1)
  inp = discriminators.condition(disc, x, noisy)
  params = disc.init(jax.random.PRNGKey(0), inp)["params"]
  y = jnp.array([losses.REAL, losses.DENOISED], jnp.float32)
  tx = optax.sgd(0.0)
  *_, extra = steps.disc_update(params, {}, tx.init(params), inp, y,
                                jax.random.PRNGKey(1), disc=disc, tx=tx,
                                loss="logistic", margin=1.0, r1=1.0)
  return extra["r1"], params, x[:1], noisy[:1]


def test_r1_penalises_the_image_not_its_noisy_input():
  """R1 is the squared gradient of a real image's score with respect to
  the image's pixels: the noisy input is the condition, not data."""
  disc = discriminators.from_config(_disc_config(conditional=True), 1, 32)
  r1, params, x, noisy = _r1_of_one_real_image(disc)
  gx = jax.grad(lambda a: jnp.mean(disc.apply(
      {"params": params}, jnp.concatenate([a, noisy], -1))))(x)
  np.testing.assert_allclose(r1, jnp.sum(gx ** 2), rtol=1e-4)


def test_the_classifier_task_refuses_a_conditional_d():
  c = configs.apply_args(configs.defaults("classifier"), "smoke")
  c.disc.conditional = True
  with pytest.raises(ValueError, match="config.disc.conditional=True"):
    classifier_task.ClassifierTask(c, None)


def test_an_old_config_reads_an_unconditional_d():
  saved = {"disc": {"kind": "patch"}}
  assert configs.with_added_fields(saved)["disc"]["conditional"] is False


@pytest.mark.slow
def test_a_run_with_a_conditional_d_trains_and_validates(tmp_path):
  """launch's path end to end: the held-out D error scores clean crops and
  G's outputs each beside its noisy crop, and D's first layer has the
  residual's weights."""
  c = _config(n_d=1)
  c.disc.update(dict(_disc_config(conditional=True)))
  state, errs = _train_held_out_d_errors(c, tmp_path)
  assert _first_kernel(state.d_params).shape[2] == 3
  assert errs and all(0.0 <= e <= 1.0 for e in errs)
