"""The strategy the chapter says fails (17.3.1): train a classifier, freeze
it, then train the autoencoder against it.

As experiments/adv.py (gray-s50 fine-tuned at σ = 50), but D trains only
during its warm-up (against G as it starts: a real-vs-denoised classifier)
and is then frozen (`adv.freeze_disc=True`) while G trains against it. G
learns to move the frozen classifier's scores without becoming more
realistic: the run's evaluation.json reports what the realism test
(ddn.realism, fresh judges) measures.

Command (embedded photographs):
  python launch.py --config=experiments/adv_frozen.py --workdir=runs/adv_frozen
Overrides as in experiments/adv.py.
"""

from ddn import configs


def get_config(arg=None):
  c = configs.adversarial_finetune()
  c.train.total_images = 4_800
  c.adv.freeze_disc = True
  c.adv.d_warmup_images = 3_200  # the classifier's training, before freezing
  return configs.apply_args(c, arg)
