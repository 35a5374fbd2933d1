"""What one kind of training adds to the shared loop in ddn.train.

A task builds its model(s) from the config (raising on bad settings before
any compute), makes the fresh state and applies `train.init_from`, gives the
jitted step, evaluates held-out data, and names what to log and plot. The
loop itself (resume, data, logging, non-finite checks, evaluation and
checkpoint cadence) is shared, so both tasks resume, log and checkpoint the
same way.

  autoencoder  the denoiser (ddn.models), `init_from` = a workdir whose
               parameters it starts from.
  classifier   real vs denoised (ddn.discriminators), `init_from` = the
               workdir of the trained autoencoder whose outputs are the
               denoised class; that network is frozen and its parameters are
               saved in the classifier's checkpoints (and its config in
               `workdir/denoiser.json`), so a resumed run needs nothing else.
  adversarial  the denoiser against a discriminator trained alongside
               (ddn.adversarial).

Optional: `batches_per_step` (default 1: the loop's batch is then (B, ...);
k > 1: (k, B, ...), k batches for one step), `finish(state, workdir,
train_src, eval_src)` (after the last step, e.g. a final evaluation).
"""

from __future__ import annotations

import functools
import json
import logging
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from ddn import checkpoint
from ddn import data as data_lib
from ddn import discriminators
from ddn import losses
from ddn import models
from ddn import noise as noise_lib
from ddn import parallel
from ddn import plots
from ddn import steps

EVAL_NOISE_SEED = 10_000  # eval noise: fold_in(PRNGKey(seed + this), index)
EVAL_CROP_SEED = 20_000  # classifier validation crops: default_rng([seed + this, i])
DENOISER_RECORD = "denoiser.json"


def eval_noise_spec(config, spec: noise_lib.NoiseSpec) -> noise_lib.NoiseSpec:
  """The training noise, at σ = config.eval.sigma when that is >= 0."""
  sigma = config.eval.sigma
  if sigma is None or sigma < 0:
    return spec
  return noise_lib.NoiseSpec(**{**spec.__dict__, "sigma": sigma,
                                "blind": False})


def load_params_into(workdir: str, expected, what: str, repl):
  params, step = checkpoint.load_params(workdir)
  checkpoint.check_compatible(params, expected, what,
                              "config.model (of that run)")
  return jax.device_put(params, repl), step


# Config fields that set the shapes of a denoiser's parameters.
SHAPE_FIELDS = ("model.name", "model.features", "model.blocks",
                "model.kernel_size", "model.skip", "model.upsample",
                "data.channels")


def check_init_from(config, expected,
                    model_field: str = "config.model") -> None:
  """Raises a clear ValueError, before any compute or write, when
  `config.train.init_from` has no checkpoint or its parameters do not fit
  `expected` (a tree of ShapeDtypeStructs, e.g. from jax.eval_shape); reads
  array metadata only. `model_field` names the config behind `expected`."""
  src = config.train.init_from
  if not checkpoint.has_checkpoint(src):
    raise ValueError(
        f"config.train.init_from={src!r} has no checkpoint: give the workdir "
        "of a trained autoencoder (python launch.py "
        f"--config=experiments/ae.py --workdir={src}).")
  # Read-only: that run may still be training (its in-flight step is kept).
  mngr = checkpoint.manager(src, read_only=True)
  saved = None
  try:
    for step in sorted(mngr.all_steps(), reverse=True):
      try:  # a corrupt step: load_params will warn and take an older one
        saved = checkpoint.saved_tree(mngr, step)["params"]
        break
      except Exception:  # pylint: disable=broad-except
        continue
  finally:
    mngr.close()
  if saved is None:
    raise ValueError(f"config.train.init_from={src!r}: no readable "
                     "checkpoint (all are corrupt); give another run.")
  try:
    checkpoint.check_compatible(saved, expected,
                                f"config.train.init_from={src!r}",
                                model_field)
  except ValueError as e:
    differs = _differences(src, config)
    if not differs:
      raise
    raise ValueError(f"{e} That run has {differs}; use those values, or "
                     "leave config.train.init_from empty to start from "
                     "scratch.") from None


