"""Evaluates a trained denoiser with the field's standard protocol.

  python -m ddn.evaluate --checkpoint=DIR --data=folder:../shared/data/BSD68 \
      --sigmas=15,25,50 --baselines=gaussian,median,nlm,bm3d --out=FILE.json
  python -m ddn.evaluate --data=folder:CBSD68 --channels=3 --sigmas=25 \
      --baselines=bm3d                        # colour: bm3d is bm3d_rgb
  python -m ddn.evaluate --data=pairs:NOISY_DIR,CLEAN_DIR --baselines=bm3d

--data sources (ddn.data): embedded[:train|:eval] (scikit-image's
photographs), folder:PATH, tfds:NAME[:SPLIT], and pairs:NOISY_DIR,CLEAN_DIR:
real noisy photographs scored against their clean ground truth (SIDD,
PolyU and the like; files matched by name), with no synthetic noise.

--checkpoint is a run's workdir or a shipped model (ddn.inference; default:
at each σ the best shipped model, inference.best_shipped, which its records
name); --baselines adds the classical methods of
ddn.baselines, run on exactly the same noisy images. FILE.json gets the
records and FILE.md the Markdown table (ddn.report); without --out the
table is printed and nothing is written.

--fuse=bm3d blends every model's output with BM3D's, one weight per image
chosen by SURE without the clean image (ddn.fusion: non-local structure
the network cannot see; each image's weight is in per_image as
fusion_alpha; about twice BM3D's time).

Colour: --channels=3 scores RGB images; a gray model denoises them as
ddn.denoise does (--colour=opponent: an opponent colour space, each channel
by the model at its own σ; or per_channel), bm3d runs BM3D's bm3d_rgb.

σ: --sigmas is the synthetic noise added to clean sources (default
15,25,50) and what every method is told. A pairs source carries its own
noise: with --sigmas the methods are told each given σ (one record per σ);
without it each image's σ is estimated from its noisy version
(colour.estimate_sigma) and told to every method (records "sigma": null,
"sigma_estimated": true, each image's σ in per_image; gaussian/median
widths tuned at the set's median estimate).

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
from ddn import colour as colour_lib
from ddn import configs
from ddn import data as data_lib
from ddn import fusion
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


class SigmaMethod(Method):
  """A Method that can be told each image's σ: `for_sigma(s)` is its
  function at noise σ = s (for sources whose σ is estimated per image)."""

  def __init__(self, name: str, for_sigma: Callable[[float], Callable],
               sigma: float | None, compiled: bool = False,
               extra: dict | None = None):
    super().__init__(name, for_sigma(sigma) if sigma is not None else None,
                     compiled, extra)
    self.for_sigma = for_sigma


def evaluate_methods(methods: list[Method], source, sigma: float | None,
                     seed: int = 0, outputs: dict | None = None,
                     progress: bool = False) -> dict[str, dict]:
  """Runs the protocol for one σ over a source, every method on exactly the
  same noisy images; returns {method name: record (no keys data, method)}.
  A paired source (data.PairedSource) gives its own noisy images; σ None
  (paired only) estimates each image's σ and tells it to every method
  (SigmaMethod.for_sigma). With `outputs` (a dict), outputs[method name]
  gets the list of outputs; `progress` shows a bar over the images."""
  import tqdm  # pylint: disable=g-import-not-at-top
  paired = isinstance(source, data_lib.PairedSource)
  if sigma is None and not paired:
    raise ValueError(f"{source.name}: a σ is needed to add noise to clean "
                     "images; σ is estimated only for pairs: sources.")
  per_image = {m.name: [] for m in methods}
  seen = {m.name: set() for m in methods}
  bar = tqdm.tqdm(range(len(source)), desc=f"{source.name} σ="
                  f"{'est.' if sigma is None else f'{sigma:g}'}",
                  unit="image", leave=False, disable=not progress)
  for i in bar:
    clean = np.asarray(source[i], np.float32)
    noisy = (np.asarray(source.noisy[i], np.float32) if paired else
             protocol.noisy_version(clean, sigma, i, seed))
    s = colour_lib.estimate_sigma(noisy) if sigma is None else None
    name = (os.path.basename(source.names[i]) if source.names
            else f"{source.name}[{i}]")
    for m in methods:
      bar.set_postfix_str(m.name)
      fn = m.for_sigma(s) if s is not None else m.fn
      if m.compiled and clean.shape not in seen[m.name]:
        getattr(fn, "warm", fn)(noisy)  # compile outside the timing
        seen[m.name].add(clean.shape)
      t0 = time.perf_counter()
      out, extras = fn(noisy), {}
      if isinstance(out, tuple):  # (output, per-image figures)
        out, extras = out
      out = np.asarray(out)
      seconds = time.perf_counter() - t0
      est = protocol.quantise(out)
      scores = ev_psnr.score(out, clean)
      if outputs is not None:
        outputs.setdefault(m.name, []).append(est.astype(np.float32) / 255)
      per_image[m.name].append({
          "name": name, **scores, **extras, "seconds": seconds,
          "megapixels": clean.shape[0] * clean.shape[1] / 1e6,
          **({"sigma": s} if s is not None else {})})
  return {m.name: _record(m, per_image[m.name], sigma, paired)
          for m in methods}


def _record(m: Method, rows: list[dict], sigma: float | None,
            paired: bool) -> dict:
  """One method's record over a source (evaluate_methods)."""
  secs = sum(r["seconds"] for r in rows)
  return {
      "sigma": sigma,
      **({"noise": "real"} if paired else {}),
      **({"sigma_estimated": True} if sigma is None else {}),
      "images": len(rows),
      "psnr": float(np.mean([r["psnr"] for r in rows])),
      "ssim": float(np.mean([r["ssim"] for r in rows])),
      "seconds_per_image": float(secs / max(len(rows), 1)),
      "megapixels_per_second": float(
          sum(r["megapixels"] for r in rows) / max(secs, 1e-12)),
      **m.extra,
      "per_image": rows,
  }


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
  spec = denoiser.info.get("train_data") if denoiser is not None else None
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


