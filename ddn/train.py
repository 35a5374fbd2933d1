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
import shutil
import signal
import threading
import time
from typing import Any

import jax
import ml_collections
import numpy as np

from ddn import checkpoint
from ddn import config_check
from ddn import configs
from ddn import data as data_lib
from ddn import logs
from ddn import optim
from ddn import parallel
from ddn import plots
from ddn import tasks


COMPUTE_DTYPES = ("float32", "bfloat16")
# The learning-curve figures are redrawn at an evaluation at most this often
# (drawing them costs about a second), and always when the run ends.
PLOT_EVERY_SECS = 60.0


class Setup:
  """What every task shares, built from a validated config before any
  compute: data checks, optimizer and schedule, intervals, the mesh (over
  `devices`, default all devices of all processes)."""

  def __init__(self, config: ml_collections.ConfigDict,
               devices: list[jax.Device] | None = None):
    config_check.validate(config)  # unknown fields, wrong types
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
    for field in ("total_images", "checkpoint_every_images", "max_to_keep"):
      if config.train[field] <= 0:
        raise ValueError(f"config.train.{field}={config.train[field]}: must "
                         "be > 0.")
    if config.train.skip_nonfinite < 0:
      raise ValueError(
          f"config.train.skip_nonfinite={config.train.skip_nonfinite}: must "
          "be >= 0 (0: stop at a non-finite loss; N: skip up to N such "
          "updates in a row).")
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
  """The workdir's config.json, with the fields added since it was saved
  (configs.ADDED_FIELDS) at the value it had; None without one."""
  if not os.path.exists(os.path.join(workdir, "config.json")):
    return None
  return configs.with_added_fields(checkpoint.load_config(workdir))


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


def _check_space(workdir: str, state, keep: int) -> None:
  """Refuses to start when the workdir's disk cannot hold one checkpoint of
  `state`; warns when it cannot hold `keep` + 1 (orbax writes the next
  before it deletes the oldest)."""
  size = sum(x.nbytes for x in jax.tree_util.tree_leaves(state))
  free = shutil.disk_usage(workdir).free
  mb = lambda n: f"{n / 2**20:.1f} MB"
  if free < size:
    raise ValueError(
        f"the disk of workdir {workdir!r} has {mb(free)} free, less than one "
        f"checkpoint ({mb(size)}); free space or choose another --workdir.")
  if free < (keep + 1) * size:
    logging.warning("the disk of workdir %s has %s free; %d checkpoints of "
                    "%s (config.train.max_to_keep=%d, plus the one being "
                    "written) will not fit.", workdir, mb(free), keep + 1,
                    mb(size), keep)


class Diverged(FloatingPointError):
  """A non-finite training metric; `step` is the first step that had one."""

  def __init__(self, message: str, step: int):
    super().__init__(message)
    self.step = step


class Preempted(Exception):
  """Training stopped on SIGTERM or SIGINT after checkpointing its step."""


class WorkdirError(Exception):
  """The workdir could not be written during training (disk full, gone,
  read-only); the checkpoints written before are intact."""


DIVERGED_RECORD = "diverged.json"


