"""The adversarial task: the denoiser trained against a discriminator.

G is the denoising autoencoder, D a classifier of ddn.discriminators (whole
image or patches). One iteration runs `adv.n_d` D steps, then `adv.n_g` G
steps that see the updated D (make_adversarial_steps); each step
is its own jitted function over one AdversarialState. The run has up to
three phases, in iterations of one G batch:

  1. G warm-up    reconstruction only, no D (only when `train.init_from` is
                  empty: G starts from scratch); `adv.g_warmup_images`.
  2. D warm-up    D steps against G, G still on reconstruction only;
                  `adv.d_warmup_images`.
  3. adversarial  D steps, then G on Pred + λ·adversarial term. With
                  `adv.freeze_disc` D stops after its warm-up: G then trains
                  against a fixed classifier (the chapter's 17.3.1).

G as it enters phase 2 is kept in the state (`ref`): the final evaluation
compares it ("no adversary") with the trained G on PSNR and on realism (the
calibrated two-sample test of ddn.realism: fresh judges' AUC with its 95%
interval, beside clean / noisy / smoothed calibration rows), and draws both
side by side.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from typing import Any

import flax
import flax.linen as nn
import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from ddn import configs
from ddn import data as data_lib
from ddn import discriminators
from ddn import evaluators
from ddn import init_from
from ddn import losses
from ddn import models
from ddn import noise as noise_lib
from ddn import optim
from ddn import parallel
from ddn import plots
from ddn import realism
from ddn import steps
from ddn.tasks import autoencoder
from ddn.tasks import base

EVALUATION = "evaluation.json"


class Phases:
  """Iteration boundaries of the run's phases (see the module docstring)."""

  def __init__(self, config, batch_size: int):
    a = config.adv
    scratch = not config.train.init_from
    self.g_warmup = optim.steps_for(a.g_warmup_images, batch_size) if scratch else 0
    self.d_start = self.g_warmup
    self.adv_start = self.g_warmup + optim.steps_for(a.d_warmup_images,
                                                     batch_size)
    self.total = optim.steps_for(config.train.total_images, batch_size)
    self.freeze = bool(a.freeze_disc)

  def d_active(self, it: int) -> bool:
    return it >= self.d_start and not (self.freeze and it >= self.adv_start)

  def d_steps_total(self, n_d: int) -> int:
    end = self.adv_start if self.freeze else self.total
    return n_d * max(end - self.d_start, 0)

  def describe(self, bs: int) -> str:
    parts = []
    if self.g_warmup:
      parts.append(f"G warm-up (reconstruction only) for {self.g_warmup * bs} "
                   "images")
    if self.adv_start > self.d_start:
      parts.append(f"D warm-up for {(self.adv_start - self.d_start) * bs} "
                   "images")
    rest = (self.total - self.adv_start) * bs
    parts.append(f"adversarial for {rest} images"
                 + (" against the frozen D" if self.freeze else ""))
    return ", then ".join(parts)


class Balance:
  """Warns when one side has won for `window` consecutive log lines: D's
  loss near zero (D wins: G's adversarial gradient carries little), or D's
  accuracy at chance (D has lost: the adversarial term is noise)."""

  def __init__(self, cfg):
    self.window, self.won, self.band = (int(cfg.balance_window),
                                        float(cfg.d_won_loss),
                                        float(cfg.chance_band))
    self.runs = {"d_wins": 0, "d_at_chance": 0}

  def update(self, m: dict) -> list[str]:
    """Feeds one log line's metrics; returns warnings that just fired."""
    if "d/loss" not in m:
      return []
    state = {"d_wins": m["d/loss"] < self.won,
             "d_at_chance": abs(m["d/acc"] - 0.5) < self.band}
    out = []
    for k, on in state.items():
      self.runs[k] = self.runs[k] + 1 if on else 0
      if self.runs[k] == self.window:
        if k == "d_wins":
          out.append(
              f"D has won for {self.window} log lines (D loss "
              f"{m['d/loss']:.4f} < {self.won}, accuracy real "
              f"{m['d/acc_real']:.2f} / fake {m['d/acc_fake']:.2f}): G's "
              "adversarial gradient carries little. Consider a larger "
              "config.adv.weight, g_loss='nonsaturating', fewer D steps "
              "(config.adv.n_d) or a lower config.disc_optim.lr.")
        else:
          out.append(
              f"D is at chance for {self.window} log lines (accuracy "
              f"{m['d/acc']:.2f}, u real {m['d/u_real']:.3f} / fake "
              f"{m['d/u_fake']:.3f}): the adversarial term is noise. "
              "Consider more D steps (config.adv.n_d), a higher "
              "config.disc_optim.lr or a smaller config.adv.weight.")
    return out


