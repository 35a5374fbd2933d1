"""The config type checker: a config's fields and value types against the
defaults of its task (and of its model), before any compute.

ddn.train.Setup calls `validate`, so a config built in Python (a notebook,
a script calling `train.train_and_evaluate`) gets the same one clear error
as a mistyped `--config.x.y` on the command line. A task's defaults are its
`default_config()` (ddn.registry.TASKS); the `model` group is checked
against the defaults of the model it names (ddn.registry.MODELS); a task's
`hints` say why a field of another task is not one of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
import difflib
import math
import numbers
from typing import Any

import ml_collections
import numpy as np

from ddn import configs
from ddn import registry

# Fields the code reads with a fallback: `task` (tasks.build trains the
# autoencoder when it is absent).
OPTIONAL = ("task",)
# None passes here: `eval.sigma` (None, like -1: the train σ,
# tasks.base.eval_noise_spec).
NULLABLE = ("eval.sigma",)
MAX_LISTED = 3  # problems named in one error


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks the fields and value types of `config` against its task's
  defaults (`configs.defaults(config.task, config.model.name)`), before any
  compute.

  Every field must exist in the defaults (a typo gets the closest field
  name suggested) and every default field must be present (`task` may be
  left out: the autoencoder). Each value must have the type of the default:
  an int passes where a float is expected, a list or a tuple where a
  sequence is (its items checked alike), but a bool is not a number, a
  number is not a bool and nothing but a str is a str; floats must be
  finite; None passes only where the code reads it as "unset"
  (`NULLABLE`). Value ranges are checked where the values are used
  (ddn.train.Setup, ddn.noise, ddn.models, ddn.optim, the tasks).

  Raises:
    ValueError: naming the first offending field(s), what is expected and a
      fix, e.g. "config.optim.lrr: not a field of the autoencoder config;
      did you mean config.optim.lr? ...".
  """
  name = config.get("task", "autoencoder") if _is_mapping(config) else None
  registry.entry("task", name)  # raises naming the valid tasks
  model = config.get("model")
  model_name = model.get("name") if _is_mapping(model) else None
  if model_name is not None:
    registry.entry("model", model_name)  # raises naming the valid models
  defaults = configs.defaults(name, model_name)
  problems = _compare(config, defaults, "", name, _paths(defaults))
  if not problems:
    return
  message = problems[0]
  rest = problems[1:MAX_LISTED]
  if rest:
    more = len(problems) - MAX_LISTED
    message += (f" Also: {' '.join(rest)}"
                + (f" (and {more} more)" if more > 0 else ""))
  raise ValueError(message)


def _is_mapping(value: Any) -> bool:
  return isinstance(value, (ml_collections.ConfigDict, Mapping))


def _paths(defaults, prefix: str = "") -> list[str]:
  """Dotted names of every field and group under `defaults`."""
  out = []
  for key, value in defaults.items():
    out.append(prefix + key)
    if _is_mapping(value):
      out += _paths(value, f"{prefix}{key}.")
  return out


def _compare(config, defaults, prefix: str, task: str,
             all_paths: list[str]) -> list[str]:
  """Problems of `config` (a group) against `defaults`, in field order."""
  problems = []
  expected = dict(defaults.items())
  present = dict(config.items())  # FieldReferences resolved
  for key, value in present.items():
    path = prefix + key
    if key not in expected:
      problems.append(_unknown(path, key, list(expected), task, all_paths))
      continue
    default = expected[key]
    if _is_mapping(default):
      if _is_mapping(value):
        problems += _compare(value, default, f"{path}.", task, all_paths)
      else:
        problems.append(
            f"config.{path}={value!r} ({type(value).__name__}): expected a "
            f"group of fields ({', '.join(default)}), "
            f"as in ddn.configs.defaults({task!r}).")
      continue
    problem = _type_problem(path, value, default)
    if problem:
      problems.append(problem)
  for key in expected:
    if key not in present and (prefix + key) not in OPTIONAL:
      default = expected[key]
      example = (f"a group as in ddn.configs.defaults({task!r})"
                 if _is_mapping(default) else f"e.g. {default!r}")
      problems.append(
          f"config.{prefix}{key} is missing ({example}); start from "
          f"ddn.configs.defaults({task!r}), which has every field.")
  return problems