DEFAULT_SIGMAS = (15.0, 25.0, 50.0)
# What a source's errors tell the evaluate user to change (data.TRAIN_ADVICE).
ADVICE = {
    "channels": ("{kind} image ({n} channels) in a {channels}-channel "
                 "evaluation; pass --channels={n} to score {kind} images, "
                 "or remove it"),
    "bad_files": "Remove or replace them.",
}


def eval_source(spec: str, channels: int):
  """The images of --data `spec` with `channels` channels, unconverted,
  errors naming evaluate's flags."""
  import ml_collections  # pylint: disable=g-import-not-at-top
  return data_lib.load_source(spec, ml_collections.ConfigDict(dict(
      channels=channels, convert_channels=False, tfds_data_dir="",
      advice=ADVICE)))


def run(checkpoints: str | list[str] | None, data_specs: list[str],
        sigmas: list[float] | None, out: str | None, method: str = "",
        seed: int = 0, baselines: list[str] = (), tune_data: str = "",
        tune_count: int = 16, tile="auto", memory_mb: float = 1024.0,
        channels: int | None = None, realism_cfg=None,
        interpolate: list[float] = (), ensemble: bool = False,
        samples: int = 1, colour: str = "opponent",
        progress: bool = False, fuse: str = "") -> list[dict]:
  """Evaluates denoisers (`checkpoints`: workdirs or shipped models; None:
  at each σ the shipped model inference.best_shipped picks, named in its
  records; "none" for baselines only) and `baselines` on every (data, σ);
  writes OUT (JSON records) and OUT with .md (the Markdown table), or with
  `out` None prints the table. Methods are named `method` (default "ddn")
  for one checkpoint, "ddn <name>" for several. With `realism_cfg` (a
  config.eval.realism group), every record gets the realism test of
  ddn.realism, judges trained on `tune_data`, and calibration records are
  added per (data, σ). `interpolate` (alphas in [0, 1]) adds the network
  interpolations between the first two checkpoints (inference.interpolate),
  'ddn α=A'. With `ensemble`, every denoiser averages its 8 flipped and
  rotated passes (inference.self_ensemble); with `fuse` ('bm3d') it is
  blended with BM3D per image by SURE (ddn.fusion; α in per_image); a G
  that samples is the mean of `samples` samples (others warn and ignore).
  `channels` (default the model's, else 1): 3 with a gray model scores
  colour images in `colour` mode (colour.MODES). `sigmas` None:
  DEFAULT_SIGMAS, and for pairs: sources σ estimated per image."""
  specs = data_lib.join_pairs(data_specs)
  estimated = not sigmas and any(data_lib.parse_source(s)[0] == "pairs"
                                 for s in specs)
  per_sigma, denoiser = denoisers_per_sigma(
      checkpoints, method, list(sigmas or DEFAULT_SIGMAS) + (
          [None] if estimated else []), bool(baselines), interpolate,
      tile=tile, memory_mb=memory_mb, ensemble=ensemble, samples=samples,
      fuse=fuse)
  warn_not_sampling(per_sigma, samples)
  channels = check_channels(denoiser, channels, colour)
  sources = [(spec, eval_source(spec, channels)) for spec in specs]
  if realism_cfg is not None and any(
      isinstance(src, data_lib.PairedSource) for _, src in sources):
    raise ValueError("--realism adds its own noise to clean images; it does "
                     "not score pairs: sources.")
  tuned = any(b in baselines_lib.GRIDS for b in baselines)
  tune_spec = tune_data or (default_tune_data(denoiser)
                            if tuned or realism_cfg is not None else "")
  tuning = None
  if tuned:
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
    for sigma in source_sigmas(source, sigmas):
      methods = methods_at(sigma, per_sigma, baselines, tuning, widths,
                           source, dict(tile=tile, ensemble=ensemble),
                           colour if channels == 3 else None)
      outputs = {} if judging else None
      for name, rec in evaluate_methods(methods, source, sigma, seed,
                                        outputs, progress).items():
        rec = {"data": spec, "method": name, **rec}
        records.append(rec)
        print(console_line(rec), flush=True)
      if judging:
        records += judge_methods(methods, records[-len(methods):], outputs,
                                 judging, realism_cfg, spec, source, sigma,
                                 seed)
      if out:
        write_json(records, out)  # after every σ: a killed run keeps its part
  if out:
    md = os.path.splitext(out)[0] + ".md"
    with open(md + ".tmp", "w") as f:
      f.write(report.table(records) + "\n")
    os.replace(md + ".tmp", md)
  else:
    print("\n" + report.table(records), flush=True)
  return records


