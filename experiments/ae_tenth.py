"""The chapter's schedule "multiply the learning rate by 0.1 every N images".

Command:
  python launch.py --config=experiments/ae_tenth.py --workdir=/tmp/ddn/ae_tenth
Cost: as experiments/ae.py. Here N = 16,000 images (lr 1e-3, then 1e-4);
at the chapter's scale use --config.optim.decay_every_images=100000.
"""

from ddn import configs


def get_config(arg=None):
  c = configs.defaults("autoencoder")
  c.optim.schedule = "step"
  c.optim.decay_factor = 0.1
  c.optim.decay_every_images = 16_000
  c.optim.warmup_images = 0
  return configs.apply_args(c, arg)
