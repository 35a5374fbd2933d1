"""Non-local blocks for the U-Net: channel attention and self-attention.

Two residual blocks, each `x + out(attention(x))` on (B, H, W, C) features,
for the levels where a convolution's local receptive field cannot see that
a patch repeats across the image:

- `MDTA`, Restormer's multi-Dconv-head transposed attention (Zamir et al.,
  CVPR 2022): q, k, v from a 1x1 conv then a 3x3 depthwise conv; q and k
  L2-normalised along the spatial axis; per head a (C/heads) x (C/heads)
  attention map over channels, scaled by a learned temperature; a 1x1
  output conv. Its cost is linear in the pixels, so it fits any level.
- `NonLocal`, the non-local block (Wang et al., CVPR 2018) in its
  embedded-Gaussian form: scaled dot-product self-attention between all
  positions (optionally against max-pooled keys and values), a 1x1 output
  conv. Its cost is quadratic in the pixels: for the bottleneck, where H·W
  is small. Queries are processed `chunk` at a time so that memory stays
  O(chunk x keys) at inference on whole images.

Both initialise their output conv to zero, so a block inserted into a
trained network leaves its function unchanged at init, and both normalise
their input per pixel (LayerNorm over channels, Restormer's pre-norm) unless
`norm=False`. Neither has positional terms. Note for tiling: either block's
output at a pixel depends on the whole image (MDTA through its global
channel map), so tiled inference is no longer exactly one pass.

Conventions as ddn.models: parameters float32, `dtype` the activations'
(convs and matmuls); the normalisations and softmax run in float32; the
output has the input's dtype.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

EPS = 1e-12  # torch.nn.functional.normalize's, as Restormer


def _check_input(name: str, x: jax.Array, heads: int, inner: int) -> None:
  if x.ndim != 4:
    raise ValueError(f"{name} takes (B, H, W, C) features, got shape "
                     f"{x.shape}.")
  if heads < 1 or inner % heads:
    raise ValueError(f"{name}: heads={heads} must be >= 1 and divide its "
                     f"{inner} attention channels; choose heads that divide "
                     "them.")


def transposed_attention(q: jax.Array, k: jax.Array, v: jax.Array,
                         temperature: jax.Array) -> jax.Array:
  """MDTA's core: attention over channels, per head.

  Args:
    q, k, v: (B, N, heads, D) for N positions.
    temperature: (heads,) scale of each head's logits.

  Returns:
    (B, N, heads, D) float32: out[:, n, h, d] = sum_e A[h, d, e] v[:, n, h, e]
    with A = softmax_e(temperature[h] * <q̂_d, k̂_e>), where q̂ and k̂ are
    q and k L2-normalised along N.
  """
  q, k = (x.astype(jnp.float32) for x in (q, k))
  q = q / jnp.maximum(jnp.linalg.norm(q, axis=1, keepdims=True), EPS)
  k = k / jnp.maximum(jnp.linalg.norm(k, axis=1, keepdims=True), EPS)
  logits = jnp.einsum("bnhd,bnhe->bhde", q, k)
  logits = logits * temperature.astype(jnp.float32)[:, None, None]
  weights = jax.nn.softmax(logits, axis=-1)
  return jnp.einsum("bhde,bnhe->bnhd", weights, v.astype(jnp.float32))


def dot_product_attention(q: jax.Array, k: jax.Array, v: jax.Array,
                          chunk: int = 0) -> jax.Array:
  """softmax(q kᵀ / √D) v over positions, `chunk` queries at a time.

  Args:
    q: (B, N, heads, D) queries; k: (B, M, heads, D) keys; v: (B, M, heads,
      E) values.
    chunk: queries per step (0: all at once). Chunks bound the memory to
      B x heads x chunk x M logits (recomputed in the backward pass); the
      result is the same.

  Returns:
    (B, N, heads, E), the logits and softmax in float32, the products in
    q's dtype.
  """
  scale = q.shape[-1] ** -0.5

  def attend(qc):
    logits = jnp.einsum("bnhd,bmhd->bhnm", qc, k,
                        preferred_element_type=jnp.float32) * scale
    weights = jax.nn.softmax(logits, axis=-1).astype(v.dtype)
    return jnp.einsum("bhnm,bmhe->bnhe", weights, v)

  b, n, h, d = q.shape
  if chunk <= 0 or n <= chunk:
    return attend(q)
  pad = (-n) % chunk
  qc = jnp.pad(q, ((0, 0), (0, pad), (0, 0), (0, 0)))
  qc = qc.reshape(b, (n + pad) // chunk, chunk, h, d).swapaxes(0, 1)
  out = lax.map(jax.checkpoint(attend), qc)  # (n_chunks, B, chunk, h, E)
  return out.swapaxes(0, 1).reshape(b, n + pad, h, -1)[:, :n]


class MDTA(nn.Module):
  """Restormer's multi-Dconv-head transposed attention, as a residual block.

  Attributes:
    heads: attention heads; each attends over features/heads channels.
    use_bias: biases in the convs (Restormer: none).
    norm: LayerNorm over channels before the attention (Restormer's).
    zero_init: the output conv starts at zero (the block is the identity).
    dtype: of the activations (config.compute_dtype); parameters float32.

  Parameters: `norm`, `qkv` (1x1, C -> 3C), `qkv_dwconv` (3x3 depthwise on
  the 3C channels), `temperature` (heads,) initialised to 1, `proj` (1x1).
  """

  heads: int = 1
  use_bias: bool = False
  norm: bool = True
  zero_init: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """(B, H, W, C) -> (B, H, W, C): x + proj(attention(x))."""
    _check_input("MDTA", x, self.heads, x.shape[-1] if x.ndim else 0)
    b, h, w, c = x.shape
    y = nn.LayerNorm(dtype=jnp.float32, name="norm")(x) if self.norm else x
    qkv = nn.Conv(3 * c, (1, 1), use_bias=self.use_bias, dtype=self.dtype,
                  name="qkv")(y)
    qkv = nn.Conv(3 * c, (3, 3), padding="SAME", feature_group_count=3 * c,
                  use_bias=self.use_bias, dtype=self.dtype,
                  name="qkv_dwconv")(qkv)
    q, k, v = (t.reshape(b, h * w, self.heads, c // self.heads)
               for t in jnp.split(qkv, 3, axis=-1))
    temperature = self.param("temperature", nn.initializers.ones_init(),
                             (self.heads,))
    y = transposed_attention(q, k, v, temperature).reshape(b, h, w, c)
    y = _output_conv(y, c, self.use_bias, self.zero_init, self.dtype)
    return x + y.astype(x.dtype)


class NonLocal(nn.Module):
  """Non-local block (embedded Gaussian, scaled), as a residual block.

  Attributes:
    inner: attention channels (0: half the input's, the paper's).
    heads: attention heads; each attends with inner/heads channels.
    pool: keys and values max-pooled pool x pool (the paper's subsampling,
      pool² fewer keys); 1 compares every position with every other.
    chunk: queries per step (0: all at once); see dot_product_attention.
    use_bias: biases in the 1x1 convs.
    norm: LayerNorm over channels before the attention.
    zero_init: the output conv starts at zero (the block is the identity).
    dtype: of the activations (config.compute_dtype); parameters float32.

  Parameters: `norm`, `theta`, `phi`, `g` (1x1, C -> inner), `proj` (1x1,
  inner -> C).
  """

  inner: int = 0
  heads: int = 1
  pool: int = 1
  chunk: int = 1024
  use_bias: bool = True
  norm: bool = True
  zero_init: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """(B, H, W, C) -> (B, H, W, C): x + proj(attention(x))."""
    c = x.shape[-1] if x.ndim else 0
    inner = self.inner or max(c // 2, 1)
    _check_input("NonLocal", x, self.heads, inner)
    if self.pool < 1:
      raise ValueError(f"NonLocal: pool={self.pool} must be >= 1 (1: no "
                       "pooling of keys and values).")
    b, h, w, _ = x.shape
    y = nn.LayerNorm(dtype=jnp.float32, name="norm")(x) if self.norm else x
    conv = lambda name: nn.Conv(inner, (1, 1), use_bias=self.use_bias,
                                dtype=self.dtype, name=name)(y)
    q, k, v = conv("theta"), conv("phi"), conv("g")
    if self.pool > 1:
      window = (self.pool, self.pool)
      k, v = (nn.max_pool(t, window, window, padding="SAME") for t in (k, v))
    heads = lambda t: t.reshape(b, -1, self.heads, inner // self.heads)
    y = dot_product_attention(heads(q), heads(k), heads(v), self.chunk)
    y = _output_conv(y.reshape(b, h, w, inner), c, self.use_bias,
                     self.zero_init, self.dtype)
    return x + y.astype(x.dtype)


def _output_conv(y: jax.Array, features: int, use_bias: bool,
                 zero_init: bool, dtype) -> jax.Array:
  """The blocks' 1x1 output conv `proj` (inside their compact scope)."""
  init = (nn.initializers.zeros_init() if zero_init
          else nn.initializers.lecun_normal())
  return nn.Conv(features, (1, 1), use_bias=use_bias, kernel_init=init,
                 dtype=dtype, name="proj")(y)
