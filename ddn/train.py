"""The host training loop, shared by every task (ddn.tasks).

`train_and_evaluate(config, workdir)`: validates the config before any
compute, resumes from the workdir's latest checkpoint (else `init_from`,
else scratch), runs the task's jitted step over a data-parallel mesh of all
devices, logs averaged training metrics every `log.every_images`, evaluates
held-out data (the task's evaluator) every `eval.every_images`, checkpoints
every `train.checkpoint_every_images` and at the end, and keeps a
learning-curve PNG up to date. All intervals are in images seen.

Several processes (hosts of a TPU pod slice, after
`jax.distributed.initialize`) run this same loop in lockstep: each makes its
own rows of every global batch (ddn.parallel), all take part in steps,
evaluation and checkpoints (orbax coordinates the writes), and only process
0 writes the config, metrics, plots, images and records.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import jax
import ml_collections
import numpy as np

from ddn import checkpoint
from ddn import configs
from ddn import data as data_lib
from ddn import logs
from ddn import optim
from ddn import parallel
from ddn import plots
from ddn import tasks


COMPUTE_DTYPES = ("float32", "bfloat16")


class Setup:
  """What every task shares, built from a validated config before any
  compute: data checks, optimizer and schedule, intervals, the mesh (over
  `devices`, default all devices of all processes)."""

  def __init__(self, config: ml_collections.ConfigDict,
               devices: list[jax.Device] | None = None):
    configs.validate(config)  # unknown fields, wrong types
    self.config = config
    dtype = config.compute_dtype
    if dtype not in COMPUTE_DTYPES:
      raise ValueError(f"config.compute_dtype={dtype!r}: valid values are "
                       f"{', '.join(COMPUTE_DTYPES)} (bfloat16: activations "
                       "in bfloat16, parameters and losses in float32).")
    d = config.data
    if d.crop <= 0:
      raise ValueError(f"config.data.crop={d.crop}: the crop must be > 0 "
                       "pixels, e.g. 48.")
    if d.batch_size <= 0:
      raise ValueError(f"config.data.batch_size={d.batch_size}: must be > 0.")
    self.mesh = parallel.make_mesh(devices)
    n_dev = self.mesh.devices.size
    if d.batch_size % n_dev:
      raise ValueError(
          f"config.data.batch_size={d.batch_size} (the global batch) is not "
          f"divisible by the {n_dev} devices; use a multiple of {n_dev}, "
          f"e.g. --config.data.batch_size={-(-d.batch_size // n_dev) * n_dev}.")
    data_lib.validate_augment(d.augment)
    for field in ("total_images", "checkpoint_every_images"):
      if config.train[field] <= 0:
        raise ValueError(f"config.train.{field}={config.train[field]}: must "
                         "be > 0.")
    for group in ("log", "eval"):
      if config[group].every_images <= 0:
        raise ValueError(f"config.{group}.every_images must be > 0.")
    bs = int(d.batch_size)
    self.lr_fn = optim.schedule(config.optim, bs, config.train.total_images)
    self.tx = optim.optimizer(config.optim, self.lr_fn)
    self.total_steps = optim.steps_for(config.train.total_images, bs)
    self.log_every = max(optim.steps_for(config.log.every_images, bs), 1)
    self.eval_every = max(optim.steps_for(config.eval.every_images, bs), 1)
    self.ckpt_every = max(
        optim.steps_for(config.train.checkpoint_every_images, bs), 1)
    parse = data_lib.parse_source
    parse(d.train)
    parse(d.eval)

    self.repl = parallel.replicated(self.mesh)
    self.batch_sharding = parallel.batch_sharding(self.mesh)


def _saved_config(workdir: str) -> dict | None:
  if not os.path.exists(os.path.join(workdir, "config.json")):
    return None
  return checkpoint.load_config(workdir)


def _config_diff(old: dict, new: dict, prefix: str = "") -> list[str]:
  """Dotted names of the fields that differ between two config dicts."""
  out = []
  for k in sorted(set(old) | set(new)):
    a, b = old.get(k), new.get(k)
    if isinstance(a, dict) and isinstance(b, dict):
      out += _config_diff(a, b, f"{prefix}{k}.")
    elif a != b:
      out.append(f"{prefix}{k}")
  return out


def _save_config(new: dict, old: dict | None, workdir: str):
  """Writes `new` as config.json, keeping a different `old` as config.prev."""
  path = os.path.join(workdir, "config.json")
  if old is not None and old != new:
    logging.warning("config differs from the one saved in %s; the new one "
                    "replaces it (the old is kept as config.prev.json).", path)
    os.replace(path, os.path.join(workdir, "config.prev.json"))
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(new, f, indent=2, sort_keys=True)
  os.replace(tmp, path)


def _check_writable(workdir: str):
  try:
    os.makedirs(workdir, exist_ok=True)
    probe = os.path.join(workdir, f".write_test.{jax.process_index()}")
    with open(probe, "w") as f:
      f.write("ok")
    os.remove(probe)
  except OSError as e:
    raise ValueError(f"workdir {workdir!r} is not writable ({e}); choose "
                     "another --workdir.") from None


class Diverged(FloatingPointError):
  """A non-finite training metric; `step` is the first step that had one."""

  def __init__(self, message: str, step: int):
    super().__init__(message)
    self.step = step


DIVERGED_RECORD = "diverged.json"


def _mean_metrics(pending: list[dict[str, Any]], first_step: int,
                  ckpt_hint: str) -> dict[str, float]:
  """Averages fetched per-step metrics; stops on any non-finite value."""
  fetched = jax.device_get(pending)
  for i, m in enumerate(fetched):
    bad = [k for k, v in m.items() if not np.isfinite(v)]
    if bad:
      raise Diverged(
          f"diverged at step {first_step + i + 1}: non-finite "
          f"{', '.join(bad)} (window "
          f"of steps {first_step + 1}-{first_step + len(fetched)}); stopping. "
          f"{ckpt_hint} Try a lower config.optim.lr or "
          "config.optim.grad_clip > 0.", first_step + i + 1)
  # Keys may come and go within a window (the adversarial run's D metrics
  # start after its warm-up): each is averaged over the steps that have it.
  keys = dict.fromkeys(k for m in fetched for k in m)
  return {k: float(np.mean([m[k] for m in fetched if k in m])) for k in keys}


def init_or_restore(setup: Setup, task, mngr, rng,
                    changed: tuple[str, ...] = ()) -> tuple[object, str]:
  """Latest checkpoint of this workdir, else a fresh state (with the task's
  `init_from`).

  `changed` names the config fields that differ from the workdir's saved
  config, for the error when the checkpoint no longer fits.
  """
  init = lambda: task.init(rng)
  abstract = parallel.placed(jax.eval_shape(init), setup.repl)
  last = mngr.latest_step()
  if last is not None:
    try:
      checkpoint.check_restorable(mngr, last, abstract, "the checkpoint",
                                  task.model_field)
    except ValueError as e:
      what = (f" (changed since it was saved: {', '.join(changed)})"
              if changed else "")
      raise ValueError(
          f"the checkpoint at step {last} in {mngr.directory} does not fit "
          f"this config{what}: {e} Resume with the config it was trained "
          "with (its config.json) or use a new --workdir; nothing was "
          "changed.") from None
    state = checkpoint.restore(mngr, abstract)
    return state, f"resumed from step {last}"
  state = jax.jit(init, out_shardings=setup.repl)()
  return task.start(state)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       devices: list[jax.Device] | None = None):
  """Trains `config.task` in `workdir`, resuming if it has checkpoints.

  Args:
    devices: the devices of the data-parallel mesh (default: all devices of
      all processes).

  Returns:
    The final state.
  """
  setup = Setup(config, devices)  # config errors: here, before any compute
  task = tasks.build(config, setup)
  # Reads only: a missing init_from fails before the workdir is touched.
  task.attach(workdir, resuming=checkpoint.has_checkpoint(workdir))
  _check_writable(workdir)
  train_src = data_lib.drop_small(
      data_lib.load_source(config.data.train, config.data), config.data.crop)
  eval_src = data_lib.load_source(config.data.eval, config.data)
  task.check_sources(train_src, eval_src)

  bs = int(config.data.batch_size)
  rng = jax.random.PRNGKey(config.seed)
  mngr = checkpoint.manager(workdir, config.train.max_to_keep)
  saved = _saved_config(workdir)
  resolved = json.loads(config.to_json_best_effort())
  changed = tuple(_config_diff(saved, resolved)) if saved else ()
  try:
    state, how = init_or_restore(setup, task, mngr, rng, changed)
  except Exception:
    mngr.close()
    raise
  primary = parallel.is_primary()
  if primary:
    _save_config(resolved, saved, workdir)  # only once the state fits
  start = int(state.step)
  logging.info("%s; %s; %d devices in %d process(es), %s; training %s "
               "(%d images) for steps %d..%d of batch %d.", how,
               task.describe(state), setup.mesh.devices.size,
               jax.process_count(), config.compute_dtype,
               train_src.name, len(train_src), start, setup.total_steps, bs)

  train_step = task.make_step((setup.repl, setup.batch_sharding, setup.repl),
                              start)
  evaluator = task.evaluator(eval_src)
  writer = logs.Writer(workdir) if primary else logs.NullWriter()
  k = getattr(task, "batches_per_step", 1)
  # This process's rows of each global batch; k > 1: k batches per step,
  # stacked (k, B, ...), each split over the devices.
  rows = parallel.process_rows(setup.mesh, bs)
  crops = data_lib.train_batches(
      train_src, start, bs * k, config.data.crop, config.data.augment,
      config.seed, config.data.prefetch,
      rows=[i * bs + r for i in range(k) for r in rows])
  crop_shape = (config.data.crop, config.data.crop, int(config.data.channels))
  if k > 1:
    batch_sharding = parallel.batch_sharding(setup.mesh, leading=1)
    shape, local = (k, bs) + crop_shape, (k, len(rows)) + crop_shape
  else:
    batch_sharding = setup.batch_sharding
    shape, local = (bs,) + crop_shape, (len(rows),) + crop_shape
  batches = (parallel.global_batch(b.reshape(local), batch_sharding, shape)
             for b in crops)
  rng = jax.device_put(rng, setup.repl)

  def ckpt_hint():
    last = mngr.latest_step()
    return (f"Last good checkpoint: step {last} in {workdir}/checkpoints."
            if last is not None else "No checkpoint was written yet.")

  pending, window_start = [], start
  t_log, steps_since = time.time(), 0
  data_wait = 0.0
  try:
    for step in range(start, setup.total_steps):
      t0 = time.time()
      batch = next(batches)
      data_wait += time.time() - t0
      state, metrics = train_step(state, batch, rng)
      pending.append(metrics)
      steps_since += 1
      done = step + 1
      last = done == setup.total_steps
      if done % setup.log_every == 0 or last:
        m = _mean_metrics(pending, window_start, ckpt_hint())
        pending, window_start = [], done
        dt = time.time() - t_log
        ips = steps_since * bs / max(dt, 1e-9)
        m["perf/images_per_sec"] = ips
        m["perf/data_wait_fraction"] = data_wait / max(dt, 1e-9)
        writer.scalars(done, done * bs, {f"train/{k}" if not k.startswith(
            "perf") else k: v for k, v in m.items()})
        eta = (setup.total_steps - done) * bs / max(ips, 1e-9)
        logging.info("step %d/%d  images %d  %s  lr %.2e  %.1f img/s  ETA %s",
                     done, setup.total_steps, done * bs, task.log_line(m),
                     m["lr"], ips, _fmt_time(eta))
        t_log, steps_since, data_wait = time.time(), 0, 0.0
      evaluating = done % setup.eval_every == 0 or last
      saving = done % setup.ckpt_every == 0 or last
      if pending and (evaluating or saving):
        # Never evaluate, plot or checkpoint unchecked (maybe non-finite) steps.
        _mean_metrics(pending, window_start, ckpt_hint())
      if evaluating:
        vm, grid_img = evaluator(state)
        writer.scalars(done, done * bs, vm)
        if grid_img is not None and primary:
          writer.image(done, done * bs, "val/noisy_output_clean", grid_img)
          plots.save_image(grid_img, os.path.join(
              workdir, "images", f"val_{done * bs:09d}.png"))
        if primary:
          task.plot(writer.path, workdir)
        logging.info("eval at %d images: %s", done * bs, task.eval_line(vm))
        t_log, steps_since, data_wait = time.time(), 0, 0.0
      if saving:
        checkpoint.save(mngr, done, state)
  except Diverged as e:
    # The record a sweep (or a person) reads; checkpoints are untouched.
    if primary:
      with open(os.path.join(workdir, DIVERGED_RECORD), "w") as f:
        json.dump({"step": e.step, "images": e.step * bs, "why": str(e)}, f,
                  indent=2)
    raise
  finally:
    crops.close()
    writer.close()
    mngr.wait_until_finished()
    mngr.close()
  stale = os.path.join(workdir, DIVERGED_RECORD)
  if primary and os.path.exists(stale):  # an earlier attempt diverged
    os.remove(stale)
  if start >= setup.total_steps:
    logging.info("already trained for %d steps; nothing to train.", start)
  if primary:
    task.plot(writer.path, workdir)
  if hasattr(task, "finish"):
    task.finish(state, workdir, train_src, eval_src)
  return state


def _fmt_time(seconds: float) -> str:
  seconds = int(seconds)
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"
