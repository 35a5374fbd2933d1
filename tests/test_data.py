"""Data sources (embedded, folder, tfds), crops, determinism, bad input."""

import os

import ml_collections
import numpy as np
import pytest
from PIL import Image

from ddn import configs
from ddn import data as data_lib

from conftest import SHARED_DATA, write_png


def data_cfg(**over):
  c = configs.defaults("autoencoder").data
  c.update(over)
  return c


def test_embedded_splits_are_disjoint_and_gray():
  train = data_lib.load_source("embedded:train", data_cfg())
  evals = data_lib.load_source("embedded:eval", data_cfg())
  assert not set(train.names) & set(evals.names)
  assert len(train) == len(data_lib.EMBEDDED_TRAIN) >= 6
  for a in list(train) + list(evals):
    assert a.dtype == np.float32 and a.shape[-1] == 1
    assert 0.0 <= a.min() and a.max() <= 1.0


def test_embedded_rgb():
  src = data_lib.load_source("embedded:eval", data_cfg(channels=3))
  assert all(a.shape[-1] == 3 for a in src)


def test_folder_source_recursive_and_sorted(gray_folder):
  src = data_lib.load_source(f"folder:{gray_folder}", data_cfg())
  assert len(src) == 3
  assert src.names == sorted(src.names)
  assert src[0].shape == (40, 48, 1)


def test_16bit_and_rgba(tmp_path):
  a16 = (np.arange(40 * 40, dtype=np.uint16).reshape(40, 40) * 40)
  Image.fromarray(a16).save(tmp_path / "deep.png")
  got = data_lib.read_image(str(tmp_path / "deep.png"))
  np.testing.assert_allclose(got[..., 0], a16 / 65535.0, atol=1e-6)
  rgba = np.zeros((10, 10, 4), np.uint8)
  rgba[..., 0] = 255
  write_png(str(tmp_path / "rgba.png"), rgba)
  assert data_lib.read_image(str(tmp_path / "rgba.png")).shape == (10, 10, 3)


def test_wrong_channel_count_error_and_convert(tmp_path):
  write_png(str(tmp_path / "c.png"), np.zeros((40, 40, 3), np.uint8))
  with pytest.raises(ValueError, match=r"c\.png.*colour.*data\.channels=1.*"
                     "convert_channels"):
    data_lib.load_source(f"folder:{tmp_path}", data_cfg())
  src = data_lib.load_source(f"folder:{tmp_path}",
                             data_cfg(convert_channels=True))
  assert src[0].shape == (40, 40, 1)


def test_missing_path():
  with pytest.raises(ValueError, match="data folder not found.*nope"):
    data_lib.load_source("folder:/nope/nothing", data_cfg())


def test_empty_folder(tmp_path):
  (tmp_path / "notes.txt").write_text("no images")
  with pytest.raises(ValueError, match="no images in folder"):
    data_lib.load_source(f"folder:{tmp_path}", data_cfg())


