"""Adversarial training: the D and G steps, the phases, an end-to-end run."""

import json
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ddn.tasks import adversarial
from ddn import configs
from ddn import discriminators
from ddn import logs
from ddn import init_from
from ddn import losses
from ddn import models
from ddn import noise as noise_lib
from ddn import optim
from ddn import steps
from ddn import train
from ddn.tasks import autoencoder as ae_task

G_FIELDS = ("step", "g_step", "params", "opt_state", "ema")
D_FIELDS = ("d_step", "d_params", "d_stats", "d_opt_state")


def _config(**adv):
  c = configs.apply_args(configs.defaults("adversarial"), "smoke")
  c.optim.schedule = "constant"  # cosine would depend on total_images
  c.disc.spectral_norm = True
  for k, v in adv.items():
    c.adv[k] = v
  return c


def _parts(c):
  g = models.from_config(c.model, 1)
  disc = discriminators.from_config(c.disc, 1, c.data.crop)
  g_lr = optim.schedule(c.optim, 4, 96)
  d_lr = optim.schedule(c.disc_optim, 4, 96)
  g_tx, d_tx = optim.optimizer(c.optim, g_lr), optim.optimizer(c.disc_optim,
                                                               d_lr)
  spec = noise_lib.spec_from_config(c.noise)
  state = adversarial.init_adversarial_state(jax.random.PRNGKey(0), g, disc,
                                             g_tx, d_tx, c.data.crop,
                                             ema=c.adv.ema_decay > 0)
  kw = dict(g=g, noise_spec=spec)
  d_kw = dict(kw, disc=disc, tx=d_tx, lr_fn=d_lr, loss=c.disc.loss,
              margin=1.0)
  g_kw = dict(kw, disc=disc, tx=g_tx, lr_fn=g_lr,
              ssd_weight=float(c.loss.ssd_weight),
              l1_weight=float(c.loss.l1_weight), adv_weight=float(c.adv.weight),
              g_loss=c.adv.g_loss, margin=1.0, ema_decay=float(c.adv.ema_decay),
              n_g=1)
  return state, d_kw, g_kw, g_tx, g_lr, spec, g


def _batch(n=4, size=32, seed=0):
  rng = np.random.default_rng(seed)
  return jnp.asarray(rng.uniform(0, 1, (n, size, size, 1)), jnp.float32)


def _train_held_out_d_errors(c, workdir):
  """launch's path (no final evaluation): the trained state and every
  held-out D error (`val/d_err`) the run logged."""
  c.eval.final = False
  state = train.train_and_evaluate(c, str(workdir))
  records = logs.read_metrics(os.path.join(workdir, "metrics.jsonl"))
  return state, [r["val/d_err"] for r in records if "val/d_err" in r]


def _changed(a, b, field) -> bool:
  la = jax.tree_util.tree_leaves(getattr(a, field))
  lb = jax.tree_util.tree_leaves(getattr(b, field))
  return any(not np.array_equal(x, y) for x, y in zip(la, lb))


def _copy(state):
  return jax.tree_util.tree_map(np.array, state)


@pytest.mark.slow
def test_d_step_changes_only_d_fields_and_advances_spectral_norm():
  state, d_kw, *_ = _parts(_config(ema_decay=0.9))
  before = _copy(state)
  after, m = jax.jit(lambda s, b, r: adversarial.d_train_step(s, b, r, **d_kw))(
      state, _batch(), jax.random.PRNGKey(1))
  for f in D_FIELDS:
    assert _changed(before, after, f), f
  for f in G_FIELDS + ("ref",):
    assert not _changed(before, after, f), f
  assert jax.tree_util.tree_leaves(after.d_stats)  # spectral norm is on
  assert int(after.d_step) == 1 and int(after.step) == 0
  for k in ("d/loss", "d/acc_real", "d/acc_fake", "d/u_real", "d/u_fake"):
    assert np.isfinite(m[k])


def test_g_step_changes_only_g_fields_and_reads_spectral_norm():
  state, _, g_kw, *_ = _parts(_config(ema_decay=0.9))
  before = _copy(state)
  after, m = jax.jit(lambda s, b, r: adversarial.g_train_step(s, b, r, **g_kw))(
      state, _batch(), jax.random.PRNGKey(1))
  for f in G_FIELDS:
    assert _changed(before, after, f), f
  for f in D_FIELDS + ("ref",):  # d_stats too: D is only read
    assert not _changed(before, after, f), f
  assert int(after.step) == 1 and int(after.g_step) == 1
  assert np.isfinite(m["g/adv"]) and m["g/loss"] != m["g/pred"]


