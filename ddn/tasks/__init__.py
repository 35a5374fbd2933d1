"""The training tasks of the shared loop (ddn.train), looked up by name in
ddn.registry.TASKS:

  autoencoder  the denoiser alone (ddn.tasks.autoencoder).
  classifier   real vs denoised, against a frozen trained denoiser
               (ddn.tasks.classifier).
  adversarial  the denoiser against a discriminator trained alongside
               (ddn.tasks.adversarial).

Each is a ddn.tasks.base.Task whose module owns its default config
(`default_config()`), its array-only state and its jitted steps. Adding a
task is one module plus one line in ddn.registry.TASKS; a task's module is
imported when it is asked for, so importing ddn.tasks.base never imports a
task.
"""

from __future__ import annotations

import ml_collections

from ddn import registry


def get(name: str) -> type:
  """The Task class registered as `name`; raises on an unknown name."""
  return registry.lookup("task", name)


def build(config: ml_collections.ConfigDict, setup):
  """The task named by `config.task` (default autoencoder), built for
  `setup` (ddn.train.Setup)."""
  return get(config.get("task", "autoencoder"))(config, setup)
