"""ddn.evaluate with --realism and --interpolate, end to end on a tiny case,
and where its judges' tuning images come from."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from ddn import configs
from ddn import evaluate
from ddn import inference
from ddn import realism


def _write(folder, seeds, size):
  os.makedirs(folder)
  for s in seeds:
    rng = np.random.default_rng(s)
    im = np.full((size, size), rng.uniform(60, 200))
    for _ in range(10):
      y, x = rng.integers(0, size, 2)
      h, w = rng.integers(4, size // 2, 2)
      im[y:y + h, x:x + w] = rng.uniform(0, 255)
    im += rng.normal(0, 6, im.shape)
    Image.fromarray(np.clip(im, 0, 255).astype(np.uint8)).save(
        os.path.join(folder, f"{s}.png"))
  return f"folder:{folder}"


def _smoke():
  cfg = configs.realism()
  cfg.update(dict(judges=("patch",), seeds=1, crop=32, test_crop=48, steps=2,
                  batch_size=8, test_crops=4, bootstrap=50))
  return cfg


def test_evaluate_realism_and_interpolate_on_a_tiny_case(tmp_path, capsys,
                                                         monkeypatch):
  monkeypatch.setattr(realism, "STATS_CROPS", 64)
  held_out = _write(str(tmp_path / "eval"), range(3), 96)
  tune = _write(str(tmp_path / "tune"), range(10, 14), 96)
  out = str(tmp_path / "r.json")
  records = evaluate.run(["gray-s50", "gray-s50-adv"], [held_out], [50.0],
                         out, tune_data=tune, realism_cfg=_smoke(),
                         interpolate=[0.0, 0.5])
  with open(out) as f:
    assert json.load(f) == json.loads(json.dumps(records))
  by = {r["method"]: r for r in records}
  assert set(by) == {"ddn gray-s50", "ddn gray-s50-adv", "ddn α=0",
                     "ddn α=0.5", "calibration: clean vs clean",
                     "calibration: clean vs noisy",
                     "calibration: clean vs gaussian"}
  # α = 0 is the first model: the same outputs, so the same PSNR.
  assert by["ddn α=0"]["psnr"] == pytest.approx(by["ddn gray-s50"]["psnr"])
  assert by["ddn α=0.5"]["psnr"] != by["ddn gray-s50"]["psnr"]
  for r in records:
    lo, hi = r["realism_auc_ci95"]
    assert 0 <= lo <= r["realism_auc"] <= hi <= 1, r["method"]
    assert r["realism_ci_unit"] == "tiles" and r["realism_ci_images"] == 3
    assert 0 <= r["realism_nss"]["auc"] <= 1
    assert 0 <= r["realism_wavelet"]["auc"] <= 1
    assert r["realism_tuned_on"].endswith("tune")
  for family in ("realism_nss", "realism_wavelet"):
    assert by["calibration: clean vs noisy"][family]["auc"] > 0.9
  text = capsys.readouterr()
  # 4 whole tuning images the user chose: kept, with a warning.
  assert "WARNING: --realism: the judges train on 4 whole images" in text.err
  table = open(out[:-len(".json")] + ".md").read()
  assert "| ddn α=0.5 |" in table and "NSS AUC" in table
  assert "wavelet AUC" in table
  assert "intervals over tiles of 3 images (WARNING: fewer than 10" in table


def test_missing_training_data_is_named_and_few_images_are_tiled(
    tmp_path, monkeypatch, capsys):
  """A model whose training folder is not where its record says (relative
  to the working directory): a warning names the path and the fix, the
  judges fall back to the embedded photographs, and those few images are
  cut into tiles, never judged whole."""
  monkeypatch.chdir(tmp_path)  # ../shared/data/Train400 is not here
  model = inference.load("gray-s50")
  assert model.info["train_data"].startswith("folder:")
  assert evaluate.default_tune_data(model) == "embedded:train"
  err = capsys.readouterr().err
  assert "WARNING: the model's training data folder:" in err
  assert str(tmp_path.parent) in err and "--tune_data=folder:PATH" in err
  cfg = configs.realism()
  images = [np.zeros((200, 200, 1), np.float32)] * 8
  tiled = evaluate.few_images_tile(cfg, ("embedded:train", images), False)
  assert tiled.tune_tile == 128 and cfg.tune_tile == 0
  kept = evaluate.few_images_tile(cfg, ("mine", images), True)
  assert kept.tune_tile == 0
  assert "--realism_tune_tile=128" in capsys.readouterr().err
  many = evaluate.few_images_tile(cfg, ("Train400", images * 2), False)
  assert many.tune_tile == 0
