"""Adversarial denoiser: the U-Net of ae.py against a whole-image classifier.

G = experiments/ae.py's U-Net, loss a·SSD + b·L1 ("Pred") + λ·adversarial
term (λ = 3e-3, the chapter's raw score u of G's output); D = the classifier
of experiments/classifier.py with spectral norm, logistic loss, Adam 1e-3
(b1 = 0.5). One D step, then one G step, per iteration (ddn.tasks.adversarial).

Command (embedded photographs, no download; README's first command):
  python launch.py --config=experiments/adv.py --workdir=runs/adv
With `train.init_from` empty, G first trains on reconstruction alone
(`adv.g_warmup_images`), then D warms up against it, then the adversarial
phase. The workdir ends with checkpoints, metrics.jsonl, learning_curve.png,
adversarial_curve.png (the chapter's Figure 17.6), evaluation.json (PSNR and
realism before and after the adversary) and comparison.png.
Smoke run (< 1 min): --config=experiments/adv.py:smoke

From a trained autoencoder (no G warm-up), e.g. on Train400:
  --config.train.init_from=runs/ae_train400
  --config.data.train=folder:../shared/data/Train400
  --config.data.eval=folder:../shared/data/BSD68
  --config.train.total_images=12800

The chapter's scale on an accelerator (gray 128x128, hundreds of thousands
of images, a trained autoencoder to start from):
  --config.data.crop=128 --config.train.init_from=<ae workdir>
  --config.train.total_images=200000 --config.eval.every_images=20000
  --config.eval.realism.steps=5000 --config.eval.realism.seeds=4

Variants: --config.adv.g_loss=nonsaturating|hinge, --config.disc.loss=hinge,
--config.adv.weight=1e-2, --config.adv.n_d=2, --config.adv.ema_decay=0.999,
experiments/adv_patch.py (the small adversary), experiments/adv_frozen.py
(a classifier trained first, then frozen).
"""

from ddn import configs


def get_config(arg=None):
  c = configs.adversarial()
  return configs.apply_args(c, arg)
