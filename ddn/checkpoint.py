"""Checkpoints: orbax CheckpointManager under `workdir/checkpoints`.

Each step holds two items: `default`, the state pytree (arrays only), and
`host`, a small JSON record of what lives on the host: the SHA-256 digest of
the state's bytes, the metrics of the unfinished log window and the task's
own counters (ddn.train). The config goes to `workdir/config.json`.

Atomicity and integrity:
  * orbax writes a step to a temporary directory and renames it when
    complete; a run killed mid-write leaves only that temporary directory,
    which is never read and is removed when the next run starts.
  * A state with a non-finite value is never written (`NonFinite`).
  * On resume a step whose files cannot be read, or whose bytes no longer
    match its digest, is moved to `workdir/checkpoints_corrupt/` with a
    warning, and the previous step is tried (`restore_latest`).
Steps written before the `host` item existed (one `default` item) restore
without a digest check.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
from typing import Any, Callable

import jax
import numpy as np
import orbax.checkpoint as ocp

from ddn import parallel


STATE, HOST = "default", "host"  # item names ("default": as before `host`)
CORRUPT_DIR = "checkpoints_corrupt"


class NonFinite(FloatingPointError):
  """The state holds NaN or infinity: it is not written."""


class Corrupt(Exception):
  """A saved step that cannot be read back as it was written."""


def manager(workdir: str, max_to_keep: int = 3,
            read_only: bool = False) -> ocp.CheckpointManager:
  """The workdir's checkpoint manager; a training run's (not `read_only`)
  removes temporary directories that killed runs left behind."""
  path = os.path.abspath(os.path.join(workdir, "checkpoints"))
  # Read-only: the options orbax would reset (each with a warning) are
  # given as it wants them, and its notice that the directory is read-only
  # (what was asked) is dropped.
  options = ocp.CheckpointManagerOptions(
      max_to_keep=None if read_only else max_to_keep,
      save_interval_steps=0 if read_only else 1, create=not read_only,
      read_only=read_only, cleanup_tmp_directories=not read_only)
  absl_logger = logging.getLogger("absl")
  quiet = _ReadOnlyNotice()
  absl_logger.addFilter(quiet)
  try:
    return ocp.CheckpointManager(
        path, options=options,
        # Named handlers let item_metadata read a step without a target.
        item_handlers={STATE: ocp.StandardCheckpointHandler(),
                       HOST: ocp.JsonCheckpointHandler()})
  finally:
    absl_logger.removeFilter(quiet)


class _ReadOnlyNotice(logging.Filter):
  def filter(self, record):
    return not record.getMessage().startswith("Given directory is read only")


def has_checkpoint(workdir: str) -> bool:
  """Whether `workdir/checkpoints` holds a finished step (no side effects)."""
  path = os.path.join(workdir, "checkpoints")
  return os.path.isdir(path) and any(n.isdigit() for n in os.listdir(path))


def saved_tree(mngr: ocp.CheckpointManager, step: int) -> Any:
  """The saved step's tree of array metadata (shape, dtype), nothing loaded."""
  return mngr.item_metadata(step)[STATE].tree


FIELD_HINTS = {
    "opt_state": "the optimizer differs (config.optim.name, grad_clip, "
                 "weight_decay, momentum); use the same config.optim",
    "stats": "the spectral-norm state differs (config.disc.spectral_norm); "
             "use the same config.disc",
    "denoiser": "the frozen denoiser differs from the one it was trained "
                "against (workdir/denoiser.json)",
    "d_stats": "the discriminator's spectral-norm state differs "
               "(config.disc.spectral_norm); use the same config.disc",
    "d_opt_state": "the discriminator's optimizer differs "
                   "(config.disc_optim); use the same config.disc_optim",
    "ema": "the EMA of G is on in one and off in the other "
           "(config.adv.ema_decay); use the same setting",
}


def check_restorable(tree: Any, target: Any, what: str,
                     model_field: str = "config.model") -> None:
  """Raises a clear ValueError, before any read, when a saved state's
  metadata `tree` (`saved_tree`) does not fit `target` (a state of
  ShapeDtypeStructs); `model_field` is the config group that defines
  `target.params`."""
  check_compatible(tree["params"], target.params, what, model_field)
  if hasattr(target, "d_params"):  # an adversarial run's discriminator
    check_compatible(tree.get("d_params", {}), target.d_params,
                     f"{what}'s discriminator", "config.disc")
  count = lambda t: len(jax.tree_util.tree_leaves(t))
  n_saved, n_here = count(tree), count(target)
  if n_saved == n_here:
    return
  fields = [f.name for f in dataclasses.fields(target) if f.name != "params"
            and count(tree.get(f.name, {})) != count(getattr(target, f.name))]
  hints = "; ".join(FIELD_HINTS.get(f, f"its {f} differs") for f in fields)
  raise ValueError(
      f"{what} holds {n_saved} arrays but this config's training state has "
      f"{n_here}: {hints or 'the state layout differs'}.")


def _key_name(k) -> str:
  for attr in ("name", "key", "idx"):  # GetAttrKey, DictKey, SequenceKey
    if hasattr(k, attr):
      return str(getattr(k, attr))
  return str(k)


