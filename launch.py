"""Trains a ddn experiment.

  python launch.py --config=experiments/adv.py --workdir=/tmp/ddn/adv
  python launch.py --config=experiments/ae.py --workdir=/tmp/ddn/ae
  python launch.py --config=experiments/ae.py:smoke --workdir=/tmp/ddn/smoke
  python launch.py --config=experiments/classifier.py --workdir=/tmp/ddn/clf \
      --config.train.init_from=/tmp/ddn/ae
  python launch.py --config=experiments/adv_patch.py --workdir=/tmp/ddn/advp \
      --config.train.init_from=/tmp/ddn/ae --config.adv.weight=1e-2
  python launch.py --config=experiments/ae.py --workdir=DIR \
      --config.data.train=folder:../shared/data/Train400 --config.optim.lr=1e-4

The config is locked: an unknown or mistyped `--config.x.y` fails at once,
naming the field it most likely means (docs/training.md). Rerunning the
same command resumes from the workdir's latest intact checkpoint, exactly
(docs/guarantees.md). SIGTERM (preemption) or Ctrl-C finishes the current
step, checkpoints it and exits 0; send it twice to stop at once.

Several hosts (a TPU pod slice; docs/scaling.md): the same command on
every host, with --distributed (JAX finds the TPU, SLURM or Open MPI
cluster), or with --coordinator=HOST:PORT --num_processes=N --process_id=I
elsewhere. $DDN_DISTRIBUTED=1, $DDN_COORDINATOR, $DDN_NUM_PROCESSES and
$DDN_PROCESS_ID set the same from the environment. Every host must see the
workdir as one shared directory (NFS, or a bucket mounted with gcsfuse):
process 0 writes the logs and plots, all write their part of checkpoints.
"""

import logging
import os
import re
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from ddn import runtime

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file (experiments/*.py[:modifiers]).",
    lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, "
                               "metrics and plots.")
_DISTRIBUTED = flags.DEFINE_bool(
    "distributed", os.environ.get("DDN_DISTRIBUTED", "") not in ("", "0"),
    "Join a multi-process run with jax.distributed.initialize() (implied by "
    "--coordinator).")
_COORDINATOR = flags.DEFINE_string(
    "coordinator", os.environ.get("DDN_COORDINATOR", ""),
    "HOST:PORT of process 0, for clusters JAX does not detect itself.")
# Integer flags default to None: their environment variables are read in
# main(), where a bad value is one clear error (env_int).
_NUM_PROCESSES = flags.DEFINE_integer(
    "num_processes", None,
    "Processes in the run (with --coordinator); default $DDN_NUM_PROCESSES, "
    "else 0.")
_PROCESS_ID = flags.DEFINE_integer(
    "process_id", None,
    "This process's index, 0..num_processes-1 (with --coordinator); default "
    "$DDN_PROCESS_ID, else -1.")
flags.mark_flags_as_required(["config", "workdir"])


def env_int(name: str, default: int) -> int:
  """The integer in $name (unset or empty: `default`); raises ValueError
  naming the variable when it is not an integer."""
  value = os.environ.get(name, "").strip()
  if not value:
    return default
  try:
    return int(value)
  except ValueError:
    raise ValueError(f"{name}={value!r}: must be an integer (as "
                     f"--{name[4:].lower()}), e.g. {name}=2, or "
                     "unset.") from None


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, where --help exits 0 and a --config.x.y naming no
  field of the config (ml_collections raises KeyError or AttributeError) is
  one clear error, as other bad flags are, with the field it most likely
  means."""
  try:
    return runtime.parse_flags(argv)
  except (AttributeError, KeyError) as e:
    while e.args and isinstance(e.args[0], Exception):
      e = e.args[0]
    detail = " ".join(str(e.args[0] if e.args else e).split())
    named = [a.partition("=")[0] for a in argv[1:]
             if a.startswith("--config.")]
    path = re.search(r"lookup: (\S+)", detail)  # which override, if told
    key = re.search(r"'(\w+)'", detail)
    if path:
      named = [f"--config.{path.group(1)}"]
    elif key:
      named = [a for a in named if key.group(1) in a.split(".")] or named
    if len(named) == 1 and "did you mean" not in detail.lower():
      detail += suggestion(argv, named[0])
    sys.exit(f"ddn: {', '.join(named) or '--config'}: no such field in the "
             f"config: {detail}")


def suggestion(argv: list[str], override: str) -> str:
  """' Did you mean --config.x.y?' for a mistyped `override`
  (--config.x.y), the config built as --config says; '' when nothing is
  close or the config cannot be built."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  from ddn import config_check  # pylint: disable=g-import-not-at-top
  spec = [a.partition("=")[2] for a in argv[1:] if a.startswith("--config=")]
  *group, key = override.removeprefix("--config.").split(".")
  try:
    path, _, arg = spec[-1].partition(":")
    module_spec = importlib.util.spec_from_file_location("experiment", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    node = module.get_config(arg or None)
    for g in group:
      node = node[g]
    names = list(node.keys())
  except Exception:  # pylint: disable=broad-except  # no hint, same error
    return ""
  close = config_check.suggest(key, names)
  return (f" Did you mean --config.{'.'.join([*group, close[0]])}?" if close
          else "")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  try:
    num_processes = (_NUM_PROCESSES.value if _NUM_PROCESSES.value is not None
                     else env_int("DDN_NUM_PROCESSES", 0))
    process_id = (_PROCESS_ID.value if _PROCESS_ID.value is not None
                  else env_int("DDN_PROCESS_ID", -1))
    distributed = None
    if _DISTRIBUTED.value or _COORDINATOR.value:
      distributed = dict(coordinator=_COORDINATOR.value,
                         num_processes=num_processes, process_id=process_id)
    runtime.setup(distributed=distributed)
    import jax  # pylint: disable=g-import-not-at-top
    if jax.process_index() > 0:
      logging.getLogger().setLevel(logging.WARNING)  # process 0 reports
    from ddn import train  # pylint: disable=g-import-not-at-top
    try:
      train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
    except train.Preempted as e:  # SIGTERM/SIGINT: checkpointed, resumable
      print(f"ddn: {e}", file=sys.stderr)
      sys.exit(0)
    except train.WorkdirError as e:
      sys.exit(f"ddn: {e}")
  except (ValueError, FloatingPointError) as e:
    # Bad input and diverged runs: one clear message, no traceback.
    sys.exit(f"ddn: {e}")


if __name__ == "__main__":
  logging.getLogger().setLevel(logging.INFO)
  app.run(main, flags_parser=parse_flags)
