"""Knocked-out blocks, the MSE model (docs/adversarial.md): the shipped
gray-s50 trained further on Train400 at σ = 50 with one square of 16-40 px per
64 px crop set to 0 (recipes.knocked_out_blocks), 9,600 crops, so that it
fills the blocks; experiments/adv_blocks.py fine-tunes it against the big
and the small adversary.

  python launch.py --config=experiments/ae_blocks.py --workdir=runs/blocks/mse
The whole experiment (this, the adversarial fine-tunes and the figure):
  bash benchmarks/knocked_out_blocks.sh runs/blocks
"""

from ddn import configs
from ddn import recipes

DATA = "../shared/data"


def get_config(arg=None):
  c = recipes.knocked_out_blocks(
      recipes.on_train400(configs.defaults("autoencoder"), DATA))
  c.eval.sigma = 50.0
  c.eval.every_images = 4_800
  c.train.init_from = "gray-s50"
  c.train.total_images = 9_600
  return configs.apply_args(c, arg)