class AdversarialTask(base.Task):
  """Trains G (the denoiser) against D (see the module docstring)."""

  @staticmethod
  def default_config() -> ml_collections.ConfigDict:
    """Every field of an adversarial config at its default."""
    return default_config()

  def __init__(self, config: ml_collections.ConfigDict, setup):
    super().__init__(config, setup)
    a, d = config.adv, config.data
    checks = [("weight", a.weight >= 0, "must be >= 0 (0: no adversary)"),
              ("max_weight", a.get("max_weight", 0.0) >= 0,
               "must be >= 0 (0: no ceiling)"),
              ("n_d", a.n_d >= 1, "must be >= 1"),
              ("n_g", a.n_g >= 1, "must be >= 1"),
              ("g_warmup_images", a.g_warmup_images >= 0, "must be >= 0"),
              ("d_warmup_images", a.d_warmup_images >= 0, "must be >= 0"),
              ("ema_decay", 0 <= a.ema_decay < 1, "must be in [0, 1)"),
              ("samples", a.get("samples", 1) >= 1, "must be >= 1"),
              ("z_init", a.get("z_init", 0.0) >= 0,
               "must be >= 0 (0: zero z weights)"),
              ("r1", a.get("r1", 0.0) >= 0, "must be >= 0 (0: no penalty)"),
              ("fm_weight", a.get("fm_weight", 0.0) >= 0,
               "must be >= 0 (0: no feature matching)"),
              ("balance_window", a.balance_window >= 1, "must be >= 1")]
    for field, ok, why in checks:
      if not ok:
        raise ValueError(f"config.adv.{field}={a[field]}: {why}.")
    if a.g_loss not in losses.GEN_LOSSES:
      raise ValueError(f"config.adv.g_loss={a.g_loss!r}: valid generator "
                       f"losses are {', '.join(losses.GEN_LOSSES)}.")
    if config.eval.max_images <= 0 or config.eval.crops < 1:
      raise ValueError("config.eval: max_images and crops must be >= 1, got "
                       f"{config.eval.max_images} and {config.eval.crops}.")
    if a.get("samples", 1) > 1 and not config.model.get("noise_input", 0):
      raise ValueError(
          f"config.adv.samples={a.samples} needs a G that samples: set "
          "config.model.noise_input > 0 (e.g. 2), or samples=1.")
    realism.validate(config.eval.realism)
    self.noise_spec = noise_lib.spec_from_config(config.noise)
    losses.validate(config.loss)
    losses.validate_disc(config.disc)
    channels = int(d.channels)
    self.model = models.from_config(config.model, channels,
                                    config.compute_dtype)
    base.eval_sigma(config, self.noise_spec, self.model)  # before compute
    self.disc = discriminators.from_config(config.disc, channels, int(d.crop),
                                           config.compute_dtype)
    bs = int(d.batch_size)
    self.phases = Phases(config, bs)
    if self.phases.adv_start >= self.phases.total:
      raise ValueError(
          f"config.train.total_images={config.train.total_images} leaves no "
          "adversarial phase after the warm-ups ("
          f"{self.phases.adv_start * bs} images: adv.g_warmup_images, used "
          "when train.init_from is empty, plus adv.d_warmup_images); raise "
          "total_images or shorten the warm-ups.")
    self.batches_per_step = int(a.n_d) + int(a.n_g)
    # G: config.optim over all its steps; D: config.disc_optim over its own.
    self.d_lr_fn = optim.schedule(
        config.disc_optim, bs, self.phases.d_steps_total(int(a.n_d)) * bs,
        field="config.disc_optim")
    self.d_tx = optim.optimizer(config.disc_optim, self.d_lr_fn,
                                field="config.disc_optim")
    self.balance = Balance(a)
    self.iteration = 0  # set by load_host_state

  def check_sources(self, train_src, eval_src) -> None:
    data_lib.check_disjoint(train_src, eval_src)  # realism is held out
    cfg = self.config.eval
    base.check_validation_crops(eval_src, int(cfg.crops),
                                int(self.config.data.crop))
    tile = int(cfg.realism.test_crop)  # the final realism test's judges
    small = [eval_src.label(j) for j in range(len(eval_src))
             if min(np.shape(eval_src[j])[:2]) < tile]
    if small:
      raise ValueError(
          f"validation image {small[0]} is smaller than the realism judges' "
          f"tiles config.eval.realism.test_crop={tile}; lower it or use "
          "other data.eval images.")
    for j in range(len(eval_src)):  # one real and one denoised tile each
      realism.check_test_size(np.shape(eval_src[j])[:2], tile,
                              "config.eval.realism.test_crop")
    crop = int(cfg.realism.crop)
    if sum(min(np.shape(train_src[i])[:2]) >= crop
           for i in range(len(train_src))) < 2:
      raise ValueError(
          f"config.eval.realism.crop={crop}: fewer than 2 training images "
          "are that large; lower it.")

  def attach(self, workdir: str, resuming: bool) -> None:
    self.workdir = workdir
    src = self.config.train.init_from
    if src:
      init_from.check_exists(src, scratch="to start G from scratch with a "
                             "reconstruction warm-up")
    d_src = self.config.adv.get("d_init_from")
    if (src or d_src) and not resuming:  # the starts must fit, before writes
      shapes = jax.eval_shape(self.init, jax.random.PRNGKey(0))
      if src:
        init_from.check(self.config, shapes.params)
      if d_src:
        init_from.load_disc(self.config, shapes.d_params, shapes.d_stats)

  def init(self, rng: jax.Array) -> AdversarialState:
    return init_adversarial_state(
        rng, self.model, self.disc, self.setup.tx, self.d_tx,
        self.config.data.crop, ema=self.config.adv.ema_decay > 0)

  def start(self, state: AdversarialState):
    src = self.config.train.init_from
    plan = self.phases.describe(int(self.config.data.batch_size))
    d_src = self.config.adv.get("d_init_from", "")
    if d_src:
      d_params, d_stats, d_step = init_from.load_disc(
          self.config, state.d_params, state.d_stats)
      d_params, d_stats = jax.device_put((d_params, d_stats), self.setup.repl)
      state = state.replace(d_params=d_params, d_stats=d_stats, d_opt_state=(
          jax.jit(self.d_tx.init, out_shardings=self.setup.repl)(d_params)))
      plan = f"D initialised from {d_src} step {d_step}; {plan}"
    if not src:
      return state, f"G from scratch; {plan}"
    params, step = init_from.load_params_into(
        src, state.params, f"init_from={src!r}", self.setup.repl,
        grow_inputs=init_from.grows_inputs(self.config.model),
        z_scale=float(self.config.adv.get("z_init", 0.0)))
    opt_state = jax.jit(self.setup.tx.init,
                        out_shardings=self.setup.repl)(params)
    copy = jax.jit(lambda p: jax.tree_util.tree_map(jnp.copy, p),
                   out_shardings=self.setup.repl)
    state = state.replace(params=params, opt_state=opt_state,
                          ref=copy(params),
                          ema=copy(params) if state.ema else state.ema)
    return state, f"G initialised from {src} step {step}; {plan}"

  def describe(self, state) -> str:
    a = self.config.adv
    return (f"G {models.count_params(state.params)} parameters; D "
            f"{models.count_params(state.d_params)} parameters, "
            f"{self.disc.describe()}; λ={a.weight} ({a.g_loss}), "
            f"{a.n_d} D step(s) then {a.n_g} G step(s) per iteration")

  def step_fns(self, shardings):
    """The jitted steps of make_adversarial_steps for this config
    and the sharding of their stacked batches: ({'d', 'g', 'g_rec',
    'ref'}, stack sharding), with `shardings` = (state, batch, replicated)."""
    state_sh, batch_sh, repl = shardings
    stack_sh = jax.sharding.NamedSharding(
        batch_sh.mesh, jax.sharding.PartitionSpec(None, *batch_sh.spec))
    fns = make_adversarial_steps(
        self.model, self.disc, self.setup.tx, self.setup.lr_fn, self.d_tx,
        self.d_lr_fn, self.noise_spec, self.config,
        shardings=(state_sh, stack_sh, repl))
    return fns, stack_sh

  def make_step(self, shardings):
    """The host side of one iteration (Python alternation of jitted steps);
    `self.iteration` counts the iterations done (the loop's step)."""
    fns, _ = self.step_fns(shardings)
    n_d, n_g = int(self.config.adv.n_d), int(self.config.adv.n_g)
    phases = self.phases

    def step(state, stack, rng):
      it = self.iteration
      metrics = {}
      if it == phases.d_start and phases.g_warmup:
        state = fns["ref"](state)  # G leaving its warm-up: "no adversary"
      if phases.d_active(it):
        for _ in range(n_d):
          state, metrics = fns["d"](state, stack, rng)
      g_fn = fns["g"] if it >= phases.adv_start else fns["g_rec"]
      for _ in range(n_g):
        state, g_metrics = g_fn(state, stack, rng)
      self.iteration = it + 1
      return state, {**metrics, **g_metrics}

    return step

  def host_state(self) -> dict:
    """What a checkpoint keeps of the host side: the iteration count and
    the balance counters."""
    return {"iteration": self.iteration, "balance": dict(self.balance.runs)}

  def load_host_state(self, record: dict, step: int) -> None:
    # Checkpoints written before the count was saved: it is the loop's step.
    self.iteration = int(record.get("iteration", step))
    self.balance.runs.update(record.get("balance", {}))

  def g_params(self, state):
    """The G that is evaluated: its EMA when config.adv.ema_decay > 0."""
    return state.ema if self.config.adv.ema_decay > 0 else state.params

  def evaluator(self, source: data_lib.Source):
    return AdversarialEvaluator(self, source)

  def log_line(self, m: dict) -> str:
    line = f"G loss {m['g/loss']:.5f}  pred {m['g/pred']:.5f}"
    if "g/adv" in m:
      line += (f"  adv {m['g/adv']:+.3f} (λ {m['g/adv_weight']:.2g}, push "
               f"{m['g/grad_ratio']:.2f} of pred's at the last layer)")
    line += f"  psnr {m['g/psnr']:.2f} dB"
    if "g/sample_std" in m:  # a G that samples: Pred and psnr on the mean
      line += (f" (mean of samples; one sample {m['g/psnr_sample']:.2f} dB, "
               f"spread {m['g/sample_std']:.4f})")
    if "d/loss" in m:
      line += (f" | D loss {m['d/loss']:.4f}  acc real {m['d/acc_real']:.2f} "
               f"fake {m['d/acc_fake']:.2f}  u real {m['d/u_real']:+.2f} "
               f"fake {m['d/u_fake']:+.2f}")
    for warning in self.balance.update(m):
      logging.warning("balance: %s", warning)
    return line

  def eval_line(self, m: dict) -> str:
    return (f"val PSNR {m['val/psnr']:.2f} dB (noisy {m['val/psnr_noisy']:.2f}"
            f" dB); D error on held-out crops {m['val/d_err']:.3f} (real "
            f"{m['val/d_err_real']:.3f}, G's outputs {m['val/d_err_fake']:.3f})")

  def plot(self, metrics_path: str, workdir: str) -> None:
    plots.learning_curve(metrics_path,
                         os.path.join(workdir, "learning_curve.png"),
                         train_key="train/g/pred")
    plots.adversarial_curve(metrics_path,
                            os.path.join(workdir, "adversarial_curve.png"),
                            title=self.disc.describe())

  def finish(self, state, workdir: str, train_src, eval_src) -> None:
    """The final evaluation (evaluation.json, comparison.png), once per
    final step: PSNR and realism of G and of G before the adversary."""
    if not self.config.eval.final:
      return
    path = os.path.join(workdir, EVALUATION)
    step = int(state.step)
    done = False
    if parallel.is_primary() and os.path.exists(path):
      with open(path) as f:
        done = json.load(f).get("step") == step
    if jax.process_count() > 1:  # every process evaluates, or none does
      done = bool(multihost_utils.broadcast_one_to_all(np.int32(done)))
    if done:
      return
    record = final_evaluation(self, state, train_src, eval_src, workdir)
    record["step"] = step
    if parallel.is_primary():
      tmp = path + ".tmp"
      with open(tmp, "w") as f:
        json.dump(record, f, indent=2, sort_keys=True)
      os.replace(tmp, path)
    for name, r in record["calibration"].items():
      logging.info("realism calibration, clean vs %s: %s", name,
                   realism.describe(r))
    for name in ("ref", "g"):
      r = record[name]
      logging.info("evaluation, %s: PSNR %.2f dB on %d images; realism %s",
                   r["label"], r["psnr"], record["images"], realism.describe(
                       {k.removeprefix("realism_"): v for k, v in r.items()}))


