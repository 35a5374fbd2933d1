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

The config is locked: an unknown or mistyped `--config.x.y` fails at once.
Rerunning the same command resumes from the workdir's latest intact
checkpoint, exactly (README "Guarantees"). SIGTERM (preemption) or Ctrl-C
finishes the current step, checkpoints it and exits 0; send it twice to stop
at once.

Several hosts (a TPU pod slice; README "Scaling up"): the same command on
every host, with --distributed (JAX finds the TPU, SLURM or Open MPI
cluster), or with --coordinator=HOST:PORT --num_processes=N --process_id=I
elsewhere. $DDN_DISTRIBUTED=1, $DDN_COORDINATOR, $DDN_NUM_PROCESSES and
$DDN_PROCESS_ID set the same from the environment. Every host must see the
workdir as one shared directory (NFS, or a bucket mounted with gcsfuse):
process 0 writes the logs and plots, all write their part of checkpoints.
"""

import logging
import os
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
_NUM_PROCESSES = flags.DEFINE_integer(
    "num_processes", int(os.environ.get("DDN_NUM_PROCESSES", "0") or 0),
    "Processes in the run (with --coordinator).")
_PROCESS_ID = flags.DEFINE_integer(
    "process_id", int(os.environ.get("DDN_PROCESS_ID", "-1") or -1),
    "This process's index, 0..num_processes-1 (with --coordinator).")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  distributed = None
  if _DISTRIBUTED.value or _COORDINATOR.value:
    distributed = dict(coordinator=_COORDINATOR.value,
                       num_processes=_NUM_PROCESSES.value,
                       process_id=_PROCESS_ID.value)
  try:
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
  app.run(main)