@pytest.mark.parametrize("sigma_power", [0.0, 1.0])
def test_g_step_with_zero_weight_is_the_autoencoder_step(sigma_power):
  """Also with each crop's loss weighted by its σ (loss.sigma_power), here
  over σ drawn per crop, where the weighting changes the loss."""
  c = _config(weight=0.0)
  state, _, g_kw, g_tx, g_lr, spec, g = _parts(c)
  if sigma_power:
    spec = noise_lib.NoiseSpec(kinds=("gaussian",), blind=True,
                               sigma_min=0.0, sigma_max=75.0)
    g_kw = dict(g_kw, noise_spec=spec, sigma_power=sigma_power)
  batch, rng = _batch(), jax.random.PRNGKey(7)
  ae_state = ae_task.TrainState(step=state.g_step, params=state.params,
                              opt_state=state.opt_state)
  ae_step = lambda power: jax.jit(lambda s, b, r: ae_task.ae_train_step(
      s, b, r, model=g, tx=g_tx, lr_fn=g_lr, noise_spec=spec,
      ssd_weight=1.0, l1_weight=0.1, sigma_power=power))(ae_state, batch, rng)
  ae_after, ae_m = ae_step(sigma_power)
  g_after, g_m = jax.jit(
      lambda s, b, r: adversarial.g_train_step(s, b, r, **g_kw))(
          state, batch, rng)
  np.testing.assert_allclose(g_m["g/loss"], ae_m["ae/loss"], rtol=1e-6)
  if sigma_power:
    assert abs(float(ae_step(0.0)[1]["ae/loss"]) - float(g_m["g/loss"])) > (
        1e-3 * float(g_m["g/loss"]))
  for a, b in zip(jax.tree_util.tree_leaves((ae_after.params,
                                             ae_after.opt_state)),
                  jax.tree_util.tree_leaves((g_after.params,
                                             g_after.opt_state))):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_adversarial_gradient_reaches_g_and_not_d():
  """The adversarial term alone (Pred weights ~0) moves G's parameters, and
  the direction lowers u(G(x)): G's outputs are pushed toward 'real'. D's
  parameters get no gradient from it."""
  c = _config(weight=1.0)
  state, _, g_kw, *_ = _parts(c)
  g_kw = dict(g_kw, ssd_weight=1e-12, l1_weight=0.0)
  batch, rng = _batch(), jax.random.PRNGKey(3)
  disc, g = g_kw["disc"], g_kw["g"]

  def mean_u(s):
    noisy = noise_lib.apply(batch, steps.step_key(rng, jnp.int32(0),
                                                  steps.TAG_NOISE),
                            g_kw["noise_spec"])
    out = jnp.clip(g.apply({"params": s.params}, noisy, train=False), 0, 1)
    return float(jnp.mean(steps.classify(s.d_params, s.d_stats, out,
                                         disc=disc)))

  step = jax.jit(lambda s, b, r: adversarial.g_train_step(s, b, r, **g_kw))
  u0, s = mean_u(state), _copy(state)
  before = _copy(state)
  for _ in range(5):
    s, _ = step(s, batch, rng)
  assert _changed(before, s, "params")
  assert not _changed(before, s, "d_params")
  assert mean_u(s) < u0

  # The same through jax.grad: the term's gradient w.r.t. D's parameters
  # is not what the G step uses; w.r.t. G's it is non-zero.
  def adv_term(g_params):
    out = jnp.clip(g.apply({"params": g_params}, batch, train=False), 0, 1)
    u = disc.apply({"params": state.d_params, steps.STATS: state.d_stats},
                   out, train=False)
    return losses.generator_loss("score", u)

  grads = jax.grad(adv_term)(state.params)
  assert optim_norm(grads) > 0


def optim_norm(tree) -> float:
  return float(jnp.sqrt(sum(jnp.sum(jnp.square(x))
                            for x in jax.tree_util.tree_leaves(tree))))


def test_generator_losses_against_hand_values():
  u = jnp.asarray([-2.0, 0.0, 3.0])
  np.testing.assert_allclose(losses.generator_loss("score", u), 1 / 3)
  np.testing.assert_allclose(
      losses.generator_loss("nonsaturating", u),
      np.mean(np.log1p(np.exp([-2.0, 0.0, 3.0]))), rtol=1e-6)
  np.testing.assert_allclose(losses.generator_loss("hinge", u, 1.0),
                             np.mean([0.0, 1.0, 4.0]))
  patches = jnp.ones((2, 3, 3))  # patch scores: mean over all of them
  np.testing.assert_allclose(losses.generator_loss("score", patches), 1.0)
  with pytest.raises(ValueError, match="config.adv.g_loss='wgan'"):
    losses.generator_loss("wgan", u)


