"""Where a run's starting parameters come from: `config.train.init_from`
names a workdir (its latest intact checkpoint) or a model shipped in the
package (ddn/shipped, ddn.inference). The tasks check it before any compute
or write (`check_exists`, `check`) and load it (`load_params_into`). An
adversarial run's D can start likewise from `config.adv.d_init_from`
(`load_disc`).
"""

from __future__ import annotations

import json
import os
from typing import Any

import jax

from ddn import checkpoint
from ddn import configs
from ddn import inference
from ddn import models


def is_shipped(src: str) -> bool:
  """Whether `init_from` names a model shipped in the package (and no
  folder of that name is here)."""
  return src in inference.shipped_models() and not os.path.isdir(src)


def check_exists(src: str, scratch: str = "") -> None:
  """Raises the one clear ValueError when `src` (config.train.init_from) is
  neither a workdir with a checkpoint nor a shipped model; `scratch` says
  what an empty init_from would do instead, when it is allowed."""
  if is_shipped(src) or checkpoint.has_checkpoint(src):
    return
  raise ValueError(
      f"config.train.init_from={src!r} has no checkpoint: give the workdir "
      "of a trained autoencoder (python launch.py "
      f"--config=experiments/ae.py --workdir={src}) or a shipped model "
      f"({', '.join(inference.shipped_models())})"
      + (f", or leave it empty {scratch}." if scratch else "."))


def grows_inputs(model_cfg) -> bool:
  """Whether a model of `model_cfg` (config.model) has input channels a
  start may lack: z (noise_input) or non-local means (nlm)."""
  return bool(model_cfg.get("noise_input", 0) or model_cfg.get("nlm", ()))


def load_params_into(workdir: str, expected, what: str, repl,
                     grow_inputs: bool = False, z_scale: float = 0.0):
  """The parameters of a workdir's latest checkpoint or a shipped model,
  checked against `expected` and placed by `repl`; returns (params, step).
  `grow_inputs` (grows_inputs: z or non-local means channels): a start
  without them gets first-conv weights for them, zero (or, for z, `z_scale`
  times `expected`'s) (models.grow_z_inputs). Non-
  local blocks the start lacks (config.model.attention) start as the
  identity (models.add_new_blocks)."""
  if is_shipped(workdir):
    d = inference.Denoiser.from_shipped(workdir)
    params, step = d.params, d.step
  else:
    params, step = checkpoint.load_params(workdir)
  if grow_inputs:
    params = models.grow_z_inputs(params, expected, z_scale)
  params = models.add_new_blocks(params, expected)
  checkpoint.check_compatible(params, expected, what,
                              "config.model (of that run)")
  return jax.device_put(params, repl), step


def check(config, expected, model_field: str = "config.model") -> None:
  """Raises a clear ValueError, before any compute or write, when
  `config.train.init_from` has no checkpoint or its parameters do not fit
  `expected` (a tree of ShapeDtypeStructs, e.g. from jax.eval_shape); reads
  array metadata only. `model_field` names the config behind `expected`."""
  src = config.train.init_from
  if is_shipped(src):
    saved = jax.eval_shape(lambda: inference.Denoiser.from_shipped(
        src).params)
    _check_fits(saved, expected, config, model_field)
    return
  check_exists(src)
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
  _check_fits(saved, expected, config, model_field)


def _check_fits(saved, expected, config, model_field: str) -> None:
  src = config.train.init_from
  if grows_inputs(config.get("model", {})):
    saved = models.grow_z_inputs(saved, expected)
  saved = models.add_new_blocks(saved, expected)
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
  """The shape fields (models.shape_fields) where `config` differs from the
  run in `src`, as
  'config.model.features=(8, 16) (here (8, 32)), ...'; '' when unknown."""
  try:
    if is_shipped(src):
      with open(os.path.join(inference.SHIPPED_DIR, src,
                             inference.MODEL_FILE)) as f:
        meta = json.load(f)
      saved = {"model": meta["model"], "data": {"channels": meta["channels"]}}
    else:
      saved = checkpoint.load_config(src)
  except (ValueError, OSError):
    return ""
  saved = configs.with_added_fields(saved)
  out = []
  for path in models.shape_fields(config.model.name):
    group, leaf = path.split(".")
    there = _tuple(saved.get(group, {}).get(leaf))
    here = _tuple(config[group].get(leaf) if group in config else None)
    if there is not None and here is not None and there != here:
      out.append(f"config.{path}={there!r} (here {here!r})")
  return ", ".join(out)


# config.disc fields that only shape training (the loss), not D's function.
_DISC_TRAINING_ONLY = ("loss", "margin", "dropout")


def load_disc(config, expected, expected_stats) -> tuple[Any, Any, int]:
  """D's start, `config.adv.d_init_from`: the D a shipped adversarial model
  ships (ddn.inference.shipped_disc) or an adversarial run's latest D,
  checked against this config's D (`expected` parameters and
  `expected_stats` spectral-norm state: trees of arrays or
  ShapeDtypeStructs); (params, stats, step) as numpy arrays. One ValueError
  naming the fix for a missing source, a run without D, or a D of another
  design (every config.disc field that differs but the loss's)."""
  src = config.adv.d_init_from
  what = f"config.adv.d_init_from={src!r}"
  if is_shipped(src):
    params, stats, disc = inference.shipped_disc(src)
    step = int(inference.shipped_meta(src)["step"])
  elif checkpoint.has_checkpoint(src):
    params, stats, step = checkpoint.load_disc(src)
    disc = checkpoint.load_config(src).get("disc", {})
  else:
    raise ValueError(
        f"{what} has no checkpoint: give an adversarial run's workdir or a "
        "shipped adversarial model that ships its D, or leave it empty for "
        "a fresh D.")
  disc = configs.with_added_fields({"disc": dict(disc)})["disc"]
  differs = [f"config.disc.{k}={_tuple(v)!r} (here "
             f"{_tuple(config.disc[k])!r})" for k, v in sorted(disc.items())
             if k in config.disc and k not in _DISC_TRAINING_ONLY
             and _tuple(v) != _tuple(config.disc[k])]
  if differs:
    raise ValueError(f"{what}: that D has {', '.join(differs)}; use those "
                     "values, or leave config.adv.d_init_from empty.")
  checkpoint.check_compatible(params, expected, what, "config.disc")
  checkpoint.check_compatible(stats, expected_stats, f"{what}'s spectral-"
                              "norm state", "config.disc")
  return params, stats, step


def _tuple(v):
  return tuple(v) if isinstance(v, (list, tuple)) else v
