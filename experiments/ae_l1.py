"""The autoencoder trained on L1 alone (sharper detail than SSD).

Command:
  python launch.py --config=experiments/ae_l1.py --workdir=/tmp/ddn/ae_l1
Cost: as experiments/ae.py.
"""

from ddn import configs


def get_config(arg=None):
  c = configs.defaults("autoencoder")
  c.loss.ssd_weight = 0.0
  c.loss.l1_weight = 1.0
  return configs.apply_args(c, arg)
