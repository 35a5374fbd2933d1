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
Rerunning the same command resumes from the workdir's latest checkpoint.
"""

import logging
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
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  try:
    runtime.setup()
    from ddn import train  # pylint: disable=g-import-not-at-top
    train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  except (ValueError, FloatingPointError) as e:
    # Bad input and diverged runs: one clear message, no traceback.
    sys.exit(f"ddn: {e}")


if __name__ == "__main__":
  logging.getLogger().setLevel(logging.INFO)
  app.run(main)