def _differences(src: str, config) -> str:
  """The SHAPE_FIELDS where `config` differs from the run in `src`, as
  'config.model.features=(8, 16) (here (8, 32)), ...'; '' when unknown."""
  try:
    saved = checkpoint.load_config(src)
  except ValueError:
    return ""
  out = []
  for path in SHAPE_FIELDS:
    group, leaf = path.split(".")
    there = saved.get(group, {}).get(leaf)
    here = config[group].get(leaf) if group in config else None
    if isinstance(there, list):
      there = tuple(there)
    if isinstance(here, list):
      here = tuple(here)
    if there is not None and here is not None and there != here:
      out.append(f"config.{path}={there!r} (here {here!r})")
  return ", ".join(out)


# ----------------------------------------------------------------------------
# The denoising autoencoder.


class AutoencoderTask:
  """Trains the denoiser on a·SSD + b·L1 of clean crops vs their denoised
  noisy versions."""

  model_field = "config.model"  # the config group behind state.params

  def __init__(self, config: ml_collections.ConfigDict, setup):
    self.config, self.setup = config, setup
    if config.eval.max_images <= 0:
      raise ValueError(f"config.eval.max_images={config.eval.max_images}: "
                       "validation needs at least 1 image, e.g. 4.")
    self.noise_spec = noise_lib.spec_from_config(config.noise)
    losses.validate(config.loss)
    self.model = models.from_config(config.model, int(config.data.channels),
                                    config.compute_dtype)

  def check_sources(self, train_src, eval_src) -> None:
    del train_src, eval_src  # validation images may repeat training ones

  def attach(self, workdir: str, resuming: bool) -> None:
    """Checks init_from (unless resuming: the checkpoint then wins) before
    anything is written."""
    del workdir
    if self.config.train.init_from and not resuming:
      expected = jax.eval_shape(self.init, jax.random.PRNGKey(0)).params
      check_init_from(self.config, expected)

  def init(self, rng: jax.Array) -> steps.TrainState:
    return steps.init_state(rng, self.model, self.setup.tx,
                            self.config.data.crop)

  def start(self, state: steps.TrainState) -> tuple[steps.TrainState, str]:
    """A fresh state, with init_from's parameters when one is given."""
    src = self.config.train.init_from
    if not src:
      return state, "started from scratch"
    params, step = load_params_into(src, state.params,
                                     f"init_from={src!r}", self.setup.repl)
    opt_state = jax.jit(self.setup.tx.init,
                        out_shardings=self.setup.repl)(params)
    return (state.replace(params=params, opt_state=opt_state),
            f"initialised from {src} step {step}")

  def describe(self, state) -> str:
    return (f"{models.count_params(state.params)} parameters; encoder "
            "receptive field "
            f"{models.receptive_field(self.model.encoder_layers()).size} px")

  def make_step(self, shardings, start: int):
    del start  # one jitted step, the same at every step
    return steps.make_ae_train_step(
        self.model, self.setup.tx, self.setup.lr_fn, self.noise_spec,
        self.config.loss, shardings=shardings,
        skip_nonfinite=self.config.train.skip_nonfinite > 0)

  def evaluator(self, source: data_lib.Source):
    return AutoencoderEvaluator(self, source)

  def log_line(self, m: dict) -> str:
    return f"loss {m['ae/loss']:.5f}  psnr {m['ae/psnr']:.2f} dB"

  def eval_line(self, m: dict) -> str:
    return (f"val loss {m['val/loss']:.5f}, PSNR {m['val/psnr']:.2f} dB "
            f"(noisy {m['val/psnr_noisy']:.2f} dB)")

  def plot(self, metrics_path: str, workdir: str) -> None:
    plots.learning_curve(metrics_path,
                         os.path.join(workdir, "learning_curve.png"))


