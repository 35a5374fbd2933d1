"""Evaluators: what is measured on held-out images, one module each, looked
up by name in ddn.registry.EVALUATORS and listed in a run's `config.evals`:

  psnr     PSNR and SSIM under the evaluation protocol (ddn.protocol).
  realism  the calibrated realism test (ddn.realism): fresh judges' AUC.

The in-training evaluation (ddn.tasks.base.ImageEvaluator), the adversarial
run's final evaluation and the command line (ddn.evaluate) all make their
noisy images with `base.noisy_images` and score outputs with these
evaluators. Adding an evaluator is one module with a `base.Evaluator`
subclass plus one line in ddn.registry.EVALUATORS.
"""

from __future__ import annotations

from ddn import registry
from ddn.evaluators import base


def build(names, config=None) -> list[base.Evaluator]:
  """The evaluators `names` (e.g. config.evals) lists, each built with the
  run's `config` (None from the command line); raises ValueError naming
  the valid ones for an unknown name."""
  return [registry.lookup("evaluator", n)(config) for n in names]
