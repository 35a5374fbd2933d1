"""Property-based fuzzing (hypothesis) of config.noise and config.model.

Values of the right type (wrong types: config_check.validate,
tests/test_bad_config.py) either fail where training builds the noise and
the model (noise.spec_from_config, models.from_config; also the path of
ddn.inference and ddn.realism) with one clean ValueError naming a config
field, or give noise / a denoised image that is finite and of the input's
shape, for any small image size (odd, 1 pixel) and 1 or 3 channels.
Examples are derandomized (the same every run, no example database) so
that CI is deterministic; @example lists settings that once failed.
"""

import pytest
import math

import jax
import numpy as np
from hypothesis import event
from hypothesis import example
from hypothesis import given
from hypothesis import Phase
from hypothesis import settings
from hypothesis import strategies as st

from ddn import configs
from ddn import models
from ddn import noise as noise_lib

# Property-based fuzzing: hundreds of generated configs.
pytestmark = pytest.mark.slow

BAD_FLOATS = st.sampled_from([math.nan, math.inf, -math.inf, -1.0, -0.0,
                              1e30, 1e39, 1e300])
SIZES = st.integers(1, 40)
CHANNELS = st.sampled_from([1, 3])


def _mostly(valid, invalid):
  """`valid` four times in five, else `invalid` (which may also be valid):
  an example then has few bad fields, and many examples build."""
  return st.integers(0, 4).flatmap(lambda i: invalid if i == 4 else valid)


# No "explain" phase: on a failure it reruns hundreds of variants (minutes).
FUZZ = dict(deadline=None, derandomize=True, database=None,
            phases=(Phase.explicit, Phase.generate, Phase.shrink))


def _config(group: str, fields: dict):
  c = configs.apply_args(configs.defaults("autoencoder"), "smoke")
  for path, value in fields.items():
    node = c[group]
    *parents, leaf = path.split(".")
    for p in parents:
      node = node[p]
    node[leaf] = value
  return c


def _built_or_clean_error(build):
  """build() or None when it raised a clean error (a ValueError naming a
  config field); any other exception fails the test."""
  try:
    return build()
  except ValueError as e:
    assert "config." in str(e), f"unclear error: {e}"
    event(f"error: {str(e)[:40]}")
    return None


# ----------------------------------------------------------------------------
# config.noise


def _floats(lo, hi):
  return _mostly(st.floats(lo, hi), st.one_of(st.floats(-1e3, 1e3),
                                              BAD_FLOATS))


def _ints(lo, hi, invalid):
  return _mostly(st.integers(lo, hi), invalid)


NOISE = st.fixed_dictionaries({
    "kinds": st.lists(_mostly(st.sampled_from(noise_lib.KINDS),
                              st.sampled_from(["speckle", "Gaussian", ""])),
                      max_size=4).map(",".join),
    "gaussian.sigma": _floats(0.0, 100.0),
    "gaussian.blind": st.booleans(),
    "gaussian.sigma_min": _floats(0.0, 30.0),
    "gaussian.sigma_max": _floats(30.0, 100.0),
    "salt_pepper.rate": _floats(0.0, 1.0),
    "salt_pepper.salt_fraction": _floats(0.0, 1.0),
    "blocks.count": _ints(0, 8, st.integers(-3, 1000)),
    "blocks.size_min": _ints(1, 8, st.sampled_from([-1, 0, 2**31 - 1,
                                                    2**40])),
    "blocks.size_max": _ints(8, 50, st.sampled_from([-1, 0, 2**31 - 1,
                                                     2**40])),
    "blocks.fill": _mostly(st.sampled_from(noise_lib.BLOCK_FILLS),
                           st.sampled_from(["noise", "", "ZERO"])),
})


def _noise(**over):
  """The default config.noise as fuzzed fields, with `over`
  ('__' for '.')."""
  c = configs.defaults("autoencoder").noise
  fields = {f"{g}.{k}": v for g in ("gaussian", "salt_pepper", "blocks")
            for k, v in c[g].items()}
  fields["kinds"] = "gaussian,salt_pepper,blocks"
  fields.update({k.replace("__", "."): v for k, v in over.items()})
  return fields