@pytest.mark.parametrize("content", [b"", b"not a png at all",
                                     b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"])
def test_corrupt_image_names_the_file(tmp_path, content):
  (tmp_path / "bad.png").write_bytes(content)
  with pytest.raises(ValueError, match=r"cannot read image .*bad\.png: "):
    data_lib.read_image(str(tmp_path / "bad.png"))
  with pytest.raises(ValueError, match=r"none of its 1 image file\(s\) can "
                     r"be used:\n  .*bad\.png: "):
    data_lib.load_source(f"folder:{tmp_path}", data_cfg())


def test_unknown_source():
  with pytest.raises(ValueError, match="unknown data source 'http.*folder:PATH"):
    data_lib.load_source("http://x", data_cfg())


def test_small_images_skipped_with_warning(gray_folder, caplog):
  write_png(os.path.join(gray_folder, "tiny.png"), np.zeros((8, 8), np.uint8))
  src = data_lib.drop_small(
      data_lib.load_source(f"folder:{gray_folder}", data_cfg()), 32)
  assert len(src) == 3
  assert "skipping 1 of 4" in caplog.text and "tiny.png" in caplog.text
  with pytest.raises(ValueError, match="smaller than the crop 64x64.*<= 40"):
    data_lib.drop_small(src, 64)


def test_batches_deterministic_per_step(gray_folder):
  c = data_cfg()
  src = data_lib.load_source(f"folder:{gray_folder}", c)
  a = data_lib.batch_at(src, 3, 4, 16, c.augment, seed=0)
  b = data_lib.batch_at(src, 3, 4, 16, c.augment, seed=0)
  d = data_lib.batch_at(src, 4, 4, 16, c.augment, seed=0)
  e = data_lib.batch_at(src, 3, 4, 16, c.augment, seed=1)
  assert a.shape == (4, 16, 16, 1) and a.dtype == np.float32
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, d) and not np.array_equal(a, e)
  # The prefetching iterator yields exactly batch_at(start), batch_at(start+1).
  it = data_lib.train_batches(src, 3, 4, 16, c.augment, 0, prefetch=2)
  np.testing.assert_array_equal(next(it), a)
  np.testing.assert_array_equal(next(it), d)
  it.close()


def test_epoch_visits_every_image_once():
  images = [np.full((20, 20, 1), i / 10, np.float32) for i in range(5)]
  src = data_lib.Source("const", images, [str(i) for i in range(5)])
  aug = ml_collections.ConfigDict(dict(
      scale_min=1.0, scale_max=1.0, flip_lr=False, flip_ud=False,
      brightness_min=1.0, brightness_max=1.0))
  batch = data_lib.batch_at(src, 0, 5, 8, aug, seed=0)
  assert sorted(np.round(batch[:, 0, 0, 0] * 10).astype(int)) == list(range(5))


def test_augmentation_scale_and_brightness():
  img = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1))[..., None]
  aug = ml_collections.ConfigDict(dict(
      scale_min=0.5, scale_max=0.5, flip_lr=False, flip_ud=False,
      brightness_min=0.5, brightness_max=0.5))
  patch = data_lib.sample_patch(img, np.random.default_rng(0), 16, aug)
  assert patch.shape == (16, 16, 1)
  # A 32-pixel window shrunk to 16 doubles the ramp's slope; brightness 0.5.
  slope = np.mean(np.diff(patch[8, :, 0]))
  assert slope == pytest.approx(0.5 * 2 / 63, rel=0.05)


def test_tfds_source_with_mock_data():
  tfds = pytest.importorskip("tensorflow_datasets")
  with tfds.testing.mock_data(num_examples=6):
    src = data_lib.load_source("tfds:mnist:train", data_cfg())
    assert len(src) == 6
    assert src[0].shape == (28, 28, 1) and src[0].dtype == np.float32
    batch = data_lib.batch_at(src, 0, 2, 16, data_cfg().augment, 0)
    assert batch.shape == (2, 16, 16, 1)


def test_tfds_small_records_are_named():
  tfds = pytest.importorskip("tensorflow_datasets")
  with tfds.testing.mock_data(num_examples=3):
    src = data_lib.load_source("tfds:mnist:train", data_cfg())
    with pytest.raises(ValueError, match=r"tfds:mnist:train\[0\] is 28x28, "
                       r"smaller than the crop 32x32; .*crop to <= 28"):
      data_lib.drop_small(src, 32)
    assert data_lib.drop_small(src, 28) is src
    with pytest.raises(ValueError, match=r"tfds:mnist:train\[\d\] of size "
                       r"28x28 is smaller than the crop 32"):
      data_lib.batch_at(src, 0, 2, 32, data_cfg().augment, 0)


def test_tfds_wrong_channel_count_fails_at_the_probe():
  tfds = pytest.importorskip("tensorflow_datasets")
  cfg = data_cfg()
  cfg.channels = 3
  with tfds.testing.mock_data(num_examples=3):
    src = data_lib.load_source("tfds:mnist:train", cfg)
    with pytest.raises(ValueError, match=r"tfds:mnist:train\[0\]"):
      data_lib.drop_small(src, 16)


def test_tfds_unknown_dataset():
  with pytest.raises(ValueError, match="tfds dataset 'no_such_set'"):
    data_lib.load_source("tfds:no_such_set", data_cfg())


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED_DATA, "Set12")),
                    reason="../shared/data not present")
def test_shared_set12_loads():
  src = data_lib.load_source(f"folder:{SHARED_DATA}/Set12", data_cfg())
  assert len(src) == 12
  assert {a.shape[:2] for a in src} == {(256, 256), (512, 512)}


def test_16bit_colour_png_is_read_exactly(tmp_path):
  """Pillow reads 48-bit PNGs as 8-bit; data.read_image must not."""
  from ddn import denoise
  rng = np.random.default_rng(0)
  q = rng.integers(0, 65536, (5, 7, 3))
  path = str(tmp_path / "c16.png")
  denoise.write(path, q / 65535.0, 16)
  x = data_lib.read_image(path)
  assert x.shape == (5, 7, 3)
  np.testing.assert_array_equal(np.round(x * 65535).astype(np.int64), q)
