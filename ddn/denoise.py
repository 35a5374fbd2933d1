"""Denoises your images with a trained or shipped model.

  python -m ddn.denoise photo.png scans/ --out=denoised/
  python -m ddn.denoise noisy.png --out=clean.png          # one file
  python -m ddn.denoise noisy.png --out=out/ --sigma=15    # known σ
  python -m ddn.denoise noisy.png --out=out/ --checkpoint=gray-blind
  python -m ddn.denoise clean.png --out=out/ --add_noise=25 --compare

Inputs are image files or folders (searched recursively for PNG, JPEG,
TIFF, BMP); each output is OUT/<name>.png, keeping a folder's subfolders
(one input file and --out=NAME.png: that file). Gray stays gray and RGB
stays RGB; an alpha channel is copied unchanged. PNGs are read and written
exactly at 8 or 16 bits (pypng; 16-bit RGB included); --bits=same (default)
keeps each input's depth.

Nothing is lost mid-batch: every input is decoded in full before anything
is written (a truncated or corrupt file stops the command first, naming
it); outputs that exist already are refused unless --overwrite (replace
them) or --skip_existing (keep them, denoise the rest); each image's line
is printed as it is written, and a failure later on says how many are done
and to rerun with --skip_existing.

Model: --checkpoint is a workdir or a shipped model (ddn.inference). Without
it, each image gets the shipped model for its σ (inference.best_shipped):
--sigma if given, else --add_noise, else σ estimated from the image
(colour.inspect_noise, which warns when the estimate is unreliable: JPEG
compression, clipped pixels, noise that grows with brightness). A warning
also says when σ is outside the range the model was trained for, or far
from a fixed-σ model's. Colour photographs with a gray model are denoised
in an opponent colour space, each channel by the model for its own σ
(--colour=opponent, the default; or --colour=per_channel: R, G and B each
at σ); a colour model refuses gray images. Each line printed says the σ,
the model(s) and the colour handling used. --ensemble averages the 8 flips
and rotations of every pass. --fuse=bm3d blends each output with BM3D's,
one weight per image chosen by SURE (ddn.fusion): better on images of
repeated structure (facades, fabrics), at about twice BM3D's time.

--compare also writes OUT/<name>_compare.png: input | denoised (| the clean
original, with --add_noise, which first adds Gaussian noise of that σ to
each image, seeded by its position, and prints PSNRs). Large images are
tiled (--tile, --memory_mb), with a progress bar over the tiles.
"""

from __future__ import annotations

import logging
import os
import sys

from absl import app
from absl import flags
import numpy as np
from PIL import Image

from ddn import colour as colour_lib
from ddn import data as data_lib
from ddn import fusion
from ddn import inference
from ddn import protocol
from ddn import runtime

# PIL modes we read (PNG goes through pypng), and what each holds.
PIL_MODES = {"L": 8, "LA": 8, "RGB": 8, "RGBA": 8, "P": 8, "I;16": 16,
             "I;16B": 16, "I;16L": 16, "I": 16}


class Picture:
  """An input image: float (H, W, C) in [0, 1], its bit depth and alpha."""

  def __init__(self, pixels: np.ndarray, bits: int,
               alpha: np.ndarray | None = None):
    self.pixels, self.bits, self.alpha = pixels, bits, alpha


def _reason(e: Exception) -> str:
  """An exception's text, its type named once (pypng's messages start with
  it already)."""
  text, kind = str(e).strip(), type(e).__name__
  return text if text.startswith(kind) else f"{kind}: {text}"


def check(path: str) -> dict:
  """Reads only the header: {'bits', 'channels'}; raises naming the file."""
  try:
    if path.lower().endswith(".png"):
      return data_lib.png_header(path)
    with Image.open(path) as im:
      mode = im.mode
    if mode not in PIL_MODES:
      raise ValueError(
          f"{path}: unsupported image mode {mode!r}; save it as 8- or 16-bit "
          "gray or RGB (e.g. PNG) first.")
    return {"bits": PIL_MODES[mode],
            "channels": 1 if mode in ("L", "LA") or mode.startswith("I")
            else 3}
  except ValueError:
    raise
  except FileNotFoundError:
    raise ValueError(f"{path}: no such file.") from None
  except Exception as e:  # PIL and pypng raise many types for bad files
    raise ValueError(f"{path}: not a readable image ({_reason(e)}); remove "
                     "or replace it.") from None