# Settings that once gave non-finite noise or a crash, always tried.
@example(fields=_noise(kinds="gaussian", gaussian__sigma=math.nan), h=8,
         w=8, channels=1)
@example(fields=_noise(kinds="gaussian", gaussian__sigma=1e39), h=8, w=8,
         channels=1)
@example(fields=_noise(kinds="gaussian", gaussian__blind=True,
                       gaussian__sigma_max=1e39), h=8, w=8, channels=1)
@example(fields=_noise(blocks__size_max=2**31 - 1), h=1, w=1, channels=3)
@settings(max_examples=40, **FUZZ)
@given(fields=NOISE, h=SIZES, w=SIZES, channels=CHANNELS)
def test_noise_config_is_a_clean_error_or_finite_noise(fields, h, w,
                                                        channels):
  c = _config("noise", fields)
  spec = _built_or_clean_error(lambda: noise_lib.spec_from_config(c.noise))
  if spec is None:
    return
  clean = jax.random.uniform(jax.random.PRNGKey(0), (2, h, w, channels))
  noisy = np.asarray(noise_lib.apply(clean, jax.random.PRNGKey(1), spec))
  assert noisy.shape == clean.shape
  assert np.all(np.isfinite(noisy)), spec


# ----------------------------------------------------------------------------
# config.model


MODEL = st.fixed_dictionaries({
    "features": _mostly(st.lists(st.integers(1, 8), min_size=1, max_size=4),
                        st.lists(st.integers(-1, 8), max_size=4)).map(tuple),
    "blocks": _ints(1, 2, st.integers(-1, 0)),
    "kernel_size": _mostly(st.sampled_from([1, 3, 5]), st.integers(-1, 4)),
    "skip": st.booleans(),
    "upsample": _mostly(st.sampled_from(models.UPSAMPLES),
                        st.just("nearest")),
    "activation": _mostly(st.sampled_from(tuple(models.ACTIVATIONS)),
                          st.just("tanh")),
    "output": _mostly(st.sampled_from(models.OUTPUTS), st.just("tanh")),
    "dropout": _mostly(st.sampled_from([0.0, 0.1, 0.5]),
                       st.sampled_from([0.99, 1.0, -0.1, math.nan,
                                        math.inf])),
})


def _model(**over):
  """The smoke config.model as fuzzed fields, with `over`."""
  fields = dict(
      configs.apply_args(configs.defaults("autoencoder"), "smoke").model)
  del fields["name"]
  return {**fields, **over}


# Always tried: more levels than a 1-pixel image has, and a deep odd strip.
@example(fields=_model(features=(8, 8, 8, 8), upsample="resize",
                       dropout=0.5), h=1, w=1, channels=3)
@example(fields=_model(features=(2, 4, 8), skip=False, output="sigmoid"),
         h=37, w=3, channels=1)
@settings(max_examples=10, **FUZZ)
@given(fields=MODEL, h=SIZES, w=SIZES, channels=CHANNELS)
def test_model_config_is_a_clean_error_or_finite_output(fields, h, w,
                                                        channels):
  c = _config("model", fields)
  c.data.channels = channels
  model = _built_or_clean_error(lambda: models.from_config(c.model,
                                                            channels))
  if model is None:
    return
  x = jax.random.uniform(jax.random.PRNGKey(0), (1, h, w, channels))

  @jax.jit
  def run(x):  # both paths: evaluation, and training (dropout, Upsample2x)
    params = model.init(jax.random.PRNGKey(1), x)["params"]
    rngs = {"dropout": jax.random.PRNGKey(2)}
    return (model.apply({"params": params}, x),
            model.apply({"params": params}, x, train=True, rngs=rngs))

  for y in run(x):
    assert y.shape == x.shape
    assert np.all(np.isfinite(np.asarray(y))), fields
