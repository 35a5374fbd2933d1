"""Plain convolutional autoencoder: no skip connections (not a U-Net).

Command:
  python launch.py --config=experiments/ae_noskip.py --workdir=/tmp/ddn/ae_noskip
Cost: as experiments/ae.py (the same widths, slightly fewer parameters).
Everything else as experiments/ae.py; compare their val/psnr curves.
"""

from ddn import configs


def get_config(arg=None):
  c = configs.defaults("autoencoder")
  c.model.skip = False
  return configs.apply_args(c, arg)
