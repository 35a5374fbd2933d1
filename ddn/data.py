"""Image sources and the host input pipeline.

A source is named by a string, the same syntax for `data.train` and
`data.eval`:

  embedded[:train|:eval]  natural photographs shipped inside scikit-image (no
                          download): train = EMBEDDED_TRAIN, eval =
                          EMBEDDED_EVAL, bare `embedded` = both. Colour
                          photographs are converted to gray when
                          data.channels=1 (and gray ones replicated for 3).
  folder:PATH             every PNG/JPEG/TIFF/BMP under PATH (recursive,
                          sorted by path), loaded and checked up front.
  tfds:NAME[:SPLIT]       a tensorflow-datasets dataset with an image feature,
                          read by random access (`tfds.data_source`, needs
                          the array_record format; data_dir is
                          data.tfds_data_dir). SPLIT defaults to 'train'.
  pairs:NOISY_DIR,CLEAN_DIR  real noisy photographs and their clean ground
                          truth (SIDD, PolyU and the like), for evaluation:
                          the images are the clean ones and
                          `source.noisy[i]` is image i's noisy version.
                          Files are matched by their path in each folder
                          without the extension, case and the words noisy,
                          gt, clean, real and mean (SIDD's
                          0001_NOISY_SRGB_010.PNG matches
                          0001_GT_SRGB_010.PNG); a file without a partner,
                          two files with one key or a pair of different
                          sizes is an error naming them.

Images are float32 (H, W, C) in [0, 1]: 16-bit files are scaled by 65535,
alpha is dropped, palette, CMYK and other modes become RGB. A colour image
where data.channels=1 (or gray where 3) is an error unless
data.convert_channels=True (embedded always converts).

A folder's files are all read up front. A file that cannot be used (missing,
empty, not an image, corrupt or truncated, a header claiming more than
MAX_IMAGE_PIXELS pixels, refused before decoding, or the wrong channel count)
is handled as data.bad_files says: 'stop' (the default) raises one error
listing every such file with its reason; 'skip' logs one warning per file
and uses the others. A folder with no usable file is an error either way.
Folder and embedded images smaller than the crop are then skipped with one
warning that counts them (none left is an error). tfds records are read
lazily (data.bad_files does not apply): the first is checked up front, and
a later one smaller than the crop stops the run naming the record.

The training pipeline is a pure function of (seed, step): sample n = step *
batch + j reads image perm_e[n % N] with perm_e a permutation drawn from
(seed, epoch e = n // N), and its crop and augmentation come from
`default_rng([seed, n])`. A resumed run therefore sees exactly the batches it
would have seen, with no iterator state to save.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import os
import queue
import re
import threading
import warnings
from typing import Iterator, Sequence

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
SOURCE_KINDS = ("embedded", "folder", "tfds", "pairs")
SOURCE_SYNTAX = ("embedded[:train|:eval], folder:PATH, tfds:NAME[:SPLIT], "
                 "pairs:NOISY_DIR,CLEAN_DIR")
# Natural photographs inside scikit-image (skimage.data), no download needed.
EMBEDDED_TRAIN = ("astronaut", "brick", "chelsea", "coins", "grass",
                  "gravel", "moon", "rocket")
EMBEDDED_EVAL = ("camera", "coffee", "clock")
# config.data.bad_files: what a folder source does with files it cannot use.
BAD_FILES = ("stop", "skip")
# Files whose header claims more pixels are refused before decoding (a
# decompression bomb, or a broken header): Pillow's default
# Image.MAX_IMAGE_PIXELS, about 89 Mpixels (9459 x 9459).
MAX_IMAGE_PIXELS = 1024 * 1024 * 1024 // 4 // 3
# How many bad files one error message lists; the rest are counted.
MAX_LISTED = 20


class Source(Sequence):
  """A random-access sequence of float32 (H, W, C) images in [0, 1]."""

  def __init__(self, name: str, images: Sequence[np.ndarray] | None = None,
               names: Sequence[str] | None = None, loader=None, length=0):
    self.name = name
    self._images = images
    self.names = list(names) if names is not None else None
    self._loader = loader
    self._length = len(images) if images is not None else length

  def __len__(self):
    return self._length

  def __getitem__(self, i):
    if self._images is not None:
      return self._images[i]
    return self._loader(i)

  def label(self, i) -> str:
    """How errors name image i: its file, or SOURCE[i]."""
    return self.names[i] if self.names else f"{self.name}[{int(i)}]"


# ----------------------------------------------------------------------------
# Decoding and channel handling.


def to_float(array: np.ndarray, what: str) -> np.ndarray:
  """uint8/uint16/bool/float array (H, W[, C]) -> float32 (H, W, C) in [0, 1]."""
  a = np.asarray(array)
  if a.dtype == np.bool_:
    a = a.astype(np.float32)
  elif a.dtype == np.uint8:
    a = a.astype(np.float32) / 255.0
  elif a.dtype == np.uint16:
    a = a.astype(np.float32) / 65535.0
  elif np.issubdtype(a.dtype, np.integer):
    info = np.iinfo(a.dtype)
    a = (a.astype(np.float64) / info.max).clip(0, 1).astype(np.float32)
  else:
    a = a.astype(np.float32)
  if a.ndim == 2:
    a = a[:, :, None]
  if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
    raise ValueError(f"{what}: unsupported image shape {array.shape}; "
                     "expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4).")
  if a.shape[-1] == 4:  # drop alpha
    a = a[:, :, :3]
  return a


# What errors about images tell the user to change: training's config fields
# unless the caller gives its own (data_cfg.advice, e.g. ddn.evaluate's
# flags), as format strings of n (the image's channels), channels (the
# expected ones), kind ('colour' or 'gray') and good (usable files).
TRAIN_ADVICE = {
    "channels": ("{kind} image ({n} channels) but config.data.channels="
                 "{channels}; set data.channels={n} or "
                 "data.convert_channels=True to convert"),
    "bad_files": ("Remove or replace them, or set --config.data.bad_files="
                  "skip to skip them and use the other {good}."),
}


def channel_mismatch(n: int, channels: int, advice: dict | None = None
                     ) -> str:
  """Why an image of `n` channels does not fit config.data.channels."""
  kind = "colour" if n == 3 else "gray"
  return (advice or TRAIN_ADVICE)["channels"].format(
      kind=kind, n=n, channels=channels)


def match_channels(a: np.ndarray, channels: int, convert: bool,
                   what: str) -> np.ndarray:
  """Returns `a` with `channels` channels, converting only if allowed."""
  if a.shape[-1] == channels:
    return a
  if not convert:
    raise ValueError(f"{what}: {channel_mismatch(a.shape[-1], channels)}.")
  if channels == 1:  # ITU-R BT.601 luma, as PIL's 'L' and MATLAB rgb2gray.
    return (a @ np.array([0.299, 0.587, 0.114], np.float32))[:, :, None]
  return np.repeat(a, 3, axis=-1)


class BadImage(ValueError):
  """An image file that cannot be used: its `path` and a short `reason`."""

  def __init__(self, path: str, reason: str):
    super().__init__(f"cannot read image {path}: {reason}. Remove or replace "
                     "the file.")
    self.path = path
    self.reason = reason


def _check_pixels(path: str, width: int, height: int) -> None:
  """Refuses a header claiming more than MAX_IMAGE_PIXELS, before decoding."""
  if width * height > MAX_IMAGE_PIXELS:
    raise BadImage(path, _too_large(f"{width}x{height} = {width * height:,}"))


def _too_large(size: str) -> str:
  return (f"its header claims {size} pixels, over the limit of "
          f"{MAX_IMAGE_PIXELS:,} (data.MAX_IMAGE_PIXELS); not decoded")


def _png_preamble(f):
  """A pypng Reader of the open PNG file `f`, its header read (no pixels)."""
  import png  # pylint: disable=g-import-not-at-top
  r = png.Reader(file=f)
  r.preamble()
  return r


def png_header(path: str) -> dict:
  """A PNG's header only: {'bits': 8 or 16, 'channels': 1 gray, 3 colour
  (palette included)}."""
  with open(path, "rb") as f:
    r = _png_preamble(f)
  return {"bits": 16 if r.bitdepth == 16 else 8,
          "channels": 1 if r.greyscale and not r.colormap else 3}


def read_png(path: str) -> tuple[np.ndarray, int]:
  """A PNG decoded exactly (pypng; Pillow reads 16-bit colour as 8-bit):
  float32 (H, W, planes) in [0, 1], alpha kept as the last plane, and the
  depth, 8 or 16 (1-, 2- and 4-bit files count as 8).

  Raises:
    BadImage: when the header claims more than MAX_IMAGE_PIXELS pixels
      (checked before any pixel is decoded).
  """
  with open(path, "rb") as f:
    r = _png_preamble(f)
    _check_pixels(path, r.width, r.height)
    w, h, rows, info = r.asDirect()
    a = np.vstack([np.asarray(row, np.uint32) for row in rows]).reshape(
        h, w, info["planes"])
  x = (a / (2 ** info["bitdepth"] - 1)).astype(np.float32)
  return x, 16 if info["bitdepth"] == 16 else 8


# Image.open reads only the header; Pillow warns (DecompressionBombWarning)
# above its pixel limit, which read_image refuses itself, naming the file.
# The warning filter is process-wide state: the lock keeps the loader's
# threads from interleaving it.
_OPEN_LOCK = threading.Lock()


def _open_lazily(path: str) -> Image.Image:
  with _OPEN_LOCK, warnings.catch_warnings():
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    return Image.open(path)


def _decode(path: str) -> np.ndarray:
  """read_image without the error handling."""
  if os.path.getsize(path) == 0:
    raise BadImage(path, "empty file (0 bytes)")
  if path.lower().endswith(".png"):
    try:
      with open(path, "rb") as f:
        r = _png_preamble(f)
    except Exception:  # pylint: disable=broad-except  # not a PNG inside:
      r = None         # Pillow identifies it, or says what it is not.
    if r is not None:
      _check_pixels(path, r.width, r.height)
      if r.bitdepth == 16 and not r.greyscale:  # Pillow cuts it to 8 bits
        x, _ = read_png(path)
        return x[:, :, :3]  # drop alpha
  with _open_lazily(path) as im:
    _check_pixels(path, *im.size)
    im.load()
    mode = im.mode
    if mode in ("1", "L", "I;16", "I;16B", "I;16L", "I", "F"):
      arr = np.asarray(im)
      if mode == "I":  # 32-bit int PIL mode holding 16-bit data
        arr = arr.astype(np.uint16) if arr.max() <= 65535 else arr
      if mode == "F":
        if not np.all(np.isfinite(arr)):  # would poison every step it is in
          raise BadImage(path, "NaN or infinite pixel values (a float image)")
        arr = np.clip(arr, 0, 1)
    elif mode in ("LA",):
      arr = np.asarray(im.convert("L"))
    else:  # RGB, RGBA, P (palette), CMYK, YCbCr, ...
      arr = np.asarray(im.convert("RGB"))
  try:
    return to_float(arr, path)
  except ValueError as e:  # an unsupported shape
    raise BadImage(path, str(e).removeprefix(f"{path}: ")) from None


def read_image(path: str) -> np.ndarray:
  """Reads one image file as float32 (H, W, C) in [0, 1], C in {1, 3}.

  Raises:
    BadImage: (a ValueError) naming the file and why it cannot be used:
      missing, empty, not an image, corrupt or truncated, a header claiming
      more than MAX_IMAGE_PIXELS pixels, or an unsupported mode.
  """
  try:
    return _decode(path)
  except BadImage:
    raise
  except FileNotFoundError:
    reason = "file not found"
  except Image.DecompressionBombError as e:  # over twice Pillow's limit
    n = re.search(r"\((\d+) pixels\)", str(e))
    reason = _too_large(f"{int(n.group(1)):,}") if n else str(e)
  except Image.UnidentifiedImageError:
    reason = "not an image file (unrecognised content)"
  except OSError as e:  # the file system's errors, or PIL's decoders'
    reason = (f"cannot open it ({e.strerror})" if e.errno is not None
              else f"corrupt or truncated (OSError: {e})")
  except Exception as e:  # pylint: disable=broad-except  # PIL and pypng
    reason = f"corrupt or truncated ({type(e).__name__}: {e})"  # raise many
  raise BadImage(path, reason) from None


# ----------------------------------------------------------------------------
# Sources.


def parse_source(spec: str) -> tuple[str, str]:
  """'kind:rest' -> (kind, rest); raises on an unknown kind."""
  kind, _, rest = str(spec).partition(":")
  if kind not in SOURCE_KINDS:
    raise ValueError(
        f"unknown data source {spec!r}; valid sources are {SOURCE_SYNTAX}.")
  return kind, rest


def join_pairs(specs: list[str]) -> list[str]:
  """A comma-split list of source specs (a list flag's) with each
  'pairs:NOISY_DIR' joined back to the ',CLEAN_DIR' piece after it."""
  out, i = [], 0
  while i < len(specs):
    spec = str(specs[i])
    nxt = str(specs[i + 1]) if i + 1 < len(specs) else None
    if (spec.startswith("pairs:") and "," not in spec and nxt is not None
        and nxt.partition(":")[0] not in SOURCE_KINDS):
      out.append(f"{spec},{nxt}")
      i += 2
    else:
      out.append(spec)
      i += 1
  return out


def embedded_names(split: str) -> tuple[str, ...]:
  if split in ("", "all"):
    return EMBEDDED_TRAIN + EMBEDDED_EVAL
  if split == "train":
    return EMBEDDED_TRAIN
  if split == "eval":
    return EMBEDDED_EVAL
  raise ValueError(f"embedded:{split}: valid splits are train, eval (or none "
                   "for all embedded photographs).")


def load_embedded(split: str, channels: int) -> Source:
  import skimage.data  # pylint: disable=g-import-not-at-top
  names = embedded_names(split)
  images = [match_channels(to_float(getattr(skimage.data, n)(), n), channels,
                           True, n) for n in names]
  return Source(f"embedded:{split or 'all'}", images, names)


def list_images(path: str) -> list[str]:
  if not os.path.exists(path):
    raise ValueError(f"data folder not found: {path!r} (from folder:{path}); "
                     "check the path, relative to the current directory "
                     f"{os.getcwd()}.")
  if os.path.isfile(path):
    return [path]
  files = []
  for root, _, names in os.walk(path, followlinks=True):
    files += [os.path.join(root, n) for n in names
              if n.lower().endswith(IMAGE_SUFFIXES)]
  if not files:
    raise ValueError(f"no images in folder {path!r}: expected files ending "
                     f"in {', '.join(IMAGE_SUFFIXES)} (searched recursively).")
  return sorted(files)


def _read_for(path: str, channels: int, convert: bool,
              advice: dict | None = None
              ) -> tuple[np.ndarray | None, str | None]:
  """(image with `channels` channels, None) or (None, why it is bad)."""
  try:
    a = read_image(path)
  except BadImage as e:
    return None, e.reason
  if a.shape[-1] != channels and not convert:
    return None, channel_mismatch(a.shape[-1], channels, advice)
  return match_channels(a, channels, True, path), None


def _listing(bad: list[tuple[str, str]]) -> str:
  lines = [f"  {f}: {reason}" for f, reason in bad[:MAX_LISTED]]
  if len(bad) > MAX_LISTED:
    lines.append(f"  ... and {len(bad) - MAX_LISTED} more")
  return "\n".join(lines)


def load_folder(path: str, channels: int, convert: bool,
                bad_files: str = "stop", advice: dict | None = None
                ) -> Source:
  """Every image file under `path`, read up front.

  Files that cannot be used (see read_image, or a channel count other than
  `channels` when not `convert`) stop the load with one error listing them
  (`bad_files` 'stop'), or are skipped with one warning each ('skip'). No
  usable file at all is an error either way. `advice`: what the errors tell
  the user to change (TRAIN_ADVICE's keys).
  """
  name = f"folder:{path}"
  files = list_images(path)
  read = functools.partial(_read_for, channels=channels, convert=convert,
                           advice=advice)
  with concurrent.futures.ThreadPoolExecutor(4) as pool:
    results = list(pool.map(read, files))
  bad = [(f, why) for f, (_, why) in zip(files, results) if why]
  good = [(f, a) for f, (a, why) in zip(files, results) if not why]
  if not good:
    raise ValueError(
        f"{name}: none of its {len(files)} image file(s) can be used:\n"
        f"{_listing(bad)}\nRemove or replace them, or point the source at "
        "another folder.")
  if bad and bad_files == "stop":
    raise ValueError(
        f"{name}: {len(bad)} of {len(files)} image files cannot be used:\n"
        f"{_listing(bad)}\n"
        + (advice or TRAIN_ADVICE)["bad_files"].format(good=len(good)))
  for f, why in bad:
    logging.warning("%s: skipping %s: %s (config.data.bad_files=skip).",
                    name, f, why)
  return Source(name, [a for _, a in good], [f for f, _ in good])


class PairedSource(Source):
  """Clean images (the Source) and `noisy`, their real noisy versions."""

  def __init__(self, name: str, clean: list, noisy: list, names: list,
               noisy_names: list):
    super().__init__(name, clean, names)
    self.noisy, self.noisy_names = noisy, noisy_names


_PAIR_WORDS = re.compile(r"(?<![a-z0-9])(noisy|gt|clean|real|mean)"
                         r"(?![a-z0-9])")


def pair_key(relative_path: str) -> str:
  """What a pairs: file is matched by: its path in its folder without the
  extension, case and the words noisy, gt, clean, real and mean."""
  stem = os.path.splitext(relative_path)[0].lower().replace(os.sep, "/")
  key = _PAIR_WORDS.sub("", stem)
  return re.sub(r"[_\-. ]+", "_", key).strip("_") or stem


def match_pairs(noisy_dir: str, clean_dir: str) -> list[tuple[str, str]]:
  """(noisy file, clean file) of two folders, by pair_key; raises naming
  files without a partner or sharing a key."""
  keyed = []
  for folder in (noisy_dir, clean_dir):
    files = list_images(folder)
    keys: dict[str, str] = {}
    for f in files:
      k = pair_key(os.path.relpath(f, folder))
      if k in keys:
        raise ValueError(f"pairs: {keys[k]} and {f} are matched by the same "
                         f"name ({k!r}); rename one.")
      keys[k] = f
    keyed.append(keys)
  noisy, clean = keyed
  alone = ([f"{f} (noisy, no clean partner)" for k, f in noisy.items()
            if k not in clean] +
           [f"{f} (clean, no noisy partner)" for k, f in clean.items()
            if k not in noisy])
  if alone:
    more = f" and {len(alone) - 5} more" if len(alone) > 5 else ""
    raise ValueError(
        f"pairs:{noisy_dir},{clean_dir}: files without a partner: "
        f"{'; '.join(alone[:5])}{more}. Files are matched by name without "
        "extension and the words noisy/gt/clean/real/mean; rename or remove "
        "them.")
  return [(noisy[k], clean[k]) for k in sorted(noisy)]


def load_pairs(arg: str, channels: int, convert: bool,
               advice: dict | None = None) -> PairedSource:
  """The pairs:NOISY_DIR,CLEAN_DIR source (module docstring), every file
  read up front; raises listing the files that cannot be used and the
  pairs whose sizes differ."""
  noisy_dir, _, clean_dir = arg.partition(",")
  if not noisy_dir or not clean_dir:
    raise ValueError(f"pairs:{arg}: give two folders, "
                     "pairs:NOISY_DIR,CLEAN_DIR.")
  name = f"pairs:{noisy_dir},{clean_dir}"
  pairs = match_pairs(noisy_dir, clean_dir)
  files = [f for pair in pairs for f in pair]
  read = functools.partial(_read_for, channels=channels, convert=convert,
                           advice=advice)
  with concurrent.futures.ThreadPoolExecutor(4) as pool:
    results = dict(zip(files, pool.map(read, files)))
  bad = [(f, why) for f, (_, why) in results.items() if why]
  bad += [(n, f"{results[n][0].shape[1]}x{results[n][0].shape[0]} pixels "
              f"but its clean partner {c} is {results[c][0].shape[1]}x"
              f"{results[c][0].shape[0]}")
          for n, c in pairs if not (results[n][1] or results[c][1])
          and results[n][0].shape != results[c][0].shape]
  if bad:
    raise ValueError(f"{name}: {len(bad)} file(s) cannot be used:\n"
                     f"{_listing(bad)}\nRemove or replace them.")
  return PairedSource(name, [results[c][0] for _, c in pairs],
                      [results[n][0] for n, _ in pairs],
                      [c for _, c in pairs], [n for n, _ in pairs])


def load_tfds(arg: str, channels: int, convert: bool, data_dir: str | None):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  name, _, split = arg.partition(":")
  split = split or "train"
  if not name:
    raise ValueError("tfds source needs a dataset name: tfds:NAME[:SPLIT].")
  try:
    builder = tfds.builder(name, data_dir=data_dir or None)
  except Exception as e:
    raise ValueError(f"tfds dataset {name!r} not available: {e}") from None
  keys = [k for k, f in builder.info.features.items()
          if isinstance(f, tfds.features.Image)]
  if not keys:
    raise ValueError(f"tfds dataset {name!r} has no image feature "
                     f"(features: {', '.join(builder.info.features)}).")
  key = "image" if "image" in keys else keys[0]
  try:
    ds = tfds.data_source(name, split=split, data_dir=data_dir or None,
                          download=False)
  except Exception as e:
    raise ValueError(
        f"cannot open tfds:{name}:{split} for random access ({e}); prepare "
        "it with file_format='array_record' in data.tfds_data_dir.") from None
  what = f"tfds:{name}:{split}"

  def loader(i):
    return match_channels(to_float(ds[int(i)][key], f"{what}[{i}]"),
                          channels, convert, f"{what}[{i}]")

  if len(ds) == 0:
    raise ValueError(f"{what} is empty.")
  return Source(what, loader=loader, length=len(ds))


def validate_bad_files(value) -> str:
  if value not in BAD_FILES:
    raise ValueError(
        f"config.data.bad_files={value!r}: valid values are 'stop' (one "
        "error listing the image files that cannot be used) and 'skip' (one "
        "warning per such file; use the others).")
  return value


def load_source(spec: str, data_cfg) -> Source:
  """Opens the source named by `spec` for `config.data` (a config without
  `bad_files`, e.g. a saved older one, stops on bad files)."""
  bad_files = validate_bad_files(data_cfg.get("bad_files", "stop"))
  kind, arg = parse_source(spec)
  channels = int(data_cfg.channels)
  if channels not in (1, 3):
    raise ValueError(f"config.data.channels={channels}: use 1 (gray) or 3 "
                     "(RGB).")
  if kind == "embedded":
    return load_embedded(arg, channels)
  advice = data_cfg.get("advice", None)
  advice = dict(advice) if advice else None
  if kind == "folder":
    if not arg:
      raise ValueError("folder source needs a path: folder:PATH.")
    return load_folder(arg, channels, bool(data_cfg.convert_channels),
                       bad_files, advice)
  if kind == "pairs":
    return load_pairs(arg, channels, bool(data_cfg.convert_channels),
                      advice)
  return load_tfds(arg, channels, bool(data_cfg.convert_channels),
                   data_cfg.tfds_data_dir)


def drop_small(source: Source, crop: int) -> Source:
  """Drops images smaller than crop x crop, warning once; errors if none left."""
  if source._images is None:
    # Lazy (tfds): reading every record up front would defeat random access.
    # Probe the first record now (a wrong channel count or an unreadable
    # record fails before any training); later records are checked when
    # sampled, and a small one stops the run naming it.
    first = source[0]
    if min(first.shape[:2]) < crop:
      raise ValueError(
          f"{source.label(0)} is {first.shape[0]}x{first.shape[1]}, smaller "
          f"than the crop {crop}x{crop}; lower config.data.crop to <= "
          f"{min(first.shape[:2])}.")
    return source
  keep = [i for i, a in enumerate(source._images)
          if min(a.shape[:2]) >= crop]
  if len(keep) == len(source):
    return source
  dropped = [source.names[i] for i in range(len(source)) if i not in keep]
  if not keep:
    smallest = max(min(a.shape[:2]) for a in source._images)
    raise ValueError(
        f"every image of {source.name} is smaller than the crop "
        f"{crop}x{crop} (largest short side {smallest}); lower "
        f"config.data.crop to <= {smallest}.")
  logging.warning("%s: skipping %d of %d images smaller than the %dx%d crop "
                  "(first: %s).", source.name, len(dropped), len(source),
                  crop, crop, ", ".join(dropped[:3]))
  return Source(source.name, [source._images[i] for i in keep],
                [source.names[i] for i in keep])


def check_disjoint(train: Source, held_out: Source) -> None:
  """Raises when the held-out source shares images with the training one
  (same file, same embedded photograph, or the same tfds split)."""
  if train.names and held_out.names:
    key = lambda n: os.path.realpath(n) if os.path.exists(n) else n
    shared = sorted({key(n) for n in train.names} &
                    {key(n) for n in held_out.names})
  else:
    shared = [train.name] if train.name == held_out.name else []
  if shared:
    raise ValueError(
        f"data.train ({train.name}) and data.eval ({held_out.name}) share "
        f"{len(shared)} image(s), e.g. {shared[0]}; validation must be held "
        "out: point config.data.eval at other images.")


# ----------------------------------------------------------------------------
# Crops and augmentation.


def _resize(patch: np.ndarray, size: int) -> np.ndarray:
  chans = [np.asarray(Image.fromarray(patch[:, :, c], mode="F").resize(
      (size, size), Image.BILINEAR, reducing_gap=None))
           for c in range(patch.shape[-1])]
  return np.stack(chans, axis=-1)


def sample_patch(image: np.ndarray, rng: np.random.Generator, crop: int,
                 aug, what: str = "image") -> np.ndarray:
  """One augmented crop x crop patch of `image` (float32 (H, W, C)).

  Augmentation (the chapter's): crop a square window of side crop / s with
  s ~ U[scale_min, scale_max] (clamped to the image) and resize it to crop;
  flip left-right and up-down with probability 1/2 each when enabled;
  multiply by b ~ U[brightness_min, brightness_max] and clip to [0, 1].
  """
  h, w, _ = image.shape
  if min(h, w) < crop:
    raise ValueError(f"{what} of size {h}x{w} is smaller than the crop "
                     f"{crop}; lower config.data.crop to <= {min(h, w)}.")
  s = rng.uniform(aug.scale_min, aug.scale_max)
  side = int(min(round(crop / s), h, w))
  y = rng.integers(0, h - side + 1)
  x = rng.integers(0, w - side + 1)
  patch = image[y:y + side, x:x + side]
  if side != crop:
    patch = _resize(np.ascontiguousarray(patch), crop)
  if aug.flip_lr and rng.random() < 0.5:
    patch = patch[:, ::-1]
  if aug.flip_ud and rng.random() < 0.5:
    patch = patch[::-1]
  b = rng.uniform(aug.brightness_min, aug.brightness_max)
  if b != 1.0:
    patch = np.clip(patch * b, 0.0, 1.0)
  return np.ascontiguousarray(patch, dtype=np.float32)


def validate_augment(aug) -> None:
  if not 0 < aug.scale_min <= aug.scale_max:
    raise ValueError("config.data.augment: need 0 < scale_min <= scale_max, "
                     f"got {aug.scale_min}, {aug.scale_max}.")
  if not 0 <= aug.brightness_min <= aug.brightness_max:
    raise ValueError("config.data.augment: need 0 <= brightness_min <= "
                     f"brightness_max, got {aug.brightness_min}, "
                     f"{aug.brightness_max}.")


def batch_at(source: Source, step: int, batch_size: int, crop: int, aug,
             seed: int, rows: Sequence[int] | None = None) -> np.ndarray:
  """The training batch of `step`: float32 (batch, crop, crop, C), or only
  its `rows` (this process's share of a global batch, ddn.parallel): row j
  of step s is drawn from (seed, s * batch_size + j) alone, so the rows a
  process makes do not depend on which other rows exist."""
  n_images = len(source)
  out = []
  perm_cache = {}
  for j in (range(batch_size) if rows is None else rows):
    n = step * batch_size + j
    epoch, pos = divmod(n, n_images)
    if epoch not in perm_cache:
      perm_cache[epoch] = np.random.default_rng([seed, epoch, 1]).permutation(
          n_images)
    rng = np.random.default_rng([seed, n, 2])
    i = perm_cache[epoch][pos]
    out.append(sample_patch(source[i], rng, crop, aug, source.label(i)))
  return np.stack(out)


def train_batches(source: Source, start_step: int, batch_size: int, crop: int,
                  aug, seed: int, prefetch: int = 2,
                  rows: Sequence[int] | None = None) -> Iterator[np.ndarray]:
  """Yields `batch_at(step, rows)` for step = start_step, start_step + 1, ...

  A background thread keeps up to `prefetch` batches ready, so the jitted
  step does not wait on cropping.
  """
  if prefetch <= 0:
    step = start_step
    while True:
      yield batch_at(source, step, batch_size, crop, aug, seed, rows)
      step += 1
  q: queue.Queue = queue.Queue(maxsize=prefetch)
  stop = threading.Event()

  def produce():
    step = start_step
    while not stop.is_set():
      try:
        item = batch_at(source, step, batch_size, crop, aug, seed, rows)
      except Exception as e:  # surfaced in the consumer
        item = e
      while not stop.is_set():
        try:
          q.put(item, timeout=0.1)
          break
        except queue.Full:
          pass
      if isinstance(item, Exception):
        return
      step += 1

  thread = threading.Thread(target=produce, daemon=True)
  thread.start()
  try:
    while True:
      item = q.get()
      if isinstance(item, Exception):
        raise item
      yield item
  finally:
    stop.set()