def digest(state: Any) -> tuple[str, list[str]]:
  """(SHA-256 of every leaf's path, dtype, shape and bytes, the paths of
  leaves with a non-finite value).

  Leaves are taken in the order of their paths' names, so a state restored
  as nested dicts (no target) hashes as the dataclasses it was saved from.
  Leaves are replicated, so each process hashes its own copy.
  """
  h = hashlib.sha256()
  bad = []
  leaves = sorted(
      ("/".join(_key_name(k) for k in path), leaf)
      for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0])
  for name, leaf in leaves:
    if isinstance(leaf, jax.Array):
      leaf = leaf.addressable_data(0)
    a = np.ascontiguousarray(np.asarray(leaf))
    if np.issubdtype(a.dtype, np.inexact) and not np.all(np.isfinite(a)):
      bad.append(name)
    h.update(f"{name}:{a.dtype}:{a.shape};".encode())
    h.update(a.tobytes())
  return h.hexdigest(), bad


def save(mngr: ocp.CheckpointManager, step: int, state: Any,
         host: dict | None = None) -> None:
  """Writes `state` and the JSON-able `host` record (with the state's digest)
  as `step`, and waits until the step is complete on disk.

  Raises:
    NonFinite: when the state holds NaN or infinity (nothing is written).
  """
  sha, bad = digest(state)
  if bad:
    raise NonFinite(f"the state at step {step} has non-finite values in "
                    f"{', '.join(bad[:3])}; it was not checkpointed.")
  record = dict(host or {}, digest=sha)
  saved = mngr.save(int(step), args=ocp.args.Composite(**{
      STATE: ocp.args.StandardSave(state), HOST: ocp.args.JsonSave(record)}))
  mngr.wait_until_finished()
  if not saved:  # orbax declines steps at or before its latest
    raise RuntimeError(f"checkpoint step {step} was not written: "
                       f"{mngr.directory} already has step "
                       f"{mngr.latest_step()}.")


def restore(mngr: ocp.CheckpointManager, target: Any,
            step: int) -> tuple[Any, dict]:
  """`step` restored into the structure of `target`, and its host record
  ({} for steps written before it existed).

  Raises:
    Corrupt: when the files cannot be read or the bytes do not match the
      digest written with them.
  """
  # A step names its items in its metadata: one written with a host record
  # and found without it is corrupt, not a step of an earlier ddn.
  meta = os.path.join(str(mngr.directory), str(step), "_CHECKPOINT_METADATA")
  try:
    with open(meta) as f:
      has_host = HOST in (json.load(f).get("item_handlers") or {})
  except (OSError, ValueError, AttributeError) as e:
    raise Corrupt(f"unreadable step metadata ({type(e).__name__}: "
                  f"{_short(e)})") from None
  args = {STATE: ocp.args.StandardRestore(target)}
  if has_host:
    args[HOST] = ocp.args.JsonRestore()
  try:
    out = mngr.restore(step, args=ocp.args.Composite(**args))
  except Exception as e:  # pylint: disable=broad-except  # tensorstore, json..
    raise Corrupt(f"unreadable ({type(e).__name__}: {_short(e)})") from None
  host = dict(out[HOST]) if has_host else {}
  if "digest" in host and digest(out[STATE])[0] != host["digest"]:
    raise Corrupt("its arrays do not match the digest written with them")
  return out[STATE], host


def _short(e: Exception, n: int = 200) -> str:
  s = " ".join(str(e).split())
  return s if len(s) <= n else s[:n] + "..."


def restore_latest(mngr: ocp.CheckpointManager,
                   target_for: Callable[[int, Any], Any],
                   quarantine: bool = True) -> tuple[Any, dict, int] | None:
  """The newest step that reads back intact: (state, host record, step), or
  None when there is no step.

  `target_for(step, tree)` gets each candidate's array metadata and returns
  the restore target, or raises (a ValueError) when the step does not fit
  the config: that is not corruption and stops the search. A corrupt step is skipped with a warning and, with
  `quarantine` (a training run; process 0 moves, all processes wait), moved
  to `workdir/checkpoints_corrupt/STEP` so that nothing is lost and the run
  can write that step again.

  Raises:
    ValueError: when there are steps and every one of them is corrupt.
  """
  steps = sorted(mngr.all_steps(), reverse=True)
  directory = str(mngr.directory)
  bad = []
  for step in steps:
    try:
      tree = saved_tree(mngr, step)
    except Exception as e:  # pylint: disable=broad-except
      why = f"unreadable metadata ({type(e).__name__}: {_short(e)})"
    else:
      target = target_for(step, tree)
      try:
        state, host = restore(mngr, target, step)
        return state, host, step
      except Corrupt as e:
        why = str(e)
    bad.append(step)
    where = os.path.join(directory, str(step))
    if quarantine:
      where = _quarantine(directory, step)
      mngr.reload()  # forget the step: the run will write it again
    logging.warning("checkpoint step %d is corrupt: %s; kept at %s and not "
                    "used; falling back to the previous checkpoint.", step,
                    why, where)
  if bad:
    raise ValueError(
        f"no intact checkpoint in {directory}: step(s) "
        f"{', '.join(map(str, bad))} are corrupt"
        + (f" (moved to {os.path.join(os.path.dirname(directory), CORRUPT_DIR)})"
           if quarantine else "")
        + (". Rerun to start this run from scratch, or put back a good copy."
           if quarantine else "; put back a good copy or train again."))
  return None


