"""The real-vs-denoised classifier task: a classifier (ddn.discriminators)
learns to tell real crops from a frozen denoiser's outputs
(classifier_train_step). `train.init_from` = the workdir of the
trained autoencoder whose outputs are the denoised class; that network is
frozen and its parameters are saved in the classifier's checkpoints (and its
config in `workdir/denoiser.json`), so a resumed run needs nothing else."""

from __future__ import annotations

import functools
import json
import logging
import os
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from ddn import checkpoint
from ddn import configs
from ddn import data as data_lib
from ddn import discriminators
from ddn import init_from
from ddn import losses
from ddn import models
from ddn import noise as noise_lib
from ddn import parallel
from ddn import plots
from ddn import steps
from ddn.tasks import base

DENOISER_RECORD = "denoiser.json"


class ClassifierTask(base.Task):
  """Trains a classifier to tell real crops from a frozen denoiser's
  outputs (see classifier_train_step)."""

  model_field = "config.disc"
  # Why a field of another task is not one of this one's (ddn.config_check).
  hints = {"model": "the classifier's denoiser is the network of "
                    "config.train.init_from, built from that run's saved "
                    "config",
           "loss": "the classifier's loss is config.disc.loss"}

  @staticmethod
  def default_config() -> ml_collections.ConfigDict:
    """Every field of a classifier config at its default."""
    return default_config()

  def __init__(self, config: ml_collections.ConfigDict, setup):
    super().__init__(config, setup)
    d = config.data
    if d.batch_size < 2:
      raise ValueError(f"config.data.batch_size={d.batch_size}: the "
                       "classifier needs >= 2 (half real, half denoised).")
    if config.eval.crops < 2:
      raise ValueError(f"config.eval.crops={config.eval.crops}: validation "
                       "needs at least 2 crops, e.g. 1024.")
    self.noise_spec = noise_lib.spec_from_config(config.noise)
    losses.validate_disc(config.disc)
    if config.disc.scales != 1:
      raise ValueError(f"config.disc.scales={config.disc.scales}: the "
                       "classifier task scores one map per image; a "
                       "multi-scale D is for the adversarial task (use 1).")
    if config.disc.get("conditional", False):
      raise ValueError("config.disc.conditional=True: the classifier task "
                       "scores images alone; a conditional D (it also sees "
                       "the noisy input) is for the adversarial task (use "
                       "False).")
    self.disc = discriminators.from_config(config.disc, int(d.channels),
                                           int(d.crop), config.compute_dtype)
    self.denoiser = None  # set by attach()
    self.denoiser_record = None

  def check_sources(self, train_src, eval_src) -> None:
    data_lib.check_disjoint(train_src, eval_src)
    base.check_validation_crops(eval_src, int(self.config.eval.crops),
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
    base.eval_sigma(self.config, self.noise_spec, self.denoiser)
    self.denoiser_record = record
    self._record_path = record_path
    if not resuming:
      expected = jax.eval_shape(self.init, jax.random.PRNGKey(0)).denoiser
      init_from.check(self.config, expected,
                      "config.model of that run (its config.json)")
    if record.get("noise") and record["noise"] != self.config.noise.to_dict():
      logging.warning(
          "config.noise differs from the noise the denoiser was trained on "
          "(%s); the classifier sees its outputs at this config's noise.",
          record["workdir"])

  def init(self, rng: jax.Array) -> ClassifierState:
    return init_classifier_state(rng, self.disc, self.denoiser,
                                       self.setup.tx, self.config.data.crop)

  def start(self, state: ClassifierState):
    """A fresh classifier with the trained denoiser's parameters loaded."""
    src = self.config.train.init_from
    params, step = init_from.load_params_into(
        src, state.denoiser, f"the denoiser at init_from={src!r}",
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

  def make_step(self, shardings):
    return make_classifier_train_step(
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


class ClassifierEvaluator:
  """Error rates on fixed held-out crops, each scored once as real and once
  noised (fixed noise) and denoised, in batches of `batch_size` split over
  the mesh (ddn.parallel.BatchMap)."""

  def __init__(self, task: ClassifierTask, source: data_lib.Source,
               batch_size: int = 256):
    cfg = task.config
    self.task = task
    # One draw for all crops; the noisy ones are dropped once denoised.
    self.clean, self.noisy = base.noisy_validation_crops(
        cfg, task.noise_spec, source)
    self.batch_size = batch_size
    self.denoised = None  # made once: the denoiser is frozen
    mesh = task.setup.mesh
    sigma = base.eval_sigma(cfg, task.noise_spec, task.denoiser)
    self._denoise = parallel.BatchMap(lambda p, x: jnp.clip(
        task.denoiser.apply({"params": p}, x, train=False,
                            **steps.told(task.denoiser, sigma)), 0.0, 1.0),
                                      mesh, batch_size)
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


def default_config() -> ml_collections.ConfigDict:
  """Defaults for the real-vs-denoised classifier, sized for a 2-core CPU.

  `train.init_from` must name the workdir of a trained autoencoder: its
  outputs are the "denoised" class. Each step's batch is half real crops and
  half crops noised with `config.noise` and denoised by that frozen network.
  """
  c = ml_collections.ConfigDict()
  c.task = "classifier"
  c.seed = 0
  c.compute_dtype = "float32"  # or bfloat16, as the autoencoder's
  c.data = configs.data(batch_size=128)  # the chapter's worked example
  c.noise = configs.noise()
  c.disc = configs.disc()
  c.optim = configs.optim(lr=1e-3, warmup_images=2_000)
  c.train = ml_collections.ConfigDict(dict(
      total_images=102_400, init_from="", checkpoint_every_images=25_600,
      max_to_keep=3, skip_nonfinite=0))  # as the autoencoder's
  c.log = ml_collections.ConfigDict(dict(every_images=2_560))
  # Validation: `crops` fixed crops of the eval images, each scored as real
  # and, noised (σ = eval.sigma, -1: the train σ) and denoised, as denoised.
  c.eval = ml_collections.ConfigDict(dict(
      every_images=12_800, crops=1_024, sigma=-1.0))
  return c


# ----------------------------------------------------------------------------
# The state and the jitted step.


@flax.struct.dataclass
class ClassifierState:
  step: jax.Array  # int32 scalar: optimizer steps taken
  params: Any  # classifier parameters
  stats: Any  # spectral-norm state (u, sigma); {} without spectral norm
  opt_state: Any
  denoiser: Any  # the frozen autoencoder's parameters (never updated)


def init_classifier_state(rng: jax.Array, disc: nn.Module, denoiser: nn.Module,
                          tx: optax.GradientTransformation, crop: int
                          ) -> ClassifierState:
  """A fresh state whose denoiser parameters are placeholders of the right
  shapes (the caller loads the trained ones); `jax.eval_shape` of it is the
  checkpoint restore target."""
  key = jax.random.fold_in(rng, steps.TAG_INIT)
  variables = disc.init(key, jnp.zeros((1, crop, crop, disc.channels)))
  params = variables["params"]
  stats = variables.get(steps.STATS, {})
  dummy = jnp.zeros((1, crop, crop, denoiser.channels), jnp.float32)
  den = denoiser.init(jax.random.fold_in(key, 1), dummy,
                      **steps.told(denoiser, 0.0))["params"]
  return ClassifierState(step=jnp.zeros((), jnp.int32), params=params,
                         stats=stats, opt_state=tx.init(params), denoiser=den)


def real_and_denoised(denoiser_params, clean: jax.Array, key: jax.Array, *,
                      denoiser: nn.Module, noise_spec: noise_lib.NoiseSpec):
  """Splits clean images (B, H, W, C) into B // 2 real ones and B - B // 2
  denoised ones (made from the other half, freshly noised with `key`).

  The denoised images are clipped to [0, 1], as they would be saved: values
  outside the range would give them away.

  Returns:
    (x (B, H, W, C): real then denoised, y (B,): +1 real, -1 denoised,
     PSNR (dB) of the denoised half against its clean images).
  """
  half = clean.shape[0] // 2
  src = clean[half:]
  noisy, sigma = noise_lib.apply_with_sigma(src, key, noise_spec)
  fake = denoiser.apply({"params": denoiser_params}, noisy, train=False,
                        **steps.told(denoiser, sigma))
  fake = jnp.clip(jax.lax.stop_gradient(fake), 0.0, 1.0)
  x = jnp.concatenate([clean[:half], fake], axis=0)
  y = jnp.concatenate([jnp.full((half,), losses.REAL),
                       jnp.full((src.shape[0],), losses.DENOISED)])
  return x, y, jnp.mean(losses.psnr(fake, src, axis=(1, 2, 3)))


def classifier_train_step(state: ClassifierState, batch: jax.Array,
                          rng: jax.Array, *, disc: nn.Module,
                          denoiser: nn.Module, tx: optax.GradientTransformation,
                          lr_fn: optax.Schedule,
                          noise_spec: noise_lib.NoiseSpec, loss: str,
                          margin: float, skip_nonfinite: bool = False):
  """One classifier update on clean images `batch` (B, H, W, C) in [0, 1]:
  the first half is shown as real, the second is noised (from
  `fold_in(rng, step)`), denoised by the frozen autoencoder and shown as
  denoised, all in one classifier call.

  Returns:
    (new state, metrics): 'd/loss', 'd/err_real', 'd/err_denoised', 'd/err',
    'd/acc_real', 'd/acc_denoised', 'd/acc', 'd/u_real', 'd/u_denoised',
    'd/psnr_denoised', 'grad_norm', 'param_norm', 'lr' (and 'skipped' with
    `skip_nonfinite`, as in autoencoder.ae_train_step).
  """
  x, y, psnr = real_and_denoised(
      state.denoiser, batch, steps.step_key(rng, state.step, steps.TAG_NOISE),
      denoiser=denoiser, noise_spec=noise_spec)
  params, stats, opt_state, value, u, extra = steps.disc_update(
      state.params, state.stats, state.opt_state, x, y,
      steps.step_key(rng, state.step, steps.TAG_DROPOUT), disc=disc, tx=tx,
      loss=loss, margin=margin, skip_nonfinite=skip_nonfinite)
  metrics = {"d/loss": value, "d/psnr_denoised": psnr, **extra,
             "param_norm": optax.global_norm(params), "lr": lr_fn(state.step)}
  metrics.update({f"d/{k}": v for k, v in
                  losses.classification_metrics(u, y).items()})
  new_state = state.replace(step=state.step + 1, params=params, stats=stats,
                            opt_state=opt_state)
  return new_state, metrics


def make_classifier_train_step(disc, denoiser, tx, lr_fn, noise_spec, disc_cfg,
                               shardings=None, skip_nonfinite: bool = False):
  """Jitted classifier step with state donation (see
  autoencoder.make_ae_train_step)."""
  fn = functools.partial(classifier_train_step, disc=disc, denoiser=denoiser,
                         tx=tx, lr_fn=lr_fn, noise_spec=noise_spec,
                         loss=disc_cfg.loss, margin=float(disc_cfg.margin),
                         skip_nonfinite=skip_nonfinite)
  return steps.jit_step(fn, shardings)
