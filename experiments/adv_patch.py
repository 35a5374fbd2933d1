"""Adversarial denoiser against a patch classifier (the small adversary).

As experiments/adv.py, but D scores every 17x17 patch (the patch classifier
of experiments/classifier_patch.py, spectral norm), and G's adversarial
term is the mean over patches. The patch size is printed at start.

Command (embedded photographs):
  python launch.py --config=experiments/adv_patch.py --workdir=runs/adv_patch
Overrides as in experiments/adv.py.
"""

from ddn import configs


def get_config(arg=None):
  c = configs.defaults("adversarial")
  c.disc.kind = "patch"
  c.disc.padding = "VALID"
  c.disc.features = (16, 32, 64)
  c.disc.dense = ()
  return configs.apply_args(c, arg)
