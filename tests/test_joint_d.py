"""The joint D (config.disc.joint): a conditional D with an image-only stack
beside it, each with its own weights; the scores are a tuple (conditional
stacks first) and every loss is their mean."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ddn import configs
from ddn import discriminators
from ddn import losses
from ddn import steps
from ddn.tasks import adversarial

from tests.test_adversarial import _batch, _changed, _config, _copy, _parts
from tests.test_conditional_d import (_disc_config, _r1_of_one_real_image,
                                      _spy_on_d_inputs)


def _joint(**kw):
  return discriminators.from_config(
      _disc_config(conditional=True, joint=True, **kw), 1, 32)


def _sub(params, prefix):
  """The stack of `params` under `prefix`, renamed as a one-stack D's."""
  return {k[len(prefix):]: v for k, v in params.items()
          if k.startswith(prefix)}


def test_the_joint_d_is_a_conditional_d_and_an_image_only_d():
  """Its first map is the conditional D with the conditional stack's
  weights; its second is the unconditional D with the image-only stack's
  weights on the image alone, blind to the noisy input."""
  joint = _joint()
  cond = discriminators.from_config(_disc_config(conditional=True), 1, 32)
  plain = discriminators.from_config(_disc_config(), 1, 32)
  x, noisy = _batch(n=2), _batch(n=2, seed=1)
  inp = discriminators.condition(joint, x, noisy)
  assert inp.shape[-1] == 2 and joint.in_channels == 2
  params = joint.init(jax.random.PRNGKey(0), inp)["params"]
  u = joint.apply({"params": params}, inp)
  assert isinstance(u, tuple) and len(u) == 2
  image_only = _sub(params, discriminators.JOINT_PREFIX)
  conditional = {k: v for k, v in params.items()
                 if not k.startswith(discriminators.JOINT_PREFIX)}
  assert set(image_only) == set(conditional)  # one design, two weights
  np.testing.assert_allclose(u[0], cond.apply({"params": conditional}, inp),
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(u[1], plain.apply({"params": image_only}, x),
                             rtol=1e-5, atol=1e-6)
  other = joint.apply({"params": params},
                      discriminators.condition(joint, x, x))
  np.testing.assert_allclose(other[1], u[1], rtol=1e-6)  # blind to noisy
  assert not np.allclose(other[0], u[0], atol=1e-4)  # the other sees it
  assert "joint" in joint.describe()
  # Feature matching sees both stacks, conditional first.
  feats = discriminators.features_of(joint, {"params": params}, inp)
  assert len(feats) == 2 * len(joint.features)
  want = (discriminators.features_of(cond, {"params": conditional}, inp)
          + discriminators.features_of(plain, {"params": image_only}, x))
  assert len(want) == len(feats)
  for a, b in zip(feats, want):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_multi_scale_joint_d_has_an_image_only_stack_per_scale():
  joint = discriminators.from_config(
      _disc_config(conditional=True, joint=True, scales=2, padding="SAME"),
      1, 32)
  x, noisy = _batch(n=2), _batch(n=2, seed=1)
  inp = discriminators.condition(joint, x, noisy)
  params = joint.init(jax.random.PRNGKey(0), inp)["params"]
  u = joint.apply({"params": params}, inp)
  assert [m.shape for m in u] == [(2, 16, 16), (2, 8, 8)] * 2
  assert {"img_conv0_0", "img_s1_conv0_0", "s1_conv0_0"} <= set(params)
  # Conditional stacks first; the image-only ones are the plain two-scale
  # D on the image, blind to the noisy input.
  plain = discriminators.from_config(
      _disc_config(scales=2, padding="SAME"), 1, 32)
  want = plain.apply({"params": _sub(params, discriminators.JOINT_PREFIX)},
                     x)
  for got, ref in zip(u[2:], want):
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
  other = joint.apply({"params": params},
                      discriminators.condition(joint, x, x))
  for s in range(2):
    np.testing.assert_allclose(other[2 + s], u[2 + s], rtol=1e-6)
    assert not np.allclose(other[s], u[s], atol=1e-4)


def test_joint_needs_a_conditional_d():
  with pytest.raises(ValueError, match="joint=True needs config.disc."
                     "conditional=True"):
    discriminators.from_config(_disc_config(joint=True), 1, 32)


def test_g_and_d_train_both_stacks_and_g_s_term_is_their_mean(
    monkeypatch):
  c = _config()
  c.disc.update(dict(_disc_config(conditional=True, joint=True,
                                  spectral_norm=True)))
  state, d_kw, g_kw, *_ = _parts(c)
  seen = _spy_on_d_inputs(monkeypatch)
  after, m = adversarial.d_train_step(_copy(state), _batch(n=4),
                                      jax.random.PRNGKey(1), **d_kw)
  monkeypatch.undo()
  for name in ("conv0_0", "img_conv0_0"):  # D's step trains both stacks
    assert not np.array_equal(
        jax.tree_util.tree_leaves(after.d_params[name]),
        jax.tree_util.tree_leaves(state.d_params[name])), name
  # D's loss is the mean of the two stacks' losses on the step's inputs.
  disc = d_kw["disc"]
  u, _ = disc.apply({"params": state.d_params, steps.STATS: state.d_stats},
                    seen["x"], train=True, mutable=[steps.STATS])
  each = [losses.disc_loss(c.disc.loss, m_, seen["y"], 1.0) for m_ in u]
  np.testing.assert_allclose(m["d/loss"], np.mean(each), rtol=1e-4)
  batch = _batch(n=2)
  noisy = jnp.clip(batch + 0.1 * _batch(n=2, seed=3) - 0.05, 0, 1)
  kw = dict(d_vars=(after.d_params, after.d_stats), batch=batch, noisy=noisy,
            sigma=jnp.full((2,), 25.0), rngs={"dropout": jax.random.PRNGKey(4)},
            weights=None, g=g_kw["g"], disc=g_kw["disc"], samples=1,
            ssd_weight=1.0, l1_weight=0.0, g_loss="nonsaturating",
            margin=1.0, fm_weight=0.0)
  (_, adv), (_, _, outs, _, _) = adversarial.g_terms(state.params, **kw)
  disc = g_kw["disc"]
  u = disc.apply({"params": after.d_params, steps.STATS: after.d_stats},
                 discriminators.condition(disc, jnp.clip(outs, 0, 1), noisy))
  each = [losses.generator_loss("nonsaturating", m_, 1.0, None) for m_ in u]
  np.testing.assert_allclose(adv, np.mean(each), rtol=1e-5)
  # The image-only stack alone moves G: zero the conditional stack's score.
  only = dict(after.d_params, score=jax.tree_util.tree_map(
      jnp.zeros_like, after.d_params["score"]))
  grad = jax.grad(lambda p: adversarial.g_terms(
      p, **dict(kw, d_vars=(only, after.d_stats)))[0][1])(state.params)
  assert any(float(jnp.abs(g).max()) > 0
             for g in jax.tree_util.tree_leaves(grad))
  g_after, gm = jax.jit(lambda s, b, r: adversarial.g_train_step(
      s, b, r, **g_kw))(_copy(after), _batch(), jax.random.PRNGKey(2))
  assert _changed(after, g_after, "params") and np.isfinite(gm["g/adv"])


def test_an_old_config_reads_no_joint_d():
  saved = {"disc": {"kind": "patch", "conditional": True}}
  assert configs.with_added_fields(saved)["disc"]["joint"] is False


def test_r1_of_a_joint_d_is_both_stacks_gradient_on_the_image():
  """R1 differentiates the mean over both stacks' scores with respect to
  the image's pixels only (the image-only stack sees nothing else)."""
  joint = _joint()
  r1, params, x, noisy = _r1_of_one_real_image(joint)
  scores = lambda a: joint.apply({"params": params},
                                 jnp.concatenate([a, noisy], -1))
  gx = jax.grad(lambda a: losses.image_scores(scores(a))[0])(x)
  np.testing.assert_allclose(r1, jnp.sum(gx ** 2), rtol=1e-4)
  g_first = jax.grad(lambda a: jnp.mean(scores(a)[0]))(x)
  assert not np.isclose(float(r1), float(jnp.sum(g_first ** 2)),
                        rtol=1e-3)  # both stacks count