class AdversarialEvaluator:
  """Every eval: G's full-image PSNR on held-out images (fixed noise) with a
  noisy | G | clean grid, and D's error on fixed held-out crops shown as
  real and as G's outputs."""

  def __init__(self, task: AdversarialTask, source: data_lib.Source):
    cfg = task.config
    self.task = task
    self.images = base.ImageEvaluator(task.model, cfg, task.noise_spec,
                                      task.setup.mesh, source)
    self.clean, self.noisy = base.noisy_validation_crops(
        cfg, task.noise_spec, source)
    self.sigma = self.images.sigma
    self._scores = parallel.BatchMap(self._real_and_fake_scores,
                                     task.setup.mesh, 256)

  def _real_and_fake_scores(self, params, clean, noisy):
    """D's scores of each clean crop and of G's output for its noisy one
    (one sample, fixed z, for a G that samples: steps.denoise)."""
    g_params, d_params, d_stats = params
    fake = jnp.clip(steps.denoise(g_params, noisy, self.sigma,
                                  model=self.task.model), 0.0, 1.0)
    disc = self.task.disc
    score = lambda x: steps.classify(
        d_params, d_stats, discriminators.condition(disc, x, noisy), disc=disc)
    return score(clean), score(fake)

  def __call__(self, state):
    g = self.task.g_params(state)
    metrics, grid = self.images(g)
    u_real, u_fake = self._scores((g, state.d_params, state.d_stats),
                                  self.clean, self.noisy)
    n = len(self.clean)
    y = np.concatenate([np.full(n, losses.REAL), np.full(n, losses.DENOISED)])
    u = jax.tree_util.tree_map(lambda r, f: jnp.asarray(np.concatenate([r, f])),
                               u_real, u_fake)  # a tuple for a multi-scale D
    dm = losses.classification_metrics(u, jnp.asarray(y, jnp.float32))
    metrics.update({"val/d_err": float(dm["err"]),
                    "val/d_err_real": float(dm["err_real"]),
                    "val/d_err_fake": float(dm["err_denoised"]),
                    "val/d_u_real": float(dm["u_real"]),
                    "val/d_u_fake": float(dm["u_denoised"])})
    return metrics, grid


