"""Patch real-vs-denoised classifier: one score per 17x17 patch.

Fully convolutional (three conv levels, 'VALID' padding, a last 3x3 conv to
one score): each score sees one 17x17 patch, patches every 4 px, 8x8 scores
per 48x48 crop; losses and error rates are averaged over patches (the log
also gives the per-image error of the mean score). Otherwise as
experiments/classifier.py: the denoiser of `train.init_from` (default
runs/ae), batch 128, Adam 1e-3, logistic loss.

Command (embedded photographs, after training runs/ae with experiments/ae.py):
  python launch.py --config=experiments/classifier_patch.py --workdir=runs/clf_patch
Cost: 102,400 crops of 48x48, about 10 minutes on a 2-core CPU.

On Train400 against the Train400 autoencoder (docs/classifier.md):
  --config.train.init_from=runs/ae_train400
  --config.data.train=folder:../shared/data/Train400
  --config.data.eval=folder:../shared/data/BSD68

The chapter's scale: --config.data.crop=128 --config.train.total_images=100000
--config.eval.crops=20000. Bigger patches: --config.disc.blocks=2 (31x31).
"""

from ddn import configs


def get_config(arg=None):
  c = configs.defaults("classifier")
  c.train.init_from = "runs/ae"
  c.disc.kind = "patch"
  c.disc.padding = "VALID"
  c.disc.features = (16, 32, 64)
  c.disc.dense = ()
  return configs.apply_args(c, arg)