class AutoencoderEvaluator:
  """Validation loss and full-image PSNR on held-out images, fixed noise.

  Images of one shape are denoised together, split over the mesh
  (ddn.parallel.BatchMap, one image per device per call); the metrics are
  means over images.
  """

  def __init__(self, task: AutoencoderTask, source: data_lib.Source):
    cfg = task.config
    n = min(len(source), int(cfg.eval.max_images))
    self.images = [np.asarray(source[i])[None] for i in range(n)]
    spec = eval_noise_spec(cfg, task.noise_spec)
    base = jax.random.PRNGKey(cfg.seed + EVAL_NOISE_SEED)
    self.noisy = [np.asarray(noise_lib.apply(jnp.asarray(im),
                                             jax.random.fold_in(base, i), spec))
                  for i, im in enumerate(self.images)]
    self.grid_n = min(int(cfg.log.grid_images), n)
    self.psnr_noisy = [float(losses.psnr(x, c))
                       for x, c in zip(self.noisy, self.images)]
    self.groups: dict[tuple[int, ...], list[int]] = {}  # shape -> indices
    for i, im in enumerate(self.images):
      self.groups.setdefault(im.shape, []).append(i)
    self._map = parallel.BatchMap(functools.partial(
        steps.eval_images, model=task.model,
        ssd_weight=float(cfg.loss.ssd_weight),
        l1_weight=float(cfg.loss.l1_weight)), task.setup.mesh)

  def run(self, params) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Per-image (loss, PSNR, outputs (1, H, W, C)), in the source's order."""
    n = len(self.images)
    loss, psnr, outs = np.zeros(n), np.zeros(n), [None] * n
    for idx in self.groups.values():
      out, m = self._map(params, np.concatenate([self.images[i] for i in idx]),
                         np.concatenate([self.noisy[i] for i in idx]))
      loss[idx], psnr[idx] = m["loss"], m["psnr"]
      for j, i in enumerate(idx):
        outs[i] = out[j:j + 1]
    return loss, psnr, outs

  def __call__(self, state) -> tuple[dict[str, float], np.ndarray | None]:
    """Returns (metrics, grid image noisy | output | clean)."""
    loss, psnr, outs = self.run(state.params)
    crop = lambda a: plots.center_crop(np.clip(a[0], 0, 1), 128)
    rows = [[crop(self.noisy[i]), crop(outs[i]), crop(self.images[i])]
            for i in range(self.grid_n)]
    metrics = {"val/loss": float(np.mean(loss)),
               "val/psnr": float(np.mean(psnr)),
               "val/psnr_noisy": float(np.mean(self.psnr_noisy))}
    return metrics, plots.grid(rows) if rows else None


# ----------------------------------------------------------------------------
# The real-vs-denoised classifier.


