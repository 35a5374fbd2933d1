"""Process set-up shared by the command-line entry points."""

from __future__ import annotations

import logging
import os

import jax


class _QuietLibraries(logging.Filter):
  """Drops INFO chatter of orbax and absl-logging libraries (keeps warnings)."""

  NOISY = ("/orbax/", "/tensorstore/", "/etils/")

  def filter(self, record):
    return record.levelno >= logging.WARNING or not any(
        n in record.pathname for n in self.NOISY)


class _NoMissingPlugin(logging.Filter):
  """Drops JAX's "Unable to initialize backend 'tpu'" line when the backend's
  plugin is simply not installed (a CPU-only machine); a plugin that is
  installed but fails to start is still reported."""

  def filter(self, record):
    msg = record.getMessage()
    return not (msg.startswith("Unable to initialize backend") and
                "cannot open shared object file" in msg)


def quiet_libraries() -> None:
  for handler in logging.getLogger().handlers + logging.getLogger(
      "absl").handlers:
    handler.addFilter(_QuietLibraries())
  logging.getLogger().addFilter(_QuietLibraries())
  logging.getLogger("absl").addFilter(_QuietLibraries())
  logging.getLogger("jax._src.xla_bridge").addFilter(_NoMissingPlugin())


HELP_FLAGS = ("--help", "-help", "-?", "--helpshort", "--helpfull",
              "--helpxml")


def parse_flags(argv: list[str], parser=None) -> list[str]:
  """absl's flag parsing (or `parser`'s), where asking for help exits 0
  (absl exits 1 after printing it)."""
  from absl import app  # pylint: disable=g-import-not-at-top
  try:
    return (parser or app.parse_flags_with_usage)(argv)
  except SystemExit as e:
    if e.code == 1 and any(a in HELP_FLAGS for a in argv[1:]):
      raise SystemExit(0) from None
    raise


DEVICE_FLAG = "--xla_force_host_platform_device_count"
_ACCELERATOR_PLUGINS = ("libtpu", "jax_cuda12_plugin", "jax_cuda13_plugin",
                        "jax_rocm60_plugin", "jax_rocm7_plugin")


def cpu_cores() -> int:
  """Cores this process may run on (its CPU affinity, not the host's)."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:  # not Linux
    return os.cpu_count() or 1


def configure_cpu_devices(devices: int | None = None) -> int:
  """On a CPU-only host, makes XLA present one device per core.

  XLA:CPU runs a convolution on one thread, so a step on one device uses one
  core; sharding the batch over one host device per core uses them all
  (the autoencoder step: 33.6 -> 45.2 images/s on 2 cores with flax's
  layers, benchmarks/train_throughput.py). Call it before
  JAX initialises its backends (before the first `jax.devices()`).

  Nothing changes when an accelerator may be present (JAX_PLATFORMS names
  something other than cpu, or a TPU/GPU plugin is installed), when
  XLA_FLAGS already sets the device count, or after the backends started.
  $DDN_CPU_DEVICES overrides the count (1 turns this off).

  Returns:
    The device count set, or 0 when nothing was changed.
  """
  import importlib.util  # pylint: disable=g-import-not-at-top
  from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top
  flags = os.environ.get("XLA_FLAGS", "")
  platforms = (os.environ.get("JAX_PLATFORMS")
               or jax.config.jax_platforms or "")
  if (DEVICE_FLAG in flags or xla_bridge.backends_are_initialized()
      or (platforms and platforms.split(",")[0] != "cpu")):
    return 0
  if not platforms and any(importlib.util.find_spec(p)
                           for p in _ACCELERATOR_PLUGINS):
    return 0
  env = os.environ.get("DDN_CPU_DEVICES", "")
  if env:
    try:
      devices = int(env)
    except ValueError:
      raise ValueError(f"DDN_CPU_DEVICES={env!r}: must be a positive "
                       "integer (1 turns the per-core devices off).") from None
  n = cpu_cores() if devices is None else int(devices)
  if n < 1:
    raise ValueError(f"CPU device count {n} (DDN_CPU_DEVICES={env!r}): "
                     "must be >= 1.")
  if n > 1:
    os.environ["XLA_FLAGS"] = f"{flags} {DEVICE_FLAG}={n}".strip()
  return n


def init_distributed(coordinator: str = "", num_processes: int = 0,
                     process_id: int = -1) -> None:
  """Joins this process to a multi-process JAX run (`jax.distributed`).

  With no arguments JAX finds the cluster itself (TPU VM pod slices, SLURM,
  Open MPI, Kubernetes). On other machines give the coordinator's
  `host:port` (process 0 listens there), the number of processes and this
  one's index, the same coordinator and count on every process.
  """
  kwargs = {}
  if coordinator:
    kwargs["coordinator_address"] = coordinator
  if num_processes:
    kwargs["num_processes"] = num_processes
  if process_id >= 0:
    kwargs["process_id"] = process_id
  try:
    jax.distributed.initialize(**kwargs)
  except (RuntimeError, ValueError) as e:
    raise ValueError(
        f"cannot start the multi-process run ({type(e).__name__}: {e}); on a "
        "TPU pod slice, SLURM or Open MPI run it with --distributed alone, "
        "elsewhere give --coordinator=HOST:PORT --num_processes=N "
        "--process_id=I on every process.") from None


def setup(compilation_cache: bool = True, cpu_devices: bool = True,
          distributed: dict | None = None) -> None:
  """Sets up JAX for an entry point: one device per core on a CPU-only host
  (`configure_cpu_devices`, if `cpu_devices`), `init_distributed(**distributed)`
  when `distributed` is given, JAX's persistent compilation cache, and a log
  line of the devices.

  The cache (in $DDN_CACHE_DIR, default ~/.cache/ddn/jax) makes a second
  process skip recompiling the same steps (measured: init 5.7 s -> 0.5 s).
  """
  quiet_libraries()
  if cpu_devices:
    configure_cpu_devices()
  if distributed is not None:
    init_distributed(**distributed)
  if compilation_cache:
    cache = os.environ.get("DDN_CACHE_DIR",
                           os.path.expanduser("~/.cache/ddn/jax"))
    try:
      os.makedirs(cache, exist_ok=True)
      jax.config.update("jax_compilation_cache_dir", cache)
      if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    except OSError as e:
      logging.warning("no compilation cache (%s).", e)
  logging.info("JAX %s on %s, process %d of %d: %s", jax.__version__,
               jax.default_backend(), jax.process_index(), jax.process_count(),
               ", ".join(str(d) for d in jax.devices()))
