"""Reconstruction losses (pure functions).

All losses are MEANS over every pixel, channel and image of the batch, not
sums: a mean keeps the loss scale independent of crop and batch size, so the
same learning rate works at 40x40 and 128x128. The chapter's SSD is a sum of
squared differences; the mean differs from it by the constant factor
B*H*W*C, which Adam is invariant to (for SGD, scale the learning rate).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def ssd(pred: jax.Array, target: jax.Array) -> jax.Array:
  """Mean squared difference (the chapter's SSD, as a mean)."""
  return jnp.mean(jnp.square(pred - target))


def l1(pred: jax.Array, target: jax.Array) -> jax.Array:
  """Mean absolute difference."""
  return jnp.mean(jnp.abs(pred - target))


def reconstruction(pred, target, ssd_weight: float, l1_weight: float):
  """a * SSD + b * L1, and its parts.

  Returns:
    (loss, {'ssd': ..., 'l1': ...}) as scalars.
  """
  parts = {"ssd": ssd(pred, target), "l1": l1(pred, target)}
  return ssd_weight * parts["ssd"] + l1_weight * parts["l1"], parts


def psnr(pred: jax.Array, target: jax.Array, axis=None) -> jax.Array:
  """PSNR in dB for images in [0, 1] (pred is clipped first)."""
  mse = jnp.mean(jnp.square(jnp.clip(pred, 0.0, 1.0) - target), axis=axis)
  return -10.0 * jnp.log10(jnp.maximum(mse, 1e-12))


def validate(cfg) -> None:
  """Checks `config.loss`; raises ValueError naming the bad field."""
  if cfg.ssd_weight < 0 or cfg.l1_weight < 0 or (
      cfg.ssd_weight == 0 and cfg.l1_weight == 0):
    raise ValueError(
        "config.loss: ssd_weight and l1_weight must be >= 0 and not both 0, "
        f"got ssd_weight={cfg.ssd_weight}, l1_weight={cfg.l1_weight}.")
