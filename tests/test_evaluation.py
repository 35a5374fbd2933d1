"""Evaluation: baselines, tiled inference, the denoise command, shipped
models, the perception-distortion figure."""

import functools
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from ddn import baselines
from ddn import configs
from ddn import denoise
from ddn import evaluate
from ddn import inference
from ddn import methods
from ddn import protocol
from ddn.figures import curves
from ddn.figures import denoised
from ddn.figures import perception
from ddn.figures import runs as runs_lib


def write_png(path, array):
  Image.fromarray(array).save(path)


def _smooth_image(h, w, seed=0):
  """A synthetic photograph-like image: gradients, a disc, soft texture."""
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:h, 0:w] / max(h, w)
  img = 0.3 + 0.4 * x + 0.2 * np.sin(6 * y)
  img[(y - 0.5) ** 2 + (x - 0.4) ** 2 < 0.05] = 0.85
  img += 0.03 * rng.standard_normal((h, w))
  return np.clip(img, 0, 1).astype(np.float32)[:, :, None]


_TINY = dict(features=(4, 8, 16), blocks=1)


@functools.lru_cache(maxsize=1)
def _tiny_params():
  from ddn import models
  cfg = configs.defaults("autoencoder").model
  cfg.update(_TINY)
  model = models.from_config(cfg, 1)
  # Random weights from the shapes alone (compiling flax's init costs more
  # than every test here).
  shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0),
                          jnp.zeros((1, 16, 16, 1)))["params"]
  rng = np.random.default_rng(0)
  return jax.tree_util.tree_map(
      lambda s: (0.3 * rng.standard_normal(s.shape)).astype(np.float32),
      shapes)


def _tiny_denoiser(**kw) -> inference.Denoiser:
  """A random 3-level network (receptive-field radius 13 px) with a 16 px
  margin, so tiles stay small in tests."""
  kw = {"margin": 16, "blend": 8, **kw}
  cfg = configs.defaults("autoencoder").model.to_dict()
  cfg.update(_TINY)
  return inference.Denoiser(cfg, 1, _tiny_params(), 0, "tiny",
                            {"sigma": 25.0}, **kw)


# ----------------------------------------------------------------------------
# Baselines.


def test_baseline_records_have_keys_and_finite_values(tmp_path):
  test_dir, tune_dir = tmp_path / "test", tmp_path / "tune"
  test_dir.mkdir(), tune_dir.mkdir()
  for d, seed in ((test_dir, 1), (tune_dir, 2)):
    write_png(str(d / "a.png"), (_smooth_image(40, 36, seed)[:, :, 0] * 255)
              .round().astype(np.uint8))
  out = str(tmp_path / "eval.json")
  records = evaluate.run("none", [f"folder:{test_dir}"], [25.0], out,
                         baselines=list(baselines.BASELINES),
                         tune_data=f"folder:{tune_dir}")
  assert [r["method"] for r in records] == list(baselines.BASELINES)
  noisy_psnr = protocol.psnr_uint8(
      protocol.quantise(protocol.noisy_version(
          methods.load_eval_source(f"folder:{test_dir}", 1)[0], 25, 0)),
      protocol.quantise(methods.load_eval_source(f"folder:{test_dir}",
                                                 1)[0]))
  for r in records:
    for key in ("data", "sigma", "method", "images", "psnr", "ssim",
                "seconds_per_image", "megapixels_per_second", "per_image",
                "params"):
      assert key in r, (r["method"], key)
    assert r["images"] == 1 and r["sigma"] == 25.0
    assert all(np.isfinite(r[k]) for k in ("psnr", "ssim",
                                            "seconds_per_image",
                                            "megapixels_per_second"))
    assert r["psnr"] > noisy_psnr + 2, r  # every baseline denoises
  widths = {r["method"]: r["params"] for r in records}
  assert widths["gaussian"]["width"] in baselines.GRIDS["gaussian"]
  assert widths["median"]["tuned_on"] == f"folder:{tune_dir}"
  assert widths["bm3d"] == {"sigma": 25.0}
  with open(out) as f:
    assert json.load(f) == json.loads(json.dumps(records))
  table = open(str(tmp_path / "eval.md")).read()
  assert "| test (1) | bm3d |" in table and "σ=25" in table