def verify(path: str) -> dict:
  """check's header after decoding every pixel (data.read_image), so a
  truncated or corrupt file is found before anything is written; raises
  naming the file."""
  import png  # pylint: disable=g-import-not-at-top
  head = check(path)
  try:
    data_lib.read_image(path)
    if path.lower().endswith(".png"):  # Pillow skips the chunks' CRCs
      for _ in png.Reader(filename=path).chunks():
        pass
  except data_lib.BadImage as e:
    raise ValueError(f"{path}: {e.reason}; remove or replace it.") from None
  except Exception as e:  # pylint: disable=broad-except  # pypng's errors
    raise ValueError(f"{path}: corrupt ({_reason(e)}); remove or replace "
                     "it.") from None
  return head


def read(path: str) -> Picture:
  """The whole image; raises naming the file when it cannot be decoded."""
  try:
    if path.lower().endswith(".png"):
      x, bits = data_lib.read_png(path)
    else:
      check(path)
      with Image.open(path) as im:
        im.load()
        if im.mode == "P":
          im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        a = np.asarray(im)
      bits = 16 if a.dtype != np.uint8 else 8
      x = (a / (65535.0 if bits == 16 else 255.0)).astype(np.float32)
      x = x[:, :, None] if x.ndim == 2 else x
  except ValueError:
    raise
  except Exception as e:
    raise ValueError(f"{path}: cannot decode the image ({_reason(e)}); "
                     "remove or replace it.") from None
  alpha = None
  if x.shape[-1] in (2, 4):  # gray + alpha, RGB + alpha
    x, alpha = x[:, :, :-1], x[:, :, -1:]
  return Picture(x, bits, alpha)


def write(path: str, pixels: np.ndarray, bits: int,
          alpha: np.ndarray | None = None) -> None:
  """A float (H, W, C) image as an 8- or 16-bit PNG, atomically."""
  import png  # pylint: disable=g-import-not-at-top
  if alpha is not None:
    pixels = np.concatenate([pixels, alpha], axis=-1)
  h, w, c = pixels.shape
  top = 65535 if bits == 16 else 255
  q = np.round(np.clip(pixels, 0, 1) * top).astype(
      np.uint16 if bits == 16 else np.uint8)
  writer = png.Writer(w, h, greyscale=c in (1, 2), alpha=c in (2, 4),
                      bitdepth=bits)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = path + ".tmp"
  with open(tmp, "wb") as f:
    writer.write(f, q.reshape(h, w * c))
  os.replace(tmp, path)


def collect(inputs: list[str], out: str) -> list[tuple[str, str]]:
  """(input file, output PNG) pairs; raises on a missing input, an empty
  folder, two inputs with one output, or an output that is an input. `out`
  is a folder, or with one input file a .png file name."""
  if not inputs:
    raise ValueError("give at least one image file or folder to denoise.")
  if not out:
    raise ValueError("give --out: a folder, or a .png file for one image.")
  pairs = []
  if os.path.splitext(out)[1].lower() in data_lib.IMAGE_SUFFIXES and (
      not os.path.isdir(out)):
    if not out.lower().endswith(".png"):
      raise ValueError(f"--out={out}: outputs are PNG files; name a .png "
                       "file (one input) or a folder.")
    if len(inputs) != 1 or not os.path.isfile(inputs[0]):
      raise ValueError(f"--out={out} names one PNG file, but the inputs "
                       "are several images or a folder; give a folder.")
    pairs = [(inputs[0], out)]
  for item in inputs if not pairs else []:
    if os.path.isdir(item):
      files = data_lib.list_images(item)
      pairs += [(f, os.path.join(out, os.path.splitext(
          os.path.relpath(f, item))[0] + ".png")) for f in files]
    elif os.path.isfile(item):
      pairs.append((item, os.path.join(out, os.path.splitext(
          os.path.basename(item))[0] + ".png")))
    else:
      raise ValueError(f"{item}: no such file or folder.")
  seen = {}
  for src, dst in pairs:
    if dst in seen:
      raise ValueError(f"{seen[dst]} and {src} would both be written to "
                       f"{dst}; denoise them into different --out folders.")
    seen[dst] = src
  inputs_real = {os.path.realpath(s) for s, _ in pairs}
  clash = [d for _, d in pairs if os.path.realpath(d) in inputs_real]
  if clash:
    raise ValueError(f"output {clash[0]} would overwrite an input; choose "
                     "another --out.")
  return pairs


