"""The autoencoder's convolutions, one at a time, in the forms that were tried.

  python benchmarks/kernels.py            # ~2 min, pinned to one core

For the layer shapes of the default U-Net (experiments/ae.py) on one
device's half of the default batch (16 x 48x48): milliseconds of the
forward and of forward + both gradients, median of --reps, for
- a stride-1 3x3 conv: XLA's conv (NHWC, what ddn uses), XLA's conv in NCHW,
  im2col + one matmul, and XLA's conv in bfloat16;
- the strided 3x3 convs and the 1-channel first conv: XLA's conv (what ddn
  uses) vs im2col;
- the 2x2 stride-2 transposed conv: flax's nn.ConvTranspose vs
  ddn.models.Upsample2x (per-pixel matmul + depth-to-space).
One XLA device pinned to one core, so each figure is one core's speed.
XLA flags are compared on the whole step instead, e.g.
  XLA_FLAGS=--xla_cpu_use_onednn=true python benchmarks/train_throughput.py
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
if hasattr(os, "sched_setaffinity"):
  os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import flax.linen as nn  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top,wrong-import-position
from jax import lax  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from ddn import models  # pylint: disable=g-import-not-at-top,wrong-import-position

B = 16
STRIDE1 = [(48, 32, 32), (24, 64, 64), (12, 128, 128), (24, 128, 64),
           (48, 64, 32)]  # (H, C_in, C_out)
OTHER = [(48, 1, 32, 1), (48, 32, 64, 2), (24, 64, 128, 2)]  # + stride
UP = [(12, 128, 64), (24, 64, 32)]  # input H, C_in, C_out


def _same_pads(size: int, k: int, stride: int) -> tuple[int, int]:
  """XLA's 'SAME' padding (before, after) of one axis."""
  out = -(-size // stride)
  total = max((out - 1) * stride + k - size, 0)
  return total // 2, total - total // 2


def im2col_conv(x, kernel, stride: int):
  """'SAME' conv of NHWC `x` with an HWIO `kernel` as one matmul."""
  k = kernel.shape[0]
  b, h, w, c = x.shape
  (t, bo), (l, r) = _same_pads(h, k, stride), _same_pads(w, k, stride)
  xp = jnp.pad(x, ((0, 0), (t, bo), (l, r), (0, 0)))
  ho, wo = -(-h // stride), -(-w // stride)
  cols = [lax.slice(xp, (0, i, j, 0),
                    (b, i + stride * (ho - 1) + 1, j + stride * (wo - 1) + 1,
                     c), (1, stride, stride, 1))
          for i in range(k) for j in range(k)]
  return jnp.dot(jnp.concatenate(cols, axis=-1),
                 kernel.reshape(k * k * c, -1))


def bench(f, *args, reps=7):
  f = jax.jit(f)
  jax.block_until_ready(f(*args))
  times = []
  for _ in range(reps):
    t = time.perf_counter()
    jax.block_until_ready(f(*args))
    times.append(time.perf_counter() - t)
  return 1e3 * float(np.median(times))


def fwd_and_grads(conv, x, w, reps):
  loss = lambda x, w: jnp.sum(conv(x, w).astype(jnp.float32) ** 2)
  return (bench(conv, x, w, reps=reps),
          bench(jax.grad(loss, argnums=(0, 1)), x, w, reps=reps))


def xla(stride, dn=("NHWC", "HWIO", "NHWC")):
  return lambda x, w: lax.conv_general_dilated(
      x, w, (stride, stride), "SAME", dimension_numbers=dn)


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--reps", type=int, default=7)
  a = p.parse_args()
  rng = np.random.default_rng(0)
  arr = lambda *s, dt=jnp.float32: jnp.asarray(rng.random(s) - 0.5, dt)
  print(f"JAX {jax.__version__}, one device on core "
        f"{sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}; "
        f"batch {B}; ms: forward / forward + gradients")
  for s in (1, 2):  # the forms compute the same conv
    x, w = arr(2, 13, 12, 5), arr(3, 3, 5, 4)
    np.testing.assert_allclose(im2col_conv(x, w, s), xla(s)(x, w), atol=1e-5)
  totals = {}
  for h, c, o in STRIDE1:
    forms = {
        "XLA NHWC": (xla(1), arr(B, h, h, c), arr(3, 3, c, o)),
        "XLA NCHW": (xla(1, ("NCHW", "OIHW", "NCHW")), arr(B, c, h, h),
                     arr(o, c, 3, 3)),
        "im2col": (lambda x, w: im2col_conv(x, w, 1),
                   arr(B, h, h, c), arr(3, 3, c, o)),
        "XLA bf16": (xla(1), arr(B, h, h, c, dt=jnp.bfloat16),
                     arr(3, 3, c, o, dt=jnp.bfloat16)),
    }
    cells = []
    for name, (fn, x, w) in forms.items():
      f, g = fwd_and_grads(fn, x, w, a.reps)
      totals[name] = [t + v for t, v in zip(totals.get(name, [0, 0]), (f, g))]
      cells.append(f"{name} {f:6.1f} / {g:6.1f}")
    print(f"3x3 s1 {h:>3}^2 {c:>3}->{o:<3}  " + " | ".join(cells), flush=True)
  print("stride-1 total: " + " | ".join(
      f"{k} {f:.0f} / {g:.0f}" for k, (f, g) in totals.items()))
  for h, c, o, s in OTHER:
    x, w = arr(B, h, h, c), arr(3, 3, c, o)
    cells = []
    for name, fn in (("XLA", xla(s)),
                     ("im2col", lambda x, w, s=s: im2col_conv(x, w, s))):
      f, g = fwd_and_grads(fn, x, w, a.reps)
      cells.append(f"{name} {f:6.1f} / {g:6.1f}")
    print(f"3x3 s{s} {h:>3}^2 {c:>3}->{o:<3}  " + " | ".join(cells),
          flush=True)
  for h, c, o in UP:
    x = arr(B, h, h, c)
    cells = []
    for name, mod in (("nn.ConvTranspose",
                       nn.ConvTranspose(o, (2, 2), strides=(2, 2))),
                      ("Upsample2x", models.Upsample2x(o))):
      v = mod.init(jax.random.PRNGKey(0), x)
      fn = lambda x, v, mod=mod: mod.apply(v, x)
      f = bench(fn, x, v, reps=a.reps)
      g = bench(jax.grad(lambda x, v, fn=fn: jnp.sum(fn(x, v) ** 2),
                         argnums=(0, 1)), x, v, reps=a.reps)
      cells.append(f"{name} {f:6.1f} / {g:6.1f}")
    print(f"up 2x2 {h:>3}^2 {c:>3}->{o:<3}  " + " | ".join(cells), flush=True)


if __name__ == "__main__":
  main()
