"""Knocked-out blocks, big against small adversary (the realism chapter's
observation; docs/adversarial.md): the MSE model of experiments/ae_blocks.py
(gray-s50 trained to fill one 16-40 px block per 64 px crop at σ = 50)
fine-tuned on the same data with the recipe of experiments/adv_s50.py
(recipes.adversarial_finetune) for 3,200 crops, 800 of them D's warm-up.
The sweep trains it three ways: λ = 0 (D trains, G ignores it: the
control), the small 33 px patch adversary at λ = 3 and the big whole-image
one at λ = 1 (each family's most realistic push on the σ = 50 plane).

The whole experiment (needs ../shared/data; starts the sweep from the
ae_blocks model with --config.train.init_from=WORKDIR/mse):
  bash benchmarks/knocked_out_blocks.sh runs/blocks
Alone, from gray-s50 (which has never seen a block):
  python launch.py --config=experiments/adv_blocks.py --workdir=runs/blocks1
"""

from ddn import configs
from ddn import recipes

DATA = "../shared/data"


def get_config(arg=None):
  c = recipes.knocked_out_blocks(recipes.adversarial_finetune(50, DATA))
  c.train.total_images = 3_200
  c.adv.d_warmup_images = 800
  c.eval.every_images = 1_600
  return configs.apply_args(c, arg)


def get_sweep():
  return [{"_name": "push0", "adv.weight": 0.0},
          {"_name": "small-push3", "adv.weight": 3.0},
          {"_name": "big-push1", "adv.weight": 1.0, **recipes.BIG_DISC}]
