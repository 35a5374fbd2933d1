"""The Task interface of the shared training loop (ddn.train), and the
evaluation helpers the tasks share.

A task builds its model(s) from the config (raising on bad settings before
any compute), makes the fresh state and applies `train.init_from`, gives the
jitted step, evaluates held-out data, and names what to log and plot. The
loop itself (resume, data, logging, non-finite checks, evaluation and
checkpoint cadence) is shared, so every task resumes, logs and checkpoints
the same way. The tasks are in ddn.tasks.autoencoder, .classifier and
.adversarial; ddn.tasks.build picks one by `config.task`.

This module imports no task.
"""

from __future__ import annotations

import abc
import functools
import os

import jax
import ml_collections
import numpy as np

from ddn import data as data_lib
from ddn import evaluators
from ddn import noise as noise_lib
from ddn import parallel
from ddn import plots
from ddn import protocol
from ddn import steps
from ddn.evaluators import base as ev_base

EVAL_NOISE_SEED = ev_base.EVAL_NOISE_SEED  # evaluators.base.noisy_version
EVAL_CROP_SEED = 20_000  # classifier validation crops: default_rng([seed + this, i])


def eval_noise_spec(config, spec: noise_lib.NoiseSpec) -> noise_lib.NoiseSpec:
  """The training noise, at σ = config.eval.sigma when that is >= 0."""
  sigma = config.eval.sigma
  if sigma is None or sigma < 0:
    return spec
  return noise_lib.NoiseSpec(**{**spec.__dict__, "sigma": sigma,
                                "blind": False})


def eval_sigma(config, spec: noise_lib.NoiseSpec, model=None) -> float | None:
  """The one Gaussian σ (0-255) of the evaluation noise (0.0 without
  Gaussian noise; None when it is drawn per image). A model told the noise
  level (`model.noise_map`) is given it, and needs it fixed.

  Raises:
    ValueError: for a noise_map `model` when σ is drawn per image.
  """
  spec = eval_noise_spec(config, spec)
  sigma = (0.0 if "gaussian" not in spec.kinds else
           None if spec.blind else float(spec.sigma))
  if sigma is None and getattr(model, "noise_map", False):
    raise ValueError(
        "config.eval.sigma=-1 with blind training noise: a model told the "
        "noise level (config.model.noise_map=True) is evaluated at one σ; "
        "set config.eval.sigma, e.g. 25.")
  return sigma


class Task(abc.ABC):
  """What one kind of training adds to the loop of ddn.train.

  The loop calls, in order: check_sources, attach, then init (or a restored
  checkpoint) and start, describe, make_step, load_host_state, evaluator;
  per log line log_line, per evaluation eval_line and plot; at each
  checkpoint host_state; after the last step finish.
  """

  model_field = "config.model"  # the config group behind state.params
  # Why a field of another task is not one of this one's: {path: reason}
  # (ddn.config_check names it beside an unknown field).
  hints: dict[str, str] = {}
  # The loop's batch per step: 1 gives (B, ...); k > 1 gives (k, B, ...),
  # k batches for one step (e.g. n_d D batches and n_g G batches).
  batches_per_step = 1

  def __init__(self, config: ml_collections.ConfigDict, setup):
    self.config, self.setup = config, setup

  @staticmethod
  @abc.abstractmethod
  def default_config() -> ml_collections.ConfigDict:
    """Every field of this task's config at its default (ddn.configs.defaults
    and the type checker read it)."""

  def check_sources(self, train_src: data_lib.Source,
                    eval_src: data_lib.Source) -> None:
    """Raises before any compute when the data cannot serve this task."""
    del train_src, eval_src  # by default validation images may repeat

  def attach(self, workdir: str, resuming: bool) -> None:
    """Reads what the task needs from outside the state (init_from, records
    in the workdir); raises before anything is written."""
    del workdir, resuming

  @abc.abstractmethod
  def init(self, rng: jax.Array):
    """A fresh state (its shapes are also the restore target)."""

  def start(self, state) -> tuple[object, str]:
    """A fresh state completed (e.g. init_from's parameters), and how."""
    return state, "started from scratch"

  @abc.abstractmethod
  def describe(self, state) -> str:
    """One line on the model(s), for the start of the log."""

  @abc.abstractmethod
  def make_step(self, shardings):
    """The step `(state, batch, rng) -> (state, metrics)`, with `shardings`
    = (state, batch, replicated)."""

  @abc.abstractmethod
  def evaluator(self, source: data_lib.Source):
    """A function `state -> (metrics, grid image or None)` on held-out
    data."""

  @abc.abstractmethod
  def log_line(self, m: dict) -> str:
    """A log line's text from its averaged training metrics."""

  @abc.abstractmethod
  def eval_line(self, m: dict) -> str:
    """An evaluation's text from its metrics."""

  def plot(self, metrics_path: str, workdir: str) -> None:
    plots.learning_curve(metrics_path,
                         os.path.join(workdir, "learning_curve.png"))

  def host_state(self) -> dict:
    """What a checkpoint keeps of the host side (JSON-able)."""
    return {}

  def load_host_state(self, record: dict, step: int) -> None:
    """Restores the host side from a checkpoint's `host_state()` record ({}
    when starting fresh or from an older checkpoint) at loop step `step`."""
    del record, step

  def finish(self, state, workdir: str, train_src: data_lib.Source,
             eval_src: data_lib.Source) -> None:
    """After the last step (e.g. a final evaluation); by default nothing."""
    del state, workdir, train_src, eval_src

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