def tuning_images(task: AdversarialTask, train_src) -> list[np.ndarray]:
  """The realism judges' tuning images: up to `eval.realism.tune_images`
  training images (evenly spaced, those at least the judges' crop)."""
  r = task.config.eval.realism
  crop = int(r.crop)
  big = [i for i in range(len(train_src))
         if min(np.shape(train_src[i])[:2]) >= crop]
  if len(big) < 2:
    raise ValueError(
        f"config.eval.realism.crop={crop}: fewer than 2 training images "
        f"({train_src.name}) are that large; lower the crop.")
  pick = np.linspace(0, len(big) - 1, min(int(r.tune_images), len(big)))
  return [np.asarray(train_src[big[int(i)]], np.float32)
          for i in sorted(set(pick.round().astype(int)))]


def final_evaluation(task: AdversarialTask, state, train_src, eval_src,
                     workdir: str) -> dict:
  """The evaluators of `config.evals` (PSNR and realism, with its
  calibration rows, by default) on every eval image, for G and for `ref`
  (G before the adversarial phase); writes comparison.png."""
  cfg = task.config
  images = base.ImageEvaluator(task.model, cfg, task.noise_spec,
                               task.setup.mesh, eval_src, len(eval_src))
  spec = base.eval_noise_spec(cfg, task.noise_spec)
  evals = evaluators.build(cfg.evals, cfg)
  tune = tuning_images(task, train_src)
  for e in evals:
    if hasattr(e, "tune"):
      e.tune(tune, spec)
  denoise = jax.jit(functools.partial(steps.denoise, sigma=images.sigma,
                                      model=task.model))
  labels = {"ref": "G entering the adversarial phase", "g": "final G"}
  record = {"images": len(images.images), "data": eval_src.name,
            "tune_images": len(tune), "tune_data": train_src.name,
            "evals": list(cfg.evals),
            "realism_settings": cfg.eval.realism.to_dict(),
            "psnr_noisy": float(np.mean(images.psnr_noisy))}
  realism_ev = [e for e in evals if hasattr(e, "calibrate")]
  if realism_ev:
    record["calibration"] = realism_ev[0].calibrate(images.data)
  outputs = {}
  for name, params in (("ref", state.ref), ("g", task.g_params(state))):
    _, outs = images.run(params)
    outputs[name] = [np.clip(o[0], 0, 1) for o in outs]
    fn = lambda x, p=params: np.asarray(denoise(p, jnp.asarray(x)[None]))[0]
    record[name] = {"label": labels[name]}
    for e in evals:
      fields = e.run({name: fn}, images.data, outputs)[name]
      record[name].update({k: v for k, v in fields.items()
                           if k != "per_image"})
  columns = [("noisy", [np.clip(x[0], 0, 1) for x in images.noisy]),
             ("entering the adversarial phase", outputs["ref"]),
             ("final", outputs["g"]),
             ("clean", [c[0] for c in images.images])]
  if parallel.is_primary():
    plots.comparison(columns, os.path.join(workdir, "comparison.png"),
                     title=comparison_title(record))
  return record