# Names other code bases give the fields, that difflib cannot match.
SYNONYMS = {"learning_rate": "lr", "lr_rate": "lr", "bs": "batch_size",
            "batch": "batch_size", "crop_size": "crop", "patch_size": "crop",
            "epochs": "total_images", "steps": "total_images"}


def suggest(key: str, names: list[str]) -> list[str]:
  """The field of `names` a mistyped `key` most likely means ([] if none):
  a known synonym (SYNONYMS), a close spelling (difflib), the initials of
  its words (learning_rate -> lr) or a name it contains or is contained
  in."""
  initials = "".join(w[:1] for w in key.lower().split("_") if w)
  for found in ([SYNONYMS.get(key.lower())],
                difflib.get_close_matches(key, names, n=1, cutoff=0.6),
                [initials],
                [n for n in names if len(min(n, key, key=len)) >= 3 and (
                    n in key or key in n)]):
    hits = [n for n in found if n in names]
    if hits:
      return hits[:1]
  return []


def _unknown(path: str, key: str, siblings: list[str], task: str,
             all_paths: list[str]) -> str:
  group = path.rpartition(".")[0]
  parent = f"config.{group}." if group else "config."
  close = [parent + c for c in suggest(key, siblings)]
  if not close:  # the right name in another group, e.g. config.lr
    close = ["config." + p for p in all_paths if p.rpartition(".")[2] == key]
  msg = f"config.{path}: not a field of the {task} config"
  hint = getattr(registry.lookup("task", task), "hints", {}).get(path)
  if hint:
    msg += f" ({hint})"
  if close:
    msg += f"; did you mean {' or '.join(close[:MAX_LISTED])}?"
  else:
    msg += (f"; the fields of {parent.rstrip('.')} are "
            f"{', '.join(sorted(siblings))}.")
  return msg + " Remove or rename it."


def _is_bool(v) -> bool:
  return isinstance(v, (bool, np.bool_))


def _is_int(v) -> bool:
  return isinstance(v, numbers.Integral) and not _is_bool(v)


def _is_number(v) -> bool:
  return isinstance(v, numbers.Real) and not _is_bool(v)


def _kind(default) -> tuple[str, Any]:
  """(what is expected, its test) for a default value."""
  if _is_bool(default):
    return "a bool (True or False)", _is_bool
  if _is_int(default):
    return "an int", _is_int
  if isinstance(default, float):
    return "a number", _is_number
  if isinstance(default, str):
    return "a str", lambda v: isinstance(v, str)
  if isinstance(default, (tuple, list)):
    if default:
      what, ok = _kind(default[0])
      return (f"a tuple of {what.partition(' ')[2]}s",
              lambda v: isinstance(v, (tuple, list)) and all(map(ok, v)))
    return "a tuple", lambda v: isinstance(v, (tuple, list))
  return f"a {type(default).__name__}", lambda v: isinstance(v,
                                                             type(default))


def _type_problem(path: str, value, default) -> str | None:
  """What is wrong with the type of `value` for a field whose default is
  `default`, or None."""
  if value is None and path in NULLABLE:
    return None
  what, ok = _kind(default)
  if not ok(value):
    return (f"config.{path}={value!r} ({type(value).__name__}): expected "
            f"{what}, e.g. config.{path}={default!r}.")
  numbers_in = value if isinstance(value, (tuple, list)) else (value,)
  if any(_is_number(v) and not math.isfinite(v) for v in numbers_in):
    return (f"config.{path}={value!r}: must be finite, e.g. "
            f"config.{path}={default!r}.")
  return None
