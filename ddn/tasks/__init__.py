"""The training tasks of the shared loop (ddn.train), looked up by name.

  autoencoder  the denoiser alone (ddn.tasks.autoencoder).
  classifier   real vs denoised, against a frozen trained denoiser
               (ddn.tasks.classifier).
  adversarial  the denoiser against a discriminator trained alongside
               (ddn.tasks.adversarial).

Each is a ddn.tasks.base.Task. A task's module is imported when it is asked
for (as big_vision imports `big_vision.models.<name>`), so importing
ddn.tasks.base (as ddn.realism does) never imports a task.
"""

from __future__ import annotations

import importlib

import ml_collections

# config.task -> (module under ddn.tasks, class)
TASKS = {
    "autoencoder": ("autoencoder", "AutoencoderTask"),
    "classifier": ("classifier", "ClassifierTask"),
    "adversarial": ("adversarial", "AdversarialTask"),
}


def get(name: str) -> type:
  """The Task class registered as `name`; raises on an unknown name."""
  if name not in TASKS:
    raise ValueError(f"config.task={name!r}: valid tasks are "
                     f"{', '.join(TASKS)}.")
  module, cls = TASKS[name]
  return getattr(importlib.import_module(f"ddn.tasks.{module}"), cls)


def build(config: ml_collections.ConfigDict, setup):
  """The task named by `config.task` (default autoencoder), built for
  `setup` (ddn.train.Setup)."""
  return get(config.get("task", "autoencoder"))(config, setup)