def check_channels(denoiser, channels: int | None, colour: str) -> int:
  """The evaluation's channel count: `channels`, else the model's, else 1;
  refuses gray images for a colour model and an unknown colour mode."""
  if colour not in colour_lib.MODES:
    raise ValueError(f"--colour={colour}: give "
                     f"{' or '.join(colour_lib.MODES)}.")
  model = denoiser.channels if denoiser is not None else None
  channels = int(channels or model or 1)
  if channels not in (1, 3):
    raise ValueError(f"--channels={channels}: give 1 (gray) or 3 (RGB).")
  if model == 3 and channels == 1:
    raise ValueError(f"{denoiser.name} is a colour model: it scores colour "
                     "images only (--channels=3).")
  return channels


def source_sigmas(source, sigmas: list[float] | None) -> list:
  """The σ values a source is scored at: the given ones; else a pairs:
  source's estimated per image (None), a clean source's DEFAULT_SIGMAS."""
  if sigmas:
    return list(sigmas)
  return ([None] if isinstance(source, data_lib.PairedSource)
          else list(DEFAULT_SIGMAS))


def methods_at(sigma: float | None, per_sigma: dict, baselines, tuning,
               widths: dict, source, info: dict,
               colour: str | None) -> list[Method]:
  """The methods of one (source, σ): the denoisers of per_sigma[σ] (gray
  ones on colour images in `colour` mode), then the baselines, widths
  tuned once per σ (σ None: at the source's median estimated σ)."""
  methods = []
  for name, d in per_sigma[sigma].items():
    def at(s, d=d):
      if colour and d.channels == 1:
        return lambda x: colour_lib.denoise_rgb(d.at, x, s, colour)
      if d.fuse:
        return fused_method(d.at(s))
      return d.at(s)
    methods.append(SigmaMethod(name, at, sigma, compiled=True, extra={
        "checkpoint": d.name, "checkpoint_step": d.step,
        "tile": str(info["tile"]), "ensemble": bool(info["ensemble"]),
        **({"colour": colour} if colour and d.channels == 1 else {}),
        **({"fuse": d.fuse} if d.fuse else {}),
        **({"samples": d.samples} if d.noise_input else {})}))
  tune_at = sigma
  if sigma is None and any(b in baselines_lib.GRIDS for b in baselines):
    tune_at = float(round(np.median([colour_lib.estimate_sigma(n)
                                     for n in source.noisy])))
  for b in baselines:
    if b in baselines_lib.GRIDS and (b, tune_at) not in widths:
      widths[b, tune_at] = baselines_lib.tune(b, tune_at, tuning[1])
    methods.append(baseline_method(b, sigma, widths.get((b, tune_at)),
                                   tuning, tune_at))
  return methods