def test_relativistic_losses_against_hand_values():
  """D: real scores against the outputs' mean, outputs against the real
  mean; G: the same with the labels swapped. Interleaved rows, patch
  scores, and a batch whose sides are unequal in size."""
  sp = lambda v: np.log1p(np.exp(v))
  real, fake = np.array([-1.0, 0.5]), np.array([2.0, 0.0, 1.0])
  u = jnp.asarray([real[0], fake[0], real[1], fake[1], fake[2]])
  y = jnp.asarray([losses.REAL, losses.DENOISED, losses.REAL,
                   losses.DENOISED, losses.DENOISED])
  d = 0.5 * (np.mean(sp(real - fake.mean())) + np.mean(sp(real.mean() - fake)))
  np.testing.assert_allclose(losses.disc_loss("relativistic", u, y), d,
                             rtol=1e-6)
  g = 0.5 * (np.mean(sp(fake.mean() - real)) + np.mean(sp(fake - real.mean())))
  np.testing.assert_allclose(
      losses.generator_loss("relativistic", jnp.asarray(fake),
                            u_real=jnp.asarray(real)), g, rtol=1e-6)
  # Patch scores (B, H', W'): every patch is one score of its image's side.
  pu = jnp.broadcast_to(u[:, None, None], (5, 2, 2))
  np.testing.assert_allclose(losses.disc_loss("relativistic", pu, y), d,
                             rtol=1e-6)
  # Shifting every score by a constant changes nothing: only differences
  # between the sides count (the logistic loss would change).
  np.testing.assert_allclose(losses.disc_loss("relativistic", u + 3.0, y), d,
                             rtol=1e-6)
  with pytest.raises(ValueError, match="needs u_real"):
    losses.generator_loss("relativistic", u)


def test_relativistic_g_step_scores_the_real_batch():
  """With g_loss='relativistic' the G step's adversarial term is the
  relativistic loss of its outputs' scores against the clean batch's."""
  c = _config(g_loss="relativistic")
  c.disc.loss = "relativistic"
  state, d_kw, g_kw, *_ = _parts(c)
  g_kw = dict(g_kw, adv_weight=1.0)
  batch, rng = _batch(), jax.random.PRNGKey(3)
  _, m = jax.jit(lambda s, b, r: adversarial.g_train_step(s, b, r, **g_kw))(
      state, batch, rng)
  key = lambda tag: steps.step_key(rng, jnp.int32(0), tag)
  noisy = noise_lib.apply(batch, key(steps.TAG_NOISE), g_kw["noise_spec"])
  out = g_kw["g"].apply({"params": state.params}, noisy, train=True,
                        rngs={"dropout": key(steps.TAG_DROPOUT)})
  score = lambda x: steps.classify(state.d_params, state.d_stats, x,
                                   disc=d_kw["disc"])
  want = losses.generator_loss("relativistic", score(jnp.clip(out, 0, 1)),
                               u_real=score(batch))
  np.testing.assert_allclose(m["g/adv"], want, rtol=1e-5)
  _, dm = jax.jit(lambda s, b, r: adversarial.d_train_step(s, b, r, **dict(
      d_kw, loss="relativistic")))(state, batch, rng)
  assert np.isfinite(float(dm["d/loss"]))


def test_phases():
  c = _config()
  c.train.total_images = 96  # 24 iterations of 4
  p = adversarial.Phases(c, 4)
  assert (p.g_warmup, p.d_start, p.adv_start, p.total) == (4, 4, 8, 24)
  assert not p.d_active(3) and p.d_active(4) and p.d_active(23)
  c.train.init_from = "somewhere"
  p = adversarial.Phases(c, 4)
  assert (p.g_warmup, p.adv_start) == (0, 4)
  c.adv.freeze_disc = True
  p = adversarial.Phases(c, 4)
  assert p.d_active(3) and not p.d_active(4)
  assert p.d_steps_total(2) == 8


def test_balance_warns_after_a_sustained_window():
  c = _config(balance_window=3)
  b = adversarial.Balance(c.adv)
  won = {"d/loss": 0.01, "d/acc": 0.99, "d/acc_real": 1.0, "d/acc_fake": 0.98,
         "d/u_real": -5.0, "d/u_fake": 5.0}
  chance = dict(won, **{"d/loss": 0.69, "d/acc": 0.51})
  assert b.update(won) == [] and b.update(won) == []
  (w,) = b.update(won)
  assert "D has won for 3 log lines" in w
  assert b.update(won) == []  # once per episode
  assert b.update({"g/loss": 1.0}) == []  # warm-up lines: no D metrics
  assert b.update(chance) == [] and b.update(chance) == []
  (w,) = b.update(chance)
  assert "D is at chance" in w


# λ < 0, n_d = 0 and D's lr <= 0: tests/test_bad_config.py.
@pytest.mark.parametrize("field,value,match", [
    ("adv.g_loss", "wgan", "config.adv.g_loss='wgan'"),
    ("adv.ema_decay", 1.0, "config.adv.ema_decay=1.0"),
    ("adv.r1", -1.0, r"config.adv.r1=-1.0: must be >= 0"),
    ("adv.fm_weight", -0.5, r"config.adv.fm_weight=-0.5: must be >= 0"),
    ("train.total_images", 32, "leaves no adversarial phase"),
    ("train.init_from", "/nonexistent/ae", "has no checkpoint"),
])
def test_bad_config_fails_before_writing(tmp_path, field, value, match):
  c = _config()
  group, name = field.split(".")
  c[group][name] = value
  workdir = tmp_path / "run"
  with pytest.raises(ValueError, match=match):
    train.train_and_evaluate(c, str(workdir))
  assert not workdir.exists()