def noisy_validation_crops(config, noise_spec: noise_lib.NoiseSpec,
                           source: data_lib.Source
                           ) -> tuple[np.ndarray, np.ndarray]:
  """(clean, noisy): `config.eval.crops` fixed crops of `source`
  (validation_crops) and their evaluation inputs
  (evaluators.base.noisy_version, crop i as image i)."""
  clean = validation_crops(source, int(config.eval.crops),
                           int(config.data.crop), int(config.seed))
  spec = eval_noise_spec(config, noise_spec)
  noisy = [ev_base.noisy_version(c, i, spec, int(config.seed))
           for i, c in enumerate(clean)]
  return clean, np.stack(noisy).astype(np.float32)


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



class ImageEvaluator:
  """The in-training evaluation on held-out images: validation loss, and
  the evaluators of `config.evals` (ddn.evaluators; default psnr) run on
  the outputs, every image noised once by evaluators.base.noisy_images
  (the evaluation protocol's noise).

  Images of one shape are denoised together, split over the mesh
  (ddn.parallel.BatchMap, one image per device per call); the metrics are
  means over images.
  """

  def __init__(self, model, config: ml_collections.ConfigDict,
               noise_spec: noise_lib.NoiseSpec, mesh,
               source: data_lib.Source, max_images: int | None = None):
    """`model`: a denoiser (ddn.models); `config`: the run's config (eval,
    loss, log, seed, evals); `noise_spec`: the training noise
    (eval_noise_spec applies config.eval.sigma); the first `max_images`
    images of `source` (default config.eval.max_images)."""
    cfg = config
    self.evals = [e for e in evaluators.build(cfg.get("evals", ("psnr",)),
                                              cfg) if e.every_eval]
    self.data = ev_base.noisy_images(
        source, eval_noise_spec(cfg, noise_spec), int(cfg.seed),
        int(max_images or cfg.eval.max_images))
    self.images = [c[None] for c in self.data.clean]
    self.noisy = [x[None] for x in self.data.noisy]
    n = len(self.images)
    self.grid_n = min(int(cfg.log.grid_images), n)
    self.psnr_noisy = [protocol.psnr(x, c)
                       for x, c in zip(self.data.noisy, self.data.clean)]
    self.groups: dict[tuple[int, ...], list[int]] = {}  # shape -> indices
    for i, im in enumerate(self.images):
      self.groups.setdefault(im.shape, []).append(i)
    self.sigma = eval_sigma(cfg, noise_spec, model)
    self._map = parallel.BatchMap(functools.partial(
        steps.eval_images, model=model,
        ssd_weight=float(cfg.loss.ssd_weight),
        l1_weight=float(cfg.loss.l1_weight), sigma=self.sigma), mesh)

  def run(self, params) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per-image (loss, outputs (1, H, W, C)), in the source's order."""
    n = len(self.images)
    loss, outs = np.zeros(n), [None] * n
    for idx in self.groups.values():
      out, m = self._map(params, np.concatenate([self.images[i] for i in idx]),
                         np.concatenate([self.noisy[i] for i in idx]))
      loss[idx] = m["loss"]
      for j, i in enumerate(idx):
        outs[i] = out[j:j + 1]
    return loss, outs

  def score(self, outs: list[np.ndarray], evals=None) -> dict:
    """{metric: value} of `evals` (default this run's) on outputs `outs`
    (as `run` gives them)."""
    metrics = {}
    for e in self.evals if evals is None else evals:
      r = e.run({"model": None}, self.data, {"model": [o[0] for o in outs]})
      metrics.update(e.summary(r["model"]))
    return metrics

  def __call__(self, params) -> tuple[dict[str, float], np.ndarray | None]:
    """Returns (metrics, grid image noisy | output | clean)."""
    loss, outs = self.run(params)
    crop = lambda a: plots.center_crop(np.clip(a[0], 0, 1), 128)
    rows = [[crop(self.noisy[i]), crop(outs[i]), crop(self.images[i])]
            for i in range(self.grid_n)]
    metrics = {"val/loss": float(np.mean(loss)),
               "val/psnr_noisy": float(np.mean(self.psnr_noisy)),
               **{f"val/{k}": v for k, v in self.score(outs).items()}}
    return metrics, plots.grid(rows) if rows else None
