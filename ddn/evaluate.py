"""Evaluates a trained denoiser with the field's standard protocol.

  python -m ddn.evaluate --checkpoint=DIR --data=folder:../shared/data/BSD68 \
      --sigmas=15,25,50 --baselines=gaussian,median,nlm,bm3d --out=FILE.json

--checkpoint is a run's workdir or a shipped model (ddn.inference; default:
at each σ the best shipped model, inference.best_shipped, which its records
name); --baselines adds the classical methods of
ddn.baselines, run on exactly the same noisy images. FILE.json gets the
records and FILE.md the Markdown table (ddn.report).

Protocol: ddn.protocol (the one DnCNN/BM3D tables use; `seed` is --seed,
default 0), and
  * timing: seconds per image of each method alone (ddn: after one untimed
    call per image size, so compilation is excluded), and megapixels per
    second over the set.

FILE.json is a list of records, one per (data, sigma, method):
  {"data", "sigma", "method", "images", "psnr", "ssim", "seconds_per_image",
   "megapixels_per_second", "per_image": [{"name", "psnr", "ssim",
   "seconds", "megapixels"}], ...}
(psnr and ssim are means over the images); ddn's records add "checkpoint",
"checkpoint_step" and "tile", a baseline's add "params" (its width and
what it was tuned on, or the σ it was given). Records are rewritten after
every σ. Other tools rely on this contract.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Callable

from absl import app
from absl import flags
import numpy as np

from ddn import baselines as baselines_lib
from ddn import checkpoint
from ddn import configs
from ddn import inference
from ddn.methods import Method
from ddn.methods import load_eval_source
from ddn.methods import rejoin_paths
from ddn.methods import tune_images
from ddn import protocol
from ddn import realism
from ddn.evaluators import base as ev_base
from ddn.evaluators import psnr as ev_psnr
from ddn.evaluators import realism as ev_realism
from ddn import report
from ddn import runtime


def evaluate_methods(methods: list[Method], source, sigma: float,
                     seed: int = 0, outputs: dict | None = None
                     ) -> dict[str, dict]:
  """Runs the protocol for one σ over a source, every method on exactly the
  same noisy images; returns {method name: record (no keys data, method)}.
  With `outputs` (a dict), outputs[method name] gets the list of outputs."""
  per_image = {m.name: [] for m in methods}
  seen = {m.name: set() for m in methods}
  for i in range(len(source)):
    clean = np.asarray(source[i], np.float32)
    noisy = protocol.noisy_version(clean, sigma, i, seed)
    name = (os.path.basename(source.names[i]) if source.names
            else f"{source.name}[{i}]")
    for m in methods:
      if m.compiled and clean.shape not in seen[m.name]:
        m.fn(noisy)  # compile outside the timing
        seen[m.name].add(clean.shape)
      t0 = time.perf_counter()
      out = np.asarray(m.fn(noisy))
      seconds = time.perf_counter() - t0
      est = protocol.quantise(out)
      scores = ev_psnr.score(out, clean)
      if outputs is not None:
        outputs.setdefault(m.name, []).append(est.astype(np.float32) / 255)
      per_image[m.name].append({
          "name": name, **scores, "seconds": seconds,
          "megapixels": clean.shape[0] * clean.shape[1] / 1e6})
  records = {}
  for m in methods:
    rows = per_image[m.name]
    secs = sum(r["seconds"] for r in rows)
    records[m.name] = {
        "sigma": sigma,
        "images": len(rows),
        "psnr": float(np.mean([r["psnr"] for r in rows])),
        "ssim": float(np.mean([r["ssim"] for r in rows])),
        "seconds_per_image": float(secs / max(len(rows), 1)),
        "megapixels_per_second": float(
            sum(r["megapixels"] for r in rows) / max(secs, 1e-12)),
        **m.extra,
        "per_image": rows,
    }
  return records


def evaluate(denoise: Callable[[np.ndarray], np.ndarray], source, sigma: float,
             seed: int = 0) -> dict:
  """The protocol for one denoiser (compiled: one untimed call per size)."""
  return evaluate_methods([Method("ddn", denoise, compiled=True)], source,
                          sigma, seed)["ddn"]


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


def default_tune_data(denoiser) -> str:
  """The model's own training data when it is readable here, else the
  embedded training photographs."""
  spec = (denoiser.info.get("train_data") if denoiser is not None else None)
  if denoiser is not None and not spec and os.path.isdir(str(denoiser.name)):
    spec = checkpoint.load_config(denoiser.name)["data"]["train"]
  if spec:
    kind, _, rest = str(spec).partition(":")
    if kind != "folder" or os.path.exists(rest):
      return spec
    warn(f"the model's training data {spec} is not at {os.path.abspath(rest)}"
         f" (relative to the working directory {os.getcwd()}); tuning on "
         "embedded:train (8 photographs) instead. To tune on the training "
         "data, run from the directory that path is relative to or give "
         "--tune_data=folder:PATH.")
  return "embedded:train"


def warn(text: str) -> None:
  """A warning a run must not bury: stderr, on its own line."""
  print(f"ddn.evaluate: WARNING: {text}", file=sys.stderr, flush=True)


def warn_not_sampling(per_sigma: dict, samples: int) -> None:
  """Warns, once per model, that --samples > 1 does nothing to a model that
  does not sample."""
  if samples > 1:
    for d in {d.name: d for ds in per_sigma.values() for d in ds.values()
              }.values():
      if not d.noise_input:
        warn(f"--samples={samples} ignored for {d.name}: it does not sample "
             "(model.noise_input = 0), so every sample is the same.")


def run(checkpoints: str | list[str] | None, data_specs: list[str],
        sigmas: list[float], out: str, method: str = "", seed: int = 0,
        baselines: list[str] = (), tune_data: str = "", tune_count: int = 16,
        tile="auto", memory_mb: float = 1024.0, channels: int = 1,
        realism_cfg=None, interpolate: list[float] = (),
        ensemble: bool = False, samples: int = 1) -> list[dict]:
  """Evaluates denoisers (`checkpoints`: workdirs or shipped models; None:
  at each σ the shipped model inference.best_shipped picks, named in its
  records; "none" for baselines only) and `baselines` on
  every (data, σ); writes OUT (JSON records) and OUT with .md (the Markdown
  table). Methods are named `method` (default "ddn") for one checkpoint,
  "ddn <name>" for several. With `realism_cfg` (a config.eval.realism
  group), every record gets the realism test of ddn.realism, judges trained
  on `tune_data`, and calibration records are added per (data, σ).
  `interpolate` (alphas in [0, 1]) adds the network interpolations between
  the first two checkpoints (inference.interpolate), 'ddn α=A'. With
  `ensemble`, every denoiser averages its 8 flipped and rotated passes
  (inference.self_ensemble). `samples` = N: a G that samples
  (model.noise_input > 0) is the mean of N samples (N = 1: one sample);
  other models ignore it, with a warning."""
  per_sigma, denoiser = denoisers_per_sigma(
      checkpoints, method, sigmas, bool(baselines), interpolate,
      tile=tile, memory_mb=memory_mb, ensemble=ensemble, samples=samples)
  warn_not_sampling(per_sigma, samples)
  if denoiser is not None:
    channels = denoiser.channels
  sources = [(spec, load_eval_source(spec, channels)) for spec in data_specs]
  tune_spec = tune_data or default_tune_data(denoiser)
  tuning = None
  if any(b in baselines_lib.GRIDS for b in baselines):
    tuning = tune_images(tune_spec, channels, tune_count,
                         [s for _, s in sources])
    print(f"baseline widths tuned on {len(tuning[1])} images of "
          f"{tuning[0]}", flush=True)
  judging = None
  if realism_cfg is not None:
    judging = realism_tuning(tune_spec, channels, realism_cfg,
                             [s for _, s in sources])
    realism_cfg = few_images_tile(realism_cfg, judging, bool(tune_data))
  records, widths = [], {}
  for spec, source in sources:
    for sigma in sigmas:
      methods = [Method(name, d.at(sigma), compiled=True, extra={
          "checkpoint": d.name, "checkpoint_step": d.step, "tile": str(tile),
          "ensemble": bool(ensemble),
          **({"samples": d.samples} if d.noise_input else {})})
                 for name, d in per_sigma[sigma].items()]
      for b in baselines:
        if b in baselines_lib.GRIDS and (b, sigma) not in widths:
          widths[b, sigma] = baselines_lib.tune(b, sigma, tuning[1])
        methods.append(baseline_method(b, sigma, widths.get((b, sigma)),
                                       tuning))
      outputs = {} if judging else None
      for name, rec in evaluate_methods(methods, source, sigma, seed,
                                        outputs).items():
        rec = {"data": spec, "method": name, **rec}
        records.append(rec)
        print(f"{name:>8s}  {spec}  σ={sigma:g}  PSNR {rec['psnr']:.2f} dB  "
              f"SSIM {rec['ssim']:.4f}  {rec['seconds_per_image']:.3f} s/image "
              f"{rec['megapixels_per_second']:.2f} MP/s "
              f"({rec['images']} images)", flush=True)
      if judging:
        records += judge_methods(methods, records[-len(methods):], outputs,
                                 judging, realism_cfg, spec, source, sigma,
                                 seed)
      write_json(records, out)  # after every σ: a killed run keeps its part
  md = os.path.splitext(out)[0] + ".md"
  with open(md + ".tmp", "w") as f:
    f.write(report.table(records) + "\n")
  os.replace(md + ".tmp", md)
  return records


def denoisers_per_sigma(checkpoints, method: str, sigmas: list[float],
                        need: bool, interpolate, **kw):
  """({σ: {record name: Denoiser}}, the first denoiser or None) of run's
  arguments; keyword arguments go to inference.load."""
  auto = checkpoints is None or checkpoints == [None]
  if auto:  # at each σ its shipped model
    picks = {s: inference.best_shipped(s) for s in sigmas}
    loaded = {n: inference.load(n, **kw) for n in set(picks.values())}
    return ({s: {method or "ddn": loaded[n]} for s, n in picks.items()},
            loaded[picks[sigmas[0]]])
  denoisers = load_denoisers(checkpoints, method, need=need, **kw)
  if interpolate:
    if len(denoisers) < 2:
      raise ValueError("--interpolate needs two --checkpoint models (e.g. "
                       "an MSE model and its adversarial fine-tune).")
    a, b = list(denoisers.values())[:2]
    for alpha in interpolate:
      denoisers[f"ddn α={alpha:g}"] = inference.interpolate(
          a, b, float(alpha), **kw)
  return ({s: denoisers for s in sigmas},
          next(iter(denoisers.values()), None))


def load_denoisers(checkpoints, method: str, need: bool, **kw) -> dict:
  """{record name: inference.Denoiser} of --checkpoint (see run); keyword
  arguments go to inference.load."""
  if checkpoints is None or isinstance(checkpoints, str):
    checkpoints = [checkpoints]
  checkpoints = [c for c in rejoin_paths(checkpoints) if c != "none"]
  if not checkpoints and not need:
    raise ValueError("--checkpoint=none needs --baselines: nothing to "
                     "evaluate.")
  denoisers = {}
  for c in checkpoints:
    d = inference.load(c, **kw)
    name = method or "ddn"
    if len(checkpoints) > 1:
      name = f"{method or 'ddn'} {os.path.basename(os.path.normpath(d.name))}"
    if name in denoisers:
      raise ValueError(f"--checkpoint: two models would both be recorded as "
                       f"{name!r}; give each a distinct folder name.")
    denoisers[name] = d
  if len({d.channels for d in denoisers.values()}) > 1:
    raise ValueError("--checkpoint: the models differ in channel count; "
                     "evaluate gray and colour models separately.")
  return denoisers


def baseline_method(name: str, sigma: float, width, tuning) -> Method:
  extra = {"params": ({"width": width, "tuned_on": tuning[0],
                       "tune_images": len(tuning[1])}
                      if width is not None else {"sigma": sigma})}
  return Method(name, baselines_lib.make(name, sigma, width), extra=extra)


def realism_tuning(spec: str, channels: int, cfg,
                   eval_sources: list) -> tuple[str, list[np.ndarray]]:
  """The realism judges' tuning images: up to cfg.tune_images of `spec`
  that are at least cfg.crop on each side (never a test set's)."""
  name, images = tune_images(spec, channels, 10 ** 9, eval_sources)
  images = [im for im in images if min(im.shape[:2]) >= int(cfg.crop)]
  if len(images) < 2:
    raise ValueError(f"--realism: fewer than 2 images of {spec} are at least "
                     f"{cfg.crop} px on each side; give other --tune_data.")
  idx = np.linspace(0, len(images) - 1, min(int(cfg.tune_images),
                                            len(images)))
  images = [images[i] for i in sorted(set(idx.round().astype(int)))]
  print(f"realism judges trained on {len(images)} images of {name}",
        flush=True)
  return name, images


FEW_TUNE_IMAGES = 16  # fewer whole images: judges can learn the scenes
FEW_IMAGES_TILE = 128  # the tile README's first command uses


def few_images_tile(cfg, tuning: tuple[str, list], chosen: bool):
  """The realism config for `tuning` (realism_tuning's): with fewer than
  FEW_TUNE_IMAGES whole images (tune_tile 0) judges can tell clean from
  clean by learning which scenes are real (docs/evaluation.md: AUC 0.82 on
  the 8 embedded photographs), so images the user did not choose
  (`chosen` False) are cut into FEW_IMAGES_TILE px tiles, and the user's
  own choice is kept with a warning."""
  name, images = tuning
  if int(cfg.get("tune_tile", 0)) or len(images) >= FEW_TUNE_IMAGES:
    return cfg
  tile = max(FEW_IMAGES_TILE, int(cfg.crop))
  if chosen:
    warn(f"--realism: the judges train on {len(images)} whole images of "
         f"{name}, few enough that they can tell clean from clean by "
         "learning which scenes are real; give --realism_tune_tile="
         f"{tile} (tiles on a checkerboard) or more --tune_data images.")
    return cfg
  cfg = cfg.copy_and_resolve_references()
  cfg.tune_tile = tile
  print(f"realism: {len(images)} tuning images, cut into {tile} px tiles "
        f"(--realism_tune_tile={tile}; whole images would let the judges "
        "learn which scenes are real)", flush=True)
  return cfg


def judge_methods(methods: list[Method], records: list[dict], outputs: dict,
                  tuning, cfg, spec: str, source, sigma: float,
                  seed: int) -> list[dict]:
  """Adds the realism test (ddn.realism) to each method's record (in
  place) and returns the calibration records of this (data, σ)."""
  tune = tuning[1]
  spec = ev_realism.gaussian(sigma)
  meter = realism.Meter(ev_realism.realism_data(
      tune, ev_base.noisy_images(source, spec, seed), spec, seed), cfg, seed)
  for m, rec in zip(methods, records):
    r = meter.judge_fn(m.fn, test_out=outputs[m.name])
    rec.update(realism.record_fields(r), realism_tuned_on=tuning[0])
    print(f"{m.name:>8s}  {spec}  σ={sigma:g}  realism "
          f"{realism.describe(r)}", flush=True)
  width = (baselines_lib.tune("gaussian", sigma, tune) if sigma > 0 else 1.0)
  calibration = []
  for name, r in meter.calibrate(width).items():
    calibration.append({"data": spec, "sigma": sigma, "calibration": True,
                        "method": f"calibration: clean vs {name}",
                        "images": len(clean), "realism_tuned_on": tuning[0],
                        **realism.record_fields(r)})
    print(f"calibration, clean vs {name}: {realism.describe(r)}", flush=True)
  return calibration


def define_flags():
  """Command-line flags; defined only when run as a program, so importing
  this module never claims flag names."""
  flags.DEFINE_list("checkpoint", None, "Trained runs' workdirs or shipped "
                    "models' names, comma-separated (default: at each σ the "
                    "best shipped model, inference.best_shipped); 'none': "
                    "baselines only. A workdir whose name holds commas "
                    "(ddn.sweep's runs) is one model when it exists.")
  flags.DEFINE_list("data", None, "Sources, e.g. "
                    "folder:../shared/data/Set12,folder:../shared/data/BSD68")
  flags.DEFINE_string("sigmas", "15,25,50", "σ values (0-255 scale).")
  flags.DEFINE_string("out", None, "Output JSON file (the table goes beside "
                      "it, .md).")
  flags.DEFINE_string("method", "", "The denoiser's name in the records "
                      "(default ddn; several checkpoints: 'ddn <name>').")
  flags.DEFINE_list("baselines", [], "Also evaluate these, on the same noisy "
                    f"images: {', '.join(baselines_lib.BASELINES)}.")
  flags.DEFINE_string("tune_data", "", "Images to choose the gaussian/median "
                      "widths on (default: the model's training data if "
                      "present here, else embedded:train); never a test set.")
  flags.DEFINE_integer("tune_images", 16, "How many of them.")
  flags.DEFINE_string("tile", "auto", "Tile core size in pixels, 'auto' "
                      "(whole image when it fits --memory_mb) or 'none'.")
  flags.DEFINE_float("memory_mb", 1024.0, "tile=auto: working-memory budget.")
  flags.DEFINE_integer("channels", 1, "--checkpoint=none: image channels.")
  flags.DEFINE_integer("seed", 0, "Noise seed base (see protocol).")
  flags.DEFINE_bool("realism", False, "Also run the realism test "
                    "(ddn.realism: fresh judges' AUC with a 95% interval, "
                    "calibration rows) on every record; judges are trained "
                    "on --tune_data.")
  flags.DEFINE_list("realism_judges", None, "Judge architectures (default "
                    "image,patch).")
  flags.DEFINE_integer("realism_seeds", None, "Judges of each architecture "
                       "(default 2).")
  flags.DEFINE_integer("realism_steps", None, "Training steps per judge.")
  flags.DEFINE_integer("realism_tune_tile", None, "> 0: cut the tuning "
                       "images into tiles of this size, real and denoised on "
                       "a checkerboard (few large images; default 0, or "
                       "128 for fewer than 16 images --tune_data did not "
                       "choose).")
  flags.DEFINE_list("interpolate", [], "Alphas in [0, 1]: also evaluate the "
                    "network interpolations (1-α)·A + α·B of the first two "
                    "--checkpoint models.")
  flags.DEFINE_bool("ensemble", False, "Geometric self-ensemble: average "
                    "each model's passes over the 8 flips and rotations "
                    "(8x the time).")
  flags.DEFINE_integer("samples", 1, "A G that samples (model.noise_input "
                       "> 0): the mean of this many samples, independent z "
                       "(1: one realistic sample; more walk towards the MSE "
                       "estimate; N x the time). Other models ignore it, "
                       "with a warning.")
  flags.mark_flags_as_required(["data", "out"])


def realism_flags(f):
  """The realism config of --realism and its flags; None without it."""
  if not f.realism:
    return None
  cfg = configs.realism()
  for field, value in (("judges", f.realism_judges),
                       ("seeds", f.realism_seeds), ("steps", f.realism_steps),
                       ("tune_tile", f.realism_tune_tile)):
    if value is not None:
      cfg[field] = tuple(value) if field == "judges" else value
  realism.validate(cfg)
  return cfg


def main(argv):
  del argv
  runtime.setup()
  try:
    f = flags.FLAGS
    run(f.checkpoint, f.data, parse_sigmas(f.sigmas), f.out, f.method,
        f.seed, baselines_lib.parse(f.baselines), f.tune_data,
        f.tune_images, f.tile, f.memory_mb, f.channels, realism_flags(f),
        [float(a) for a in f.interpolate], f.ensemble, f.samples)
  except ValueError as e:  # bad input: one clear line, no usage dump
    sys.exit(f"ddn.evaluate: {e}")
  print(f"wrote {f.out} and {os.path.splitext(f.out)[0]}.md")


if __name__ == "__main__":
  define_flags()
  app.run(main)