@pytest.fixture(scope="module")
def adv_run(tmp_path_factory):
  """A smoke adversarial run: 4 warm-up, 4 D warm-up, 16 adversarial
  iterations of batch 4, patch D with spectral norm, 2 D steps each, an
  EMA of G."""
  c = _config(n_d=2, ema_decay=0.5)
  c.disc.kind, c.disc.padding, c.disc.dense = "patch", "VALID", ()
  workdir = str(tmp_path_factory.mktemp("adv"))
  return c, workdir, train.train_and_evaluate(c, workdir)


@pytest.mark.slow
def test_run_leaves_checkpoints_metrics_plots_and_evaluation(adv_run):
  c, workdir, state = adv_run
  assert int(state.step) == 24 and int(state.g_step) == 24
  assert int(state.d_step) == 2 * 20  # D from iteration 4 on, 2 per iteration
  for f in ("config.json", "metrics.jsonl", "learning_curve.png",
            "adversarial_curve.png", "comparison.png", "evaluation.json"):
    assert os.path.getsize(os.path.join(workdir, f)) > 0, f
  with open(os.path.join(workdir, "evaluation.json")) as f:
    ev = json.load(f)
  assert ev["step"] == 24
  for name in ("ref", "g"):
    r = ev[name]
    assert 0 <= r["realism_auc"] <= 1 and r["psnr"] > 0
    lo, hi = r["realism_auc_ci95"]
    assert 0 <= lo <= r["realism_auc"] <= hi <= 1
    assert 0 <= r["realism_error"] <= 1 and r["spectrum_hf_ratio"] > 0
  assert set(ev["calibration"]) == {"clean", "noisy", "gaussian"}
  records = logs.read_metrics(os.path.join(workdir, "metrics.jsonl"))
  keys = set().union(*records)
  for k in ("train/g/loss", "train/g/pred", "train/g/adv", "train/d/loss",
            "train/d/acc_real", "train/d/acc_fake", "train/d/u_real",
            "train/d/u_fake", "val/psnr", "val/d_err"):
    assert k in keys, k
  # The reference is G as it left its warm-up, not the final G.
  assert any(not np.array_equal(a, b) for a, b in zip(
      jax.tree_util.tree_leaves(state.ref),
      jax.tree_util.tree_leaves(state.params)))


@pytest.mark.slow
def test_init_from_an_autoencoder_skips_the_warmup_and_frozen_d_stops(
    tmp_path, caplog):
  ae = configs.apply_args(configs.defaults("autoencoder"), "smoke")
  ae_dir = str(tmp_path / "ae")
  ae_state = train.train_and_evaluate(ae, ae_dir)
  # adv_run's G and D (its compiled steps are reused from the cache).
  c = _config(freeze_disc=True, n_d=2, ema_decay=0.5)
  c.disc.kind, c.disc.padding, c.disc.dense = "patch", "VALID", ()
  c.train.init_from = ae_dir
  c.train.total_images = 32  # 8 iterations: 4 of D warm-up, 4 frozen
  c.eval.final = False  # judged elsewhere (e.g. a sweep's plane)
  caplog.set_level("INFO")
  state = train.train_and_evaluate(c, str(tmp_path / "adv"))
  for f in ("evaluation.json", "comparison.png"):
    assert not (tmp_path / "adv" / f).exists(), f
  assert (tmp_path / "adv" / "metrics.jsonl").exists()
  assert "G initialised from" in caplog.text
  assert "against the frozen D" in caplog.text
  # No G warm-up: D from the first iteration, and only for its warm-up
  # (4 iterations of 2 D steps).
  assert int(state.d_step) == 4 * 2 and int(state.step) == 8
  for a, b in zip(jax.tree_util.tree_leaves(ae_state.params),
                  jax.tree_util.tree_leaves(state.ref)):
    np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_evaluate_reads_an_adversarial_run(adv_run, gray_folder, tmp_path):
  from ddn import inference  # pylint: disable=import-outside-toplevel
  _, workdir, _ = adv_run
  d = inference.Denoiser.from_workdir(workdir)
  x = np.full((40, 48, 1), 0.5, np.float32)
  assert d(x).shape == x.shape


@pytest.mark.slow
def test_comparison_figure_over_finished_runs(adv_run, tmp_path):
  from ddn.figures import denoised
  _, workdir, _ = adv_run
  out = str(tmp_path / "cmp.png")
  summary = denoised.adversarial({"big": workdir, "again": workdir},
                                 "embedded:eval", [0, 2], 25.0, out, crop=32)
  assert os.path.getsize(out) > 0
  assert set(summary) == {"noisy", "big", "again"}
  assert summary["big"]["psnr"] == summary["again"]["psnr"]  # same noise
  assert 0 <= summary["big"]["realism"] <= 1
  with pytest.raises(ValueError, match="has 3 images"):
    denoised.adversarial({"big": workdir}, "embedded:eval", [5], 25.0, out)