def outputs_of(dst: str, compare: bool) -> list[str]:
  """The files denoising into `dst` writes."""
  return [dst] + ([os.path.splitext(dst)[0] + "_compare.png"] if compare
                  else [])


def existing(pairs, overwrite: bool = False, skip_existing: bool = False,
             compare: bool = False) -> tuple[list, list]:
  """The overwrite policy: (pairs to denoise, pairs skipped). Outputs that
  exist are an error unless `overwrite` (denoise them again) or
  `skip_existing` (leave them, and skip their inputs)."""
  if overwrite and skip_existing:
    raise ValueError("--overwrite and --skip_existing contradict each "
                     "other; give one.")
  done = [(s, d) for s, d in pairs
          if any(os.path.exists(o) for o in outputs_of(d, compare))]
  if not done or overwrite:
    return pairs, []
  if skip_existing:
    return [p for p in pairs if p not in done], done
  first = next(o for o in outputs_of(done[0][1], compare)
               if os.path.exists(o))
  raise ValueError(
      f"{len(done)} of {len(pairs)} output(s) exist already (first: "
      f"{first}); pass --overwrite to replace them or --skip_existing to "
      "keep them and denoise the rest.")


class Models:
  """The denoisers of one command: `for_sigma(s)` is --checkpoint's model,
  or without one the shipped model for σ = s (loaded once each)."""

  def __init__(self, checkpoint: str | None = None,
               denoiser: inference.Denoiser | None = None, **kw):
    self.kw, self._loaded = kw, {}
    self.fixed = denoiser or (inference.load(checkpoint, **kw)
                              if checkpoint else None)
    self.channels = self.fixed.channels if self.fixed else 1

  def for_sigma(self, sigma: float | None) -> inference.Denoiser:
    """The model for inputs of noise σ, told σ (Denoiser.at)."""
    if self.fixed is not None:
      return self.fixed.at(sigma)
    name = inference.best_shipped(sigma)
    if name not in self._loaded:
      self._loaded[name] = inference.load(name, **self.kw)
    return self._loaded[name].at(sigma)


def sigma_warning(denoiser: inference.Denoiser, sigma: float | None) -> str:
  """A line when σ (given or estimated) is outside what the model was
  trained for: its range, or more than 5 from a fixed-σ model's σ."""
  n = denoiser.noise
  if sigma is None:
    return ""
  if n.get("blind"):
    if not n["sigma_min"] <= sigma <= n["sigma_max"]:
      return (f"{denoiser.name} was trained for σ in [{n['sigma_min']:g}, "
              f"{n['sigma_max']:g}], not {sigma:.1f}: expect a poorer "
              "result.")
  elif "sigma" in n and abs(n["sigma"] - sigma) > 5:
    best = inference.best_shipped(sigma)
    hint = ("" if best == denoiser.name else
            f"; leave out --checkpoint to use the shipped model for "
            f"σ={sigma:.1f} ({best})")
    return (f"{denoiser.name} was trained at σ={n['sigma']:g}, not "
            f"{sigma:.1f}{hint}.")
  return ""


class Stopped(ValueError):
  """A batch stopped part way: the message says what is done and how to
  finish."""


def denoise_files(pairs, models, bits: str = "same",
                  colour: str = "opponent", compare: bool = False,
                  add_noise: float = 0.0, seed: int = 0,
                  sigma: float | None = None, progress: bool = True,
                  on_done=None) -> list[dict]:
  """Decodes every input in full (check_all), then denoises each and
  writes its PNG(s), calling `on_done(row)` after each.

  Args:
    models: a Models, or one inference.Denoiser for every image.
    sigma: the inputs' σ; None: add_noise if > 0, else estimated per image.

  A Denoiser told its σ (`at`) keeps it when neither `sigma` nor
  `add_noise` is given.

  Returns:
    [{'input', 'output', 'sigma', 'sigma_estimated', 'models', 'colour',
      'warnings', 'psnr_noisy', 'psnr'}] (PSNRs only with add_noise; colour
    None for an image the model takes as it is).

  Raises:
    ValueError: before anything is written, naming every unusable input;
      Stopped when an image fails after others were written.
  """
  import tqdm  # pylint: disable=g-import-not-at-top
  if bits not in ("same", "8", "16"):
    raise ValueError(f"--bits={bits}: give 8, 16 or same.")
  if colour not in colour_lib.MODES:
    raise ValueError(f"--colour={colour}: give "
                     f"{' or '.join(colour_lib.MODES)}.")
  if isinstance(models, inference.Denoiser):
    if sigma is None and not add_noise and models.sigma is not None:
      sigma = models.sigma
    models = Models(denoiser=models)
  check_all(pairs, models.channels, progress)
  results = []
  for i, (src, dst) in enumerate(tqdm.tqdm(pairs, desc="denoising",
                                           unit="image", disable=not progress)):
    try:
      row = denoise_one(src, dst, i, models, bits, colour, compare,
                        add_noise, seed, sigma)
    except (ValueError, OSError, MemoryError) as e:
      done = (f"The {i} image(s) before it are written (their lines are "
              "above); once it is fixed or removed, run the same command "
              "with --skip_existing to denoise the rest." if i else
              "Nothing was written.")
      why = str(e) if isinstance(e, ValueError) else f"{src}: {_reason(e)}"
      raise Stopped(f"stopped at image {i + 1} of {len(pairs)}: {why} "
                    f"{done}") from e
    results.append(row)
    if on_done is not None:
      on_done(row)
  return results