def test_baselines_refuse_tuning_on_the_test_set(tmp_path, gray_folder):
  with pytest.raises(ValueError, match=r"--tune_data=.*shares images"):
    evaluate.run("none", [f"folder:{gray_folder}"], [25.0],
                 str(tmp_path / "e.json"), baselines=["gaussian"],
                 tune_data=f"folder:{gray_folder}")
  with pytest.raises(ValueError, match=r"unknown wiener.*valid baselines"):
    baselines.parse("gaussian,wiener")


def test_ddn_and_baselines_see_the_same_noisy_images(tmp_path, gray_folder):
  seen = {}

  def recorder(name):
    def fn(noisy):
      seen.setdefault(name, []).append(noisy.copy())
      return noisy
    return fn
  source = methods.load_eval_source(f"folder:{gray_folder}", 1)
  recs = evaluate.evaluate_methods(
      [methods.Method("a", recorder("a"), compiled=True),
       methods.Method("b", recorder("b"))], source, 15.0)
  # a: one untimed call for the (one) image size, then one per image.
  assert len(seen["b"]) == 3 and len(seen["a"]) == 4
  for x, y in zip(seen["a"][1:], seen["b"]):
    np.testing.assert_array_equal(x, y)
  assert recs["a"]["psnr"] == recs["b"]["psnr"]


# ----------------------------------------------------------------------------
# Tiled inference.


@pytest.mark.parametrize("shape,tile", [((40, 36), 16), ((30, 44), 12)])
def test_tiled_equals_untiled(shape, tile):
  d = _tiny_denoiser()
  assert d.receptive_field() <= d.margin
  x = np.random.default_rng(0).random(shape + (1,)).astype(np.float32)
  whole = d(x, tile="none")
  tiled = d(x, tile=tile)
  assert d.plan(*shape, tile=tile) == tile
  np.testing.assert_allclose(tiled, whole, atol=2e-5)


@pytest.mark.slow
def test_auto_tiles_under_a_memory_budget():
  d = _tiny_denoiser(memory_mb=0.5)
  assert d.plan(40, 40) is None  # fits: whole image
  core = d.plan(600, 500)
  assert core is not None and core % d.multiple == 0
  window = (core + 2 * d.margin) ** 2 * d.bytes_per_pixel()
  assert window <= 0.5 * 2 ** 20
  small = _tiny_denoiser(memory_mb=(48 ** 2 + 1) * d.bytes_per_pixel() / 2 ** 20)
  assert small.plan(60, 52) == 16  # a 48 x 48 window: 16 + 2 x 16
  x = _smooth_image(60, 52)
  np.testing.assert_allclose(small(x), d(x, "none"), atol=2e-5)


def test_bad_tile_is_refused():
  with pytest.raises(ValueError, match=r"tile=10: .*a multiple of 4"):
    _tiny_denoiser(tile=10)


# ----------------------------------------------------------------------------
# Shipped models.


@pytest.mark.parametrize("name", ["gray-map", "gray-s25", "gray-blind"])
def test_shipped_model_loads_small_and_denoises(name):
  assert name in inference.shipped_models()
  folder = os.path.join(inference.SHIPPED_DIR, name)
  size = sum(os.path.getsize(os.path.join(folder, f))
             for f in os.listdir(folder))
  assert size <= 5 * 2 ** 20
  d = inference.load(name)
  assert d.channels == 1 and d.info.get("command")
  clean = _smooth_image(64, 72)
  noisy = protocol.noisy_version(clean, 25.0, 0)
  before = protocol.psnr_uint8(protocol.quantise(noisy),
                               protocol.quantise(clean))
  after = protocol.psnr_uint8(protocol.quantise(d(noisy)),
                              protocol.quantise(clean))
  assert after > before + 5, (before, after)