def _quarantine(directory: str, step: int) -> str:
  """Moves step `step` of a checkpoint directory to ../checkpoints_corrupt."""
  dest_dir = os.path.join(os.path.dirname(directory), CORRUPT_DIR)
  dest = os.path.join(dest_dir, str(step))
  if parallel.is_primary():
    os.makedirs(dest_dir, exist_ok=True)
    n = 1
    while os.path.exists(dest):  # the same step corrupt again
      dest, n = os.path.join(dest_dir, f"{step}.{n}"), n + 1
    shutil.move(os.path.join(directory, str(step)), dest)
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    multihost_utils.sync_global_devices(f"ddn quarantine {step}")
  return dest


def load_config(workdir: str) -> dict:
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise ValueError(f"{workdir!r} is not a ddn workdir: no config.json "
                     "(train one with launch.py first).")
  with open(path) as f:
    return json.load(f)


def load_params(workdir: str, step: int | None = None) -> tuple[Any, int]:
  """Model parameters saved in `workdir` (latest step), as numpy arrays:
  the denoiser a run evaluates, so every tool (evaluate, denoise,
  inference, init_from) uses the same weights. For an adversarial run with
  an EMA of G (config.adv.ema_decay > 0) that is the EMA.

  Returns:
    (params, step).

  Raises:
    ValueError: when the workdir has no checkpoint.
  """
  restored, step = _load_state(workdir, step)
  params = restored.get("ema") or restored["params"]  # {} when there is none
  return jax.tree_util.tree_map(np.asarray, params), step


def load_disc(workdir: str, step: int | None = None
              ) -> tuple[Any, Any, int]:
  """An adversarial run's discriminator (latest step): its parameters and
  its spectral-norm state ({} without), as numpy arrays, and the step; a
  ValueError naming the fix for any other run."""
  restored, step = _load_state(workdir, step)
  if not restored.get("d_params"):
    raise ValueError(f"{workdir!r} has no discriminator (not an adversarial "
                     "run); give an adversarial run's workdir.")
  as_np = lambda t: jax.tree_util.tree_map(np.asarray, t or {})
  return as_np(restored["d_params"]), as_np(restored.get("d_stats")), step


def _load_state(workdir: str, step: int | None) -> tuple[Any, int]:
  """The whole saved state of `workdir` at `step` (None: the newest intact
  one) on this process's first device, and its step."""
  ckpt_dir = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(ckpt_dir):
    raise ValueError(f"no checkpoints in {workdir!r} (expected "
                     f"{ckpt_dir}); give a workdir of a trained run.")
  mngr = manager(workdir, read_only=True)
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  try:
    if step is not None:
      if step not in mngr.all_steps():
        raise ValueError(f"no checkpoint at step {step} in {ckpt_dir} (steps: "
                         f"{', '.join(map(str, mngr.all_steps())) or 'none'}).")
      try:
        restored, _ = restore(
            mngr, parallel.placed(saved_tree(mngr, step), device), step)
      except Corrupt as e:
        raise ValueError(f"checkpoint step {step} in {ckpt_dir} is corrupt: "
                         f"{e}.") from None
    else:
      # The newest intact step, restored onto this process's first device
      # whatever topology saved it; corrupt ones are skipped, not moved.
      found = restore_latest(mngr, lambda s, t: parallel.placed(t, device),
                             quarantine=False)
      if found is None:
        raise ValueError(f"no complete checkpoint in {ckpt_dir}.")
      restored, _, step = found
  finally:
    mngr.close()
  return restored, int(step)


def check_compatible(loaded: Any, expected: Any, what: str,
                     model_field: str = "config.model") -> None:
  """Raises a clear error when two param trees differ in structure or shape."""
  shape = lambda v: tuple(v.shape) if hasattr(v, "shape") else np.shape(v)
  flat_l = {jax.tree_util.keystr(k): shape(v) for k, v in
            jax.tree_util.tree_flatten_with_path(loaded)[0]}
  flat_e = {jax.tree_util.keystr(k): shape(v) for k, v in
            jax.tree_util.tree_flatten_with_path(expected)[0]}
  problems = []
  for k in sorted(set(flat_l) | set(flat_e)):
    if k not in flat_e:
      problems.append(f"{k} is in {what} but not in this model")
    elif k not in flat_l:
      problems.append(f"{k} is missing from {what}")
    elif flat_l[k] != flat_e[k]:
      problems.append(f"{k} has shape {flat_l[k]} in {what}, "
                      f"{flat_e[k]} here")
  if problems:
    raise ValueError(
        f"{what} does not match this model's architecture "
        f"({len(problems)} differences, e.g. {'; '.join(problems[:3])}); "
        f"use the same {model_field} and config.data.channels as that run.")