class Window:
  """The training metrics of the steps since the last log line.

  Each step's metrics are fetched and checked once (`check`): a non-finite
  value stops the run (`Diverged`), unless the step skipped its update
  (a '*skipped' metric, config.train.skip_nonfinite > 0), which is counted
  and stops the run only after more than `skip_limit` in a row. The checked
  steps and the counts are part of each checkpoint (`host`), so a run
  resumed mid-window logs the same averages as one that never stopped.
  """

  def __init__(self, start: int, skip_limit: int, host: dict | None = None):
    self.start, self.skip_limit = start, skip_limit
    self.checked: list[dict[str, float]] = []
    self.queued: list[Any] = []  # device metrics not fetched yet
    self.skipped = self.in_a_row = 0
    if host and host["start"] + len(host["metrics"]) == start:
      self.start = host["start"]  # the window the checkpoint was taken in
      self.checked = [dict(m) for m in host["metrics"]]
      self.skipped, self.in_a_row = host["skipped"], host["in_a_row"]

  def add(self, metrics: dict[str, Any]) -> None:
    self.queued.append(metrics)

  def check(self, hint: str) -> None:
    if not self.queued:
      return
    fetched, self.queued = jax.device_get(self.queued), []
    first = self.start + len(self.checked) + 1
    window = f"window of steps {first}-{first + len(fetched) - 1}"
    for i, m in enumerate(fetched):
      m = {k: float(v) for k, v in m.items()}  # float64 means, exact in JSON
      bad = [k for k, v in m.items() if not np.isfinite(v)]
      if any(m[k] for k in m if k.endswith("skipped")):
        self.skipped += 1
        self.in_a_row += 1
        if self.in_a_row > self.skip_limit:
          raise Diverged(
              f"diverged: {self.in_a_row} updates in a row had non-finite "
              f"values and were skipped, the last at step {first + i} "
              f"({window}; config.train.skip_nonfinite={self.skip_limit}); "
              f"stopping. {hint} Try a lower config.optim.lr or "
              "config.optim.grad_clip > 0.", first + i)
        m = {k: None if k in bad else v for k, v in m.items()}
      elif bad:
        raise Diverged(
            f"diverged at step {first + i}: non-finite {', '.join(bad)} "
            f"({window}); stopping. {hint} Try a lower config.optim.lr or "
            "config.optim.grad_clip > 0 (or config.train.skip_nonfinite > 0 "
            "to skip such updates).", first + i)
      else:
        self.in_a_row = 0
      self.checked.append(m)

  def close(self, hint: str) -> dict[str, float]:
    """Checks the queued steps and returns the window's means; the next
    window starts after them."""
    self.check(hint)
    steps = self.checked
    # Keys may come and go within a window (the adversarial run's D metrics
    # start after its warm-up): each is averaged over the steps that have it
    # (None: a skipped update's non-finite value; NaN if there is no other).
    keys = dict.fromkeys(k for m in steps for k in m)
    out = {}
    for k in keys:
      values = [m[k] for m in steps if m.get(k) is not None]
      out[k] = float(np.mean(values)) if values else float("nan")
    if self.skip_limit:
      out["skipped_total"] = float(self.skipped)
    self.start += len(steps)
    self.checked = []
    return out

  def host(self) -> dict:
    """The checked window and counts (call `check` first)."""
    assert not self.queued
    return {"start": self.start, "metrics": self.checked,
            "skipped": self.skipped, "in_a_row": self.in_a_row}


class StopSignals:
  """SIGTERM (preemption) and SIGINT (Ctrl-C, a notebook's interrupt) during
  training: the run finishes its step, checkpoints and stops (`Preempted`).
  A second signal stops at once.

  With several processes JAX's preemption service owns SIGTERM and all
  processes agree on the step to stop at
  (`multihost_utils.reached_preemption_sync_point`); SIGINT is left alone.
  """

  def __init__(self):
    self.received: str | None = None
    self._old = {}

  def __enter__(self):
    if (jax.process_count() == 1
        and threading.current_thread() is threading.main_thread()):
      for sig in (signal.SIGTERM, signal.SIGINT):
        self._old[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc):
    for sig, handler in self._old.items():
      signal.signal(sig, handler)
    self._old = {}

  def _handle(self, signum, frame):
    name = signal.Signals(signum).name
    if self.received is not None:  # the second signal: the usual behaviour
      old = self._old.pop(signum)
      signal.signal(signum, old)
      if callable(old):
        old(signum, frame)
      else:
        os.kill(os.getpid(), signum)
      return
    self.received = name
    logging.warning("%s: finishing this step, then checkpointing and "
                    "stopping (send it again to stop at once).", name)

  def requested(self, step: int) -> bool:
    if jax.process_count() > 1:
      from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
      if multihost_utils.reached_preemption_sync_point(step):
        self.received = "a preemption notice"
    return self.received is not None