def test_default_and_unknown_checkpoints():
  assert inference.load(None).name == inference.DEFAULT_MODEL
  with pytest.raises(ValueError, match=r"neither a workdir nor a shipped "
                     r"model; shipped models: gray-blind, gray-map, gray-s25"):
    inference.load("gray-s99")


def test_checkpoint_names_with_commas_are_joined_back(tmp_path):
  # absl splits --checkpoint on commas; ddn.sweep names runs with them.
  sweep_run = tmp_path / "lr=0.001,weight=0.003"
  sweep_run.mkdir()
  (tmp_path / "b").mkdir()
  parts = str(sweep_run).split(",") + [str(tmp_path / "b")]
  assert methods.rejoin_paths(parts) == [str(sweep_run), str(tmp_path / "b")]
  assert methods.rejoin_paths(["gray-map", "gray-s25", "none"]) == [
      "gray-map", "gray-s25", "none"]
  assert methods.rejoin_paths([None]) == [None]
  # A piece that is not a directory stays its own (and fails by its name).
  with pytest.raises(ValueError, match="'lr=0.001': neither a workdir"):
    evaluate.load_denoisers(["lr=0.001", "weight=0.003"], "", need=False)


# ----------------------------------------------------------------------------
# The denoise command.


@pytest.mark.parametrize("bits,channels", [(8, 1), (16, 1), (16, 3), (8, 3)])
def test_png_round_trip(tmp_path, bits, channels):
  rng = np.random.default_rng(bits + channels)
  top = 2 ** bits - 1
  q = rng.integers(0, top + 1, (9, 11, channels))
  path = str(tmp_path / "x.png")
  denoise.write(path, (q / top).astype(np.float64), bits)
  pic = denoise.read(path)
  assert pic.bits == bits and pic.pixels.shape == (9, 11, channels)
  np.testing.assert_array_equal(np.round(pic.pixels * top), q)


def test_denoise_files_keeps_depth_mode_and_alpha(tmp_path):
  d = _tiny_denoiser()
  src = tmp_path / "in"
  (src / "sub").mkdir(parents=True)
  g = _smooth_image(24, 28)
  denoise.write(str(src / "g16.png"), g, 16)
  rgba = np.concatenate([np.repeat(g, 3, -1), np.full_like(g, 0.5)], -1)
  denoise.write(str(src / "sub" / "c8.png"), rgba[:, :, :3], 8, rgba[:, :, 3:])
  pairs = denoise.collect([str(src)], str(tmp_path / "out"))
  rows = denoise.denoise_files(pairs, d, colour="per_channel", compare=True,
                               add_noise=20, progress=False)
  assert {os.path.relpath(r["output"], tmp_path / "out") for r in rows} == {
      "g16.png", os.path.join("sub", "c8.png")}
  out16 = denoise.read(str(tmp_path / "out" / "g16.png"))
  assert out16.bits == 16 and out16.pixels.shape == (24, 28, 1)
  out8 = denoise.read(str(tmp_path / "out" / "sub" / "c8.png"))
  assert out8.bits == 8 and out8.pixels.shape == (24, 28, 3)
  np.testing.assert_allclose(out8.alpha, 0.5, atol=1 / 255)
  assert os.path.exists(tmp_path / "out" / "g16_compare.png")
  assert all(np.isfinite(r["psnr"]) for r in rows)
  assert [(r["sigma"], r["sigma_estimated"], r["colour"]) for r in rows] == [
      (20, False, None), (20, False, "per_channel")]


