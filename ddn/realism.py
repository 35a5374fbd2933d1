"""Realism of a denoiser's outputs, measured by a judge trained from scratch.

A fresh whole-image classifier (`config.eval.realism.disc`, by default the
`disc` of `configs.classifier()`, no spectral norm) learns to separate real crops from
the denoiser's outputs; its error on held-out crops is the realism score:
0.5 means it cannot tell them apart, 0 that it always can. The judge never
saw the run's own discriminator, so a generator that merely fooled that one
gains nothing here.

Training crops come from the training images: the first half are shown as
real, the second half noised (fixed noise), denoised and shown as denoised,
so the judge never sees the same content both ways. Held-out crops come from
the evaluation images, each scored once as real and once denoised.

Finished runs, several judges each (mean and spread of the score):
  python -m ddn.realism --runs=none=runs/a,big=runs/b --seeds=0,1,2
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ddn import configs
from ddn import discriminators
from ddn import losses
from ddn import noise as noise_lib
from ddn import parallel
from ddn import steps
from ddn import tasks

JUDGE_SEED = 30_000  # crops, noise and the judge's init: from seed + this


def denoise_batches(denoise_map: parallel.BatchMap, params,
                    images: np.ndarray, key: jax.Array,
                    spec: noise_lib.NoiseSpec, batch_size: int) -> np.ndarray:
  """Noises `images` (N, H, W, C) with `key` (`fold_in(key, i)` for the
  batch of `batch_size` starting at image i) and returns the clipped outputs
  of `denoise_map(params, noisy)`."""
  noisy = np.concatenate([
      np.asarray(noise_lib.apply(jnp.asarray(images[i:i + batch_size]),
                                 jax.random.fold_in(key, i), spec))
      for i in range(0, len(images), batch_size)])
  return denoise_map(params, noisy)


def validate(cfg, channels: int, crop: int) -> None:
  """Checks `config.eval.realism` (see Judge) before any compute, so a bad
  value fails at the start of a run, not after its training; raises
  ValueError naming the field."""
  checks = [("train_crops", cfg.train_crops >= 2, "must be >= 2 (half are "
             "shown as real, half as denoised)"),
            ("eval_crops", cfg.eval_crops >= 1, "must be >= 1"),
            ("batch_size", cfg.batch_size >= 2, "must be >= 2 (half real, "
             "half denoised)"),
            ("images", cfg.images > 0, "must be > 0"),
            ("lr", cfg.lr > 0, "the learning rate must be > 0, e.g. 1e-3"),
            ("judges", cfg.judges >= 1, "need >= 1 judge")]
  for field, ok, why in checks:
    if not ok:
      raise ValueError(f"config.eval.realism.{field}={cfg[field]}: {why}.")
  try:
    discriminators.from_config(cfg.get("disc") or configs.classifier().disc,
                               channels, crop)
  except ValueError as e:  # its messages name the group config.disc
    raise ValueError(str(e).replace("config.disc",
                                    "config.eval.realism.disc")) from None


class Judge:
  """Trains fresh judges on fixed crops; one call per denoiser to score."""

  def __init__(self, train_crops: np.ndarray, eval_crops: np.ndarray,
               spec: noise_lib.NoiseSpec, cfg, seed: int, mesh=None):
    """cfg: `config.eval.realism` (images, batch_size, lr, disc: the
    judge's architecture, a `config.disc` group; its loss is logistic).
    On `mesh` (default: all devices), the denoising and scoring are split
    over the devices; the judge's own small training runs replicated, every
    device computing the whole batch, so it needs no collectives (see
    ddn.parallel.BatchMap for why the fewer the better on a CPU). It
    computes in float32 whatever config.compute_dtype the run used."""
    if len(train_crops) < 2 or len(eval_crops) < 1:
      raise ValueError(
          "config.eval.realism: the judge needs train_crops >= 2 and "
          f"eval_crops >= 1, got {len(train_crops)} and {len(eval_crops)}.")
    if cfg.batch_size < 2 or cfg.images <= 0 or cfg.lr <= 0:
      raise ValueError(
          "config.eval.realism: batch_size must be >= 2 and images, lr > 0, "
          f"got {cfg.batch_size}, {cfg.images}, {cfg.lr}.")
    self.cfg, self.spec = cfg, spec
    half = len(train_crops) // 2
    self.real, self.to_fake = train_crops[:half], train_crops[half:]
    self.eval_crops = eval_crops
    self.key = jax.random.PRNGKey(seed + JUDGE_SEED)
    channels = train_crops.shape[-1]
    disc_cfg = cfg.get("disc") or configs.classifier().disc
    self.disc = discriminators.from_config(disc_cfg, channels,
                                           train_crops.shape[1])
    self.steps = max(int(cfg.images) // int(cfg.batch_size), 1)
    self.tx = optax.adam(optax.cosine_decay_schedule(float(cfg.lr),
                                                     self.steps, 0.01))
    self.mesh = parallel.make_mesh() if mesh is None else mesh
    self.repl = parallel.replicated(self.mesh)
    self._update = jax.jit(functools.partial(
        steps.disc_update, disc=self.disc, tx=self.tx, loss="logistic",
        margin=1.0), out_shardings=self.repl)
    self._score = parallel.BatchMap(
        lambda p, x: steps.classify(p, {}, x, disc=self.disc), self.mesh,
        int(cfg.batch_size))
    self._denoise_maps = {}  # apply_fn -> its BatchMap

  @classmethod
  def from_sources(cls, train_src, eval_src, spec: noise_lib.NoiseSpec, cfg,
                   crop: int, seed: int, mesh=None) -> "Judge":
    """A judge on `cfg.train_crops` crops of the training images and
    `cfg.eval_crops` of the held-out ones, at positions drawn from `seed`
    (tasks.validation_crops)."""
    pick = lambda src, n: tasks.validation_crops(src, int(n), crop,
                                                 seed + JUDGE_SEED)
    return cls(pick(train_src, cfg.train_crops), pick(eval_src,
                                                      cfg.eval_crops),
               spec, cfg, seed, mesh)

  def _denoise_map(self, apply_fn) -> parallel.BatchMap:
    if apply_fn not in self._denoise_maps:
      self._denoise_maps[apply_fn] = parallel.BatchMap(
          lambda p, x: jnp.clip(apply_fn(p, x), 0.0, 1.0), self.mesh,
          int(self.cfg.batch_size))
    return self._denoise_maps[apply_fn]

  def __call__(self, apply_fn, params) -> dict[str, float]:
    """Realism of apply_fn(params, noisy) -> denoised (a function to trace,
    e.g. ddn.steps.denoise with its model bound; not jitted).

    Returns:
      {'err' (the realism score), 'err_real', 'err_denoised',
       'train_err' (the judge's error on its last training batches)}.
    """
    bs = int(self.cfg.batch_size)
    denoise_map = self._denoise_map(apply_fn)
    fake = denoise_batches(denoise_map, params, self.to_fake,
                           jax.random.fold_in(self.key, 1), self.spec, bs)
    held_fake = denoise_batches(denoise_map, params, self.eval_crops,
                                jax.random.fold_in(self.key, 2), self.spec, bs)
    variables = discriminators.init_variables(
        self.disc, jax.random.fold_in(self.key, 3), self.real.shape[1])
    params_d = jax.device_put(variables["params"], self.repl)
    opt_state = jax.jit(self.tx.init, out_shardings=self.repl)(params_d)
    rng = np.random.default_rng(self.cfg.images)
    half = bs // 2
    y_host = np.concatenate([np.full(half, losses.REAL, np.float32),
                             np.full(bs - half, losses.DENOISED, np.float32)])
    y = parallel.from_host(y_host, self.repl)
    errs = []
    for i in range(self.steps):
      r = rng.integers(0, len(self.real), half)
      f = rng.integers(0, len(fake), bs - half)
      x = parallel.from_host(np.concatenate([self.real[r], fake[f]]),
                             self.repl)
      key = np.asarray(jax.random.fold_in(self.key, 100 + i))
      params_d, _, opt_state, _, u, _ = self._update(
          params_d, {}, opt_state, x, y, key)
      if i >= self.steps - 10:
        errs.append(losses.classification_metrics(u, y)["err"])
    u = np.concatenate([self._score(params_d, self.eval_crops),
                        self._score(params_d, held_fake)])
    n = len(self.eval_crops)
    labels = np.concatenate([np.full(n, losses.REAL),
                             np.full(n, losses.DENOISED)])
    m = losses.classification_metrics(jnp.asarray(u),
                                      jnp.asarray(labels, jnp.float32))
    return {"err": float(m["err"]), "err_real": float(m["err_real"]),
            "err_denoised": float(m["err_denoised"]),
            "train_err": float(np.mean(jax.device_get(errs)))}


def judge_run(workdir: str, seeds: list[int]) -> list[float]:
  """Realism of a finished autoencoder or adversarial run's final G, by one
  fresh judge per seed (crops, noise and the judge's init drawn from it),
  with the run's own data and `eval.realism` settings (an autoencoder run,
  which has none, gets those of configs.adversarial())."""
  import ml_collections  # pylint: disable=g-import-not-at-top
  from ddn import checkpoint  # pylint: disable=g-import-not-at-top
  from ddn import data as data_lib  # pylint: disable=g-import-not-at-top
  from ddn import evaluate  # pylint: disable=g-import-not-at-top
  cfg = ml_collections.ConfigDict(checkpoint.load_config(workdir))
  r = (cfg.eval.realism if "realism" in cfg.eval
       else configs.adversarial().eval.realism)
  crop = int(cfg.data.crop)
  train_src = data_lib.drop_small(data_lib.load_source(cfg.data.train,
                                                       cfg.data), crop)
  eval_src = data_lib.load_source(cfg.data.eval, cfg.data)
  spec = tasks.eval_noise_spec(cfg, noise_lib.spec_from_config(cfg.noise))
  g = evaluate.Denoiser(workdir)
  apply_fn = functools.partial(steps.denoise, model=g.model)
  return [Judge.from_sources(train_src, eval_src, spec, r, crop, s)(
      apply_fn, g.params)["err"] for s in seeds]


def main(argv):
  """python -m ddn.realism --runs=LABEL=WORKDIR,... --seeds=0,1,2"""
  from absl import flags  # pylint: disable=g-import-not-at-top
  from ddn import figures  # pylint: disable=g-import-not-at-top
  from ddn import runtime  # pylint: disable=g-import-not-at-top
  del argv
  runtime.setup()
  seeds = [int(s) for s in flags.FLAGS.seeds]
  for label, workdir in figures.parse_runs(flags.FLAGS.runs).items():
    errs = judge_run(workdir, seeds)
    sd = np.std(errs, ddof=1) if len(errs) > 1 else 0.0
    print(f"{label}: realism {np.mean(errs):.3f} ± {sd:.3f} (mean ± sd over {len(errs)} judges: "
          f"{', '.join(f'{e:.3f}' for e in errs)})", flush=True)


if __name__ == "__main__":
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags.DEFINE_list("runs", None, "WORKDIR or LABEL=WORKDIR, ...")
  flags.DEFINE_list("seeds", ["0", "1", "2"], "Judge seeds.")
  flags.mark_flags_as_required(["runs"])
  app.run(main)
