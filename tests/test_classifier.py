"""The real-vs-denoised classifiers: shapes, patch size, spectral norm,
losses, the step, and end-to-end runs against a frozen smoke denoiser."""

import json
import os
import shutil

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from ddn import configs
from ddn import discriminators
from ddn import logs
from ddn import losses
from ddn import models
from ddn import nss
from ddn import noise as noise_lib
from ddn import train
from ddn.tasks import classifier as classifier_task

STATS = discriminators.STATS


def _variables(model, size=48, seed=0):
  """{'params', STATS ({} without spectral norm)} for inputs of side size."""
  dummy = jnp.zeros((1, size, size, model.channels), jnp.float32)
  variables = model.init(jax.random.PRNGKey(seed), dummy)
  return {"params": variables["params"], STATS: variables.get(STATS, {})}


# ----------------------------------------------------------------------------
# Models.


@pytest.mark.slow
@pytest.mark.parametrize("kw", [
    dict(kind="image"),
    dict(kind="image", pool="max", dense=(16, 8), downsample="avg_pool"),
    dict(kind="patch", padding="VALID"),
    dict(kind="patch", padding="SAME", blocks=2, downsample="max_pool"),
    dict(kind="patch", padding="VALID", spectral_norm=True, kernel_size=5),
    dict(kind="patch", padding="VALID", detail=True),
])
@pytest.mark.parametrize("size", [40, 48])
def test_output_shapes(kw, size):
  model = discriminators.Classifier(features=(8, 16, 32), **kw)
  v = _variables(model, size)
  u = model.apply(v, jnp.zeros((3, size, size, 1)))
  if kw["kind"] == "image":
    assert u.shape == (3,)
  else:
    side = model.output_size(size)
    assert u.shape == (3, side, side)
  assert bool(v[STATS]) == bool(kw.get("spectral_norm"))


