"""Data parallelism over every device of every process: one mesh axis.

Training and evaluation arrays are global `jax.Array`s on a `Mesh` with one
axis, 'data': batches are split over it, parameters and optimizer state are
replicated. The same code runs on one CPU device, on the cores of a CPU, on a
TPU host's chips and on a pod slice of several hosts (after
`jax.distributed.initialize`); XLA inserts the gradient all-reduce.

Every process holds the whole config and the same data sources. A training
batch is made only where it is used: each process builds its own rows of
every global batch (`process_rows`), so N hosts read disjoint crops, and the
global batch of a step is the same whatever the number of processes or
devices (ddn.data.batch_at draws row n of step s from the seed, s and n).
Evaluation data, the same on every process, is split over the mesh by
`BatchMap` and the results are gathered back to every process.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

import jax
from jax.experimental import multihost_utils
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA = "data"  # the mesh axis the batch is split over


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A one-axis mesh ('data',) over `devices` (default: all, every process).

  `jax.devices()` lists each process's devices together, so every process
  holds one contiguous block of each batch.
  """
  devices = jax.devices() if devices is None else list(devices)
  return Mesh(np.array(devices), (DATA,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh, leading: int = 0) -> NamedSharding:
  """Axis `leading` split over the mesh; `leading=1` for stacked batches
  (k, B, ...)."""
  return NamedSharding(mesh, P(*([None] * leading), DATA))


def run_once_options() -> dict[str, int]:
  """XLA compile options for a program that runs once (a state's init).

  On the CPU, XLA's backend optimisations only cost compile time there:
  a shipped-size G and D's init compiles in 9 s at the default level and
  3 s at level 1 on a 2-core CPU. The values are the default level's to
  the bit for every autoencoder and the recipe's D, and differ by one
  float32 ULP in some kernels of a spectral-norm D (as eager and jitted
  init already do), so a fresh run with that D no longer starts bit for
  bit where one before this option did; resumed runs are unaffected.
  XLA_FLAGS that set a level win (the test suite's).
  """
  if (jax.default_backend() != "cpu"
      or "xla_backend_optimization_level" in os.environ.get("XLA_FLAGS", "")):
    return {}  # an explicit level (the test suite's) wins
  return {"xla_backend_optimization_level": 1}


def is_primary() -> bool:
  """Whether this process writes logs, plots, records and summaries."""
  return jax.process_index() == 0


def process_rows(mesh: Mesh, batch: int) -> range:
  """The rows [a, b) of a global batch of `batch` that this process holds.

  Raises:
    ValueError: when the batch does not split evenly over the devices.
  """
  n = mesh.devices.size
  if batch % n:
    raise ValueError(f"a batch of {batch} does not split over {n} devices; "
                     f"use a multiple of {n}.")
  index = batch_sharding(mesh).addressable_devices_indices_map((batch,))
  starts = sorted(s[0].start or 0 for s in index.values())
  per = batch // n
  if starts != list(range(starts[0], starts[0] + per * len(starts), per)):
    raise ValueError("this process's devices are not one contiguous block of "
                     "the mesh; build the mesh with ddn.parallel.make_mesh.")
  return range(starts[0], starts[0] + per * len(starts))


def placed(tree, sharding):
  """Abstract arrays (shape, dtype) of `tree` with `sharding`: a restore or
  lowering target."""
  return jax.tree_util.tree_map(
      lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding),
      tree)


def global_batch(local: np.ndarray, sharding: NamedSharding,
                 global_shape: tuple[int, ...]) -> jax.Array:
  """The global array whose rows on this process are `local` (this process's
  `process_rows` of the batch axis)."""
  return jax.make_array_from_process_local_data(sharding, local, global_shape)


def from_host(x: np.ndarray, sharding: NamedSharding) -> jax.Array:
  """A global array from data every process holds whole (e.g. evaluation
  images): each device takes its slice of `x`."""
  x = np.asarray(x)
  return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])


def to_host(a: jax.Array) -> np.ndarray:
  """The whole of a global array as numpy, on every process."""
  if a.is_fully_addressable:
    return np.asarray(a)
  return np.asarray(multihost_utils.process_allgather(a, tiled=True))


class BatchMap:
  """Runs a per-example function over a batch split across the mesh.

  `fn(params, *xs)` must treat examples independently (no mean over the
  batch): its outputs have the examples on their leading axis. Calling the
  map with numpy `xs` of N examples (the same on every process) runs `fn` on
  chunks of at most `chunk` examples, each padded to a multiple of the device
  count by repeating its last example and split over the mesh, and returns
  numpy outputs of the N examples: padding never reaches a mean.

  The compiled function has no collectives (its outputs stay split; they
  are gathered on the host): XLA:CPU runs the devices' parts of programs on
  one thread pool, and two programs in flight that each wait in a
  collective can starve it (seen as a stuck all-gather on 2 devices).
  """

  def __init__(self, fn: Callable, mesh: Mesh, chunk: int | None = None):
    self.mesh = mesh
    self.n_dev = mesh.devices.size
    chunk = self.n_dev if chunk is None else int(chunk)
    self.chunk = -(-chunk // self.n_dev) * self.n_dev  # a multiple of n_dev
    self._sharding = batch_sharding(mesh)
    self._fn = jax.jit(fn, out_shardings=self._sharding)

  def __call__(self, params, *xs: np.ndarray):
    n = len(xs[0])
    outs = []
    for start in range(0, n, self.chunk):
      part = [np.asarray(x[start:start + self.chunk]) for x in xs]
      m = len(part[0])
      pad = -m % self.n_dev
      if pad:
        part = [np.concatenate([p, np.repeat(p[-1:], pad, axis=0)])
                for p in part]
      out = self._fn(params, *[from_host(p, self._sharding) for p in part])
      outs.append(jax.tree_util.tree_map(lambda a: to_host(a)[:m], out))
    return jax.tree_util.tree_map(lambda *a: np.concatenate(a), *outs)
