"""The strategy the chapter says fails (17.3.1): train a classifier, freeze
it, then train the autoencoder against it.

The recipe of experiments/adv.py (gray-s50 fine-tuned at σ = 50 on the
embedded photographs, the judges on 128 px tiles of them), for 4,800
images, but D trains only during the first 3,200 (against G as it starts:
a real-vs-denoised classifier) and is then frozen (`adv.freeze_disc=True`)
while G trains against it. G learns to move the frozen classifier's scores
without becoming more realistic: the run's evaluation.json reports what
the realism test (ddn.realism, fresh judges) measures.

Command (embedded photographs):
  python launch.py --config=experiments/adv_frozen.py --workdir=runs/adv_frozen
Overrides as in experiments/adv.py.
"""

from ddn import configs
from ddn import recipes


def get_config(arg=None):
  c = recipes.adversarial_finetune()
  c.train.total_images = 4_800
  c.adv.freeze_disc = True
  c.adv.d_warmup_images = 3_200  # the classifier's training, before freezing
  c.eval.realism.tune_tile = 128  # eight photographs (experiments/adv.py)
  return configs.apply_args(c, arg)
