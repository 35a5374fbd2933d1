"""A researcher's daily use (issue 40): σ estimates that say when they are
unreliable, batches that lose nothing, colour sets and real noisy/clean
pairs in ddn.evaluate, the Python API's input check, --help, quiet start-up.

Images are scikit-image's photographs, cropped small, written in tmp_path.
"""

import io
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import skimage.data
from PIL import Image

from ddn import colour
from ddn import denoise

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _noisy(clean: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
  """uint8 clean + Gaussian noise of σ, rounded and clipped like a file."""
  n = np.random.default_rng(seed).normal(0, sigma, clean.shape)
  return np.clip(np.round(clean + n), 0, 255).astype(np.uint8)


def _jpeg(a: np.ndarray, quality: int) -> np.ndarray:
  buf = io.BytesIO()
  Image.fromarray(a).save(buf, "JPEG", quality=quality)
  buf.seek(0)
  return np.asarray(Image.open(buf))


def _float(a: np.ndarray) -> np.ndarray:
  x = a.astype(np.float32) / 255
  return x[:, :, None] if x.ndim == 2 else x


# ----------------------------------------------------------------------------
# σ you can trust.


def test_colour_jpeg_is_recognised_and_measured_on_its_luma():
  clean = skimage.data.astronaut()[:256, :256].astype(float)
  png = _noisy(clean, 25)
  jpg = _jpeg(png, 90)
  from skimage import restoration
  old = 255 * restoration.estimate_sigma(_float(jpg), channel_axis=-1,
                                         average_sigmas=True)
  assert old < 19  # the failure: JPEG removed the colour noise
  found = colour.inspect_noise(_float(jpg))
  assert found.jpeg and abs(found.sigma - 25) < 3.5, found
  assert "JPEG" in found.warnings()[0] and "--sigma" in found.warnings()[0]
  clean_png = colour.inspect_noise(_float(png))
  assert not clean_png.jpeg and abs(clean_png.sigma - 25) < 2
  assert colour.jpeg_steps(_float(png)) == 0
  assert colour.jpeg_steps(_float(_jpeg(_noisy(
      skimage.data.camera()[:256, :256].astype(float), 25), 90))) >= 3


def test_clipped_pixels_are_left_out_of_the_estimate_and_warned():
  bright = np.clip(skimage.data.camera()[:256, :256] * 0.6 + 140, 0, 255)
  x = _float(_noisy(bright, 25, seed=1))
  from skimage import restoration
  assert 255 * restoration.estimate_sigma(x[:, :, 0]) < 21  # the failure
  found = colour.inspect_noise(x)
  assert abs(found.sigma - 25) < 2.5 and found.clipped > 0.1, found
  assert any("clipped" in w for w in found.warnings())
  # Noise that is not clipped (protocol noise, floats beyond [0, 1]) is not.
  y = _float(bright.astype(np.uint8)) + np.random.default_rng(0).normal(
      0, 25 / 255, x.shape).astype(np.float32)
  assert colour.inspect_noise(y).clipped == 0


def test_noise_that_grows_with_brightness_is_warned():
  clean = skimage.data.camera()[:256, :256].astype(float)
  rng = np.random.default_rng(2)
  camera_like = clean + rng.normal(0, 1, clean.shape) * 15 * np.sqrt(
      clean / 128)
  x = _float(np.clip(np.round(camera_like), 0, 255).astype(np.uint8))
  found = colour.inspect_noise(x)
  assert found.growth is not None and found.growth[1] > found.growth[0]
  assert any("grows with brightness" in w for w in found.warnings())
  assert colour.inspect_noise(_float(_noisy(clean, 15))).growth is None


def test_estimate_keeps_working_on_tiny_and_flat_images():
  assert colour.estimate_sigma(np.full((5, 6, 1), 0.5, np.float32)) < 1e-6
  assert colour.estimate_sigma(np.zeros((16, 16, 3), np.float32)) == 0
  x = np.random.default_rng(0).random((6, 7, 3)).astype(np.float32)
  assert np.isfinite(colour.estimate_sigma(x))
  with pytest.raises(ValueError, match="expected one"):
    colour.estimate_sigma(np.zeros((8, 8)))


class _Fake:
  """A stand-in for inference.Denoiser: the identity, with a trained σ."""

  channels, sigma, fuse = 1, None, ""

  def __init__(self, name="fake", noise=None):
    self.name, self.noise = name, noise or {"blind": False, "sigma": 50.0}

  def at(self, sigma):
    return self

  def __call__(self, x):
    return x


def _write(path, array):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(array).save(path)
  return path


def test_sigma_far_from_the_models_is_warned_even_when_estimated(tmp_path):
  src = _write(str(tmp_path / "in" / "a.png"),
               _noisy(skimage.data.camera()[:64, :64].astype(float), 25))
  fixed = denoise.Models(denoiser=_Fake("gray-s50"))
  [row] = denoise.denoise_files([(src, str(tmp_path / "o.png"))], fixed,
                                progress=False)
  assert row["sigma_estimated"] and 20 < row["sigma"] < 30
  assert "gray-s50 was trained at σ=50, not" in " ".join(row["warnings"])
  assert "warning: gray-s50 was trained" in denoise.describe(row)
  ranged = denoise.Models(denoiser=_Fake("gray-map", {
      "blind": True, "map": True, "sigma_min": 0.0, "sigma_max": 75.0}))
  [row] = denoise.denoise_files([(src, str(tmp_path / "p.png"))], ranged,
                                sigma=120, progress=False)
  assert row["warnings"] == ["gray-map was trained for σ in [0, 75], not "
                             "120.0: expect a poorer result."]


# ----------------------------------------------------------------------------
# Batches that lose nothing.


def _batch(tmp_path, truncate: bool):
  d = tmp_path / "batch"
  for i, name in enumerate(("camera", "coins", "moon")):
    _write(str(d / f"b{i}.png"), _noisy(
        getattr(skimage.data, name)()[:40, :48].astype(float), 20, i))
  if truncate:
    data = (d / "b1.png").read_bytes()
    (d / "b1.png").write_bytes(data[:len(data) // 2])
  return str(d)


def test_a_truncated_png_stops_the_batch_before_anything_is_written(
    tmp_path):
  folder = _batch(tmp_path, truncate=True)
  out = tmp_path / "out"
  with pytest.raises(ValueError) as e:
    denoise.denoise_files(denoise.collect([folder], str(out)),
                          denoise.Models(denoiser=_Fake()), progress=False)
  assert "b1.png: corrupt or truncated" in str(e.value)
  assert not out.exists()
  with pytest.raises(ValueError) as e:  # pypng's own reading names its
    denoise.read(os.path.join(folder, "b1.png"))  # error type once
  assert "(ChunkError: Chunk b'IDAT' too short" in str(e.value)
  assert "ChunkError: ChunkError" not in str(e.value)
  # A damaged checksum alone (Pillow ignores it, pypng does not).
  good = tmp_path / "crc.png"
  data = bytearray((tmp_path / "batch" / "b0.png").read_bytes())
  i = data.index(b"IDAT")
  data[i + 4 + int.from_bytes(data[i - 4:i], "big")] ^= 0xFF
  good.write_bytes(bytes(data))
  with pytest.raises(ValueError, match=r"crc.png: corrupt \(ChunkError: "
                     r"Checksum error"):
    denoise.verify(str(good))


def test_a_failure_mid_batch_keeps_the_done_ones_and_says_how_to_resume(
    tmp_path, monkeypatch):
  pairs = denoise.collect([_batch(tmp_path, truncate=False)],
                          str(tmp_path / "out"))
  real_read, lines = denoise.read, []

  def read(path):  # the second file goes bad after the up-front check
    if path.endswith("b1.png"):
      raise ValueError(f"{path}: cannot decode the image (gone)")
    return real_read(path)
  monkeypatch.setattr(denoise, "read", read)
  with pytest.raises(denoise.Stopped, match=r"stopped at image 2 of 3: "
                     r".*b1.png.*The 1 image\(s\) before it are written.*"
                     r"--skip_existing"):
    denoise.denoise_files(pairs, denoise.Models(denoiser=_Fake()),
                          progress=False, on_done=lines.append)
  assert [r["input"] for r in lines] == [pairs[0][0]]  # printed as it went
  assert os.path.exists(pairs[0][1]) and not os.path.exists(pairs[1][1])
  monkeypatch.setattr(denoise, "read", real_read)
  todo, skipped = denoise.existing(pairs, skip_existing=True)
  assert skipped == pairs[:1] and todo == pairs[1:]
  rows = denoise.denoise_files(todo, denoise.Models(denoiser=_Fake()),
                               progress=False)
  assert all(os.path.exists(d) for _, d in pairs) and len(rows) == 2


def test_existing_outputs_are_refused_unless_asked(tmp_path):
  pairs = [(str(tmp_path / "a.png"), str(tmp_path / "out" / "a.png")),
           (str(tmp_path / "b.png"), str(tmp_path / "out" / "b.png"))]
  assert denoise.existing(pairs) == (pairs, [])
  _write(pairs[0][1], np.zeros((4, 4), np.uint8))
  with pytest.raises(ValueError, match=r"1 of 2 output\(s\) exist already "
                     r".*a.png.*--overwrite.*--skip_existing"):
    denoise.existing(pairs)
  assert denoise.existing(pairs, overwrite=True) == (pairs, [])
  assert denoise.existing(pairs, skip_existing=True) == (pairs[1:],
                                                         pairs[:1])
  with pytest.raises(ValueError, match="contradict"):
    denoise.existing(pairs, overwrite=True, skip_existing=True)
  # With --compare, its picture counts too.
  _write(str(tmp_path / "out" / "b_compare.png"), np.zeros((4, 4), np.uint8))
  assert denoise.existing(pairs, skip_existing=True, compare=True)[0] == []


def test_out_names_a_file_for_one_input(tmp_path):
  src = _write(str(tmp_path / "a.jpg"), np.zeros((8, 8), np.uint8))
  out = str(tmp_path / "result.png")
  assert denoise.collect([src], out) == [(src, out)]
  with pytest.raises(ValueError, match="names one PNG file, but"):
    denoise.collect([src, src], out)
  with pytest.raises(ValueError, match="names one PNG file, but"):
    denoise.collect([str(tmp_path)], out)
  with pytest.raises(ValueError, match="outputs are PNG files"):
    denoise.collect([src], str(tmp_path / "result.jpg"))
  (tmp_path / "dir.png").mkdir()  # an existing folder stays a folder
  assert denoise.collect([src], str(tmp_path / "dir.png")) == [
      (src, str(tmp_path / "dir.png" / "a.png"))]
  [row] = denoise.denoise_files(denoise.collect([src], out),
                                denoise.Models(denoiser=_Fake()),
                                progress=False)
  assert os.path.isfile(out) and row["output"] == out


# ----------------------------------------------------------------------------
# ddn.evaluate: real noisy/clean pairs and colour sets.


def _pairs(tmp_path, sigma=20.0):
  """Two 48 x 40 gray pairs, SIDD-style names, noisy files written with
  Gaussian noise of σ; returns (noisy dir, clean dir)."""
  noisy, clean = tmp_path / "noisy", tmp_path / "gt"
  for i, name in enumerate(("camera", "moon")):
    c = getattr(skimage.data, name)()[100:148, 100:140]
    _write(str(clean / f"{i:04d}_GT_SRGB.png"), c)
    _write(str(noisy / f"{i:04d}_NOISY_SRGB.png"),
           _noisy(c.astype(float), sigma, i))
  return str(noisy), str(clean)


def test_pairs_are_matched_by_name_and_checked(tmp_path):
  from ddn import data
  noisy, clean = _pairs(tmp_path)
  assert data.match_pairs(noisy, clean) == [
      (os.path.join(noisy, f"{i:04d}_NOISY_SRGB.png"),
       os.path.join(clean, f"{i:04d}_GT_SRGB.png")) for i in range(2)]
  assert data.join_pairs([f"pairs:{noisy}", clean, "embedded:eval"]) == [
      f"pairs:{noisy},{clean}", "embedded:eval"]
  _write(os.path.join(noisy, "0002_NOISY_SRGB.png"), np.zeros((4, 4),
                                                             np.uint8))
  with pytest.raises(ValueError, match=r"without a partner: .*0002_NOISY_"
                     r"SRGB.png \(noisy, no clean partner\)"):
    data.match_pairs(noisy, clean)
  _write(os.path.join(clean, "0002_GT_SRGB.png"), np.zeros((5, 4), np.uint8))
  with pytest.raises(ValueError, match=r"0002_NOISY_SRGB.png: 4x4 pixels but "
                     r"its clean partner .*0002_GT_SRGB.png is 4x5"):
    from ddn import evaluate
    evaluate.eval_source(f"pairs:{noisy},{clean}", 1)


def test_pairs_are_scored_on_their_own_noise_with_sigma_estimated(tmp_path):
  from ddn import data, evaluate, protocol
  noisy, clean = _pairs(tmp_path, sigma=20)
  source = evaluate.eval_source(f"pairs:{noisy},{clean}", 1)
  told = []

  def identity_at(s):  # records the σ it is told
    told.append(s)
    return lambda x: x
  method = evaluate.SigmaMethod("identity", identity_at, None)
  rec = evaluate.evaluate_methods([method], source, None)["identity"]
  by_hand = [protocol.psnr(data.read_image(n), data.read_image(c))
             for n, c in data.match_pairs(noisy, clean)]
  np.testing.assert_allclose([r["psnr"] for r in rec["per_image"]], by_hand)
  assert rec["sigma"] is None and rec["sigma_estimated"]
  assert rec["noise"] == "real"
  assert [r["sigma"] for r in rec["per_image"]] == told
  assert all(15 < s < 25 for s in told), told
  # Told a σ instead: every image gets it, the record says it.
  told.clear()
  rec = evaluate.evaluate_methods(
      [evaluate.SigmaMethod("identity", identity_at, 30.0)], source,
      30.0)["identity"]
  assert rec["sigma"] == 30.0 and told == [30.0] and "sigma" not in (
      rec["per_image"][0])
  with pytest.raises(ValueError, match="estimated only for pairs"):
    evaluate.evaluate_methods([method], evaluate.eval_source(
        f"folder:{clean}", 1), None)


def test_evaluate_runs_pairs_and_colour_from_the_command_line_api(
    tmp_path, capsys, monkeypatch):
  from ddn import evaluate
  noisy, clean = _pairs(tmp_path)
  monkeypatch.chdir(tmp_path)  # gray-map's training data is not here
  records = evaluate.run("none", [f"pairs:{noisy}", clean], None, None,
                         baselines=["nlm"])
  [rec] = records
  assert rec["data"] == f"pairs:{noisy},{clean}" and rec["sigma"] is None
  printed = capsys.readouterr().out
  assert "σ=est." in printed and "| set | method | σ est. |" in printed
  rgb = tmp_path / "rgb"
  for i in range(2):
    _write(str(rgb / f"c{i}.png"),
           skimage.data.astronaut()[64 * i:64 * i + 32, 200:232])
  with pytest.raises(ValueError) as e:  # a gray evaluation of colour files
    evaluate.run(None, [f"folder:{rgb}"], [25.0], None)
  assert "--channels=3" in str(e.value)
  assert "data.channels" not in str(e.value) and "bad_files" not in str(
      e.value)
  out = str(tmp_path / "colour.json")
  records = evaluate.run(None, [f"folder:{rgb}"], [25.0], out, channels=3,
                         baselines=["bm3d"])
  ddn, bm3d = records
  assert ddn["colour"] == "opponent" and ddn["checkpoint"] == "gray-map"
  assert ddn["psnr"] > 24 and bm3d["psnr"] > 24  # noisy: 20.2 dB
  printed = capsys.readouterr()
  assert "ddn (gray-map)" in printed.out
  assert "WARNING" not in printed.err  # nothing is tuned on training data
  with pytest.raises(ValueError, match="--colour=lab"):
    evaluate.run(None, [f"folder:{rgb}"], [25.0], None, channels=3,
                 colour="lab")


# ----------------------------------------------------------------------------
# The Python API and progress.


def test_the_python_api_refuses_integer_images():
  from ddn import inference
  d = inference.load("gray-map").at(25)
  for dtype in (np.uint8, np.uint16, np.int64, bool):
    with pytest.raises(ValueError, match=r"float images in \[0, 1\], got a "
                       r".*image / 255.0"):
      d(np.zeros((16, 16, 1), dtype))


def test_a_tiled_image_shows_progress_over_its_tiles(capsys):
  from ddn import inference
  x = np.random.default_rng(0).random((64, 64, 1)).astype(np.float32)
  out = inference.denoise_tiled(lambda b: b, x, 16, 8, 4, progress=True)
  np.testing.assert_allclose(out, x, atol=1e-6)
  assert "tiles" in capsys.readouterr().err
  inference.denoise_tiled(lambda b: b, x, 16, 8, 4)
  assert "tiles" not in capsys.readouterr().err


# ----------------------------------------------------------------------------
# Quiet start-up.


def test_a_missing_tpu_plugin_is_not_reported_but_a_broken_one_is():
  from ddn import runtime
  keep = runtime._NoMissingPlugin().filter  # pylint: disable=protected-access

  def record(msg):
    return logging.LogRecord("jax._src.xla_bridge", logging.INFO, "x", 1,
                             msg, None, None)
  assert not keep(record(
      "Unable to initialize backend 'tpu': INTERNAL: Failed to open "
      "libtpu.so: libtpu.so: cannot open shared object file: No such file "
      "or directory"))
  assert keep(record("Unable to initialize backend 'tpu': INTERNAL: TPU "
                     "initialization failed: the chip is busy"))
  assert keep(record("JAX 0.10 on cpu"))


def test_loading_a_run_read_only_gives_no_orbax_warnings(tmp_path, caplog):
  from ddn import checkpoint
  (tmp_path / "checkpoints").mkdir()
  with caplog.at_level(logging.WARNING):
    checkpoint.manager(str(tmp_path), read_only=True)
  assert not [r for r in caplog.records if r.levelno >= logging.WARNING], (
      [r.getMessage() for r in caplog.records])
  assert not checkpoint.manager(str(tmp_path), read_only=True)._options.create  # pylint: disable=protected-access


# ----------------------------------------------------------------------------
# The Colab notebook's install and accelerator cells (the whole notebook
# runs in tests/test_scale.py).


def _notebook_cell(starts: str) -> str:
  import nbformat  # pylint: disable=g-import-not-at-top
  nb = nbformat.read(os.path.join(ROOT, "notebooks", "ddn_colab.ipynb"),
                     as_version=4)
  [cell] = [c.source for c in nb.cells
            if c.cell_type == "code" and c.source.startswith(starts)]
  return cell


def test_notebook_install_keeps_the_runtimes_jax(tmp_path, monkeypatch):
  import importlib.util
  import jax
  cell = _notebook_cell("# Install ddn")
  real_find_spec, calls = importlib.util.find_spec, []
  monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: (
      None if name == "ddn" else real_find_spec(name, *a)))
  monkeypatch.setattr(subprocess, "run", lambda args, **kw: calls.append(
      args) or subprocess.CompletedProcess(args, 0))
  monkeypatch.chdir(tmp_path)  # not a clone, no DDN_REPO: a clear stop
  with pytest.raises(RuntimeError, match="set DDN_REPO"):
    exec(cell, {"DDN_REPO": ""})  # pylint: disable=exec-used
  assert not calls
  monkeypatch.chdir(os.path.join(ROOT, "notebooks"))  # inside the clone
  monkeypatch.setattr(sys, "path", list(sys.path))
  scope = {"DDN_REPO": ""}
  exec(cell, scope)  # pylint: disable=exec-used
  [pip] = calls
  assert pip[-4:-2] == ["-e", ROOT] and pip[-2] == "-c"
  pins = open(pip[-1]).read().split()
  assert f"jax=={jax.__version__}" in pins and any(
      p.startswith("jaxlib==") for p in pins)
  assert str(scope["ROOT"]) == ROOT


def test_notebook_stops_on_the_wrong_accelerator(monkeypatch):
  from ddn import runtime
  cell = _notebook_cell("# JAX:")
  monkeypatch.setattr(runtime, "setup", lambda: None)
  monkeypatch.setattr(logging, "basicConfig", lambda **kw: None)
  with pytest.raises(RuntimeError, match=r"JAX found 'cpu', not the 'tpu' "
                     r"this notebook expects: choose Runtime -> Change "
                     r"runtime type -> TPU"):
    exec(cell, {"EXPECT": "tpu", "sys": sys})  # pylint: disable=exec-used
  for expect in ("cpu", "any"):
    exec(cell, {"EXPECT": expect, "sys": sys})  # pylint: disable=exec-used


# ----------------------------------------------------------------------------
# --help.


@pytest.mark.slow
@pytest.mark.parametrize("command,expect", [
    (["-m", "ddn.denoise"], ["--overwrite", "--skip_existing"]),
    (["-m", "ddn.evaluate"], ["pairs:NOISY_DIR,CLEAN_DIR", "folder:PATH",
                              "tfds:NAME[:SPLIT]", "embedded[:train|:eval]",
                              "without it the table is printed"]),
    (["launch.py"], ["docs/guarantees.md", "docs/scaling.md"]),
    (["-m", "ddn.figures"], ["python -m ddn.figures lr_sweep", "--runs"]),
    (["-m", "ddn.sweep"], ["get_sweep()", "--dry_run", "--workdir"]),
    (["-m", "ddn.inference"], ["--export", "--name", "--out_root"]),
    (["-m", "ddn.report"], ["python -m ddn.report FILE.json"]),
])
def test_help_exits_zero(command, expect):
  r = subprocess.run([sys.executable, *command, "--help"], cwd=ROOT,
                     capture_output=True, text=True, timeout=120)
  assert r.returncode == 0, r.stderr
  words = " ".join(r.stdout.split())  # absl wraps the help text
  for text in expect:
    assert text in words, r.stdout
  assert 'README "' not in words  # sections that are now docs/ files


def test_a_mistyped_field_gets_the_one_it_means():
  from ddn import config_check, configs
  optim = list(configs.defaults("autoencoder").optim.keys())
  data = list(configs.defaults("autoencoder").data.keys())
  assert config_check.suggest("learning_rate", optim) == ["lr"]
  assert config_check.suggest("lrr", optim) == ["lr"]
  assert config_check.suggest("batch", data) == ["batch_size"]
  assert config_check.suggest("crop_size", data) == ["crop"]
  assert config_check.suggest("colour_space", optim) == []
  c = configs.defaults("autoencoder")
  c.optim.learning_rate = 1e-3
  with pytest.raises(ValueError, match=r"config.optim.learning_rate: not a "
                     r"field .*did you mean config.optim.lr\?"):
    config_check.validate(c)


@pytest.mark.slow
def test_launch_names_the_field_a_mistyped_override_means(tmp_path):
  r = subprocess.run(
      [sys.executable, "launch.py", "--config=experiments/ae.py:smoke",
       f"--workdir={tmp_path}", "--config.optim.learning_rate=1e-3"],
      cwd=ROOT, capture_output=True, text=True, timeout=120)
  assert r.returncode == 1
  assert r.stderr.strip().endswith("Did you mean --config.optim.lr?")
