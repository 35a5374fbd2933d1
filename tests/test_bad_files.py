"""A folder of broken and unusual image files: each is read correctly or
reported once with its path, as config.data.bad_files says."""

import logging
import os
import struct
import warnings
import zlib

import numpy as np
import png
import pytest
from PIL import Image

from ddn import configs
from ddn import data as data_lib
from ddn import train

from conftest import write_png

# Files that can never be used, and the reason each is reported with.
BROKEN = {
    "truncated.png": "corrupt or truncated",
    "empty.png": "empty file (0 bytes)",
    "text.png": "not an image file",
    # A 16-bit colour IHDR (pypng's path) with a 100-byte body.
    "huge.png": "100000x100000 = 10,000,000,000 pixels, over the limit of "
                "89,478,485",
    # Pillow's own error (over twice its limit), then between 1 and 2 times
    # it (Pillow only warns): both refused before decoding.
    "huge.bmp": "10,000,000,000 pixels, over the limit of 89,478,485",
    "big.bmp": "10000x10000 = 100,000,000 pixels, over the limit of "
               "89,478,485",
    # A float TIFF with a NaN pixel: it would make every step it is in NaN.
    "nan.tif": "NaN or infinite pixel values",
}
GRAY = ("good0.png", "good1.png", "tiny.png", "deep_gray.png", "la.png")
COLOUR = ("deep_rgb.png", "rgba.png", "palette.png", "cmyk.jpg")


def _chunk(kind: bytes, body: bytes) -> bytes:
  return (struct.pack(">I", len(body)) + kind + body +
          struct.pack(">I", zlib.crc32(kind + body)))


def _bmp_header(width: int, height: int) -> bytes:
  """A 24-bit BMP's headers claiming width x height, and 16 bytes of body."""
  info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835,
                     2835, 0, 0)
  return (b"BM" + struct.pack("<IHHI", 14 + 40 + 16, 0, 0, 14 + 40) + info +
          bytes(16))


def _frombytes(mode: str, a: np.ndarray) -> Image.Image:
  return Image.frombytes(mode, (a.shape[1], a.shape[0]), a.tobytes())


def make_folder(d) -> dict[str, np.ndarray]:
  """Writes every kind of file into `d`; returns, for the readable ones, the
  float (H, W, C) image each must read as (C: 1 gray, 3 colour)."""
  d.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(0)
  want = {}
  for name, shape in (("good0.png", (48, 44)), ("good1.png", (40, 52))):
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    write_png(str(d / name), a)
    want[name] = a[..., None] / 255
  write_png(str(d / "tiny.png"), np.full((1, 1), 200, np.uint8))
  want["tiny.png"] = np.full((1, 1, 1), 200 / 255)
  a16 = rng.integers(0, 65536, (40, 40), dtype=np.uint16)
  write_png(str(d / "deep_gray.png"), a16)
  want["deep_gray.png"] = a16[..., None] / 65535
  la = rng.integers(0, 256, (40, 40, 2), dtype=np.uint8)
  _frombytes("LA", la).save(d / "la.png")
  want["la.png"] = la[..., :1] / 255
  q = rng.integers(0, 65536, (40, 40, 3))
  with open(d / "deep_rgb.png", "wb") as f:
    png.Writer(40, 40, greyscale=False, bitdepth=16).write(
        f, q.reshape(40, 120).tolist())
  want["deep_rgb.png"] = q / 65535
  rgba = rng.integers(0, 256, (40, 40, 4), dtype=np.uint8)
  write_png(str(d / "rgba.png"), rgba)
  want["rgba.png"] = rgba[..., :3] / 255
  index = rng.integers(0, 16, (40, 40), dtype=np.uint8)
  palette = rng.integers(0, 256, (256, 3), dtype=np.uint8)
  pal = _frombytes("P", index)
  pal.putpalette(palette.ravel().tolist())
  pal.save(d / "palette.png")
  want["palette.png"] = palette[index] / 255
  cmyk = rng.integers(0, 256, (40, 40, 4), dtype=np.uint8)
  _frombytes("CMYK", cmyk).save(d / "cmyk.jpg", quality=95)
  with Image.open(d / "cmyk.jpg") as im:
    assert im.mode == "CMYK"
    want["cmyk.jpg"] = np.asarray(im.convert("RGB")) / 255

  noise = rng.integers(0, 256, (48, 48), dtype=np.uint8)
  write_png(str(d / "truncated.png"), noise)
  whole = (d / "truncated.png").read_bytes()
  (d / "truncated.png").write_bytes(whole[:len(whole) // 2])
  (d / "empty.png").write_bytes(b"")
  (d / "text.png").write_text("width,height\n100000,100000\n")
  ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 16, 2, 0, 0, 0)
  (d / "huge.png").write_bytes(
      b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) +
      _chunk(b"IDAT", zlib.compress(bytes(100))) + _chunk(b"IEND", b""))
  (d / "huge.bmp").write_bytes(_bmp_header(100_000, 100_000))
  (d / "big.bmp").write_bytes(_bmp_header(10_000, 10_000))
  f32 = rng.random((40, 40), dtype=np.float32)
  f32[3, 5] = np.nan
  Image.fromarray(f32, mode="F").save(d / "nan.tif")
  assert sorted(os.listdir(d)) == sorted(set(want) | set(BROKEN))
  return want