@pytest.mark.slow
@pytest.mark.parametrize("kw", [
    dict(features=(8, 16, 32), blocks=1, padding="VALID"),
    dict(features=(8, 16), blocks=2, padding="VALID", downsample="avg_pool"),
    dict(features=(8, 16, 32), blocks=1, padding="SAME", kernel_size=5),
    dict(features=(8, 16), blocks=2, padding="VALID", detail=True),
])
def test_patch_size_matches_a_one_pixel_probe(kw):
  """Perturbing one pixel moves exactly the scores whose patch holds it, and
  the scores of one patch depend on exactly patch_size x patch_size pixels."""
  model = discriminators.Classifier(kind="patch", **kw)
  rf = models.receptive_field(model.layers())
  # A multiple of the total stride: 'SAME' pads alike at every level then.
  size = rf.jump * -(-(2 * rf.size + 8) // rf.jump)
  v = _variables(model, size)
  x = jax.random.uniform(jax.random.PRNGKey(1), (1, size, size, 1))
  u0 = model.apply(v, x)[0]
  p = size // 2
  moved = np.abs(np.asarray(model.apply(v, x.at[0, p, p, 0].add(0.5))[0] - u0)
                 ) > 1e-6
  centres = rf.start + rf.jump * np.arange(u0.shape[0])
  inside = np.abs(centres - p) <= (rf.size - 1) / 2
  np.testing.assert_array_equal(moved, inside[:, None] & inside[None, :])
  # Gradient of the central score: its support is the patch.
  i = u0.shape[0] // 2
  g = jax.grad(lambda z: model.apply(v, z)[0, i, i])(x)[0, :, :, 0]
  rows, cols = np.nonzero(np.asarray(g))
  assert rows.max() - rows.min() + 1 == model.patch_size
  assert cols.max() - cols.min() + 1 == model.patch_size


def test_detail_channels_see_texture_the_image_channel_hides():
  """With `detail`, the first conv reads the image and its high-pass; a
  constant image has zero detail, and the detail of a checkerboard is
  large."""
  model = discriminators.Classifier(kind="patch", features=(4,), padding="VALID",
                                    detail=True)
  v = _variables(model, 16)
  assert v["params"]["conv0_0"]["kernel"].shape[2] == 2
  flat = discriminators.highpass(jnp.full((1, 8, 8, 1), 0.5))
  np.testing.assert_allclose(flat[..., 1][:, 1:-1, 1:-1], 0, atol=1e-6)
  board = (np.indices((8, 8)).sum(0) % 2).astype(np.float32)[None, :, :, None]
  assert float(jnp.abs(discriminators.highpass(board)[..., 1]).mean()) > 2


@pytest.mark.parametrize("width, taps", [(3, [1, 2, 1]), (5, [1, 4, 6, 4, 1])])
def test_detail_width_is_the_binomial_blur_of_the_detail_channel(width, taps):
  """disc.detail_width: the detail channel is 8 (x - the width x width
  binomial blur of x, zero outside); the patch grows by width - 3; other
  widths are refused naming the valid ones; old configs read 3."""
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  x = np.random.default_rng(0).uniform(0, 1, (1, 20, 20, 1)).astype(
      np.float32)
  k = np.asarray(taps, np.float64) / sum(taps)
  ref = 8 * (x[0, ..., 0] - ndimage.convolve(
      x[0, ..., 0].astype(np.float64), np.outer(k, k), mode="constant"))
  np.testing.assert_allclose(
      np.asarray(discriminators.highpass(jnp.asarray(x), width))[0, ..., 1],
      ref, atol=1e-5)
  c = configs.disc(kind="patch", padding="VALID", features=(32, 64, 64),
                   blocks=2, dense=(), detail=True, detail_width=width)
  assert discriminators.from_config(c, 1, 48).patch_size == 30 + width
  c.detail_width = 4
  with pytest.raises(ValueError, match=r"detail_width=4: valid widths are "
                     r"3, 5"):
    discriminators.from_config(c, 1, 48)
  assert configs.with_added_fields({"disc": {"detail": True}})["disc"][
      "detail_width"] == 3


def test_mscn_channel_is_the_nss_judges_normalisation():
  """disc.mscn: D's extra channel equals ddn.nss.mscn (the NSS judges'
  BRISQUE coefficients) on random, half-flat and 8-bit near-flat images
  (where float32's E[x²] − μ² would cancel), its gradient is
  finite on a flat image, it adds one input channel and 6 px to the patch
  (its 9 x 9 window against detail's 3 x 3 blur), and old configs read
  False."""
  rng = np.random.default_rng(0)
  x = rng.uniform(0, 1, (2, 24, 20)).astype(np.float32)
  x[1, :12] = 0.5
  grain = (153 + rng.integers(-1, 2, (2, 24, 20))) / 255  # ±1 of 8 bits
  for im in (x, grain.astype(np.float32)):
    np.testing.assert_allclose(
        np.asarray(discriminators.mscn(jnp.asarray(im[..., None])))[..., 0],
        nss.mscn(im), atol=2e-5)
  g = jax.grad(lambda v: discriminators.mscn(v).sum())(
      jnp.full((1, 12, 12, 1), 0.5))
  assert np.isfinite(np.asarray(g)).all()
  c = configs.disc(kind="patch", padding="VALID", features=(32, 64, 64),
                   blocks=2, dense=(), detail=True)
  plain = discriminators.from_config(c, 1, 48)
  c.mscn = True
  model = discriminators.from_config(c, 1, 48)
  assert model.patch_size == plain.patch_size + 6 == 39
  c.detail = False
  alone = discriminators.from_config(c, 1, 48)
  assert alone.patch_size == 39  # the window alone: 8 px over the stack
  v = _variables(model, 48)
  assert v["params"]["conv0_0"]["kernel"].shape[2] == 3
  assert configs.with_added_fields({"disc": {"detail": True}})["disc"][
      "mscn"] is False


def test_spectral_norm_keeps_top_singular_value_near_one():
  """After Adam updates, every normalized kernel has its largest singular
  value ≈ 1, using the state the training calls left behind."""
  model = discriminators.Classifier(kind="image", features=(8, 16),
                                    dense=(8,), spectral_norm=True)
  v = _variables(model, 24)
  params, stats = v["params"], v[STATS]
  x = jax.random.uniform(jax.random.PRNGKey(2), (8, 24, 24, 1))
  tx = optax.adam(3e-2)
  opt = tx.init(params)

  @jax.jit
  def update(params, stats, opt):
    def loss(p):
      u, upd = model.apply({"params": p, STATS: stats}, x, train=True,
                           mutable=[STATS])
      return jnp.mean(jnp.square(u - 3.0)), upd
    (_, upd), g = jax.value_and_grad(loss, has_aux=True)(params)
    up, opt = tx.update(g, opt, params)
    return optax.apply_updates(params, up), upd[STATS], opt

  for _ in range(40):
    params, new_stats, opt = update(params, stats, opt)
    changed = jax.tree_util.tree_map(lambda a, b: bool(jnp.any(a != b)),
                                     new_stats, stats)
    stats = new_stats
  sigmas = [v for path, v in jax.tree_util.tree_flatten_with_path(changed)[0]
            if "sigma" in jax.tree_util.keystr(path)]
  assert len(sigmas) == 4 and all(sigmas)  # training updates the state
  # Evaluation does not touch the state (no mutable collection is needed).
  a = model.apply({"params": params, STATS: stats}, x)
  np.testing.assert_array_equal(a, model.apply({"params": params,
                                                STATS: stats}, x))
  _, upd = model.apply({"params": params, STATS: stats}, x, train=True,
                       mutable=[STATS])
  n = 0
  for layer, sub in params.items():
    kernel = np.asarray(sub["kernel"]).reshape(-1, sub["kernel"].shape[-1])
    sigma = [s[f"{layer}/kernel/sigma"] for s in upd[STATS].values()
             if f"{layer}/kernel/sigma" in s][0]
    top = np.linalg.svd(kernel / float(sigma), compute_uv=False)[0]
    assert top == pytest.approx(1.0, abs=0.05), layer
    n += 1
  assert n == 4  # two convs, one hidden dense, the score layer


def test_spectral_norm_forward_uses_normalized_kernels():
  """Scaling every kernel by 10 leaves a spectrally normalized classifier's
  scores unchanged (W / sigma(W) is scale-free) and changes a plain one's."""
  x = jax.random.uniform(jax.random.PRNGKey(3), (2, 24, 24, 1))
  for sn in (True, False):
    model = discriminators.Classifier(kind="image", features=(8, 16),
                                      spectral_norm=sn)
    v = _variables(model, 24)
    scaled = dict(v, params=jax.tree_util.tree_map_with_path(
        lambda path, p: p * 10 if "kernel" in jax.tree_util.keystr(path)
        else p, v["params"]))
    same = np.allclose(model.apply(v, x), model.apply(scaled, x), rtol=1e-4,
                       atol=1e-5)
    assert same == sn


@pytest.mark.parametrize("field,value,match", [
    ("kind", "pixel", "disc.kind='pixel': valid values are image, patch"),
    ("padding", "full", "SAME, VALID"),
    ("features", (), "at least one level"),
    ("dense", (0,), "widths must be > 0"),
    ("dropout", 1.0, r"\[0, 1\)"),
    ("activation", "tanh", "relu, leaky_relu"),
])
def test_bad_disc_config(field, value, match):
  c = configs.defaults("classifier")
  c.disc[field] = value
  with pytest.raises(ValueError, match=match):
    discriminators.from_config(c.disc, 1, 48)


def test_crop_too_small_for_the_patch():
  c = configs.defaults("classifier")
  c.disc.kind, c.disc.padding, c.disc.blocks = "patch", "VALID", 2
  c.disc.features = (16, 32, 64)
  with pytest.raises(ValueError, match=r"crop=24 is too small.*31x31 patch"):
    discriminators.from_config(c.disc, 1, 24)


# ----------------------------------------------------------------------------
# Losses and metrics (u = log P(denoised)/P(real); y = +1 real, -1 denoised).


def test_losses_against_hand_values():
  u = jnp.array([-2.0, 0.0, 3.0, 0.5])
  y = jnp.array([1.0, -1.0, 1.0, -1.0])
  # log(1 + exp(y u)): real scored -2 is right, real scored 3 is wrong.
  want = np.mean([np.log1p(np.exp(-2.0)), np.log(2.0), np.log1p(np.exp(3.0)),
                  np.log1p(np.exp(-0.5))])
  assert float(losses.logistic(u, y)) == pytest.approx(want, rel=1e-6)
  # max(0, 1 + y u) = 0, 1, 4, 0.5.
  assert float(losses.hinge(u, y)) == pytest.approx(5.5 / 4)
  assert float(losses.hinge(u, y, margin=2.0)) == pytest.approx(
      (0 + 2 + 5 + 1.5) / 4)
  m = {k: float(v) for k, v in losses.classification_metrics(u, y).items()}
  # Real: -2 right, 3 wrong; denoised: 0 wrong (u <= 0 says real), 0.5 right.
  assert m["err_real"] == 0.5 and m["err_denoised"] == 0.5
  assert m["acc_real"] == 0.5 and m["acc"] == 0.5
  assert m["u_real"] == pytest.approx(0.5)
  assert m["u_denoised"] == pytest.approx(0.25)
  with pytest.raises(ValueError, match="valid losses are logistic, hinge"):
    losses.disc_loss("bce", u, y)


def test_patch_scores_share_their_image_label():
  u = jnp.array([[[-1.0, 2.0], [-3.0, -1.0]], [[1.0, 1.0], [-1.0, 4.0]]])
  y = jnp.array([1.0, -1.0])
  flat_y = np.repeat([1.0, -1.0], 4)
  flat_u = np.asarray(u).reshape(-1)
  assert float(losses.logistic(u, y)) == pytest.approx(
      float(np.mean(np.log1p(np.exp(flat_y * flat_u)))), rel=1e-6)
  m = losses.classification_metrics(u, y)
  assert float(m["err_real"]) == 0.25 and float(m["err_denoised"]) == 0.25


def test_unbalanced_error_is_the_mean_of_the_two_rates():
  m = losses.classification_metrics(jnp.array([1.0, -1.0, -1.0, 1.0]),
                                    jnp.array([1.0, 1.0, 1.0, -1.0]))
  assert float(m["err_real"]) == pytest.approx(1 / 3)
  assert float(m["err_denoised"]) == 0.0
  assert float(m["err"]) == pytest.approx(1 / 6)


# ----------------------------------------------------------------------------
# The step.


def _tiny_step_parts(spectral_norm=True):
  c = configs.apply_args(configs.defaults("classifier"), "smoke")
  c.disc.spectral_norm = spectral_norm
  disc = discriminators.from_config(c.disc, 1, 16)
  den = models.Autoencoder(features=(4,), blocks=1)
  lr = optax.constant_schedule(1e-2)
  tx = optax.adam(lr)
  state = classifier_task.init_classifier_state(jax.random.PRNGKey(0), disc,
                                                den, tx, 16)
  spec = noise_lib.spec_from_config(c.noise)
  fn = classifier_task.make_classifier_train_step(disc, den, tx, lr, spec,
                                                  c.disc)
  return c, disc, den, spec, state, fn


def test_real_and_denoised_halves():
  _, _, den, spec, state, _ = _tiny_step_parts()
  clean = jax.random.uniform(jax.random.PRNGKey(3), (5, 16, 16, 1))
  x, y, psnr = classifier_task.real_and_denoised(state.denoiser, clean,
                                       jax.random.PRNGKey(4), denoiser=den,
                                       noise_spec=spec)
  np.testing.assert_array_equal(y, [1, 1, -1, -1, -1])
  np.testing.assert_array_equal(x[:2], clean[:2])
  assert float(x.min()) >= 0 and float(x.max()) <= 1  # clipped as saved
  assert not np.allclose(x[2:], clean[2:])
  assert np.isfinite(float(psnr))


def test_step_updates_classifier_and_stats_never_the_denoiser():
  _, _, _, _, state, fn = _tiny_step_parts()
  before = jax.tree_util.tree_map(np.array, state)
  batch = jax.random.uniform(jax.random.PRNGKey(5), (8, 16, 16, 1))
  new, m = fn(state, batch, jax.random.PRNGKey(6))
  assert int(new.step) == 1
  for name in ("params", "stats"):
    assert any(not np.array_equal(a, b) for a, b in zip(
        jax.tree_util.tree_leaves(getattr(new, name)),
        jax.tree_util.tree_leaves(getattr(before, name)))), name
  for a, b in zip(jax.tree_util.tree_leaves(new.denoiser),
                  jax.tree_util.tree_leaves(before.denoiser)):
    np.testing.assert_array_equal(a, b)
  assert {"d/loss", "d/err_real", "d/err_denoised", "d/acc", "d/u_real",
          "d/psnr_denoised", "grad_norm", "lr"} <= set(m)
  assert all(np.isfinite(float(v)) for v in m.values())


def test_classifier_learns_to_separate_blur():
  """With a 'denoiser' that blurs, a few steps push the error well below
  chance: the step, labels and loss fit together."""
  c, disc, _, spec, state, _ = _tiny_step_parts(spectral_norm=False)

  class Blur(nn.Module):
    channels: int = 1

    @nn.compact
    def __call__(self, x, train=False):
      scale = self.param("scale", nn.initializers.ones, ())
      k = jnp.ones((5, 5, 1, 1)) / 25.0
      return scale * jax.lax.conv_general_dilated(
          x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

  blur = Blur()
  lr = optax.constant_schedule(3e-3)
  tx = optax.adam(lr)
  state = classifier_task.init_classifier_state(jax.random.PRNGKey(0), disc,
                                                blur, tx, 16)
  spec = noise_lib.NoiseSpec(**{**spec.__dict__, "sigma": 0.0})
  fn = classifier_task.make_classifier_train_step(disc, blur, tx, lr, spec,
                                                  c.disc)
  errs = []
  for i in range(60):
    batch = jax.random.uniform(jax.random.PRNGKey(100 + i), (16, 16, 16, 1))
    state, m = fn(state, batch, jax.random.PRNGKey(7))
    errs.append(float(m["d/err"]))
  assert np.mean(errs[-10:]) < 0.1 < np.mean(errs[:3])


# ----------------------------------------------------------------------------
# End to end, against a frozen smoke autoencoder.


@pytest.fixture(scope="module")
def denoiser_dir(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("ae"))
  train.train_and_evaluate(
      configs.apply_args(configs.defaults("autoencoder"), "smoke"), workdir)
  return workdir


def _clf_config(denoiser_dir, **disc):
  c = configs.apply_args(configs.defaults("classifier"), "smoke")
  c.train.init_from = denoiser_dir
  c.optim.schedule = "constant"
  for k, v in disc.items():
    c.disc[k] = v
  return c


@pytest.fixture(scope="module")
def patch_run(denoiser_dir, tmp_path_factory):
  """A smoke patch classifier with spectral norm (24 steps of 4)."""
  c = _clf_config(denoiser_dir, kind="patch", padding="VALID",
                  spectral_norm=True, dense=())
  workdir = str(tmp_path_factory.mktemp("clf"))
  return c, workdir, train.train_and_evaluate(c, workdir)


@pytest.mark.slow
def test_run_leaves_checkpoints_metrics_curve_and_frozen_denoiser(
    patch_run, denoiser_dir, caplog):
  c, workdir, state = patch_run
  assert int(state.step) == 24
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["12",
                                                                      "24"]
  for f in ("config.json", "metrics.jsonl", "learning_curve.png",
            "denoiser.json"):
    assert os.path.getsize(os.path.join(workdir, f)) > 0
  record = json.load(open(os.path.join(workdir, "denoiser.json")))
  assert record["workdir"] == os.path.abspath(denoiser_dir)
  assert record["step"] == 24
  from ddn import checkpoint
  ae_params, _ = checkpoint.load_params(denoiser_dir)
  assert (jax.tree_util.tree_structure(state.denoiser) ==
          jax.tree_util.tree_structure(ae_params))
  for a, b in zip(jax.tree_util.tree_leaves(state.denoiser),
                  jax.tree_util.tree_leaves(ae_params)):
    np.testing.assert_array_equal(a, b)  # loaded, then never trained
  records = logs.read_metrics(os.path.join(workdir, "metrics.jsonl"))
  val = [r for r in records if "val/err" in r]
  assert [r["images"] for r in val] == [48, 96]
  for r in val:
    assert {"val/loss", "val/err_real", "val/err_denoised", "val/acc_real",
            "val/acc_denoised", "val/err_image", "val/psnr_denoised"} <= set(r)
    assert 0 <= r["val/err"] <= 1
  assert all("train/d/loss" in r for r in records if "train/lr" in r)
  assert saved_task(workdir) == "classifier"


def saved_task(workdir):
  return json.load(open(os.path.join(workdir, "config.json")))["task"]


@pytest.mark.slow
def test_patch_size_is_in_the_log(denoiser_dir, tmp_path, caplog):
  caplog.set_level("INFO")
  c = _clf_config(denoiser_dir, kind="patch", padding="VALID", dense=())
  c.train.total_images = 8
  train.train_and_evaluate(c, str(tmp_path / "w"))
  size = discriminators.from_config(c.disc, 1).patch_size
  assert f"one score per {size}x{size} patch" in caplog.text


@pytest.mark.slow
def test_resume_is_exact_with_spectral_norm_and_needs_no_denoiser_dir(
    patch_run, denoiser_dir, tmp_path):
  """Stopping at 12 steps and resuming (with init_from gone) gives the
  uninterrupted parameters and spectral-norm state."""
  c, _, full = patch_run
  ae_copy = str(tmp_path / "ae")
  shutil.copytree(denoiser_dir, ae_copy)
  part = c.copy_and_resolve_references()
  part.train.init_from = ae_copy
  part.train.total_images = 48
  split = str(tmp_path / "split")
  train.train_and_evaluate(part, split)
  shutil.rmtree(ae_copy)  # the checkpoint and denoiser.json suffice
  rest = c.copy_and_resolve_references()
  rest.train.init_from = ae_copy
  resumed = train.train_and_evaluate(rest, split)
  assert int(resumed.step) == 24
  for name in ("params", "stats", "denoiser"):
    _assert_trees_close(getattr(full, name), getattr(resumed, name))


def _assert_trees_close(a, b):
  assert (jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b))
  for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def hinge_run(denoiser_dir, tmp_path_factory):
  """A whole-image run without spectral norm (empty stats), hinge loss."""
  c = _clf_config(denoiser_dir, loss="hinge", pool="max")
  workdir = str(tmp_path_factory.mktemp("hinge"))
  return c, workdir, train.train_and_evaluate(c, workdir)


@pytest.mark.slow
def test_whole_image_hinge_run(hinge_run):
  # Its exact resume (a classifier without spectral norm, empty stats):
  # tests/test_reliability.py::test_classifier_sigterm_then_kill_in_...
  _, workdir, full = hinge_run
  assert int(full.step) == 24 and full.stats == {}
  records = logs.read_metrics(os.path.join(workdir, "metrics.jsonl"))
  assert "val/err" in records[-1]
  assert "val/err_image" not in records[-1]  # one score per image already


# Channels unlike the denoiser's: tests/test_bad_config.py.
@pytest.mark.parametrize("change,match", [
    (dict(init_from=""), "init_from is empty.*experiments/ae.py"),
    (dict(init_from="/nonexistent/ae"), "not a trained autoencoder's workdir"),
    (dict(eval="embedded:train"), "share 8 image.*held out"),
    (dict(batch_size=1), "needs >= 2"),
    (dict(classifier_as_denoiser=True), "not an autoencoder's workdir"),
])
@pytest.mark.slow
def test_bad_setups_fail_before_writing(denoiser_dir, patch_run, tmp_path,
                                        change, match):
  c = _clf_config(denoiser_dir)
  if "init_from" in change:
    c.train.init_from = change["init_from"]
  if "eval" in change:
    c.data.eval = change["eval"]
  if "batch_size" in change:
    c.data.batch_size = 1
  if "classifier_as_denoiser" in change:
    c.train.init_from = patch_run[1]
  workdir = tmp_path / "w"
  with pytest.raises(ValueError, match=match):
    train.train_and_evaluate(c, str(workdir))
  assert not workdir.exists() or not os.listdir(workdir)  # nothing written


@pytest.mark.slow
def test_figures_classifiers(patch_run, denoiser_dir, tmp_path):
  from ddn.figures import curves
  final = curves.classifiers({"patch": patch_run[1]},
                             str(tmp_path / "c.png"))
  assert os.path.getsize(tmp_path / "c.png") > 10_000
  assert set(final["patch"]) >= {"val/err", "val/err_real"}
  with pytest.raises(ValueError, match="is it a classifier run"):
    curves.classifiers({"ae": denoiser_dir}, str(tmp_path / "x.png"))


def test_validation_crops_are_fixed_and_held_out():
  from ddn import data as data_lib
  from ddn.tasks import base
  src = data_lib.load_source("embedded:eval", ml_collections.ConfigDict(
      dict(channels=1, convert_channels=False, tfds_data_dir="")))
  a = base.validation_crops(src, 7, 32, seed=0)
  np.testing.assert_array_equal(a, base.validation_crops(src, 7, 32, 0))
  assert a.shape == (7, 32, 32, 1)
  assert not np.array_equal(a, base.validation_crops(src, 7, 32, 1))
  with pytest.raises(ValueError, match="smaller than the crop 4096"):
    base.validation_crops(src, 1, 4096, 0)


@pytest.mark.slow
def test_evaluate_refuses_a_classifier_run(patch_run):
  from ddn import inference  # pylint: disable=import-outside-toplevel
  with pytest.raises(ValueError, match="is a classifier run, not a denoiser"):
    inference.Denoiser.from_workdir(patch_run[1])


@pytest.mark.slow
@pytest.mark.parametrize("run_name,spectral_norm", [("patch_run", False),
                                                    ("hinge_run", True)])
def test_resume_with_spectral_norm_switched_is_refused(request, run_name,
                                                       spectral_norm,
                                                       tmp_path):
  c, workdir, _ = request.getfixturevalue(run_name)
  run = str(tmp_path / "run")
  shutil.copytree(workdir, run)
  other = c.copy_and_resolve_references()
  other.disc.spectral_norm = spectral_norm
  other.train.total_images = 400
  with pytest.raises(ValueError, match=r"disc\.spectral_norm.*spectral-norm "
                     "state differs"):
    train.train_and_evaluate(other, run)
  assert sorted(os.listdir(os.path.join(run, "checkpoints"))) == ["12", "24"]


@pytest.mark.slow
def test_resume_needs_no_init_from(patch_run, tmp_path, caplog):
  caplog.set_level("INFO")
  c, workdir, state = patch_run
  run = str(tmp_path / "run")
  shutil.copytree(workdir, run)
  again = c.copy_and_resolve_references()
  again.train.init_from = ""
  resumed = train.train_and_evaluate(again, run)
  assert "resumed from step 24" in caplog.text
  _assert_trees_close(state.params, resumed.params)