def comparison_title(record: dict) -> str:
  """comparison.png's title: PSNR and realism AUC before -> after."""
  ref, g = record["ref"], record["g"]
  parts = []
  if "psnr" in ref:
    parts.append(f"PSNR {ref['psnr']:.2f} -> {g['psnr']:.2f} dB")
  if "realism_auc" in ref:
    parts.append(f"realism AUC {ref['realism_auc']:.3f} -> "
                 f"{g['realism_auc']:.3f} (0.5 = indistinguishable from "
                 "clean)")
  return "; ".join(parts)


def default_config() -> ml_collections.ConfigDict:
  """Defaults for adversarial training of the denoiser, sized for a 2-core
  CPU (ddn.tasks.adversarial).

  G is the autoencoder (`model`, `loss`, `optim` as in the autoencoder task, so
  `train.init_from` can name an autoencoder's workdir); D is a classifier
  (`disc`) with its own optimizer (`disc_optim`). `train.total_images`
  counts G's batches over the whole run, warm-ups included.
  """
  c = autoencoder.default_config()
  c.task = "adversarial"
  c.disc = configs.disc(spectral_norm=True)
  c.disc_optim = configs.optim(lr=1e-3, warmup_images=0)
  c.disc_optim.update(dict(b1=0.5, schedule="constant"))
  c.adv = ml_collections.ConfigDict(dict(
      weight=3e-3,  # λ: G loss = Pred + λ · adversarial term
      # True: λ = weight · |∇Pred| / |∇adversarial| at G's last layer
      # (VQGAN's adaptive weight), so `weight` is the adversary's relative push.
      adaptive=False,
      # > 0: the adaptive λ's ceiling (when D falls to chance, its shrinking
      # gradient would otherwise be scaled up to the push); 0: none.
      max_weight=0.0,
      # score (the chapter's) | nonsaturating | hinge | relativistic (with
      # disc.loss='relativistic': relativistic average GAN, as ESRGAN)
      g_loss="score",
      n_d=1, n_g=1,  # per iteration: n_d D steps, then n_g G steps
      # Reconstruction-only G steps first, when train.init_from is empty.
      g_warmup_images=6_400,
      # Then D steps with G still on reconstruction only.
      d_warmup_images=1_600,
      freeze_disc=False,  # True: D stops after its warm-up (the 17.3.1 test)
      # D's start: an adversarial run's workdir or a shipped adversarial
      # model that ships its D (fresh optimizer); '': a fresh D.
      d_init_from="",
      ema_decay=0.0,  # > 0: keep an EMA of G, used for evaluation
      # K > 1 (needs model.noise_input > 0): G draws K samples (independent
      # z) per noisy crop; Pred is on their mean, the adversarial term on
      # each sample (PSCGAN), so G need not collapse its samples to the mean.
      samples=1,
      # A G that samples started from a model without z (train.init_from):
      # its z weights are z_init times a fresh initialisation's. 0: zero, so
      # G starts exactly at that model's function, but z's gradient then
      # has mean zero and G learns to use z slowly (a 3,200-image run's
      # samples differed by 0.002); > 0 makes the samples differ at once.
      z_init=0.0,
      # γ > 0: D's loss adds the R1 gradient penalty γ/2 · |∇_x u(real)|²
      # (Mescheder et al. 2018), which keeps D smooth around real images.
      r1=0.0,
      # > 0: G's adversarial term adds fm_weight · feature matching
      # (pix2pixHD): the mean absolute difference of D's features, level by
      # level, between each output and its clean image.
      fm_weight=0.0,
      # Balance warnings: a side has "won" when, over `balance_window`
      # consecutive log lines, D's loss < d_won_loss (D wins), or D's
      # accuracy is within `chance_band` of 0.5 (D is at chance).
      balance_window=4, d_won_loss=0.05, chance_band=0.05))
  c.train.total_images = 12_800
  c.train.checkpoint_every_images = 3_200
  c.log.every_images = 320
  c.eval.every_images = 4_800
  c.eval.max_images = 3
  c.eval.crops = 256  # D's validation error on held-out crops
  # After training: PSNR on every eval image and realism (ddn.realism: fresh
  # judges tell clean crops from G's outputs; AUC with its 95% interval,
  # beside calibration rows), for G and for G entering the adversarial
  # phase. test_crops: tiles per held-out image (the embedded eval images
  # hold 24-64 tiles of 64 px). The judges train for the meter's default
  # steps: with 400, README's first command's judges caught the Gaussian
  # smoothing of the noisy photographs at AUC 0.842 only, with 600 at 1.000
  # (benchmarks/first_command_meter.py).
  c.eval.realism = configs.realism()
  c.eval.realism.update(dict(seeds=1, batch_size=32,
                             test_crops=64))  # 5 tests (3 calibrations)
  # False skips that final evaluation (evaluation.json, comparison.png),
  # e.g. in a sweep whose runs are judged together afterwards.
  c.eval.final = True
  # What the final evaluation measures (ddn.evaluators); during training
  # only those cheap enough for every evaluation run (psnr).
  c.evals = ("psnr", "realism")
  return c