def test_denoise_rejects_bad_inputs_clearly(tmp_path):
  d = _tiny_denoiser()
  bad = tmp_path / "bad"
  bad.mkdir()
  (bad / "broken.png").write_bytes(b"\x89PNG not really")
  Image.new("CMYK", (8, 8)).save(str(bad / "cmyk.jpg"))
  denoise.write(str(bad / "rgb.png"), np.zeros((8, 8, 3)), 8)
  out = tmp_path / "out"
  with pytest.raises(ValueError) as e:
    denoise.denoise_files(denoise.collect([str(bad)], str(out)), d,
                          progress=False)
  msg = str(e.value)
  assert "broken.png: not a readable image" in msg
  assert "cmyk.jpg: unsupported image mode 'CMYK'" in msg
  assert "rgb.png" not in msg  # a gray model takes colour photographs
  assert not out.exists()  # checked before anything was written
  with pytest.raises(ValueError, match=r"gray.png: a gray image, but the "
                     r"model is a 3-channel"):
    denoise.write(str(tmp_path / "gray.png"), np.zeros((8, 8, 1)), 8)
    denoise.check_all([(str(tmp_path / "gray.png"), "x")], channels=3)
  with pytest.raises(ValueError, match=r"nothere.png: no such file"):
    denoise.collect([str(tmp_path / "nothere.png")], str(out))
  with pytest.raises(ValueError, match=r"no images in folder"):
    (tmp_path / "empty").mkdir()
    denoise.collect([str(tmp_path / "empty")], str(out))
  with pytest.raises(ValueError, match=r"would overwrite an input"):
    denoise.collect([str(bad / "rgb.png")], str(bad))


def test_model_choice_and_sigma_warning():
  # The model told σ serves its whole range [0, 75] (the ranking rules:
  # test_noise_map.py).
  assert inference.best_shipped(None) == "gray-map"
  for sigma in (0, 15, 25, 50, 75):
    assert inference.best_shipped(sigma) == "gray-map"
  # Adversarial fine-tunes are never the default.
  assert inference.shipped_meta("gray-s50-adv")["objective"] == "adversarial"
  assert inference.best_shipped(100) == "gray-map"  # the nearest range
  d = _tiny_denoiser()
  assert "trained at σ=25, not 50" in denoise.sigma_warning(d, 50)
  assert denoise.sigma_warning(d, 27) == ""


def test_self_ensemble_is_the_mean_of_the_eight_transformed_passes():
  d = _tiny_denoiser()
  x = _smooth_image(24, 24, seed=3)
  passes = []
  for flip in (False, True):
    for k in range(4):
      t = np.rot90(x[:, ::-1] if flip else x, k)
      y = d(np.ascontiguousarray(t), ensemble=False)
      y = np.rot90(y, -k)
      passes.append(y[:, ::-1] if flip else y)
  want = np.mean(passes, axis=0)
  got = d(x, ensemble=True)
  np.testing.assert_allclose(got, want, atol=1e-6)
  assert np.abs(got - d(x)).max() > 1e-4  # the passes do differ
  assert _tiny_denoiser(ensemble=True)(x).shape == x.shape
  tall = _smooth_image(24, 16, seed=4)  # quarter turns change the shape
  assert d(tall, ensemble=True).shape == tall.shape


def test_evaluate_picks_the_shipped_model_per_sigma(tmp_path):
  d = tmp_path / "test"
  d.mkdir()
  write_png(str(d / "a.png"), (_smooth_image(32, 32)[:, :, 0] * 255)
            .round().astype(np.uint8))
  records = evaluate.run(None, [f"folder:{d}"], [15.0, 25.0, 50.0],
                         str(tmp_path / "e.json"))
  assert {r["sigma"]: r["checkpoint"] for r in records} == {
      15.0: "gray-map", 25.0: "gray-map", 50.0: "gray-map"}
  assert all(r["method"] == "ddn" and not r["ensemble"] for r in records)


# ----------------------------------------------------------------------------
# The perception-distortion figure.


def test_perception_figure_from_finished_runs(tmp_path):
  runs = {}
  for name, kind, weight, realism in (("zero", "image", 0.0, 0.90),
                                      ("big", "image", 0.01, 0.80),
                                      ("small", "patch", 0.01, 0.95)):
    w = tmp_path / name
    w.mkdir()
    (w / "config.json").write_text(json.dumps(
        {"task": "adversarial", "adv": {"weight": weight},
         "disc": {"kind": kind}}))
    (w / "evaluation.json").write_text(json.dumps({
        "ref": {"psnr": 30.0, "realism_auc": 0.9,
                "realism_auc_ci95": [0.85, 0.94]},
        "g": {"psnr": 30.0 - 100 * weight, "realism_auc": realism,
              "realism_auc_ci95": [realism - 0.05, realism + 0.03]}}))
    runs[name] = str(w)
  out = str(tmp_path / "pd.png")
  points = perception.perception(runs, out)
  assert os.path.exists(out)
  by_run = {p["run"]: p for p in points}
  assert by_run["small"]["adversary"].startswith("small")
  assert by_run["big"]["psnr"] == pytest.approx(29.0)
  assert by_run["big"]["realism_ci95"] == pytest.approx([0.75, 0.83])
  with open(str(tmp_path / "pd.json")) as f:
    assert len(json.load(f)) == 3


