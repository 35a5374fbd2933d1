"""Tests that catch the realism meter's silent mistakes: real and denoised
test tiles from one checkerboard colour, the architecture chosen on the test
tiles, selection images in the judges' training, and an adversarial run
evaluating raw G where it promises its EMA. Each fails under that mistake
while every other test may pass."""

import jax
import numpy as np
import pytest

from ddn import configs
from ddn import data as data_lib
from ddn import realism
from ddn import tasks
from ddn import train


@pytest.fixture(autouse=True)
def _few_nss_crops(monkeypatch):
  monkeypatch.setattr(realism, "STATS_CROPS", 64)  # statistics judges: fast


def _cfg(**kw):
  cfg = configs.realism()
  cfg.update(dict(judges=("patch",), seeds=1, crop=32, test_crop=32, steps=2,
                  batch_size=16, test_crops=4, tune_images=16,
                  bootstrap=100))
  cfg.update(kw)
  return cfg


def _tiled(i: int, grid: int = 2, tile: int = 32) -> np.ndarray:
  """Image i: a grid x grid checkerboard of tiles, each a flat patch of its
  own 8-bit level plus faint texture, so a tile's level names it."""
  rng = np.random.default_rng(i)
  level = lambda r, c: (1 + i * grid * grid + r * grid + c) / 255
  im = np.block([[np.full((tile, tile), level(r, c)) for c in range(grid)]
                 for r in range(grid)])
  im = im + rng.uniform(-0.4, 0.4, im.shape) / 255  # rounds back to level
  return im.astype(np.float32)[:, :, None]


def _tile_ids(tiles: np.ndarray) -> set[int]:
  return {int(round(float(np.median(t)) * 255)) for t in tiles}


