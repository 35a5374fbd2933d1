"""The evaluator interface and the one way ddn makes evaluation images.

`noisy_images` gives every held-out image its noisy version: Gaussian noise
of one σ exactly as ddn.protocol says (the noise tables are measured with);
any other noise (salt and pepper, knocked-out blocks, σ drawn per image)
from ddn.noise with a fixed key per image. An Evaluator scores methods'
outputs on such images.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ddn import noise as noise_lib
from ddn import protocol

# Non-Gaussian eval noise: fold_in(PRNGKey(seed + this), i).
EVAL_NOISE_SEED = 10_000


@dataclasses.dataclass
class Images:
  """Held-out images and their fixed noisy versions ((H, W, C) floats);
  `sigma`: the one Gaussian σ (0-255) they carry, 0.0 without Gaussian
  noise, None when it was drawn per image."""
  names: list[str]
  clean: list[np.ndarray]
  noisy: list[np.ndarray]
  sigma: float | None


def protocol_sigma(spec: noise_lib.NoiseSpec) -> float | None:
  """The one Gaussian σ of `spec` (0.0 without Gaussian noise, None when it
  is drawn per image)."""
  if "gaussian" not in spec.kinds:
    return 0.0
  return None if spec.blind else float(spec.sigma)


def noisy_version(clean: np.ndarray, index: int, spec: noise_lib.NoiseSpec,
                  seed: int) -> np.ndarray:
  """Image `index`'s evaluation input: the protocol's Gaussian noise when
  `spec` is Gaussian noise of one σ, else ddn.noise with a fixed key."""
  if spec.kinds == ("gaussian",) and not spec.blind:
    return protocol.noisy_version(clean, float(spec.sigma), index, seed)
  key = jax.random.fold_in(jax.random.PRNGKey(seed + EVAL_NOISE_SEED), index)
  return np.asarray(noise_lib.apply(jnp.asarray(clean)[None], key, spec))[0]


def noisy_images(source, spec: noise_lib.NoiseSpec, seed: int,
                 count: int | None = None) -> Images:
  """The first `count` images of `source` (all by default) and their
  evaluation inputs (`noisy_version`)."""
  n = len(source) if count is None else min(int(count), len(source))
  clean = [np.asarray(source[i], np.float32) for i in range(n)]
  names = [source.label(i) if hasattr(source, "label") else str(i)
           for i in range(n)]
  return Images(names, clean,
                [noisy_version(c, i, spec, seed) for i, c in enumerate(clean)],
                protocol_sigma(spec))


class Evaluator(abc.ABC):
  """Scores denoisers on held-out images.

  `run` gets the methods (name -> `fn(noisy (H, W, C)) -> (H, W, C)`), the
  images and each method's outputs on them (already computed, clipped or
  not), and returns {method name: {metric: value}}. Metric names are flat
  (`psnr`, `realism_auc`, ...); the caller prefixes them.
  """

  name = ""
  # False: too costly to run at every evaluation during training (run by a
  # task's final evaluation and by ddn.evaluate).
  every_eval = True

  def __init__(self, config=None):
    """`config`: the run's config (None from the command line)."""
    self.config = config

  @abc.abstractmethod
  def run(self, methods: dict[str, Callable[[np.ndarray], np.ndarray]],
          images: Images, outputs: dict[str, list[np.ndarray]]
          ) -> dict[str, dict]:
    """{method name: metrics} for every method."""

  def summary(self, metrics: dict) -> dict[str, float]:
    """The scalars of one method's metrics to log (default: the floats)."""
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float, np.floating))}
