"""The adversarial recipe of experiments/adv_s50.py at σ = 25: the shipped
MSE model gray-s25 fine-tuned on Train400 against the 33 px patch
discriminator (recipes.adversarial_finetune), evaluated on Set12.

Command (needs ../shared/data):
  python launch.py --config=experiments/adv_s25.py --workdir=runs/adv_s25
The perception-distortion plane at σ = 25 (recipes.perception_sweep):
  SIGMA=25 bash benchmarks/perception_distortion.sh runs/pd25
Smoke run: --config=experiments/adv_s25.py:smoke (G keeps the shipped size).
A conditional D (it also sees the noise G removed): --config.disc.conditional=True;
at 6,400 images, push 2, it beats the recipe on both axes on the development
sets, at 25,600 it does not (docs/adversarial.md, "A conditional D").
"""

from ddn import configs
from ddn import recipes

DATA = "../shared/data"


def get_config(arg=None):
  return configs.apply_args(recipes.adversarial_finetune(25, DATA), arg)


def get_sweep():
  return recipes.perception_sweep()
