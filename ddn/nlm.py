"""Non-local means (Buades, Coll & Morel 2005), as input channels of a U-Net.

A U-Net sees a patch's neighbourhood, not the patches like it elsewhere in
the image; BM3D's block matching does, and wins on images whose structure
repeats (bricks, windows, fabric). Non-local means is the cheapest form of
that matching: each pixel becomes a weighted mean of the pixels whose
surrounding patch looks like its own, anywhere in a search window. Given to
the network as extra input channels (config.model.nlm, ddn.models), the
matching is done for it and it learns how much to trust the result.

`nonlocal_means(x, sigma, h, radius, patch)`: for every offset d in the
(2 radius + 1)² search window, the mean squared difference D(p, d) between
the (2 patch + 1)² patches around p and p + d, and the weight
exp(-max(D - 2 s², 0) / (h_k s)²), s = σ/255 (the IPOL implementation's
form: patches that differ only by noise weigh 1). One channel per h_k.
Linear in pixels: (2 radius + 1)² passes of elementwise work and one box
sum each, in a `fori_loop` (memory of a few images, whatever the window).
The image is reflected at its borders. No parameters; no gradient flows
through it (it reads only the noisy input).
"""

import jax
import jax.numpy as jnp

# s below this (σ = 0.5 on the 0-255 scale) is taken as this: a clean
# input then averages only patches equal to its own, and h never divides 0.
MIN_SIGMA = 0.5 / 255.0


def _box_sum(t: jax.Array, size: int) -> jax.Array:
  """Sums over size x size windows, 'valid': (B, H, W, C) -> (B, H - size +
  1, W - size + 1, C)."""
  return jax.lax.reduce_window(t, 0.0, jax.lax.add, (1, size, size, 1),
                               (1, 1, 1, 1), "VALID")


def nonlocal_means(x: jax.Array, sigma, h=(0.4,), radius: int = 10,
                   patch: int = 2) -> jax.Array:
  """Non-local means of a batch (module docstring).

  Args:
    x: (B, H, W, C) noisy images in [0, 1]; patch distances average the C
      channels, and the weights apply to every channel.
    sigma: the noise σ on the 0-255 scale, a scalar or one per image (B,).
    h: the filter widths, each a multiple of σ: one output per width.
    radius: the search window is (2 radius + 1)² pixels.
    patch: patches are (2 patch + 1)² pixels.

  Returns:
    (B, H, W, C * len(h)) float32: the estimate for each h (C channels per
    h, in the order of h).
  """
  x = jax.lax.stop_gradient(jnp.asarray(x, jnp.float32))
  b, height, width, c = x.shape
  s = jnp.maximum(jnp.asarray(sigma, jnp.float32).reshape(-1) / 255.0,
                  MIN_SIGMA)
  s = jnp.broadcast_to(s, (b,)).reshape(b, 1, 1, 1, 1)
  widths = jnp.asarray(h, jnp.float32).reshape(1, 1, 1, 1, -1) * s
  m = radius + patch
  mode = "reflect" if min(height, width) > m else "symmetric"
  xp = jnp.pad(x, ((0, 0), (m, m), (m, m), (0, 0)), mode=mode)
  # The patches around each pixel (a margin of `patch`) and the pixels.
  here = xp[:, radius:radius + height + 2 * patch,
            radius:radius + width + 2 * patch]
  size, span = 2 * patch + 1, 2 * radius + 1
  area = float(size * size * c)

  def body(i, carry):
    num, den = carry
    there = jax.lax.dynamic_slice(
        xp, (0, i // span, i % span, 0),
        (b, height + 2 * patch, width + 2 * patch, c))
    d = _box_sum(jnp.sum((there - here) ** 2, -1, keepdims=True), size)
    d = d / area  # (B, H, W, 1): mean squared difference of the patches
    w = jnp.exp(-jnp.maximum(d[..., None] - 2 * s * s, 0.0) / widths ** 2)
    centre = there[:, patch:patch + height, patch:patch + width, :, None]
    return num + w * centre, den + w  # (B, H, W, C, K), (B, H, W, 1, K)

  k = widths.shape[-1]
  num = jnp.zeros((b, height, width, c, k), jnp.float32)
  den = jnp.zeros((b, height, width, 1, k), jnp.float32)
  num, den = jax.lax.fori_loop(0, span * span, body, (num, den))
  out = num / den  # the offset 0 weighs 1, so den >= 1
  return jnp.moveaxis(out, -1, -2).reshape(b, height, width, k * c)