def _record(method, psnr, auc, checkpoint="", **kw):
  return {"data": "folder:d", "sigma": 50.0, "method": method, "psnr": psnr,
          "realism_auc": auc, "realism_auc_ci95": [auc - 0.02, auc + 0.02],
          "checkpoint": checkpoint, **kw}


def test_plane_groups_runs_into_curves_by_their_sweep_names(tmp_path):
  from ddn.figures import perception
  records = [
      _record("ddn gray-s50", 25.8, 0.93, "gray-s50"),
      _record("ddn small-push10", 24.6, 0.70, "runs/pd/small-push10"),
      _record("ddn small-push1", 25.6, 0.86, "runs/pd/small-push1"),
      _record("ddn push0", 25.9, 0.92, "runs/pd/push0"),
      _record("ddn big-push3", 25.3, 0.88, "runs/pd/big-push3"),
      _record("ddn α=0.5", 25.4, 0.80, "gray-s50~runs/pd/small-push10@0.5"),
      _record("calibration: clean vs clean", None, 0.5, calibration=True),
      {"data": "folder:d", "sigma": 50.0, "method": "bm3d", "psnr": 25.6}]
  points = perception.plane_points(records)
  assert [p["name"] for p in points] == [
      "gray-s50", "small-push10", "small-push1", "push0", "big-push3", "α=0.5"]
  curves = perception._curves(points)  # pylint: disable=protected-access
  assert set(curves) == {"small", "big", "interpolation"}
  # λ = 0 starts every adversary's curve; λ runs in order.
  assert [p["param"] for p in curves["small"]] == [0.0, 1.0, 10.0]
  assert [p["name"] for p in curves["big"]] == ["push0", "big-push3"]
  # The interpolation runs from its first model (α = 0) to its second.
  assert [(p["name"], p["param"]) for p in curves["interpolation"]] == [
      ("gray-s50", 0.0), ("α=0.5", 0.5), ("small-push10", 1.0)]
  out = str(tmp_path / "plane.png")
  assert len(perception.plane(records, out)) == 6
  assert os.path.getsize(out) > 0
  with open(str(tmp_path / "plane.json")) as f:
    assert len(json.load(f)) == 6
  with pytest.raises(ValueError, match="--realism"):
    perception.plane(records[-2:], out)


def test_knocked_out_blocks_and_their_interval():
  from ddn.figures import blocks
  from ddn.figures import stats
  clean = np.full((64, 80, 1), 0.5, np.float32)
  noisy, mask = blocks.knocked_out(clean, 50.0, 3)
  again, _ = blocks.knocked_out(clean, 50.0, 3)
  np.testing.assert_array_equal(noisy, again)  # the same for every run
  np.testing.assert_array_equal(noisy[..., 0] == 0.0, mask)
  assert 24 * 24 <= mask.sum() <= 4 * 40 * 40
  other, _ = blocks.knocked_out(clean, 50.0, 4)
  assert not np.array_equal(noisy, other)  # each image its own blocks
  # A pooled ratio: sum(values) / sum(over), its interval around it.
  ratio, (lo, hi) = stats.mean_ci([1.0, 2.0, 3.0], over=[2.0, 2.0, 2.0])
  assert ratio == pytest.approx(1.0) and lo < 1.0 < hi
  mean, (lo, hi) = stats.mean_ci([5.0, 5.0])
  assert mean == lo == hi == 5.0


@pytest.mark.slow
def test_blocks_figure_measures_inside_the_blocks(tmp_path):
  from ddn.figures import blocks
  out = str(tmp_path / "blocks.png")
  summary = blocks.blocks({"MSE": "gray-s50"}, "embedded:eval", 50.0, out,
                          indices=[1])
  assert os.path.getsize(out) > 0
  with open(str(tmp_path / "blocks.json")) as f:
    assert json.load(f)["summary"]["MSE"]["psnr"] == summary["MSE"]["psnr"]
  noisy, mse = summary["noisy"], summary["MSE"]
  assert noisy["detail_blocks"] == 0.0  # the blocks are flat zeros
  assert mse["psnr_rest"] > noisy["psnr_rest"] + 10  # it denoises
  # A model never trained on holes cannot fill them: its blocks stay far
  # below the rest of the image and nearly flat.
  assert mse["psnr_blocks"] < mse["psnr_rest"] - 10
  lo, hi = mse["psnr_ci95"]
  assert lo <= mse["psnr"] <= hi


@pytest.mark.slow
def test_spectra_of_noise_and_of_a_denoiser(tmp_path):
  from ddn.figures import spectra
  out = str(tmp_path / "spectra.png")
  ratios = spectra.spectra({"MSE": "gray-s50"}, "embedded:eval", 50.0, out)
  assert os.path.getsize(out) > 0
  # Noise adds high-frequency power; the MSE denoiser removes more than the
  # noise added (it is smoother than clean).
  assert ratios["noisy"] > 2 and ratios["MSE"] < 1