def test_generalization_figure_reports_the_gap(tmp_path):
  runs = {}
  for name, gap in (("plain", 2.0), ("aug", 1.1)):
    w = tmp_path / name
    w.mkdir()
    lines = []
    for i in range(1, 21):
      lines.append({"step": i, "images": 32 * i, "train/ae/loss": 0.01 / i})
      if i % 5 == 0:
        lines.append({"step": i, "images": 32 * i, "val/loss": gap * 0.01 / i})
    (w / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    runs[name] = str(w)
  final = curves.generalization(runs, str(tmp_path / "g.png"))
  assert os.path.exists(tmp_path / "g.png")
  assert final["plain"]["val"] == pytest.approx(0.001)
  assert final["plain"]["val"] / final["plain"]["train"] > (
      final["aug"]["val"] / final["aug"]["train"])


def test_detail_figure_with_baselines_and_a_shipped_model(tmp_path):
  psnr = denoised.detail({"ddn": "gray-s25"}, "embedded:eval", 2, 25.0,
                         str(tmp_path / "d.png"), crop=32,
                         baselines=["gaussian"], tune_data="embedded:train")
  assert set(psnr) == {"noisy", "ddn"} | {k for k in psnr
                                          if k.startswith("gaussian (")}
  assert psnr["ddn"] > max(v for k, v in psnr.items() if k != "ddn")
  assert runs_lib.parse_runs(["gray-blind"]) == {"gray-blind": "gray-blind"}


@pytest.mark.slow
def test_denoise_command_line(tmp_path):
  import subprocess
  import sys
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  denoise.write(str(tmp_path / "a.png"), _smooth_image(20, 24), 16)
  (tmp_path / "b.png").write_bytes(b"junk")
  r = subprocess.run(
      [sys.executable, "-m", "ddn.denoise", str(tmp_path / "a.png"),
       str(tmp_path / "b.png"), f"--out={tmp_path / 'out'}"],
      capture_output=True, text=True, cwd=root, timeout=300)
  assert r.returncode != 0 and "b.png: not a readable image" in r.stderr
  assert "flags:" not in r.stderr and not (tmp_path / "out").exists()
  r = subprocess.run(
      [sys.executable, "-m", "ddn.denoise", str(tmp_path / "a.png"),
       f"--out={tmp_path / 'out'}", "--add_noise=25"],
      capture_output=True, text=True, cwd=root, timeout=300)
  assert r.returncode == 0, r.stderr
  assert "PSNR" in r.stdout
  assert denoise.read(str(tmp_path / "out" / "a.png")).bits == 16


def test_report_keeps_calibration_rows_out_of_the_psnr_table():
  from ddn import report
  rec = {"data": "folder:x/BSD68", "sigma": 50.0, "images": 2,
         "realism_auc": 0.9, "realism_auc_ci95": [0.85, 0.95],
         "realism_error": 0.1, "spectrum_hf_ratio": 0.2,
         "grad_hist_distance": 0.03}
  records = [dict(rec, method="ddn", psnr=25.0, ssim=0.7,
                  seconds_per_image=0.5),
             dict(rec, method="calibration: clean vs clean", calibration=True,
                  realism_auc=0.5, realism_auc_ci95=[0.45, 0.55])]
  text = report.table(records)
  psnr_table, realism_table = text.split("Realism (ddn.realism)")
  assert "calibration" not in psnr_table and "25.00 / 0.7000" in psnr_table
  assert "| BSD68 | 50 | ddn | 25.00 | 0.900 [0.850, 0.950] |" in realism_table
  assert "| calibration: clean vs clean | – | 0.500 [0.450, 0.550] |" in (
      realism_table)


# ----------------------------------------------------------------------------
# Colour photographs with gray models.


def test_opponent_space_is_invertible_and_keeps_noise_white():
  from ddn import colour
  x = np.random.default_rng(0).random((9, 7, 3)).astype(np.float32)
  np.testing.assert_allclose(colour.from_opponent(colour.to_opponent(x)), x,
                             atol=1e-6)
  n = np.random.default_rng(1).standard_normal((200_000, 3)) @ colour.OPPONENT.T
  np.testing.assert_allclose(n.std(axis=0), colour.GAIN, rtol=0.01)
  assert np.abs(np.corrcoef(n.T) - np.eye(3)).max() < 0.01


def test_denoise_rgb_gives_each_opponent_channel_its_own_sigma():
  from ddn import colour
  asked = []

  def denoiser_for(s):
    asked.append(s)
    return lambda x: x  # the identity: the colour round trip alone
  x = np.random.default_rng(0).random((8, 8, 3)).astype(np.float32)
  np.testing.assert_allclose(colour.denoise_rgb(denoiser_for, x, 30.0), x,
                             atol=1e-6)
  np.testing.assert_allclose(asked, 30.0 * colour.GAIN)
  asked.clear()
  colour.denoise_rgb(denoiser_for, x, 30.0, "per_channel")
  assert asked == [30.0]
  with pytest.raises(ValueError, match="colour mode 'lab'"):
    colour.denoise_rgb(denoiser_for, x, 30.0, "lab")


@pytest.mark.parametrize("sigma", [10.0, 25.0, 50.0])
def test_estimate_sigma_is_close_on_a_smooth_image(sigma):
  from ddn import colour
  y, x = np.mgrid[0:128, 0:128] / 128
  clean = (0.3 + 0.4 * x + 0.2 * np.sin(6 * y))[:, :, None]
  noisy = clean + sigma / 255 * np.random.default_rng(0).standard_normal(
      clean.shape).astype(np.float32)
  assert abs(colour.estimate_sigma(noisy) - sigma) < 0.1 * sigma + 1


def test_denoise_picks_the_model_for_each_images_sigma(tmp_path):
  src = tmp_path / "in"
  src.mkdir()
  rgb = np.repeat(_smooth_image(32, 32), 3, -1)
  denoise.write(str(src / "c.png"), rgb, 8)
  pairs = denoise.collect([str(src)], str(tmp_path / "out"))
  models = denoise.Models()
  [row] = denoise.denoise_files(pairs, models, add_noise=50, progress=False)
  # Opponent channels at 50 x (0.58, 0.71, 0.61): σ 29-35, all in the
  # range of the model told σ.
  assert row["models"] == ["gray-map"] and row["colour"] == "opponent"
  assert row["psnr"] > row["psnr_noisy"] + 3
  [row] = denoise.denoise_files(pairs, models, colour="per_channel",
                                add_noise=50, progress=False)
  assert row["models"] == ["gray-map"] and row["colour"] == "per_channel"
  [row] = denoise.denoise_files(pairs, models, progress=False)
  assert row["sigma_estimated"] and row["sigma"] < 10
  assert "estimated" in denoise.describe(row)


def test_adversarial_figure_takes_shipped_model_names(tmp_path):
  d = tmp_path / "test"
  d.mkdir()
  write_png(str(d / "a.png"), (_smooth_image(32, 32)[:, :, 0] * 255)
            .round().astype(np.uint8))
  out = str(tmp_path / "cmp.png")
  summary = denoised.adversarial({"MSE": "gray-s50", "adv": "gray-s50-adv"},
                                 f"folder:{d}", [0], 50.0, out, crop=16)
  assert set(summary) == {"noisy", "MSE", "adv"} and os.path.exists(out)
  assert summary["MSE"]["psnr"] > summary["noisy"]["psnr"] + 3