# ----------------------------------------------------------------------------
# The state and the jitted steps: a generator G (the denoiser) and a
# discriminator D (a classifier of ddn.discriminators), each with its own
# jitted step over one state. D steps touch only the d_* fields, G steps
# only the G fields.


TAG_D_NOISE, TAG_D_DROPOUT = 4, 5
TAG_D_Z = 8  # z of G's outputs in the D step (a G that samples)


@flax.struct.dataclass
class AdversarialState:
  step: jax.Array  # int32: finished iterations (n_d D steps + n_g G steps)
  g_step: jax.Array  # int32: G updates taken (keys G's noise and dropout)
  # G (named as in autoencoder.TrainState: init_from and evaluation read it)
  params: Any
  opt_state: Any  # G's optimizer
  ema: Any  # exponential moving average of G's params; {} when off
  ref: Any  # G before the adversarial phase (frozen: the "no adversary" G)
  d_step: jax.Array  # int32: D updates taken (keys D's noise and dropout)
  d_params: Any
  d_stats: Any  # D's spectral-norm state; {} without spectral norm
  d_opt_state: Any


def init_adversarial_state(rng: jax.Array, g: nn.Module, disc: nn.Module,
                           g_tx: optax.GradientTransformation,
                           d_tx: optax.GradientTransformation, crop: int,
                           ema: bool) -> AdversarialState:
  """A fresh state; `jax.eval_shape` of it is the checkpoint restore target."""
  key = jax.random.fold_in(rng, steps.TAG_INIT)
  dummy = jnp.zeros((1, crop, crop, g.channels), jnp.float32)
  params = g.init(key, dummy, **steps.told(g, 0.0))["params"]
  variables = disc.init(jax.random.fold_in(key, 1),
                        discriminators.condition(disc, dummy, dummy))
  d_params = variables["params"]
  zero = jnp.zeros((), jnp.int32)
  copy = lambda t: jax.tree_util.tree_map(jnp.copy, t)
  return AdversarialState(
      step=zero, g_step=zero, params=params, opt_state=g_tx.init(params),
      ema=copy(params) if ema else {}, ref=copy(params), d_step=zero,
      d_params=d_params, d_stats=variables.get(steps.STATS, {}),
      d_opt_state=d_tx.init(d_params))


def d_train_step(state: AdversarialState, batch: jax.Array, rng: jax.Array, *,
                 g: nn.Module, disc: nn.Module,
                 tx: optax.GradientTransformation, lr_fn: optax.Schedule,
                 noise_spec: noise_lib.NoiseSpec, loss: str, margin: float,
                 skip_nonfinite: bool = False, r1: float = 0.0):
  """One D update on clean images `batch` (B, H, W, C): the B clean images
  (real) and G's outputs for their noisy versions (noise, and z of a G
  that samples, from `fold_in(rng, d_step)`: one sample each; G in
  evaluation mode, clipped to [0, 1], no gradient to G) go through D in one
  call of 2B images, each real image next to its denoised version. `r1` = γ
  > 0 adds the R1 penalty on the real images (steps.disc_update).

  Returns:
    (new state, metrics 'd/loss', 'd/err*', 'd/acc_real', 'd/acc_fake',
     'd/acc', 'd/u_real', 'd/u_fake', 'd/grad_norm', 'd/lr', 'd/r1' with
     r1 > 0, and 'd/skipped' with `skip_nonfinite`, as in
     autoencoder.ae_train_step).
  """
  noisy, sigma = noise_lib.apply_with_sigma(
      batch, steps.step_key(rng, state.d_step, TAG_D_NOISE), noise_spec)
  fake = g.apply({"params": state.params}, noisy, train=False,
                 rngs=steps.z_rngs(g, steps.step_key(rng, state.d_step,
                                                     TAG_D_Z)),
                 **steps.told(g, sigma))
  fake = jnp.clip(jax.lax.stop_gradient(fake), 0.0, 1.0)
  # Interleaved (real 0, fake 0, real 1, ...), not concatenated: each device
  # then scores its own rows, with no resharding of images between devices.
  n = batch.shape[0]
  real_in = discriminators.condition(disc, batch, noisy)
  fake_in = discriminators.condition(disc, fake, noisy)
  x = jnp.stack([real_in, fake_in], axis=1).reshape(
      (2 * n,) + real_in.shape[1:])
  y = jnp.tile(jnp.array([losses.REAL, losses.DENOISED], jnp.float32), n)
  params, stats, opt_state, value, u, extra = steps.disc_update(
      state.d_params, state.d_stats, state.d_opt_state, x, y,
      steps.step_key(rng, state.d_step, TAG_D_DROPOUT), disc=disc, tx=tx,
      loss=loss, margin=margin, skip_nonfinite=skip_nonfinite, r1=r1)
  cm = losses.classification_metrics(u, y)
  metrics = {"d/loss": value, **{f"d/{k}": v for k, v in extra.items()},
             "d/lr": lr_fn(state.d_step),
             "d/err": cm["err"], "d/err_real": cm["err_real"],
             "d/err_fake": cm["err_denoised"], "d/acc": cm["acc"],
             "d/acc_real": cm["acc_real"], "d/acc_fake": cm["acc_denoised"],
             "d/u_real": cm["u_real"], "d/u_fake": cm["u_denoised"]}
  new_state = state.replace(d_step=state.d_step + 1, d_params=params,
                            d_stats=stats, d_opt_state=opt_state)
  return new_state, metrics


