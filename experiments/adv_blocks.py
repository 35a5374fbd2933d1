"""Knocked-out blocks, big against small adversary (the chapter's
observation; docs/adversarial.md): gray-s50 fine-tuned on Train400 crops of
64 px at σ = 50 with one square block of 16-40 px knocked out (set to 0) per
crop, 4,800 crops, with the recipe of experiments/adv_s50.py
(configs.adversarial_finetune). The sweep trains the same fine-tune three
ways: λ = 0 (D trains, G learns to fill the blocks from the reconstruction
loss alone), the small 33 px patch adversary at λ = 3 and the big
whole-image one at λ = 1 (each family's most realistic push on the σ = 50
plane).

The sweep and its figure (needs ../shared/data):
  bash benchmarks/knocked_out_blocks.sh runs/blocks
One run:
  python launch.py --config=experiments/adv_blocks.py --workdir=runs/blocks1
"""

from ddn import configs

DATA = "../shared/data"


def get_config(arg=None):
  c = configs.adversarial_finetune(50, DATA)
  c.data.crop = 64
  c.noise.kinds = "gaussian,blocks"
  c.noise.blocks.update(dict(count=1, size_min=16, size_max=40, fill="zero"))
  c.train.total_images = 4_800
  c.eval.every_images = 2_400
  return configs.apply_args(c, arg)


def get_sweep():
  return [{"_name": "push0", "adv.weight": 0.0},
          {"_name": "small-push3", "adv.weight": 3.0},
          {"_name": "big-push1", "adv.weight": 1.0, **configs.BIG_DISC}]
