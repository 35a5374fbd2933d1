"""The chapter's schedule "halve the learning rate every N images".

Command:
  python launch.py --config=experiments/ae_halve.py --workdir=/tmp/ddn/ae_halve
Cost: as experiments/ae.py. Here N = 8,000 images (3 halvings in the 32k
default run); at the chapter's scale use
  --config.optim.decay_every_images=100000 --config.train.total_images=500000
"""

from ddn import configs


def get_config(arg=None):
  c = configs.defaults("autoencoder")
  c.optim.schedule = "step"
  c.optim.decay_factor = 0.5
  c.optim.decay_every_images = 8_000
  c.optim.warmup_images = 0
  return configs.apply_args(c, arg)