class ClassifierTask:
  """Trains a classifier to tell real crops from a frozen denoiser's
  outputs (see steps.classifier_train_step)."""

  model_field = "config.disc"

  def __init__(self, config: ml_collections.ConfigDict, setup):
    self.config, self.setup = config, setup
    d = config.data
    if d.batch_size < 2:
      raise ValueError(f"config.data.batch_size={d.batch_size}: the "
                       "classifier needs >= 2 (half real, half denoised).")
    if config.eval.crops < 2:
      raise ValueError(f"config.eval.crops={config.eval.crops}: validation "
                       "needs at least 2 crops, e.g. 1024.")
    self.noise_spec = noise_lib.spec_from_config(config.noise)
    losses.validate_disc(config.disc)
    self.disc = discriminators.from_config(config.disc, int(d.channels),
                                           int(d.crop), config.compute_dtype)
    self.denoiser = None  # set by attach()
    self.denoiser_record = None

  def check_sources(self, train_src, eval_src) -> None:
    data_lib.check_disjoint(train_src, eval_src)
    check_validation_crops(eval_src, int(self.config.eval.crops),
                           int(self.config.data.crop))

  def attach(self, workdir: str, resuming: bool) -> None:
    """Builds the frozen denoiser: from the record in the workdir when
    resuming (the checkpoint holds its parameters), else from init_from."""
    record_path = os.path.join(workdir, DENOISER_RECORD)
    src = self.config.train.init_from
    if resuming and os.path.exists(record_path):
      with open(record_path) as f:
        record = json.load(f)
      if src and os.path.abspath(src) != record["workdir"]:
        logging.warning(
            "config.train.init_from=%r is not the denoiser this run was "
            "trained against (%s, step %s); resuming against that one, whose "
            "parameters are in the checkpoint. Use a new --workdir to train "
            "against %s.", src, record["workdir"], record.get("step"), src)
    else:
      if not src:
        raise ValueError(
            "config.train.init_from is empty: the classifier needs the "
            "workdir of a trained autoencoder, whose outputs are the "
            "'denoised' class. Train one (python launch.py "
            "--config=experiments/ae.py --workdir=runs/ae) and pass "
            "--config.train.init_from=runs/ae.")
      if not os.path.exists(os.path.join(src, "config.json")):
        raise ValueError(
            f"config.train.init_from={src!r} is not a trained autoencoder's "
            "workdir (no config.json there); train one first (python "
            f"launch.py --config=experiments/ae.py --workdir={src}) or point "
            "init_from at one.")
      cfg = checkpoint.load_config(src)
      if "model" not in cfg or cfg.get("task", "autoencoder") not in (
          "autoencoder", "adversarial"):
        raise ValueError(
            f"config.train.init_from={src!r} is not an autoencoder's workdir "
            f"(its task is {cfg.get('task')!r}); give the workdir of a run of "
            "experiments/ae.py.")
      record = {"workdir": os.path.abspath(src), "model": cfg["model"],
                "channels": int(cfg["data"]["channels"]),
                "noise": cfg.get("noise")}
    if record["channels"] != int(self.config.data.channels):
      raise ValueError(
          f"the denoiser ({record['workdir']}) was trained on "
          f"{record['channels']}-channel images but config.data.channels="
          f"{self.config.data.channels}; use the same channel count.")
    self.denoiser = models.from_config(
        ml_collections.ConfigDict(record["model"]), record["channels"],
        self.config.compute_dtype)
    self.denoiser_record = record
    self._record_path = record_path
    if not resuming:
      expected = jax.eval_shape(self.init, jax.random.PRNGKey(0)).denoiser
      check_init_from(self.config, expected,
                      "config.model of that run (its config.json)")
    if record.get("noise") and record["noise"] != self.config.noise.to_dict():
      logging.warning(
          "config.noise differs from the noise the denoiser was trained on "
          "(%s); the classifier sees its outputs at this config's noise.",
          record["workdir"])

  def init(self, rng: jax.Array) -> steps.ClassifierState:
    return steps.init_classifier_state(rng, self.disc, self.denoiser,
                                       self.setup.tx, self.config.data.crop)

  def start(self, state: steps.ClassifierState):
    """A fresh classifier with the trained denoiser's parameters loaded."""
    src = self.config.train.init_from
    params, step = load_params_into(src, state.denoiser,
                                     f"the denoiser at init_from={src!r}",
                                     self.setup.repl)
    record = dict(self.denoiser_record, step=step)
    if parallel.is_primary():
      tmp = self._record_path + ".tmp"
      with open(tmp, "w") as f:
        json.dump(record, f, indent=2, sort_keys=True)
      os.replace(tmp, self._record_path)
    return (state.replace(denoiser=params),
            f"started from scratch against the denoiser {src} step {step}")

  def describe(self, state) -> str:
    return (f"{models.count_params(state.params)} classifier parameters; "
            f"{self.disc.describe()}; denoiser "
            f"{self.denoiser_record['workdir']} "
            f"({models.count_params(state.denoiser)} parameters, frozen)")

  def make_step(self, shardings, start: int):
    del start
    return steps.make_classifier_train_step(
        self.disc, self.denoiser, self.setup.tx, self.setup.lr_fn,
        self.noise_spec, self.config.disc, shardings=shardings,
        skip_nonfinite=self.config.train.skip_nonfinite > 0)

  def evaluator(self, source: data_lib.Source):
    return ClassifierEvaluator(self, source)

  def log_line(self, m: dict) -> str:
    return (f"loss {m['d/loss']:.4f}  error real {m['d/err_real']:.3f} "
            f"denoised {m['d/err_denoised']:.3f}")

  def eval_line(self, m: dict) -> str:
    line = (f"val loss {m['val/loss']:.4f}, error {m['val/err']:.3f} (real "
            f"{m['val/err_real']:.3f}, denoised {m['val/err_denoised']:.3f})")
    if "val/err_image" in m:
      line += f"; per image (mean score) {m['val/err_image']:.3f}"
    return line

  def plot(self, metrics_path: str, workdir: str) -> None:
    plots.classifier_curve(metrics_path,
                           os.path.join(workdir, "learning_curve.png"),
                           title=self.disc.describe())


def _crop_too_large(source: data_lib.Source, j: int, h: int, w: int,
                    crop: int) -> ValueError:
  return ValueError(
      f"validation image {source.label(j)} is {h}x{w}, smaller than the "
      f"crop {crop}; lower config.data.crop to <= {min(h, w)} or use "
      "other data.eval images.")