def denoise_one(src: str, dst: str, index: int, models, bits: str,
                colour: str, compare: bool, add_noise: float, seed: int,
                sigma: float | None) -> dict:
  """denoise_files for one image: reads, denoises, writes; its row."""
  from ddn import plots  # pylint: disable=g-import-not-at-top
  pic = read(src)
  clean = pic.pixels
  noisy = (protocol.noisy_version(clean, add_noise, index, seed)
           if add_noise > 0 else clean)
  s = sigma if sigma is not None else (add_noise or None)
  row = {"input": src, "output": dst, "sigma_estimated": s is None,
         "warnings": []}
  if s is None:
    found = colour_lib.inspect_noise(noisy)
    s = found.sigma
    row["warnings"] += found.warnings()
  asked = {}

  def model_for(s_):  # what colour.denoise_rgb asks for, recorded
    d = models.for_sigma(s_)
    asked.setdefault(d.name, (d, []))[1].append(s_)
    return d
  rgb = noisy.shape[-1] == 3 and models.channels == 1
  if rgb:
    out = colour_lib.denoise_rgb(model_for, noisy, s, colour)
  else:
    out = model_for(s)(noisy)
  out = np.clip(out, 0, 1)
  depth = pic.bits if bits == "same" else int(bits)
  write(dst, out, depth, pic.alpha)
  for d, sigmas in asked.values():  # the first σ it was wrong for
    row["warnings"] += [w for w in (sigma_warning(d, x) for x in sigmas)
                        if w][:1]
  row.update(sigma=s, models=sorted(f"{n} + {d.fuse}" if d.fuse else n
                                    for n, (d, _) in asked.items()),
             colour=colour if rgb else None)
  if add_noise > 0:
    ref = protocol.quantise(clean)
    row["psnr_noisy"] = protocol.psnr_uint8(protocol.quantise(noisy), ref)
    row["psnr"] = protocol.psnr_uint8(protocol.quantise(out), ref)
  if compare:
    panels = [np.clip(noisy, 0, 1), out] + ([clean] if add_noise > 0 else [])
    plots.save_image(plots.grid([panels], pad=4),
                     outputs_of(dst, True)[1])
  return row


def check_all(pairs, channels: int, progress: bool = False) -> None:
  """Every input decoded in full (verify), before anything is written: one
  error listing the unreadable ones and those the model cannot take (a gray
  image for a colour model)."""
  import tqdm  # pylint: disable=g-import-not-at-top
  problems = []
  for src, _ in tqdm.tqdm(pairs, desc="checking", unit="image", leave=False,
                          disable=not progress or len(pairs) < 2):
    try:
      head = verify(src)
    except ValueError as e:
      problems.append(str(e))
      continue
    if channels == 3 and head["channels"] == 1:
      problems.append(f"{src}: a gray image, but the model is a 3-channel "
                      "(RGB) one; give a gray --checkpoint (or none).")
  if problems:
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    raise ValueError("cannot denoise " + "; ".join(problems[:5]) + more)