def g_terms(params, d_vars, batch: jax.Array, noisy: jax.Array, sigma,
            rngs: dict, weights, *, g: nn.Module, disc: nn.Module | None,
            samples: int, ssd_weight: float, l1_weight: float, g_loss: str,
            margin: float, fm_weight: float = 0.0):
  """G's loss terms (Pred, adversarial) for one batch, and (Pred's parts,
  the mean output (B, ...), the samples (B·K, ...), mean u, the feature-
  matching term). With `samples` = K > 1 every noisy image goes through G
  K times (rows b·K .. b·K + K - 1, independent z from rngs['z']): Pred is
  on the mean of its K samples, the adversarial term on each sample.
  `fm_weight` > 0 adds fm_weight · losses.feature_matching (D's features of
  each sample against those of its clean image) to the adversarial term,
  so the adaptive λ scales both. `disc` None: no adversarial term (0)."""
  if samples > 1:
    noisy = jnp.repeat(noisy, samples, axis=0)
    sigma = jnp.repeat(sigma, samples, axis=0)
  outs = g.apply({"params": params}, noisy, train=True, rngs=rngs,
                 **steps.told(g, sigma))
  mean = outs
  if samples > 1:
    mean = jnp.mean(outs.reshape((-1, samples) + outs.shape[1:]), axis=1)
  pred, parts = losses.reconstruction(mean, batch, ssd_weight, l1_weight,
                                      weights)
  zero = jnp.zeros(())
  if disc is None:
    return (pred, zero), (parts, mean, outs, zero, zero)
  d_vars = {"params": d_vars[0], steps.STATS: d_vars[1]}
  # D's inputs: each sample (noisy is repeated per sample) and, for the
  # relativistic loss, each clean image, beside its noisy input when D is
  # conditional.
  fake_in = discriminators.condition(disc, jnp.clip(outs, 0.0, 1.0), noisy)
  score = lambda x: disc.apply(d_vars, x, train=False)
  u = score(fake_in)
  u_real = (score(discriminators.condition(disc, batch, noisy[::samples]))
            if g_loss == "relativistic" else None)
  adv = losses.generator_loss(g_loss, u, margin, u_real)
  fm = zero
  if fm_weight > 0:
    real = jnp.repeat(batch, samples, axis=0) if samples > 1 else batch
    fm = losses.feature_matching(
        discriminators.features_of(disc, d_vars, fake_in),
        discriminators.features_of(
            disc, d_vars, discriminators.condition(disc, real, noisy)))
    adv = adv + fm_weight * fm
  return (pred, adv), (parts, mean, outs, losses.mean_score(u), fm)


def sample_metrics(batch: jax.Array, outs: jax.Array, samples: int) -> dict:
  """How much G's K samples per image differ ('g/sample_std': the per-pixel
  standard deviation over the samples, averaged over pixels) and a single
  sample's PSNR ('g/psnr_sample'); none for K = 1."""
  if samples == 1:
    return {}
  per = outs.reshape((-1, samples) + outs.shape[1:])
  return {"g/sample_std": jnp.mean(jnp.std(per, axis=1)),
          "g/psnr_sample": jnp.mean(losses.psnr(
              outs, jnp.repeat(batch, samples, axis=0), axis=(1, 2, 3)))}