def data_cfg(**over):
  c = configs.defaults("autoencoder").data
  c.update(over)
  return c


def warnings_naming(caplog, path: str) -> list[str]:
  return [r.getMessage() for r in caplog.records
          if r.levelno == logging.WARNING and path in r.getMessage()]


def luma(rgb: np.ndarray) -> np.ndarray:
  return rgb @ np.array([0.299, 0.587, 0.114])[:, None]


@pytest.fixture
def folder(tmp_path):
  d = tmp_path / "images"
  return str(d), make_folder(d)


def check_images(src, d, want, names, convert=lambda a: a):
  assert src.names == sorted(os.path.join(d, n) for n in names)
  for name in names:
    got = src[src.names.index(os.path.join(d, name))]
    assert got.dtype == np.float32
    # Within 8-bit rounding; 16-bit files exactly (float32).
    np.testing.assert_allclose(got, convert(want[name]), atol=1e-6,
                               err_msg=name)


def test_skip_reads_colour_and_reports_the_rest_once(folder, caplog):
  """channels=3: colour files are read; gray and broken ones are skipped
  with exactly one warning each, naming the file and why."""
  d, want = folder
  src = data_lib.load_source(f"folder:{d}",
                             data_cfg(channels=3, bad_files="skip"))
  check_images(src, d, want, COLOUR)
  for name, reason in BROKEN.items():
    (msg,) = warnings_naming(caplog, os.path.join(d, name))
    assert reason in msg, msg
  for name in GRAY:
    (msg,) = warnings_naming(caplog, os.path.join(d, name))
    assert "gray image (1 channels) but config.data.channels=3" in msg
    assert "convert_channels=True" in msg
  assert len(caplog.records) == len(BROKEN) + len(GRAY)


def test_skip_converts_colour_and_drops_the_1x1_as_too_small(folder, caplog):
  """channels=1, convert_channels=True: every readable file is read (colour
  ones as luma); the 1x1 image then goes with drop_small's one warning."""
  d, want = folder
  src = data_lib.load_source(
      f"folder:{d}", data_cfg(convert_channels=True, bad_files="skip"))
  check_images(src, d, {**want, **{n: luma(want[n]) for n in COLOUR}},
               GRAY + COLOUR)
  for name, reason in BROKEN.items():
    (msg,) = warnings_naming(caplog, os.path.join(d, name))
    assert reason in msg, msg
  assert len(caplog.records) == len(BROKEN)
  caplog.clear()
  kept = data_lib.drop_small(src, 32)
  assert os.path.join(d, "tiny.png") not in kept.names
  assert len(kept) == len(src) - 1
  (msg,) = caplog.messages
  assert "skipping 1 of 9 images smaller than the 32x32 crop" in msg
  assert "tiny.png" in msg


