"""The adversarial task: the denoiser trained against a discriminator.

G is the denoising autoencoder, D a classifier of ddn.discriminators (whole
image or patches). One iteration runs `adv.n_d` D steps, then `adv.n_g` G
steps that see the updated D (ddn.steps.make_adversarial_steps); each step
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

import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
import ml_collections
import numpy as np

from ddn import checkpoint
from ddn import data as data_lib
from ddn import discriminators
from ddn import inference
from ddn import losses
from ddn import models
from ddn import noise as noise_lib
from ddn import optim
from ddn import parallel
from ddn import plots
from ddn import realism
from ddn import steps
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
    crop = int(cfg.realism.crop)
    if sum(min(np.shape(train_src[i])[:2]) >= crop
           for i in range(len(train_src))) < 2:
      raise ValueError(
          f"config.eval.realism.crop={crop}: fewer than 2 training images "
          "are that large; lower it.")

  def attach(self, workdir: str, resuming: bool) -> None:
    self.workdir = workdir
    src = self.config.train.init_from
    if src and not (checkpoint.has_checkpoint(src) or base.is_shipped(src)):
      raise ValueError(
          f"config.train.init_from={src!r} has no checkpoint: give the "
          "workdir of a trained autoencoder (python launch.py "
          f"--config=experiments/ae.py --workdir={src}) or a shipped model "
          f"({', '.join(inference.shipped_models())}), or leave it empty "
          "to start G from scratch with a reconstruction warm-up.")
    if src and not resuming:  # G's parameters must fit, before any write
      expected = jax.eval_shape(self.init, jax.random.PRNGKey(0)).params
      base.check_init_from(self.config, expected)

  def init(self, rng: jax.Array) -> steps.AdversarialState:
    return steps.init_adversarial_state(
        rng, self.model, self.disc, self.setup.tx, self.d_tx,
        self.config.data.crop, ema=self.config.adv.ema_decay > 0)

  def start(self, state: steps.AdversarialState):
    src = self.config.train.init_from
    plan = self.phases.describe(int(self.config.data.batch_size))
    if not src:
      return state, f"G from scratch; {plan}"
    params, step = base.load_params_into(src, state.params,
                                         f"init_from={src!r}", self.setup.repl)
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
    """The jitted steps of ddn.steps.make_adversarial_steps for this config
    and the sharding of their stacked batches: ({'d', 'g', 'g_rec',
    'ref'}, stack sharding), with `shardings` = (state, batch, replicated)."""
    state_sh, batch_sh, repl = shardings
    stack_sh = jax.sharding.NamedSharding(
        batch_sh.mesh, jax.sharding.PartitionSpec(None, *batch_sh.spec))
    fns = steps.make_adversarial_steps(
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
    """D's scores of each clean crop and of G's output for its noisy one."""
    g_params, d_params, d_stats = params
    fake = jnp.clip(self.task.model.apply(
        {"params": g_params}, noisy, train=False,
        **steps.told(self.task.model, self.sigma)), 0.0, 1.0)
    score = lambda x: steps.classify(d_params, d_stats, x, disc=self.task.disc)
    return score(clean), score(fake)

  def __call__(self, state):
    g = self.task.g_params(state)
    metrics, grid = self.images(g)
    u_real, u_fake = self._scores((g, state.d_params, state.d_stats),
                                  self.clean, self.noisy)
    n = len(u_real)
    y = np.concatenate([np.full(n, losses.REAL), np.full(n, losses.DENOISED)])
    dm = losses.classification_metrics(jnp.asarray(np.concatenate(
        [u_real, u_fake])), jnp.asarray(y, jnp.float32))
    metrics.update({"val/d_err": float(dm["err"]),
                    "val/d_err_real": float(dm["err_real"]),
                    "val/d_err_fake": float(dm["err_denoised"]),
                    "val/d_u_real": float(dm["u_real"]),
                    "val/d_u_fake": float(dm["u_denoised"])})
    return metrics, grid


def realism_data(task: AdversarialTask, train_src, eval_src,
                 images: base.ImageEvaluator | None = None) -> realism.Data:
  """The realism test's images: up to `eval.realism.tune_images` training
  images (evenly spaced, those at least the judges' crop) and every eval
  image, noised as in evaluation (fixed noise)."""
  cfg = task.config
  r = cfg.eval.realism
  crop = int(r.crop)
  big = [i for i in range(len(train_src))
         if min(np.shape(train_src[i])[:2]) >= crop]
  if len(big) < 2:
    raise ValueError(
        f"config.eval.realism.crop={crop}: fewer than 2 training images "
        f"({train_src.name}) are that large; lower the crop.")
  pick = np.linspace(0, len(big) - 1, min(int(r.tune_images), len(big)))
  tune = [np.asarray(train_src[big[int(i)]], np.float32)
          for i in sorted(set(pick.round().astype(int)))]
  spec = base.eval_noise_spec(cfg, task.noise_spec)
  key = jax.random.PRNGKey(cfg.seed + realism.REALISM_SEED)
  tune_noisy = [np.asarray(noise_lib.apply(
      jnp.asarray(c)[None], jax.random.fold_in(key, i), spec))[0]
                for i, c in enumerate(tune)]
  images = images or base.ImageEvaluator(
      task.model, cfg, task.noise_spec, task.setup.mesh, eval_src,
      len(eval_src))
  return realism.Data(tune, tune_noisy, [c[0] for c in images.images],
                      [x[0] for x in images.noisy])


def final_evaluation(task: AdversarialTask, state, train_src, eval_src,
                     workdir: str) -> dict:
  """PSNR on the eval images and realism (ddn.realism, with its calibration
  rows) of G and of `ref` (G before the adversarial phase); writes
  comparison.png."""
  cfg = task.config
  images = base.ImageEvaluator(task.model, cfg, task.noise_spec,
                               task.setup.mesh, eval_src, len(eval_src))
  data = realism_data(task, train_src, eval_src, images)
  meter = realism.Meter(data, cfg.eval.realism, int(cfg.seed))
  denoise = jax.jit(functools.partial(steps.denoise, sigma=images.sigma,
                                      model=task.model))
  labels = {"ref": "G entering the adversarial phase", "g": "final G"}
  record = {"images": len(images.images), "data": eval_src.name,
            "tune_images": len(data.tune_clean), "tune_data": train_src.name,
            "realism_settings": cfg.eval.realism.to_dict(),
            "psnr_noisy": float(np.mean(images.psnr_noisy)),
            "calibration": meter.calibrate()}
  outputs = {}
  for name, params in (("ref", state.ref), ("g", task.g_params(state))):
    _, psnr, outs = images.run(params)
    outputs[name] = [np.clip(o[0], 0, 1) for o in outs]
    judged = meter.judge_fn(
        lambda x, p=params: np.asarray(denoise(p, jnp.asarray(x)[None]))[0],
        test_out=outputs[name])
    record[name] = {"label": labels[name], "psnr": float(np.mean(psnr)),
                    **realism.record_fields(judged, "realism_")}
  columns = [("noisy", [np.clip(x[0], 0, 1) for x in images.noisy]),
             ("entering the adversarial phase", outputs["ref"]),
             ("final", outputs["g"]),
             ("clean", [c[0] for c in images.images])]
  if parallel.is_primary():
    plots.comparison(columns, os.path.join(workdir, "comparison.png"),
                     title=(f"PSNR {record['ref']['psnr']:.2f} -> "
                            f"{record['g']['psnr']:.2f} dB; realism AUC "
                            f"{record['ref']['realism_auc']:.3f} -> "
                            f"{record['g']['realism_auc']:.3f} "
                            "(0.5 = indistinguishable from clean)"))
  return record
