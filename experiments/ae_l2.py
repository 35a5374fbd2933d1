"""The autoencoder trained on SSD (L2) alone: the chapter's blurry baseline.

Command:
  python launch.py --config=experiments/ae_l2.py --workdir=/tmp/ddn/ae_l2
Cost: as experiments/ae.py. Compare with ae_l1.py by
  python -m ddn.figures detail --runs=SSD=/tmp/ddn/ae_l2,L1=/tmp/ddn/ae_l1
"""

from ddn import configs


def get_config(arg=None):
  c = configs.defaults("autoencoder")
  c.loss.ssd_weight = 1.0
  c.loss.l1_weight = 0.0
  return configs.apply_args(c, arg)
