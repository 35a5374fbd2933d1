"""The calibrated realism test (ddn.realism) as an evaluator, and the one
builder of its images."""

from __future__ import annotations

import ml_collections
import numpy as np

from ddn import configs
from ddn import noise as noise_lib
from ddn import realism
from ddn.evaluators import base


def realism_data(tune_clean: list[np.ndarray], images: base.Images,
                 spec: noise_lib.NoiseSpec, seed: int) -> realism.Data:
  """The test's images: the judges' tuning images (training images, never
  the test set's) with their noisy versions (`base.noisy_version`, seed
  `seed + realism.REALISM_SEED`), and the held-out `images`."""
  tune_seed = seed + realism.REALISM_SEED
  return realism.Data(
      list(tune_clean),
      [base.noisy_version(c, i, spec, tune_seed)
       for i, c in enumerate(tune_clean)],
      list(images.clean), list(images.noisy))


def gaussian(sigma: float) -> noise_lib.NoiseSpec:
  """The noise spec of Gaussian noise of one σ (the command line's)."""
  cfg = configs.noise()
  cfg.gaussian.sigma = float(sigma)
  return noise_lib.spec_from_config(cfg)


class Realism(base.Evaluator):
  """Fresh judges' AUC (with its interval) per method, beside calibration
  rows (`calibrate`). Needs its tuning images first (`tune`)."""

  name = "realism"
  every_eval = False  # minutes of judge training: final and CLI only

  def __init__(self, config=None):
    super().__init__(config)
    self.cfg = (config.eval.realism if config is not None
                and "realism" in config.get("eval", {}) else configs.realism())
    self.seed = int(config.seed) if config is not None else 0
    self.tune_clean, self.spec = None, None
    self.meter, self._images = None, None  # the meter of these images

  def tune(self, tune_clean: list[np.ndarray], spec: noise_lib.NoiseSpec,
           cfg: ml_collections.ConfigDict | None = None,
           seed: int | None = None) -> "Realism":
    """Sets the judges' tuning images and the noise; `cfg`, `seed` override
    the run's config.eval.realism and seed."""
    self.tune_clean, self.spec = tune_clean, spec
    self.meter, self._images = None, None
    self.cfg = cfg if cfg is not None else self.cfg
    self.seed = self.seed if seed is None else int(seed)
    return self

  def _meter(self, images: base.Images) -> realism.Meter:
    if self.tune_clean is None:
      raise ValueError("the realism evaluator needs its tuning images: "
                       "call tune(images, noise spec) first.")
    if self.meter is None or self._images is not images:
      self.meter = realism.Meter(
          realism_data(self.tune_clean, images, self.spec, self.seed),
          self.cfg, self.seed)
      self._images = images
    return self.meter

  def run(self, methods, images, outputs):
    meter = self._meter(images)
    return {name: realism.record_fields(
                meter.judge_fn(fn, test_out=outputs[name]), "realism_")
            for name, fn in methods.items()}

  def calibrate(self, images: base.Images, gaussian_width: float = 1.5
                ) -> dict[str, dict]:
    """The calibration rows (clean, noisy, Gaussian smoothing) as judge()
    records."""
    return self._meter(images).calibrate(gaussian_width)

  def summary(self, metrics: dict) -> dict[str, float]:
    return {"realism_auc": float(metrics["realism_auc"])}
