"""Whole-image real-vs-denoised classifier against a trained denoiser.

Real = clean crops; denoised = the frozen autoencoder of `train.init_from`
(default runs/ae, made by experiments/ae.py) applied to freshly noised
crops (σ = 25). Batch 128, half real and half denoised; Adam 1e-3, cosine;
logistic loss (`--config.disc.loss=hinge` for the hinge loss, margin 1).

Command (embedded photographs, after training runs/ae with experiments/ae.py):
  python launch.py --config=experiments/classifier.py --workdir=runs/clf
Cost: 102,400 crops of 48x48 (800 steps of 128), 11 minutes on a 2-core
CPU (one XLA device; about 6 1/2 minutes with two, docs/classifier.md).
Smoke run: --config=experiments/classifier.py:smoke
--config.train.init_from=<a smoke autoencoder's workdir>.

On Train400 against the Train400 autoencoder (docs/classifier.md):
  --config.train.init_from=runs/ae_train400
  --config.data.train=folder:../shared/data/Train400
  --config.data.eval=folder:../shared/data/BSD68

The chapter's scale (gray 128x128, 100,000 training and 20,000 validation
images) is an override on a data set that large:
  --config.data.crop=128 --config.train.total_images=100000
  --config.eval.crops=20000
(hours on this CPU: every step also runs the denoiser on 64 crops).

Variants: --config.disc.spectral_norm=True, --config.disc.pool=max,
--config.disc.dense='()', --config.disc.downsample=avg_pool,
--config.disc.activation=relu, --config.disc.dropout=0.2.
"""

from ddn import configs


def get_config(arg=None):
  c = configs.defaults("classifier")
  c.train.init_from = "runs/ae"
  return configs.apply_args(c, arg)