def fused_method(d: inference.Denoiser) -> Callable:
  """noisy -> (output, {'fusion_alpha': α}) of a denoiser with `fuse`;
  its `warm` (the network alone) compiles without running the partner."""
  def fn(x):
    out, alpha = d.fused(x)
    return out, {"fusion_alpha": alpha}
  fn.warm = d.alone()
  return fn


def console_line(rec: dict) -> str:
  """One record on the console: method (and model), set, σ, the scores."""
  name, model = rec["method"], rec.get("checkpoint")
  model = os.path.basename(os.path.normpath(str(model))) if model else ""
  if model and model not in name:
    name += f" ({model})"
  sigma = "est." if rec["sigma"] is None else f"{rec['sigma']:g}"
  return (f"{name:>8s}  {rec['data']}  σ={sigma}  PSNR {rec['psnr']:.2f} dB  "
          f"SSIM {rec['ssim']:.4f}  {rec['seconds_per_image']:.3f} s/image "
          f"{rec['megapixels_per_second']:.2f} MP/s ({rec['images']} images)")


def denoisers_per_sigma(checkpoints, method: str, sigmas: list[float],
                        need: bool, interpolate, **kw):
  """({σ: {record name: Denoiser}}, the first denoiser or None) of run's
  arguments; keyword arguments go to inference.load. Fused denoisers are
  named "ddn + <partner>" unless `method` names them."""
  if kw.get("fuse") and not method:
    method = f"ddn + {kw['fuse']}"
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


def baseline_method(name: str, sigma: float | None, width, tuning,
                    tuned_at: float | None = None) -> Method:
  """A baseline at σ (None: told each image's estimated σ); `width` tuned
  at σ `tuned_at` (default σ)."""
  params = ({"width": width, "tuned_on": tuning[0],
             "tune_images": len(tuning[1])} if width is not None
            else {"sigma": sigma})
  if width is not None and tuned_at != sigma and tuned_at is not None:
    params["tuned_at_sigma"] = tuned_at
  return SigmaMethod(name, lambda s: baselines_lib.make(name, s, width),
                     sigma, extra={"params": params})


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
  noise = ev_realism.gaussian(sigma)
  meter = realism.Meter(ev_realism.realism_data(
      tune, ev_base.noisy_images(source, noise, seed), noise, seed), cfg,
      seed)
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
                        "images": len(source), "realism_tuned_on": tuning[0],
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
  flags.DEFINE_list("data", None, "Image sources, comma-separated: "
                    f"{data_lib.SOURCE_SYNTAX} (real noisy images and their "
                    "ground truth), e.g. folder:../shared/data/Set12,"
                    "folder:../shared/data/BSD68.")
  flags.DEFINE_string("sigmas", None, "σ values (0-255 scale): the noise "
                      "added to clean sources and told to every method "
                      "(default 15,25,50); pairs: sources are told them, "
                      "and without them each image's σ is estimated.")
  flags.DEFINE_string("out", None, "Output JSON file (the table goes beside "
                      "it, .md); without it the table is printed and "
                      "nothing is written.")
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
  flags.DEFINE_integer("channels", None, "Image channels: 1 gray, 3 colour "
                       "(default: the model's; --checkpoint=none: 1). A gray "
                       "model scores colour images as ddn.denoise denoises "
                       "them (--colour); bm3d is then bm3d_rgb.")
  flags.DEFINE_enum("colour", "opponent", list(colour_lib.MODES),
                    "--channels=3 with a gray model: opponent colour space "
                    "(each channel at its own σ) or per_channel (R, G, B at "
                    "σ).")
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
  flags.DEFINE_enum("fuse", "", ("",) + fusion.PARTNERS, "Blend every "
                    "model's output with this classical denoiser's, α per "
                    "image by SURE (ddn.fusion; Gaussian noise of known σ; "
                    "~2x BM3D's time per image).")
  flags.mark_flags_as_required(["data"])


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
    run(f.checkpoint, f.data,
        parse_sigmas(f.sigmas) if f.sigmas is not None else None, f.out,
        f.method, f.seed, baselines_lib.parse(f.baselines), f.tune_data,
        f.tune_images, f.tile, f.memory_mb, f.channels, realism_flags(f),
        [float(a) for a in f.interpolate], f.ensemble, f.samples, f.colour,
        progress=True, fuse=f.fuse)
  except ValueError as e:  # bad input: one clear line, no usage dump
    sys.exit(f"ddn.evaluate: {e}")
  if f.out:
    print(f"wrote {f.out} and {os.path.splitext(f.out)[0]}.md")


if __name__ == "__main__":
  define_flags()
  app.run(main, flags_parser=runtime.parse_flags)
