"""Checkpoints: orbax CheckpointManager under `workdir/checkpoints`.

orbax writes each step to a temporary directory and renames it when complete,
so a killed run never leaves a half-written step behind as the latest.
Checkpoints hold arrays only (the state pytree); the config goes to
`workdir/config.json`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from ddn import parallel


def manager(workdir: str, max_to_keep: int = 3) -> ocp.CheckpointManager:
  path = os.path.abspath(os.path.join(workdir, "checkpoints"))
  return ocp.CheckpointManager(
      path, options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                                 create=True),
      item_handlers=ocp.StandardCheckpointHandler())  # lets item_metadata read


def has_checkpoint(workdir: str) -> bool:
  """Whether `workdir/checkpoints` holds a finished step (no side effects)."""
  path = os.path.join(workdir, "checkpoints")
  return os.path.isdir(path) and any(n.isdigit() for n in os.listdir(path))


def saved_tree(mngr: ocp.CheckpointManager, step: int) -> Any:
  """The saved step's tree of array metadata (shape, dtype), nothing loaded."""
  return mngr.item_metadata(step).tree


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


def check_restorable(mngr: ocp.CheckpointManager, step: int, target: Any,
                     what: str, model_field: str = "config.model") -> None:
  """Raises a clear ValueError, before any read, when the saved state does
  not fit `target` (a state of ShapeDtypeStructs); `model_field` is the
  config group that defines `target.params`."""
  tree = saved_tree(mngr, step)
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


def save(mngr: ocp.CheckpointManager, step: int, state: Any) -> None:
  mngr.save(int(step), args=ocp.args.StandardSave(state))
  mngr.wait_until_finished()


def restore(mngr: ocp.CheckpointManager, target: Any, step: int | None = None):
  """Restores `step` (default latest) into the structure of `target`."""
  step = mngr.latest_step() if step is None else step
  return mngr.restore(step, args=ocp.args.StandardRestore(target))


def load_config(workdir: str) -> dict:
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise ValueError(f"{workdir!r} is not a ddn workdir: no config.json "
                     "(train one with launch.py first).")
  with open(path) as f:
    return json.load(f)


def load_params(workdir: str, step: int | None = None) -> tuple[Any, int]:
  """Model parameters saved in `workdir` (latest step), as numpy arrays.

  Returns:
    (params, step).

  Raises:
    ValueError: when the workdir has no checkpoint.
  """
  ckpt_dir = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(ckpt_dir):
    raise ValueError(f"no checkpoints in {workdir!r} (expected "
                     f"{ckpt_dir}); give a workdir of a trained run.")
  mngr = manager(workdir)
  step = mngr.latest_step() if step is None else step
  if step is None:
    raise ValueError(f"no complete checkpoint in {ckpt_dir}.")
  # Restore onto this process's first device, whatever topology saved it.
  tree = saved_tree(mngr, step)
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  target = parallel.placed(tree, device)
  restored = mngr.restore(step, args=ocp.args.StandardRestore(target))
  mngr.close()
  params = restored["params"]
  return jax.tree_util.tree_map(np.asarray, params), int(step)


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
