"""Corruptions applied inside the jitted step.

Images are float in [0, 1], shape (B, H, W, C). Every batch gets fresh noise
from a key derived from the step (`fold_in(key, step)`), never from a
precomputed noisy dataset. Kinds compose: `noise.kinds` is a comma-separated
list applied in order, each with its own sub-config:

  gaussian     additive N(0, (sigma/255)^2); sigma on the 0-255 scale. Fixed
               (`sigma`) or, with `blind=True`, drawn per image uniformly from
               [sigma_min, sigma_max]. The result is not clipped (the field's
               protocol).
  salt_pepper  each pixel location independently replaced, with probability
               `rate`, by 1 (salt, probability `salt_fraction`) or 0 (pepper).
  blocks       `count` axis-aligned square blocks per image knocked out, side
               drawn uniformly from [size_min, size_max] pixels, filled with
               `fill`: 'zero', 'one', 'mean' (the image mean) or 'random'
               (uniform noise).

Severity presets (`experiments/ae.py:severe`, see `PRESETS`) set these fields
to reproduce the chapter's "severely noisy" examples.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

KINDS = ("gaussian", "salt_pepper", "blocks")
BLOCK_FILLS = ("zero", "one", "mean", "random")
# σ is applied in float32: beyond its range the noise is infinite.
MAX_SIGMA = float(np.finfo(np.float32).max)
# Block sides are drawn as int32 (size_max + 1 must fit); a side at least the
# image's covers it whole, so nothing is lost by the bound.
MAX_BLOCK_SIZE = 2**31 - 2

# Presets: overrides of config.noise that reproduce the chapter's examples
# ("mildly" to "severely" noisy images).
PRESETS: dict[str, dict[str, Any]] = {
    "mild": {"kinds": "gaussian", "gaussian.sigma": 15.0},
    "moderate": {
        "kinds": "gaussian,salt_pepper",
        "gaussian.sigma": 25.0,
        "salt_pepper.rate": 0.02,
    },
    "severe": {
        "kinds": "gaussian,salt_pepper,blocks",
        "gaussian.sigma": 50.0,
        "salt_pepper.rate": 0.1,
        "blocks.count": 4,
        "blocks.size_min": 4,
        "blocks.size_max": 12,
        "blocks.fill": "random",
    },
}


@dataclasses.dataclass(frozen=True)
class NoiseSpec:
  """Hashable, validated noise settings (closed over by jitted steps)."""

  kinds: tuple[str, ...]
  sigma: float = 25.0
  blind: bool = False
  sigma_min: float = 0.0
  sigma_max: float = 55.0
  sp_rate: float = 0.0
  sp_salt_fraction: float = 0.5
  block_count: int = 0
  block_size_min: int = 4
  block_size_max: int = 12
  block_fill: str = "zero"


def spec_from_config(cfg) -> NoiseSpec:
  """Builds and validates a NoiseSpec from `config.noise`.

  Raises:
    ValueError: naming the field and the valid values.
  """
  kinds = tuple(k.strip() for k in str(cfg.kinds).split(",") if k.strip())
  if len(set(kinds)) != len(kinds):
    raise ValueError(f"config.noise.kinds={cfg.kinds!r}: each kind at most "
                     "once (its sub-config sets its strength).")
  for k in kinds:
    if k not in KINDS:
      raise ValueError(
          f"config.noise.kinds: unknown noise kind {k!r}; valid kinds are "
          f"{', '.join(KINDS)} (comma-separated, applied in order).")
  g, sp, b = cfg.gaussian, cfg.salt_pepper, cfg.blocks
  spec = NoiseSpec(
      kinds=kinds,
      sigma=float(g.sigma), blind=bool(g.blind),
      sigma_min=float(g.sigma_min), sigma_max=float(g.sigma_max),
      sp_rate=float(sp.rate), sp_salt_fraction=float(sp.salt_fraction),
      block_count=int(b.count), block_size_min=int(b.size_min),
      block_size_max=int(b.size_max), block_fill=str(b.fill))
  if "gaussian" in kinds:
    # `not a <= x` also catches NaN.
    if not 0 <= spec.sigma <= MAX_SIGMA:
      raise ValueError(f"config.noise.gaussian.sigma={spec.sigma}: σ must be "
                       ">= 0 and finite (on the 0-255 scale, e.g. 25).")
    if spec.blind and not 0 <= spec.sigma_min <= spec.sigma_max <= MAX_SIGMA:
      raise ValueError(
          "config.noise.gaussian: blind noise needs 0 <= sigma_min <= "
          f"sigma_max, both finite, got [{spec.sigma_min}, "
          f"{spec.sigma_max}].")
  if "salt_pepper" in kinds:
    if not 0 <= spec.sp_rate <= 1 or not 0 <= spec.sp_salt_fraction <= 1:
      raise ValueError(
          "config.noise.salt_pepper: rate and salt_fraction must lie in "
          f"[0, 1], got rate={spec.sp_rate}, "
          f"salt_fraction={spec.sp_salt_fraction}.")
  if "blocks" in kinds:
    if spec.block_count < 0 or not (
        1 <= spec.block_size_min <= spec.block_size_max <= MAX_BLOCK_SIZE):
      raise ValueError(
          "config.noise.blocks: need count >= 0 and 1 <= size_min <= "
          f"size_max <= {MAX_BLOCK_SIZE} (a side at least the image's covers "
          f"it), got count={spec.block_count}, "
          f"size=[{spec.block_size_min}, {spec.block_size_max}].")
    if spec.block_fill not in BLOCK_FILLS:
      raise ValueError(f"config.noise.blocks.fill={spec.block_fill!r}: valid "
                       f"fills are {', '.join(BLOCK_FILLS)}.")
  return spec


def gaussian_sigmas(key: jax.Array, batch: int, spec: NoiseSpec) -> jax.Array:
  """Per-image σ on the 0-255 scale, shape (batch,)."""
  if spec.blind:
    return jax.random.uniform(key, (batch,), minval=spec.sigma_min,
                              maxval=spec.sigma_max)
  return jnp.full((batch,), spec.sigma, jnp.float32)


def gaussian_with_sigma(x, key, spec: NoiseSpec):
  """(x + Gaussian noise, the per-image σ drawn for it, shape (B,))."""
  k_sigma, k_noise = jax.random.split(key)
  sigma = gaussian_sigmas(k_sigma, x.shape[0], spec)
  noise = jax.random.normal(k_noise, x.shape, x.dtype)
  return x + noise * (sigma / 255.0)[:, None, None, None].astype(x.dtype), sigma


def add_gaussian(x, key, spec: NoiseSpec):
  return gaussian_with_sigma(x, key, spec)[0]


def add_salt_pepper(x, key, spec: NoiseSpec):
  k_hit, k_salt = jax.random.split(key)
  shape = x.shape[:3] + (1,)  # one decision per pixel location
  hit = jax.random.uniform(k_hit, shape) < spec.sp_rate
  salt = jax.random.uniform(k_salt, shape) < spec.sp_salt_fraction
  return jnp.where(hit, salt.astype(x.dtype), x)


def block_mask(shape: tuple[int, ...], key: jax.Array, spec: NoiseSpec
               ) -> jax.Array:
  """(B, H, W, 1) bool: the union of the `block_count` random squares per
  image that knock_out_blocks(x, key, spec) replaces, for x of `shape`."""
  b, h, w, _ = shape
  k_size, k_y, k_x, _ = jax.random.split(key, 4)
  n = spec.block_count
  size = jax.random.randint(k_size, (b, n), spec.block_size_min,
                            spec.block_size_max + 1)
  # Top-left corners such that a block lies inside the image where possible.
  y0 = jnp.floor(jax.random.uniform(k_y, (b, n)) *
                 jnp.maximum(h - size + 1, 1)).astype(jnp.int32)
  x0 = jnp.floor(jax.random.uniform(k_x, (b, n)) *
                 jnp.maximum(w - size + 1, 1)).astype(jnp.int32)
  yy = jnp.arange(h)[None, None, :, None]
  xx = jnp.arange(w)[None, None, None, :]
  inside = ((yy >= y0[..., None, None]) & (yy < (y0 + size)[..., None, None]) &
            (xx >= x0[..., None, None]) & (xx < (x0 + size)[..., None, None]))
  return jnp.any(inside, axis=1)[..., None]


def knock_out_blocks(x, key, spec: NoiseSpec):
  """Replaces `count` random square blocks per image by the fill value."""
  if spec.block_count == 0:
    return x
  mask = block_mask(x.shape, key, spec)
  k_fill = jax.random.split(key, 4)[3]
  if spec.block_fill == "zero":
    fill = jnp.zeros_like(x)
  elif spec.block_fill == "one":
    fill = jnp.ones_like(x)
  elif spec.block_fill == "mean":
    fill = jnp.broadcast_to(jnp.mean(x, axis=(1, 2, 3), keepdims=True), x.shape)
  else:
    fill = jax.random.uniform(k_fill, x.shape, x.dtype)
  return jnp.where(mask, fill, x)


_APPLY = {
    "gaussian": add_gaussian,
    "salt_pepper": add_salt_pepper,
    "blocks": knock_out_blocks,
}


def apply(clean: jax.Array, key: jax.Array, spec: NoiseSpec) -> jax.Array:
  """Corrupts a batch.

  Args:
    clean: (B, H, W, C) float images in [0, 1].
    key: PRNG key for this batch (derive it from the step).
    spec: the noise settings.

  Returns:
    The noisy batch, same shape and dtype, not clipped.
  """
  return apply_with_sigma(clean, key, spec)[0]


def apply_with_sigma(clean: jax.Array, key: jax.Array, spec: NoiseSpec
                     ) -> tuple[jax.Array, jax.Array]:
  """`apply`, and the Gaussian σ (0-255) each image got, shape (B,): what a
  model told the noise level (models.Autoencoder.noise_map) is given. 0
  without Gaussian noise."""
  x = clean
  sigma = jnp.zeros((clean.shape[0],), jnp.float32)
  for i, kind in enumerate(spec.kinds):
    k = jax.random.fold_in(key, i)
    if kind == "gaussian":
      x, sigma = gaussian_with_sigma(x, k, spec)
    else:
      x = _APPLY[kind](x, k, spec)
  return x, sigma
