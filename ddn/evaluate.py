"""Evaluates a trained denoiser with the field's standard protocol.

  python -m ddn.evaluate --workdir=DIR --data=folder:../shared/data/BSD68 \
      --sigmas=15,25,50 --out=FILE.json

Protocol (the one DnCNN/BM3D tables use):
  * clean image: the file as float in [0, 1] (8-bit: uint8 / 255);
  * noise: for the image at position i of the source (folders: sorted by
    path), `numpy.random.default_rng(seed + i).standard_normal(shape)` *
    σ/255 in float64, cast to float32 and added; the noisy input is NOT
    clipped. `seed` is --seed (default 0); the same noise pattern, scaled,
    is used for every σ;
  * output: clipped to [0, 1], quantised to uint8 (round(255 x)), then
    PSNR = 10 log10(255^2 / MSE) against the uint8 clean image, and SSIM by
    scikit-image (Gaussian window σ=1.5, no sample covariance: Wang et
    al. 2004) on the same uint8 images;
  * timing: seconds per image of the denoiser alone, after one untimed call
    per image size (compilation excluded).

FILE.json is a list of records, one per (data, sigma, method):
  {"data", "sigma", "method", "images", "psnr", "ssim", "seconds_per_image",
   "checkpoint_step", "per_image": [{"name", "psnr", "ssim", "seconds"}]}
(psnr and ssim are means over the images). Other tools rely on this contract.
"""

from __future__ import annotations

import json
import os
import time
from typing import Callable

from absl import app
from absl import flags
import jax
import numpy as np
from skimage.metrics import structural_similarity

from ddn import checkpoint
from ddn import data as data_lib
from ddn import models
from ddn import runtime


def noisy_version(clean: np.ndarray, sigma: float, index: int,
                  seed: int = 0) -> np.ndarray:
  """The protocol's noisy input for the image at position `index`."""
  rng = np.random.default_rng(seed + index)
  noise = rng.standard_normal(clean.shape) * (sigma / 255.0)
  return (clean.astype(np.float64) + noise).astype(np.float32)


def quantise(x: np.ndarray) -> np.ndarray:
  return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def psnr_uint8(a: np.ndarray, b: np.ndarray) -> float:
  mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
  return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-10)))


def ssim_uint8(a: np.ndarray, b: np.ndarray) -> float:
  return float(structural_similarity(
      a, b, data_range=255, channel_axis=-1, gaussian_weights=True, sigma=1.5,
      use_sample_covariance=False))


DENOISER_TASKS = ("autoencoder", "adversarial")  # runs whose params are G


class Denoiser:
  """A trained model from a workdir: `denoiser(noisy (H, W, C)) -> (H, W, C)`."""

  def __init__(self, workdir: str, step: int | None = None):
    cfg = checkpoint.load_config(workdir)
    if cfg.get("task", "autoencoder") not in DENOISER_TASKS or (
        "model" not in cfg):
      raise ValueError(f"{workdir!r} is a {cfg.get('task')} run, not a "
                       "denoiser; give the workdir of an autoencoder or "
                       "adversarial run.")
    import ml_collections  # pylint: disable=g-import-not-at-top
    model_cfg = ml_collections.ConfigDict(cfg["model"])
    self.channels = int(cfg["data"]["channels"])
    self.model = models.from_config(model_cfg, self.channels)
    self.params, self.step = checkpoint.load_params(workdir, step)
    self.workdir = workdir
    self._apply = jax.jit(
        lambda p, x: self.model.apply({"params": p}, x, train=False))

  def __call__(self, noisy: np.ndarray) -> np.ndarray:
    return np.asarray(self._apply(self.params, noisy[None]))[0]


def evaluate(denoise: Callable[[np.ndarray], np.ndarray], source, sigma: float,
             seed: int = 0) -> dict:
  """Runs the protocol for one σ over a source; returns one record (no keys
  `data`, `method`)."""
  per_image = []
  seen_shapes = set()
  for i in range(len(source)):
    clean = np.asarray(source[i], np.float32)
    noisy = noisy_version(clean, sigma, i, seed)
    if clean.shape not in seen_shapes:  # compile outside the timing
      denoise(noisy)
      seen_shapes.add(clean.shape)
    t0 = time.perf_counter()
    out = np.asarray(denoise(noisy))
    seconds = time.perf_counter() - t0
    ref, est = quantise(clean), quantise(out)
    name = (os.path.basename(source.names[i]) if source.names
            else f"{source.name}[{i}]")
    per_image.append({"name": name, "psnr": psnr_uint8(est, ref),
                      "ssim": ssim_uint8(est, ref), "seconds": seconds})
  return {
      "sigma": sigma,
      "images": len(per_image),
      "psnr": float(np.mean([r["psnr"] for r in per_image])),
      "ssim": float(np.mean([r["ssim"] for r in per_image])),
      "seconds_per_image": float(np.mean([r["seconds"] for r in per_image])),
      "per_image": per_image,
  }


def load_eval_source(spec: str, channels: int):
  import ml_collections  # pylint: disable=g-import-not-at-top
  cfg = ml_collections.ConfigDict(dict(channels=channels, convert_channels=False,
                                       tfds_data_dir=""))
  return data_lib.load_source(spec, cfg)


def parse_sigmas(text: str) -> list[float]:
  try:
    sigmas = [float(s) for s in text.split(",") if s.strip()]
  except ValueError:
    raise ValueError(f"--sigmas={text!r}: give comma-separated numbers on the "
                     "0-255 scale, e.g. 15,25,50.") from None
  if not sigmas or min(sigmas) < 0:
    raise ValueError(f"--sigmas={text!r}: need at least one σ >= 0.")
  return sigmas


def write_json(records: list[dict], path: str):
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(records, f, indent=1)
  os.replace(tmp, path)


def run(workdir: str, data_specs: list[str], sigmas: list[float], out: str,
        method: str = "ddn", seed: int = 0) -> list[dict]:
  denoiser = Denoiser(workdir)
  records = []
  for spec in data_specs:
    source = load_eval_source(spec, denoiser.channels)
    for sigma in sigmas:
      rec = {"data": spec, "method": method,
             **evaluate(denoiser, source, sigma, seed),
             "checkpoint_step": denoiser.step, "workdir": workdir}
      records.append(rec)
      print(f"{method:>8s}  {spec}  σ={sigma:g}  PSNR {rec['psnr']:.2f} dB  "
            f"SSIM {rec['ssim']:.4f}  {rec['seconds_per_image']:.3f} s/image "
            f"({rec['images']} images)", flush=True)
  write_json(records, out)
  return records


def define_flags():
  """Command-line flags; defined only when run as a program, so importing
  this module never claims flag names."""
  flags.DEFINE_string("workdir", None, "Trained run's workdir.")
  flags.DEFINE_list("data", None, "Sources, e.g. "
                    "folder:../shared/data/Set12,folder:../shared/data/BSD68")
  flags.DEFINE_string("sigmas", "15,25,50", "σ values (0-255 scale).")
  flags.DEFINE_string("out", None, "Output JSON file.")
  flags.DEFINE_string("method", "ddn", "Name in the records.")
  flags.DEFINE_integer("seed", 0, "Noise seed base (see protocol).")
  flags.mark_flags_as_required(["workdir", "data", "out"])


def main(argv):
  del argv
  runtime.setup()
  try:
    f = flags.FLAGS
    run(f.workdir, f.data, parse_sigmas(f.sigmas), f.out, f.method, f.seed)
  except ValueError as e:
    raise app.UsageError(str(e)) from None


if __name__ == "__main__":
  define_flags()
  app.run(main)