@pytest.mark.slow
@pytest.mark.parametrize("field,value,match", [
    ("disc.features", (8, 24), "discriminator does not match.*config.disc"),
    ("disc.spectral_norm", False, "spectral-norm state differs"),
    ("adv.ema_decay", 0.0, "config.adv.ema_decay"),
])
def test_resume_with_changed_state_is_refused(adv_run, tmp_path, field, value,
                                              match):
  import shutil
  c, workdir, _ = adv_run
  copy = str(tmp_path / "copy")
  shutil.copytree(workdir, copy)
  changed = c.copy_and_resolve_references()
  group, name = field.split(".")
  changed[group][name] = value
  with pytest.raises(ValueError, match=match):
    train.train_and_evaluate(changed, copy)


@pytest.mark.slow
def test_one_g_whichever_tool_loads_it(adv_run):
  """With an EMA of G, ddn.evaluate and ddn.denoise load the EMA
  (checkpoint.load_params, through inference.load); that the run's own
  evaluations score it: tests/test_meter_bites.py."""
  from ddn import checkpoint
  from ddn import inference
  _, workdir, state = adv_run
  loaded, _ = checkpoint.load_params(workdir)
  d = inference.load(workdir)
  for ema, p, got, used in zip(jax.tree_util.tree_leaves(state.ema),
                               jax.tree_util.tree_leaves(state.params),
                               jax.tree_util.tree_leaves(loaded),
                               jax.tree_util.tree_leaves(d.params)):
    np.testing.assert_array_equal(got, ema)
    np.testing.assert_array_equal(used, ema)
  assert any(not np.array_equal(e, p) for e, p in zip(
      jax.tree_util.tree_leaves(state.ema),
      jax.tree_util.tree_leaves(state.params)))