def fresh_state(setup: Setup, task, rng):
  """`task.init(rng)` replicated over the mesh, compiled as a program that
  runs once (parallel.run_once_options)."""
  return jax.jit(task.init, out_shardings=setup.repl,
                 compiler_options=parallel.run_once_options())(rng)


def init_or_restore(setup: Setup, task, mngr, rng,
                    changed: tuple[str, ...] = ()) -> tuple[object, dict, str]:
  """The latest intact checkpoint of this workdir (corrupt ones are moved
  aside with a warning), else a fresh state (with the task's `init_from`).

  `changed` names the config fields that differ from the workdir's saved
  config, for the error when the checkpoint no longer fits.

  Returns:
    (state, host record of the checkpoint or {}, how it started).
  """
  abstract = parallel.placed(jax.eval_shape(task.init, rng), setup.repl)

  def target_for(step, tree):
    try:
      checkpoint.check_restorable(tree, abstract, "the checkpoint",
                                  task.model_field)
    except ValueError as e:
      what = (f" (changed since it was saved: {', '.join(changed)})"
              if changed else "")
      raise ValueError(
          f"the checkpoint at step {step} in {mngr.directory} does not fit "
          f"this config{what}: {e} Resume with the config it was trained "
          "with (its config.json) or use a new --workdir; nothing was "
          "changed.") from None
    return abstract

  found = checkpoint.restore_latest(mngr, target_for)
  if found is not None:
    state, host, step = found
    return state, host, f"resumed from step {step}"
  state, how = task.start(fresh_state(setup, task, rng))
  return state, {}, how


class _Clock:
  """Wall time and data wait since the last log line or evaluation."""

  def __init__(self):
    self.reset()

  def reset(self) -> None:
    self.t, self.steps, self.data_wait = time.time(), 0, 0.0

  def next_batch(self, batches):
    t0 = time.time()
    batch = next(batches)
    self.data_wait += time.time() - t0
    self.steps += 1
    return batch