def test_stop_is_one_error_listing_every_bad_file(folder, caplog):
  d, _ = folder
  with pytest.raises(ValueError) as err:
    data_lib.load_source(f"folder:{d}", data_cfg())  # channels=1, stop
  msg = str(err.value)
  assert err.value.__cause__ is None and err.value.__context__ is None
  bad = {**BROKEN, **{n: "colour image (3 channels) but config.data."
                         "channels=1" for n in COLOUR}}
  assert msg.startswith(f"folder:{d}: {len(bad)} of {len(bad) + len(GRAY)} "
                        "image files cannot be used:\n")
  for name, reason in bad.items():
    (line,) = [l for l in msg.splitlines()
               if os.path.join(d, name) + ":" in l]
    assert reason in line, line
  assert msg.endswith("Remove or replace them, or set "
                      "--config.data.bad_files=skip to skip them and use the "
                      f"other {len(GRAY)}.")
  assert not caplog.records  # nothing else reported


def test_stop_lists_the_first_few_and_counts_the_rest(tmp_path):
  write_png(str(tmp_path / "good.png"), np.zeros((8, 8), np.uint8))
  for i in range(data_lib.MAX_LISTED + 3):
    (tmp_path / f"empty{i:02d}.png").write_bytes(b"")
  n = data_lib.MAX_LISTED + 3
  with pytest.raises(ValueError, match=rf"{n} of {n + 1} image files") as err:
    data_lib.load_source(f"folder:{tmp_path}", data_cfg())
  lines = str(err.value).splitlines()
  assert sum("empty file (0 bytes)" in l for l in lines) == data_lib.MAX_LISTED
  assert "  ... and 3 more" in lines


def test_no_usable_file_is_one_error_in_skip_mode(tmp_path, caplog):
  d = tmp_path / "images"
  make_folder(d)
  for name in GRAY + COLOUR:
    os.remove(d / name)
  with pytest.raises(ValueError) as err:
    data_lib.load_source(f"folder:{d}", data_cfg(bad_files="skip"))
  msg = str(err.value)
  assert msg.startswith(f"folder:{d}: none of its {len(BROKEN)} image "
                        "file(s) can be used:\n")
  for name, reason in BROKEN.items():
    assert f"{d / name}: " in msg and reason in msg
  assert not caplog.records  # listed once, in the error


def test_bad_files_value_is_checked():
  with pytest.raises(ValueError, match=r"config\.data\.bad_files='ignore': "
                     "valid values are 'stop'.*'skip'"):
    data_lib.load_source("embedded:eval", data_cfg(bad_files="ignore"))


def test_huge_headers_are_refused_before_decoding(folder):
  """No pixel buffer is allocated: the header's size is refused first, by
  read_image and read_png (pypng) alike, without Pillow's warning."""
  d, _ = folder
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    for name in ("huge.png", "huge.bmp", "big.bmp"):
      with pytest.raises(data_lib.BadImage, match=BROKEN[name]):
        data_lib.read_image(os.path.join(d, name))
    with pytest.raises(data_lib.BadImage, match=BROKEN["huge.png"]):
      data_lib.read_png(os.path.join(d, "huge.png"))


def _smoke(train_folder, bad_files):
  c = configs.apply_args(configs.defaults("autoencoder"), "smoke")
  c.data.train = f"folder:{train_folder}"
  c.data.eval = "embedded:eval"
  c.data.bad_files = bad_files
  c.train.total_images = 8
  return c


@pytest.mark.slow
def test_training_skips_bad_files(folder, tmp_path, caplog):
  d, _ = folder
  caplog.set_level(logging.WARNING)
  state = train.train_and_evaluate(_smoke(d, "skip"), str(tmp_path / "w"))
  assert int(state.step) == 2
  for name in BROKEN:
    assert len(warnings_naming(caplog, os.path.join(d, name))) == 1


def test_training_stops_before_writing(folder, tmp_path):
  d, _ = folder
  workdir = tmp_path / "w"
  with pytest.raises(ValueError, match=r"11 of 16 image files cannot be "
                     r"used:\n(?s:.*)--config\.data\.bad_files=skip"):
    train.train_and_evaluate(_smoke(d, "stop"), str(workdir))
  assert not workdir.exists()