def g_train_step(state: AdversarialState, batch: jax.Array, rng: jax.Array, *,
                 g: nn.Module, disc: nn.Module | None,
                 tx: optax.GradientTransformation, lr_fn: optax.Schedule,
                 noise_spec: noise_lib.NoiseSpec, ssd_weight: float,
                 l1_weight: float, adv_weight: float, g_loss: str,
                 margin: float, ema_decay: float, n_g: int,
                 adaptive: bool = False, max_weight: float = 0.0,
                 sigma_power: float = 0.0, sigma_floor: float = 5.0,
                 samples: int = 1, skip_nonfinite: bool = False,
                 fm_weight: float = 0.0):
  """One G update on clean images `batch`: loss = a·SSD + b·L1 of G(noisy)
  vs clean (the "Pred" term) + λ · generator_loss(u(G(noisy))), with
  λ = adv_weight, or with `adaptive` (VQGAN's rule) λ = adv_weight ·
  |∇ Pred| / |∇ adversarial| at G's last layer (no gradient through λ),
  at most `max_weight` when that is > 0. `sigma_power` weighs each crop's
  Pred term by its noise level, as in autoencoder.ae_train_step. With
  `samples` = K > 1 (a G that samples) Pred is on the mean of K samples per
  crop, the adversarial term on each (g_terms); `fm_weight` > 0 adds
  feature matching to the adversarial term (g_terms).

  Noise and dropout come from `fold_in(rng, g_step)` with the autoencoder
  step's tags (z with TAG_Z), so with adv_weight = 0 and K = 1 this is the
  autoencoder step. D is applied in evaluation mode (its spectral-norm
  state is read, not advanced) and only G's parameters get gradients.
  `disc=None` is the reconstruction warm-up: no D call at all.

  Returns:
    (new state, metrics 'g/loss', 'g/pred', 'g/ssd', 'g/l1', 'g/adv',
     'g/u_fake', 'g/adv_weight' (λ), 'g/grad_ratio', 'g/psnr' (of the
     mean), 'grad_norm', 'param_norm', 'lr', 'g/sample_std' and
     'g/psnr_sample' with K > 1, 'g/fm' with fm_weight > 0, and
     'skipped' with `skip_nonfinite`, as
     in autoencoder.ae_train_step).
  """
  key = lambda tag: steps.step_key(rng, state.g_step, tag)
  noisy, sigma = noise_lib.apply_with_sigma(batch, key(steps.TAG_NOISE),
                                            noise_spec)
  rngs = {"dropout": key(steps.TAG_DROPOUT),
          **steps.z_rngs(g, key(steps.TAG_Z))}
  weights = (losses.sigma_weights(sigma, sigma_power, sigma_floor)
             if sigma_power else None)
  terms = functools.partial(
      g_terms, d_vars=(state.d_params, state.d_stats), batch=batch,
      noisy=noisy, sigma=sigma, rngs=rngs, weights=weights, g=g, disc=disc,
      samples=samples, ssd_weight=ssd_weight, l1_weight=l1_weight,
      g_loss=g_loss, margin=margin, fm_weight=fm_weight)
  (pred, adv), vjp, (parts, out, outs, u_fake, fm) = jax.vjp(
      terms, state.params, has_aux=True)
  grads, weight, ratio = steps.weighted_gradient(
      vjp, disc is not None, adv_weight, adaptive, max_weight)
  loss = pred + weight * adv
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  ema = state.ema
  if ema_decay > 0:
    ema = jax.tree_util.tree_map(
        lambda e, p: ema_decay * e + (1.0 - ema_decay) * p, ema, params)
  grad_norm = optax.global_norm(grads)
  extra = sample_metrics(batch, outs, samples)
  if skip_nonfinite:
    (params, opt_state, ema), extra["skipped"] = steps.keep_if_finite(
        loss, grad_norm, (params, opt_state, ema),
        (state.params, state.opt_state, state.ema))
  metrics = {"g/loss": loss, "g/pred": pred, "g/ssd": parts["ssd"],
             "g/l1": parts["l1"], **extra,
             "g/psnr": jnp.mean(losses.psnr(out, batch, axis=(1, 2, 3))),
             "grad_norm": grad_norm,
             "param_norm": optax.global_norm(params),
             "lr": lr_fn(state.g_step)}
  if disc is not None:
    # grad_ratio: the adversarial term's push against reconstruction's at
    # G's last layer (|λ ∇adv| / |∇pred|); ~0: the adversary does nothing.
    metrics.update({"g/adv": adv, "g/u_fake": u_fake, "g/adv_weight": weight,
                    "g/grad_ratio": ratio,
                    **({"g/fm": fm} if fm_weight > 0 else {})})
  g_step = state.g_step + 1
  new_state = state.replace(
      step=state.step + (g_step % n_g == 0).astype(jnp.int32), g_step=g_step,
      params=params, opt_state=opt_state, ema=ema)
  return new_state, metrics


def snapshot_ref(state: AdversarialState) -> AdversarialState:
  """Keeps the current G as the "no adversary" reference."""
  return state.replace(ref=jax.tree_util.tree_map(jnp.copy, state.params))


def make_adversarial_steps(g, disc, g_tx, g_lr_fn, d_tx, d_lr_fn, noise_spec,
                           config, shardings=None):
  """The jitted steps of one iteration, each with state donation:
  {'d': D step, 'g': G step with the adversarial term, 'g_rec': G step on
  reconstruction alone (warm-ups), 'ref': snapshot_ref}.

  The steps take the iteration's stacked batches (n_d + n_g, B, H, W, C):
  the i-th D step of an iteration uses batch i = d_step mod n_d, the G steps
  the batches after those.
  """
  a, lc = config.adv, config.loss
  n_d, n_g = int(a.n_d), int(a.n_g)
  skip = config.train.skip_nonfinite > 0
  d_fn = functools.partial(
      d_train_step, g=g, disc=disc, tx=d_tx, lr_fn=d_lr_fn,
      noise_spec=noise_spec, loss=config.disc.loss,
      margin=float(config.disc.margin), skip_nonfinite=skip,
      r1=float(a.get("r1", 0.0)))
  g_kw = dict(g=g, tx=g_tx, lr_fn=g_lr_fn, noise_spec=noise_spec,
              ssd_weight=float(lc.ssd_weight), l1_weight=float(lc.l1_weight),
              adv_weight=float(a.weight), g_loss=a.g_loss,
              margin=float(config.disc.margin), ema_decay=float(a.ema_decay),
              n_g=n_g, adaptive=bool(a.adaptive),
              max_weight=float(a.get("max_weight", 0.0)),
              sigma_power=float(lc.sigma_power),
              sigma_floor=float(lc.sigma_floor),
              samples=int(a.get("samples", 1)), skip_nonfinite=skip,
              fm_weight=float(a.get("fm_weight", 0.0)))
  g_fn = functools.partial(g_train_step, disc=disc, **g_kw)
  g_rec_fn = functools.partial(g_train_step, disc=None, **g_kw)

  def on_stack(fn, pick):
    return lambda state, stack, rng: fn(state, stack[pick(state)], rng)

  d_pick = lambda s: s.d_step % n_d
  g_pick = lambda s: n_d + s.g_step % n_g
  if shardings is None:
    jit = lambda f: jax.jit(f, donate_argnums=(0,))
    ref = jax.jit(snapshot_ref, donate_argnums=(0,))
  else:
    state_sh, stack_sh, repl = shardings
    jit = lambda f: jax.jit(f, donate_argnums=(0,),
                            in_shardings=(state_sh, stack_sh, repl),
                            out_shardings=(state_sh, repl))
    ref = jax.jit(snapshot_ref, donate_argnums=(0,), in_shardings=(state_sh,),
                  out_shardings=state_sh)
  return {"d": jit(on_stack(d_fn, d_pick)), "g": jit(on_stack(g_fn, g_pick)),
          "g_rec": jit(on_stack(g_rec_fn, g_pick)), "ref": ref}