def check_validation_crops(source: data_lib.Source, n: int,
                           crop: int) -> None:
  """Raises, before any compute, the error validation_crops(source, n,
  crop, ...) would raise on an image smaller than the crop."""
  for j in range(min(n, len(source))):
    h, w = np.shape(source[j])[:2]
    if min(h, w) < crop:
      raise _crop_too_large(source, j, h, w, crop)


def validation_crops(source: data_lib.Source, n: int, crop: int,
                     seed: int) -> np.ndarray:
  """n fixed crops (n, crop, crop, C), spread evenly over the images, at
  positions drawn from default_rng([seed + EVAL_CROP_SEED, i]), no
  augmentation."""
  out = []
  for i in range(n):
    j = i % len(source)
    image = np.asarray(source[j])
    h, w, _ = image.shape
    if min(h, w) < crop:
      raise _crop_too_large(source, j, h, w, crop)
    rng = np.random.default_rng([seed + EVAL_CROP_SEED, i])
    y, x = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
    out.append(image[y:y + crop, x:x + crop])
  return np.stack(out).astype(np.float32)


class ClassifierEvaluator:
  """Error rates on fixed held-out crops, each scored once as real and once
  noised (fixed noise) and denoised, in batches of `batch_size` split over
  the mesh (ddn.parallel.BatchMap)."""

  def __init__(self, task: ClassifierTask, source: data_lib.Source,
               batch_size: int = 256):
    cfg = task.config
    self.task = task
    self.clean = validation_crops(source, int(cfg.eval.crops),
                                  int(cfg.data.crop), int(cfg.seed))
    spec = eval_noise_spec(cfg, task.noise_spec)
    key = jax.random.PRNGKey(cfg.seed + EVAL_NOISE_SEED)
    # One draw for all crops; dropped once they are denoised.
    self.noisy = np.asarray(noise_lib.apply(jnp.asarray(self.clean), key,
                                            spec))
    self.batch_size = batch_size
    self.denoised = None  # made once: the denoiser is frozen
    mesh = task.setup.mesh
    self._denoise = parallel.BatchMap(lambda p, x: jnp.clip(
        task.denoiser.apply({"params": p}, x, train=False), 0.0, 1.0), mesh,
                                      batch_size)
    self._classify = parallel.BatchMap(lambda ps, x: steps.classify(
        *ps, x, disc=task.disc), mesh, batch_size)

  def __call__(self, state) -> tuple[dict[str, float], None]:
    if self.denoised is None:
      self.denoised = self._denoise(state.denoiser, self.noisy)
      self.noisy = None
      self.psnr_denoised = float(np.mean(losses.psnr(
          self.denoised, self.clean, axis=(1, 2, 3))))
    ps = (state.params, state.stats)
    u = np.concatenate([self._classify(ps, self.clean),
                        self._classify(ps, self.denoised)])
    n = len(self.clean)
    y = np.concatenate([np.full(n, losses.REAL), np.full(n, losses.DENOISED)])
    u_j, y_j = jnp.asarray(u), jnp.asarray(y, jnp.float32)
    cfg = self.task.config.disc
    metrics = {"val/loss": float(losses.disc_loss(cfg.loss, u_j, y_j,
                                                  float(cfg.margin))),
               "val/psnr_denoised": self.psnr_denoised}
    metrics.update({f"val/{k}": float(v) for k, v in
                    losses.classification_metrics(u_j, y_j).items()})
    if u.ndim > 1:  # patches: also decide per image by the mean score
      per_image = losses.classification_metrics(
          jnp.mean(u_j, axis=tuple(range(1, u.ndim))), y_j)
      metrics["val/err_image"] = float(per_image["err"])
    return metrics, None


def build(config: ml_collections.ConfigDict, setup):
  """The task named by `config.task`; raises on an unknown name."""
  from ddn import adversarial  # pylint: disable=g-import-not-at-top
  classes = {"autoencoder": AutoencoderTask, "classifier": ClassifierTask,
             "adversarial": adversarial.AdversarialTask}
  name = config.get("task", "autoencoder")
  if name not in classes:
    raise ValueError(f"config.task={name!r}: valid tasks are "
                     f"{', '.join(classes)}.")
  return classes[name](config, setup)