class _Blur(nn.Module):
  """A fixed G that blurs (5x5 box), with no parameters."""
  channels: int = 1

  def __call__(self, x, train=False):
    del train
    k = jnp.ones((5, 5, 1, 1), x.dtype) / 25
    return jax.lax.conv_general_dilated(
        x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


@pytest.mark.slow
def test_d_learns_to_catch_a_blurring_g():
  """Repeated D steps against a fixed blurring G drive D's error below 0.1
  with real crops scored lower (more real) than G's outputs; swapping D's
  labels would fail this."""
  c = _config()
  c.disc.spectral_norm = False
  state, d_kw, *_ = _parts(c)
  d_kw = dict(d_kw, g=_Blur())
  state = state.replace(params={}, ema={}, ref={})
  step = jax.jit(lambda s, b, r: adversarial.d_train_step(s, b, r, **d_kw))
  for i in range(60):
    state, m = step(state, _batch(8, seed=i), jax.random.PRNGKey(0))
  held_out = _batch(16, seed=1000)
  noisy = noise_lib.apply(held_out, jax.random.PRNGKey(5), d_kw["noise_spec"])
  fake = jnp.clip(_Blur().apply({}, noisy), 0, 1)
  score = lambda x: steps.classify(state.d_params, state.d_stats, x,
                                   disc=d_kw["disc"])
  u_real, u_fake = score(held_out), score(fake)
  err = 0.5 * (np.mean(u_real > 0) + np.mean(u_fake <= 0))
  assert err < 0.1 and float(m["d/err"]) < 0.1
  assert np.mean(u_real) < np.mean(u_fake)


@pytest.mark.slow
def test_gradient_ratio_metric():
  """g/grad_ratio = |λ ∇adv| / |∇pred| at G's last layer: linear in λ, 0
  without an adversary, and exactly the relative weight when λ is set
  adaptively (VQGAN)."""
  state, _, g_kw, *_ = _parts(_config())
  batch, rng = _batch(), jax.random.PRNGKey(2)

  # λ and its ceiling are traced: one program per value of `adaptive`.
  fns = {a: jax.jit(lambda s, b, r, w, cap, a=a: adversarial.g_train_step(
      s, b, r, **dict(g_kw, adv_weight=w, adaptive=a, max_weight=cap)))
         for a in (False, True)}

  def metrics(adv_weight, adaptive=False, max_weight=0.0):
    return fns[adaptive](state, batch, rng, jnp.float32(adv_weight),
                         jnp.float32(max_weight))[1]

  m1, m2 = metrics(adv_weight=0.1), metrics(adv_weight=0.2)
  assert float(m1["g/grad_ratio"]) > 0
  np.testing.assert_allclose(m2["g/grad_ratio"], 2 * m1["g/grad_ratio"],
                             rtol=1e-5)
  assert float(metrics(adv_weight=0.0)["g/grad_ratio"]) == 0.0
  m = metrics(adv_weight=0.3, adaptive=True)
  np.testing.assert_allclose(m["g/grad_ratio"], 0.3, rtol=1e-5)
  # λ = 0.3 |∇pred| / |∇adv|: the fixed-λ ratio at 0.1 gives |∇adv|/|∇pred|.
  np.testing.assert_allclose(m["g/adv_weight"],
                             0.3 * 0.1 / m1["g/grad_ratio"], rtol=1e-4)
  # A ceiling below that λ holds λ there, and the push falls with it.
  cap = 0.5 * float(m["g/adv_weight"])
  capped = metrics(adv_weight=0.3, adaptive=True, max_weight=cap)
  np.testing.assert_allclose(capped["g/adv_weight"], cap, rtol=1e-6)
  np.testing.assert_allclose(capped["g/grad_ratio"], 0.15, rtol=1e-4)
  above = metrics(adv_weight=0.3, adaptive=True, max_weight=4 * cap)
  np.testing.assert_allclose(above["g/adv_weight"], m["g/adv_weight"],
                             rtol=1e-6)


def test_interpolation_endpoints_are_the_two_models():
  from ddn import inference
  c = _config()
  g = models.from_config(c.model, 1)
  make = lambda k, name: inference.Denoiser(
      c.model.to_dict(), 1, g.init(jax.random.PRNGKey(k),
                                   jnp.zeros((1, 32, 32, 1)))["params"],
      0, name, {"blind": False, "sigma": 25.0}, tile="none")
  a, b = make(0, "a"), make(1, "b")
  x = np.asarray(_batch(1, 40)[0])
  np.testing.assert_array_equal(inference.interpolate(a, b, 0.0)(x), a(x))
  np.testing.assert_array_equal(inference.interpolate(a, b, 1.0)(x), b(x))
  half = inference.interpolate(a, b, 0.5)
  for p, q, r in zip(*(jax.tree_util.tree_leaves(d.params)
                       for d in (a, b, half))):
    np.testing.assert_allclose(r, (np.asarray(p) + np.asarray(q)) / 2,
                               rtol=1e-6)
  with pytest.raises(ValueError, match="alpha=1.5: must be in"):
    inference.interpolate(a, b, 1.5)


def test_an_exported_interpolation_is_the_interpolated_model(tmp_path,
                                                             monkeypatch):
  """python -m ddn.inference --export=A --interpolate_to=B --alpha=α ships
  (1 - α) · A + α · B: the same outputs as inference.interpolate, B's σ
  and objective, both sources named; and loads as a shipped model."""
  from ddn import inference
  folder = inference.export_interpolation(
      "gray-s25", "gray-s25-adv", 0.75, "mix", {"note": "test"},
      out_root=str(tmp_path))
  meta = json.load(open(os.path.join(folder, inference.MODEL_FILE)))
  assert meta["objective"] == "adversarial" and meta["noise"]["sigma"] == 25
  # The judges' default tuning data is the adversarial end's (Train400).
  assert meta["info"]["train_data"] == inference.shipped_meta(
      "gray-s25-adv")["info"]["train_data"]
  # Either end adversarial: never the MSE model best_shipped would pick.
  back = inference.export_interpolation("gray-s25-adv", "gray-s25", 0.25,
                                        "back", {}, out_root=str(tmp_path))
  assert json.load(open(os.path.join(back, inference.MODEL_FILE)))[
      "objective"] == "adversarial"
  assert meta["info"]["interpolation"]["alpha"] == 0.75
  assert (meta["info"]["interpolation"]["from"]["source"],
          meta["info"]["interpolation"]["to"]["source"]) == (
              "gray-s25", "gray-s25-adv")
  monkeypatch.setattr(inference, "SHIPPED_DIR", str(tmp_path))
  shipped = inference.load("mix", tile="none")
  monkeypatch.undo()
  ref = inference.interpolate(inference.load("gray-s25"),
                              inference.load("gray-s25-adv"), 0.75,
                              tile="none")
  x = np.asarray(_batch(1, 40)[0])
  np.testing.assert_array_equal(shipped(x), ref(x))
  assert not np.array_equal(ref(x), inference.load("gray-s25-adv",
                                                   tile="none")(x))


def test_init_from_a_shipped_model():
  """`train.init_from` may name a shipped model: its parameters are checked
  against config.model before any compute, and a mismatch names the
  fields to change."""
  c = configs.defaults("adversarial")
  c.train.init_from = "gray-blind"
  g = models.from_config(c.model, 1)
  expected = jax.eval_shape(lambda: g.init(jax.random.PRNGKey(0), jnp.zeros(
      (1, 48, 48, 1)))["params"])
  init_from.check(c, expected)  # fits
  params, _ = init_from.load_params_into("gray-blind", expected,
                                         "gray-blind", None)
  assert jax.tree_util.tree_structure(params) == (
      jax.tree_util.tree_structure(expected))
  small = _config()
  small.train.init_from = "gray-blind"
  g = models.from_config(small.model, 1)
  expected = jax.eval_shape(lambda: g.init(jax.random.PRNGKey(0), jnp.zeros(
      (1, 32, 32, 1)))["params"])
  with pytest.raises(ValueError, match=r"That run has config\.model\.features"
                     r"=\(32, 64, 128\) \(here \(8, 16\)\)"):
    init_from.check(small, expected)


class _LinearD(nn.Module):
  """u(x) = <W, x> + b, one score per image: ∇_x u = W."""

  @nn.compact
  def __call__(self, x, train=False):
    return nn.Dense(1)(x.reshape((x.shape[0], -1)))[:, 0]


def test_r1_penalty_is_half_gamma_times_the_real_gradient_squared():
  """With a linear D, ∇_x u = W for every image: R1 = |W|², and its
  gradient γW is the whole difference SGD sees from the plain update; the
  penalty reads real images only (fakes' labels do not enter it)."""
  import optax  # pylint: disable=g-import-not-at-top
  disc = _LinearD()
  x = _batch(n=4, size=6)
  y = jnp.array([losses.REAL, losses.DENOISED] * 2)
  params = disc.init(jax.random.PRNGKey(0), x)["params"]
  tx = optax.sgd(1.0)
  kw = dict(disc=disc, tx=tx, loss="logistic", margin=1.0)
  run = lambda r1, yy: steps.disc_update(params, {}, tx.init(params), x, yy,
                                         jax.random.PRNGKey(1), r1=r1, **kw)
  p0, _, _, v0, u0, e0 = run(0.0, y)
  p1, _, _, v1, u1, e1 = run(0.5, y)
  w = params["Dense_0"]["kernel"]
  np.testing.assert_allclose(e1["r1"], jnp.sum(w ** 2), rtol=1e-5)
  np.testing.assert_allclose(v1 - v0, 0.25 * jnp.sum(w ** 2), rtol=1e-4)
  np.testing.assert_array_equal(u0, u1)
  assert "r1" not in e0
  np.testing.assert_allclose(p0["Dense_0"]["kernel"] - p1["Dense_0"]["kernel"],
                             0.5 * w, rtol=1e-4, atol=1e-7)
  np.testing.assert_allclose(p0["Dense_0"]["bias"], p1["Dense_0"]["bias"],
                             atol=1e-7)
  # No real image in the batch: no penalty.
  _, _, _, _, _, e2 = run(0.5, jnp.full((4,), losses.DENOISED))
  np.testing.assert_allclose(e2["r1"], 0.0, atol=1e-12)


def test_r1_penalty_reaches_the_adversarial_d_step():
  c = _config()
  state, d_kw, *_ = _parts(c)
  step = lambda r1: jax.jit(lambda s, b, r: adversarial.d_train_step(
      s, b, r, r1=r1, **d_kw))(_copy(state), _batch(), jax.random.PRNGKey(1))
  (s0, m0), (s1, m1) = step(0.0), step(10.0)
  assert "d/r1" not in m0 and float(m1["d/r1"]) > 0
  assert float(m1["d/loss"]) > float(m0["d/loss"])
  assert _changed(s0, s1, "d_params")


def test_feature_matching_is_the_mean_l1_of_d_features_per_level():
  """losses.feature_matching over discriminators.features_of: one feature map
  per D level, the mean |D_l(fake) - D_l(real)| averaged over the levels;
  zero for an output equal to its clean image."""
  from ddn import discriminators
  c = _config()
  _, d_kw, *_ = _parts(c)
  disc = d_kw["disc"]
  x = _batch()
  variables = disc.init(jax.random.PRNGKey(0), x)
  feats = discriminators.features_of(disc, variables, x)
  assert len(feats) == len(disc.features)
  assert [f.shape[-1] for f in feats] == list(disc.features)
  other = jnp.clip(x + 0.1, 0.0, 1.0)
  fo = discriminators.features_of(disc, variables, other)
  want = np.mean([np.mean(np.abs(np.asarray(a) - np.asarray(b)))
                  for a, b in zip(fo, feats)])
  np.testing.assert_allclose(losses.feature_matching(fo, feats), want,
                             rtol=1e-5)
  assert float(losses.feature_matching(feats, feats)) == 0.0
  # Scores are unchanged by the sown features.
  np.testing.assert_array_equal(
      disc.apply(variables, x), disc.apply(variables, x,
                                           mutable=["intermediates"])[0])


def test_feature_matching_reaches_the_g_step():
  """adv.fm_weight > 0 adds fm_weight · g/fm to G's adversarial term (so the
  fixed-λ loss grows by λ · fm_weight · g/fm) and changes G's update."""
  c = _config()
  state, _, g_kw, *_ = _parts(c)
  kw = dict(g_kw, adaptive=False, adv_weight=0.5)
  step = lambda w: jax.jit(lambda s, b, r: adversarial.g_train_step(
      s, b, r, fm_weight=w, **kw))(_copy(state), _batch(),
                                   jax.random.PRNGKey(3))
  (s0, m0), (s1, m1) = step(0.0), step(2.0)
  assert "g/fm" not in m0 and float(m1["g/fm"]) > 0
  np.testing.assert_allclose(m1["g/adv"], m0["g/adv"] + 2.0 * m1["g/fm"],
                             rtol=1e-5)
  np.testing.assert_allclose(m1["g/loss"] - m0["g/loss"],
                             0.5 * 2.0 * m1["g/fm"], rtol=1e-4)
  assert not np.allclose(jax.tree_util.tree_leaves(s0.params)[0],
                         jax.tree_util.tree_leaves(s1.params)[0])