def describe(row: dict) -> str:
  """What was done to one image: a line, then one per warning."""
  line = f"{row['input']} -> {row['output']}"
  if "psnr" in row:
    line += f"  PSNR {row['psnr_noisy']:.2f} -> {row['psnr']:.2f} dB"
  how = "estimated" if row["sigma_estimated"] else "given"
  line += f"  (σ {row['sigma']:.1f} {how}; {', '.join(row['models'])}"
  if row["colour"]:
    line += f"; colour: {row['colour'].replace('_', ' ')}"
  return line + ")" + "".join(f"\n  warning: {w}"
                              for w in row.get("warnings", []))


def define_flags():
  flags.DEFINE_string("out", None, "Output folder (required), or with one "
                      "input file the output .png file.")
  flags.DEFINE_string("checkpoint", None, "Workdir or shipped model "
                      f"({', '.join(inference.shipped_models())}).")
  flags.DEFINE_float("sigma", None, "The inputs' noise σ (0-255 scale), "
                     "if known: picks the shipped model and checks the "
                     "given one (default: estimated per image, with a "
                     "warning where that is unreliable).")
  flags.DEFINE_bool("overwrite", False, "Replace outputs that exist already "
                    "(default: refuse to start).")
  flags.DEFINE_bool("skip_existing", False, "Keep outputs that exist "
                    "already and denoise only the other inputs (finishes a "
                    "batch that stopped).")
  flags.DEFINE_string("bits", "same", "Output bit depth: 8, 16 or same.")
  flags.DEFINE_enum("colour", "opponent", list(colour_lib.MODES),
                    "Gray model on RGB images: opponent colour space (each "
                    "channel at its own σ) or per_channel (R, G, B at σ).")
  flags.DEFINE_bool("compare", False, "Also write <name>_compare.png.")
  flags.DEFINE_float("add_noise", 0.0, "Add Gaussian noise of this σ first "
                     "(a demo on clean images; PSNRs are printed).")
  flags.DEFINE_integer("seed", 0, "--add_noise: noise seed base; also z's "
                       "seed for a G that samples.")
  flags.DEFINE_integer("samples", 1, "A G that samples (model.noise_input "
                       "> 0): the mean of this many samples, independent z "
                       "(1: one realistic sample; more walk towards the MSE "
                       "estimate; N x the time). Other models ignore it, "
                       "with a warning.")
  flags.DEFINE_string("tile", "auto", "Tile core size, 'auto' or 'none'.")
  flags.DEFINE_float("memory_mb", 1024.0, "tile=auto: memory budget.")
  flags.DEFINE_bool("ensemble", False, "Geometric self-ensemble: the mean "
                    "of the 8 flipped and rotated passes (8x the time).")
  flags.DEFINE_enum("fuse", "", ("",) + fusion.PARTNERS, "Blend the "
                    "model's output with this classical denoiser's, one "
                    "weight per image chosen by SURE (ddn.fusion): for "
                    "images of repeated structure; Gaussian noise only; "
                    "about 2x BM3D's time.")


def main(argv):
  import tqdm  # pylint: disable=g-import-not-at-top
  runtime.setup()
  f = flags.FLAGS
  try:
    if (f.sigma is not None and f.sigma < 0) or f.add_noise < 0:
      raise ValueError("--sigma and --add_noise are noise levels on the "
                       "0-255 scale: give a number >= 0.")
    pairs, skipped = existing(collect(argv[1:], f.out), f.overwrite,
                              f.skip_existing, f.compare)
    if skipped:
      print(f"skipping {len(skipped)} image(s) whose outputs exist "
            f"(--skip_existing); {len(pairs)} to denoise.", flush=True)
    models = Models(f.checkpoint, tile=f.tile, memory_mb=f.memory_mb,
                    ensemble=f.ensemble, progress=True, samples=f.samples,
                    seed=f.seed, fuse=f.fuse)
    if models.fixed is not None:
      logging.info("model %s (%s)", models.fixed.name, models.fixed.noise)
    if f.samples > 1 and not (models.fixed and models.fixed.noise_input):
      logging.warning("--samples=%d ignored: %s does not sample "
                      "(model.noise_input = 0).", f.samples,
                      models.fixed.name if models.fixed else "a shipped model")
    denoise_files(pairs, models, f.bits, f.colour, f.compare, f.add_noise,
                  f.seed, f.sigma, progress=True,
                  on_done=lambda r: tqdm.tqdm.write(describe(r)))
  except ValueError as e:  # bad input: one clear line, no usage dump
    sys.exit(f"ddn.denoise: {e}")


if __name__ == "__main__":
  define_flags()
  app.run(main, flags_parser=runtime.parse_flags)
