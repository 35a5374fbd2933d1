"""Where ddn looks up its extension points by name: tasks, models and
evaluators.

Each entry maps a config string to "module:attribute", imported only when
it is asked for (as big_vision imports `big_vision.models.<name>`), so this
module imports nothing of ddn and any layer may read it. Adding a task, a
model or an evaluator is one new module plus one line here:

  TASKS       config.task        a ddn.tasks.base.Task subclass, which owns
                                 its default config, state and jitted steps;
  MODELS      config.model.name  a flax module class with `default_config()`,
                                 `from_config(cfg, channels, dtype)` and
                                 `shape_fields`;
  EVALUATORS  config.evals       a ddn.evaluators.base.Evaluator subclass.

`register` adds an entry at run time (a plug-in, a test's toy model);
`lookup` raises a ValueError listing the known names for an unknown one.
"""

from __future__ import annotations

import dataclasses
import importlib


@dataclasses.dataclass(frozen=True)
class Entry:
  target: str  # "package.module:Attribute"
  # Tasks only: the run's `params` are a denoiser's (ddn.inference can load
  # it and init_from can start from it).
  denoiser: bool = False


TASKS = {
    "autoencoder": Entry("ddn.tasks.autoencoder:AutoencoderTask",
                         denoiser=True),
    "classifier": Entry("ddn.tasks.classifier:ClassifierTask"),
    "adversarial": Entry("ddn.tasks.adversarial:AdversarialTask",
                         denoiser=True),
}

MODELS = {
    "autoencoder": Entry("ddn.models:Autoencoder"),
}

EVALUATORS = {
    "psnr": Entry("ddn.evaluators.psnr:PSNR"),
    "realism": Entry("ddn.evaluators.realism:Realism"),
}

_KINDS = {"task": (TASKS, "config.task"),
          "model": (MODELS, "config.model.name"),
          "evaluator": (EVALUATORS, "config.evals")}


_OBJECTS: dict[tuple[str, str], object] = {}  # registered as objects


def register(kind: str, name: str, target, denoiser: bool = False) -> None:
  """Adds (or replaces) entry `name` of `kind` ('task', 'model',
  'evaluator'); `target` is "module:Attribute" or the object itself."""
  table, _ = _KINDS[kind]
  if isinstance(target, str):
    table[name] = Entry(target, denoiser)
    _OBJECTS.pop((kind, name), None)
  else:
    table[name] = Entry(f"{target.__module__}:{target.__qualname__}",
                        denoiser)
    _OBJECTS[(kind, name)] = target


def unregister(kind: str, name: str) -> None:
  _KINDS[kind][0].pop(name, None)
  _OBJECTS.pop((kind, name), None)


def entry(kind: str, name: str) -> Entry:
  """The entry `name` of `kind`; raises ValueError naming the known ones."""
  table, field = _KINDS[kind]
  if not isinstance(name, str) or name not in table:
    raise ValueError(f"{field}={name!r}: valid {kind}s are "
                     f"{', '.join(table)}.")
  return table[name]


def lookup(kind: str, name: str):
  """The object registered as `name` of `kind`, importing its module."""
  e = entry(kind, name)
  if (kind, name) in _OBJECTS:
    return _OBJECTS[(kind, name)]
  module, _, attr = e.target.partition(":")
  return getattr(importlib.import_module(module), attr)


def names(kind: str) -> list[str]:
  """The registered names of `kind`, in registration order."""
  return list(_KINDS[kind][0])
