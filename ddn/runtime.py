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


def quiet_libraries() -> None:
  for handler in logging.getLogger().handlers + logging.getLogger(
      "absl").handlers:
    handler.addFilter(_QuietLibraries())
  logging.getLogger().addFilter(_QuietLibraries())
  logging.getLogger("absl").addFilter(_QuietLibraries())


def setup(compilation_cache: bool = True) -> None:
  """Logs the devices and enables JAX's persistent compilation cache.

  The cache (in $DDN_CACHE_DIR, default ~/.cache/ddn/jax) makes a second
  process skip recompiling the same steps (measured: init 5.7 s -> 0.5 s).
  """
  quiet_libraries()
  if compilation_cache:
    cache = os.environ.get("DDN_CACHE_DIR",
                           os.path.expanduser("~/.cache/ddn/jax"))
    try:
      os.makedirs(cache, exist_ok=True)
      jax.config.update("jax_compilation_cache_dir", cache)
      jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    except OSError as e:
      logging.warning("no compilation cache (%s).", e)
  logging.info("JAX %s on %s: %s", jax.__version__, jax.default_backend(),
               ", ".join(str(d) for d in jax.devices()))