def _photo(seed, size=64):
  rng = np.random.default_rng(seed)
  im = np.full((size, size), rng.uniform(0.3, 0.7))
  for _ in range(12):
    y, x = rng.integers(0, size, 2)
    h, w = rng.integers(4, size // 2, 2)
    im[y:y + h, x:x + w] = rng.uniform(0, 0.9)
  return np.clip(im, 0, 0.9).astype(np.float32)[:, :, None]


def _meter(test, cfg=None, seed=0):
  tune = [_photo(i) for i in range(16)]
  rng = np.random.default_rng(1)
  noisy = lambda c: c + 0.2 * rng.standard_normal(c.shape).astype(np.float32)
  return realism.Meter(realism.Data(tune, [noisy(c) for c in tune], test,
                                    [noisy(c) for c in test]),
                       cfg or _cfg(), seed)


# ----------------------------------------------------------------------------
# The checkerboard of test tiles.


def test_real_and_denoised_test_tiles_are_the_two_colours(monkeypatch):
  """Every tile the judges score as real is a clean tile of one colour of
  its image's checkerboard, every tile scored as denoised a tile of the
  other colour: no position on both sides, every position on one."""
  test = [_tiled(i) for i in range(12)]
  meter = _meter(test)
  scored = []
  score = realism._scores  # pylint: disable=protected-access
  monkeypatch.setattr(realism, "_scores", lambda fn, p, crops, **kw: (
      scored.append(crops) or score(fn, p, crops, **kw)))
  meter.judge(meter.data.tune_clean, test)  # the method returns clean
  real, fake = _tile_ids(scored[0]), _tile_ids(scored[1])
  assert len(scored[0]) == len(scored[1]) == 2 * len(test)
  assert not real & fake
  assert real | fake == set(range(1, 4 * len(test) + 1))
  for i in range(len(test)):  # diagonal tiles share a colour
    ids = {4 * i + 1 + k for k in range(4)}
    assert (real & ids) in ({4 * i + 1, 4 * i + 4}, {4 * i + 2, 4 * i + 3})


def test_clean_vs_clean_is_never_a_tie_of_identical_tiles():
  """If real and denoised test tiles were the same tiles, clean vs clean
  would score every tile alike on both sides: AUC exactly 0.5 with the
  interval [0.5, 0.5], for every seed and both families. Distinct tiles
  never give that."""
  test = [_photo(100 + i) for i in range(12)]
  for seed in range(3):
    meter = _meter(test, seed=seed)
    r = meter.judge(meter.data.tune_clean, test)
    for family in (r, r["nss"], r["wavelet"]):
      lo, hi = family["auc_ci95"]
      assert lo < hi and (lo, family["auc"], hi) != (0.5, 0.5, 0.5), family


# ----------------------------------------------------------------------------
# Choosing the architecture, and what trains the judges.


def _plant(monkeypatch, cfg):
  """Judges whose 'parameters' are their architecture's name, scoring a
  crop 1 when it is the method's output (all white) and 0 when clean:
  'image' judges do so on the selection crops (training-crop size) and tie
  everything on the test tiles, 'patch' judges the other way round."""
  monkeypatch.setattr(realism.Meter, "_train_judge",
                      lambda self, name, k, fake: name)

  def scores(fn, name, crops, **kw):
    del fn, kw
    white = (crops.reshape(len(crops), -1).min(axis=1) == 1.0)
    on_selection = crops.shape[1] == cfg.crop
    if (name == "image") == on_selection:
      return white.astype(np.float64)
    return np.zeros(len(crops))
  monkeypatch.setattr(realism, "_scores", scores)


def test_the_architecture_is_chosen_on_selection_images_not_test_tiles(
    monkeypatch):
  """'image' tells the held-out tuning images apart and 'patch' the test
  tiles: the meter must report 'image', and its AUC on the test tiles
  (0.5), not the larger test AUC of 'patch' (1.0)."""
  cfg = _cfg(judges=("image", "patch"), test_crop=48)
  _plant(monkeypatch, cfg)
  test = [_photo(100 + i, size=96) for i in range(12)]
  meter = _meter(test, cfg)
  white = lambda ims: [np.ones_like(x) for x in ims]
  r = meter.judge(white(meter.data.tune_noisy), white(test))
  assert r["selection_auc"] == {"image": 1.0, "patch": 0.5}
  assert r["judges"] == {"image": [0.5], "patch": [1.0]}
  assert r["judge"] == "image" and r["auc"] == 0.5


@pytest.mark.parametrize("tune_tile", [0, 32])
def test_no_judge_trains_on_the_architecture_selection_images(monkeypatch,
                                                              tune_tile):
  """With two architectures, every fourth tuning image (or tile) of each
  side chooses the architecture: none of its pixels, clean or the method's,
  is in any judge's training crops (CNN or NSS), and the selection scores
  them."""
  cfg = _cfg(judges=("image", "patch"), tune_tile=tune_tile, test_crop=48)
  grid = 2 if tune_tile else 1
  tune = [_tiled(i, grid, 64 // grid) for i in range(16)]
  test = [_photo(100 + i, size=96) for i in range(12)]
  meter = realism.Meter(realism.Data(tune, tune, test, test), cfg, 0)
  trained, scored = set(), set()
  crops = realism.random_crops
  monkeypatch.setattr(realism, "random_crops", lambda *a, **kw: (
      lambda out: trained.update(_tile_ids(out)) or out)(crops(*a, **kw)))
  score = realism._scores  # pylint: disable=protected-access
  monkeypatch.setattr(realism, "_scores", lambda fn, p, x, **kw: (
      scored.update(_tile_ids(x)) if x.shape[1] == cfg.crop else None)
      or score(fn, p, x, **kw))
  meter.judge(tune, test)  # the method's outputs: the images themselves
  # The parts of each side in order (tune_parts), every fourth held out.
  n = grid * grid
  ids = lambda i, cells: [n * i + 1 + k for k in cells]
  if tune_tile:  # image i's tiles 0 and 3 are one colour, 1 and 2 the other
    sides = [sum((ids(i, (0, 3) if (i + s) % 2 == 0 else (1, 2))
                  for i in range(16)), []) for s in (0, 1)]
  else:
    sides = [sum((ids(i, [0]) for i in range(s, 16, 2)), []) for s in (0, 1)]
  held_out = {p for side in sides for j, p in enumerate(side) if j % 4 == 3}
  assert held_out and not trained & held_out
  training = {p for side in sides for p in side} - held_out
  assert trained <= training and len(trained) > len(training) // 2
  assert held_out <= scored


# ----------------------------------------------------------------------------
# The adversarial run evaluates G's EMA.


def _adv_config(ema_decay):
  c = configs.apply_args(configs.defaults("adversarial"), "smoke")
  c.adv.ema_decay = ema_decay
  return c


def test_the_adversarial_task_evaluates_the_ema_of_g():
  """With config.adv.ema_decay > 0 the G every evaluation scores
  (g_params, the per-eval PSNR) is the EMA, not the raw parameters; with 0,
  the parameters. (test_adversarial's test_one_g_whichever_tool_loads_it
  checks the checkpoint's denoiser, which checkpoint.load_params reads
  without the task, so it holds whatever the task evaluates.)"""
  c = _adv_config(0.5)
  task = tasks.build(c, train.Setup(c))
  state = task.init(jax.random.PRNGKey(0))
  ema = jax.tree_util.tree_map(lambda p: p * 0.5 + 0.01, state.params)
  state = state.replace(ema=ema)
  for got, want in zip(jax.tree_util.tree_leaves(task.g_params(state)),
                       jax.tree_util.tree_leaves(ema)):
    np.testing.assert_array_equal(got, want)
  source = data_lib.Source("tiny", images=[_photo(i) for i in range(2)])
  evaluate = task.evaluator(source)
  psnr = lambda s: evaluate(s)[0]["val/psnr"]
  assert psnr(state) == psnr(state.replace(params=ema))
  assert psnr(state) != psnr(state.replace(ema=state.params))
  c0 = _adv_config(0.0)
  task0 = tasks.build(c0, train.Setup(c0))
  state0 = task0.init(jax.random.PRNGKey(0))
  for got, want in zip(jax.tree_util.tree_leaves(task0.g_params(state0)),
                       jax.tree_util.tree_leaves(state0.params)):
    np.testing.assert_array_equal(got, want)


def test_an_adversarial_run_checks_its_held_out_images_before_training():
  """The final realism test needs a real and a denoised tile of every
  held-out image: 180 x 180 images (under two 96 px tiles a side) pass,
  120 x 120 ones (one tile) are refused before any training, naming the
  setting and the largest tile that works."""
  c = _adv_config(0.0)
  c.eval.realism.update(dict(crop=48, test_crop=96))
  task = tasks.build(c, train.Setup(c))
  train_src = data_lib.Source("train", images=[_photo(i, 64)
                                               for i in range(4)])
  for size in (180, 120):
    images = [_photo(10 + i, size) for i in range(2)]
    eval_src = data_lib.Source("eval", images=images)
    if size == 180:
      task.check_sources(train_src, eval_src)
      continue
    with pytest.raises(ValueError, match=r"120x120 holds one 96 px tile.*"
                       r"config.eval.realism.test_crop to at most 80"):
      task.check_sources(train_src, eval_src)


def test_the_adversarial_final_evaluation_trains_its_judges_fully():
  """README's first command's meter (the adversarial task's final
  evaluation) trains its judges as long as the meter's defaults, on both
  architectures, and reads at least as many tiles: with 400 steps its
  judges caught plain Gaussian smoothing at AUC 0.842, not near 1
  (benchmarks/first_command_meter.py)."""
  got = configs.defaults("adversarial").eval.realism
  want = configs.realism()
  assert got.steps >= want.steps
  assert set(got.judges) == set(want.judges) and got.detail == want.detail
  assert got.test_crops >= want.test_crops and got.bootstrap >= want.bootstrap