class Run:
  """One training run of `config.task` in `workdir`, prepared by the
  constructor (config, task, data, state: every check before anything is
  written but the config) and trained by `train()`."""

  def __init__(self, config: ml_collections.ConfigDict, workdir: str,
               devices: list[jax.Device] | None = None):
    self.config, self.workdir = config, workdir
    self.setup = Setup(config, devices)  # config errors: before any compute
    self.task = tasks.build(config, self.setup)
    # Reads only: a missing init_from or bad data fails before the workdir
    # is touched.
    self.task.attach(workdir, resuming=checkpoint.has_checkpoint(workdir))
    self.train_src = data_lib.drop_small(
        data_lib.load_source(config.data.train, config.data), config.data.crop)
    self.eval_src = data_lib.load_source(config.data.eval, config.data)
    self.task.check_sources(self.train_src, self.eval_src)
    _check_writable(workdir)
    self.bs = int(config.data.batch_size)
    self.primary = parallel.is_primary()
    self.mngr = checkpoint.manager(workdir, config.train.max_to_keep)
    try:
      host = self._restore()
    except Exception:
      self.mngr.close()
      raise
    self.start = int(self.state.step)
    self.task.load_host_state(host.get("task", {}), self.start)
    self.window = Window(self.start, int(config.train.skip_nonfinite),
                         host.get("window"))
    self.plotted = time.time()  # the figures are drawn at the end anyway

  def _restore(self) -> dict:
    """Sets self.state (resumed, else fresh) and saves the config once it
    fits; returns the checkpoint's host record ({} when fresh)."""
    config, workdir, setup = self.config, self.workdir, self.setup
    saved = _saved_config(workdir)
    resolved = json.loads(config.to_json_best_effort())
    changed = tuple(_config_diff(saved, resolved)) if saved else ()
    self.state, host, how = init_or_restore(
        setup, self.task, self.mngr, jax.random.PRNGKey(config.seed), changed)
    _check_space(workdir, self.state, int(config.train.max_to_keep))
    if self.primary:
      _save_config(resolved, saved, workdir)  # only once the state fits
    logging.info("%s; %s; %d devices in %d process(es), %s; training %s "
                 "(%d images) for steps %d..%d of batch %d.", how,
                 self.task.describe(self.state), setup.mesh.devices.size,
                 jax.process_count(), config.compute_dtype,
                 self.train_src.name, len(self.train_src),
                 int(self.state.step), setup.total_steps, self.bs)
    return host

  def _batches(self):
    """(the crop iterator, to close; the global batches of the steps from
    self.start). k = task.batches_per_step > 1: k batches per step, stacked
    (k, B, ...), each split over the devices."""
    config, setup, bs = self.config, self.setup, self.bs
    k = self.task.batches_per_step
    rows = parallel.process_rows(setup.mesh, bs)  # this process's rows
    crops = data_lib.train_batches(
        self.train_src, self.start, bs * k, config.data.crop,
        config.data.augment, config.seed, config.data.prefetch,
        rows=[i * bs + r for i in range(k) for r in rows])
    crop_shape = (config.data.crop, config.data.crop,
                  int(config.data.channels))
    if k > 1:
      sharding = parallel.batch_sharding(setup.mesh, leading=1)
      shape, local = (k, bs) + crop_shape, (k, len(rows)) + crop_shape
    else:
      sharding = setup.batch_sharding
      shape, local = (bs,) + crop_shape, (len(rows),) + crop_shape
    return crops, (parallel.global_batch(b.reshape(local), sharding, shape)
                   for b in crops)

  def ckpt_hint(self) -> str:
    last = self.mngr.latest_step()
    return (f"Last good checkpoint: step {last} in {self.workdir}/checkpoints."
            if last is not None else "No checkpoint was written yet.")

  def save(self, step: int) -> None:
    self.window.check(self.ckpt_hint())  # never checkpoint unchecked steps
    record = {"window": self.window.host(), "task": self.task.host_state()}
    try:
      checkpoint.save(self.mngr, step, self.state, record)
    except checkpoint.NonFinite as e:
      raise Diverged(f"{e} {self.ckpt_hint()}", step) from None
    except Exception as e:  # pylint: disable=broad-except
      raise WorkdirError(_write_failed(self.workdir, step, e,
                                       self.ckpt_hint())) from e

  def log(self, done: int, clock: _Clock, writer) -> None:
    """The log line of the window ending at step `done`."""
    bs, total = self.bs, self.setup.total_steps
    m = self.window.close(self.ckpt_hint())
    dt = max(time.time() - clock.t, 1e-9)
    ips = clock.steps * bs / dt
    m["perf/images_per_sec"] = ips
    m["perf/data_wait_fraction"] = clock.data_wait / dt
    writer.scalars(done, done * bs, {
        k if k.startswith("perf") else f"train/{k}": v for k, v in m.items()})
    eta = (total - done) * bs / max(ips, 1e-9)
    logging.info("step %d/%d  images %d  %s  lr %.2e  %.1f img/s  ETA %s",
                 done, total, done * bs, self.task.log_line(m), m["lr"], ips,
                 _fmt_time(eta))

  def evaluate(self, done: int, evaluator, writer) -> None:
    """The task's evaluation at step `done`: metrics, grid image, plots."""
    self.window.check(self.ckpt_hint())  # never evaluate unchecked steps
    images = done * self.bs
    metrics, grid_img = evaluator(self.state)
    writer.scalars(done, images, metrics)
    if self.primary:
      if grid_img is not None:
        writer.image(done, images, "val/noisy_output_clean", grid_img)
        plots.save_image(grid_img, os.path.join(
            self.workdir, "images", f"val_{images:09d}.png"))
      last = done == self.setup.total_steps  # _done() draws the last
      if not last and time.time() - self.plotted >= PLOT_EVERY_SECS:
        self.task.plot(writer.path, self.workdir)
        self.plotted = time.time()
    logging.info("eval at %d images: %s", images,
                 self.task.eval_line(metrics))

  def train(self):
    """Steps to config.train.total_images; returns the final state."""
    setup, bs, workdir = self.setup, self.bs, self.workdir
    train_step = self.task.make_step(
        (setup.repl, setup.batch_sharding, setup.repl))
    evaluator = self.task.evaluator(self.eval_src)
    writer = (logs.Writer(workdir, start=(self.start, self.start * bs))
              if self.primary else logs.NullWriter())
    crops, batches = self._batches()
    rng = jax.device_put(jax.random.PRNGKey(self.config.seed), setup.repl)
    clock, stop, done = _Clock(), StopSignals(), self.start
    try:
      with stop:
        for step in range(self.start, setup.total_steps):
          batch = clock.next_batch(batches)
          self.state, metrics = train_step(self.state, batch, rng)
          self.window.add(metrics)
          done = step + 1
          last = done == setup.total_steps
          if done % setup.log_every == 0 or last:
            self.log(done, clock, writer)
            clock.reset()
          if done % setup.eval_every == 0 or last:
            self.evaluate(done, evaluator, writer)
            clock.reset()
          saving = done % setup.ckpt_every == 0 or last
          if saving:
            self.save(done)
          if stop.requested(done):
            if not saving:
              self.save(done)
            raise Preempted(
                f"stopped by {stop.received} after step {done} ({done * bs} "
                f"images); checkpoint saved in {workdir}/checkpoints. Rerun "
                "the same command to resume.")
    except Diverged as e:
      # The record a sweep (or a person) reads; checkpoints are untouched.
      if self.primary:
        with open(os.path.join(workdir, DIVERGED_RECORD), "w") as f:
          json.dump({"step": e.step, "images": e.step * bs, "why": str(e)},
                    f, indent=2)
      raise
    except OSError as e:  # metrics, plots, images: a full or vanished disk
      raise WorkdirError(_write_failed(workdir, done, e,
                                       self.ckpt_hint())) from e
    finally:
      crops.close()
      self._close(writer)
    self._done(writer.path)
    return self.state

  def _close(self, writer) -> None:
    try:
      writer.close()
      self.mngr.wait_until_finished()
    except Exception:  # pylint: disable=broad-except  # reported above
      pass
    self.mngr.close()

  def _done(self, metrics_path: str) -> None:
    stale = os.path.join(self.workdir, DIVERGED_RECORD)
    if self.primary and os.path.exists(stale):  # an earlier attempt diverged
      os.remove(stale)
    if self.start >= self.setup.total_steps:
      logging.info("already trained for %d steps; nothing to train.",
                   self.start)
    if self.primary:
      self.task.plot(metrics_path, self.workdir)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       devices: list[jax.Device] | None = None):
  """Trains `config.task` in `workdir`, resuming if it has checkpoints, then
  runs the task's final step (`finish`, e.g. a final evaluation).

  Args:
    devices: the devices of the data-parallel mesh (default: all devices of
      all processes).

  Returns:
    The final state.

  Raises:
    Preempted: on SIGTERM or SIGINT, after checkpointing the current step.
    Diverged: on a non-finite loss or gradient (checkpoints untouched).
    WorkdirError: when the workdir cannot be written (checkpoints untouched).
  """
  run = Run(config, workdir, devices)
  state = run.train()
  run.task.finish(state, workdir, run.train_src, run.eval_src)
  return state


def _write_failed(workdir: str, step: int, e: Exception, hint: str) -> str:
  return (f"cannot write to the workdir {workdir} at step {step} "
          f"({type(e).__name__}: {' '.join(str(e).split())[:300]}). {hint} "
          "It and the earlier checkpoints are intact: free space (or fix the "
          "directory) and rerun the same command to resume.")


def _fmt_time(seconds: float) -> str:
  seconds = int(seconds)
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"
