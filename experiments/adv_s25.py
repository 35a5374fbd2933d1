"""The adversarial recipe of experiments/adv_s50.py at σ = 25: the shipped
MSE model gray-s25 fine-tuned on Train400 against the 33 px patch
discriminator (recipes.adversarial_finetune), evaluated on Set12.

Command (needs ../shared/data):
  python launch.py --config=experiments/adv_s25.py --workdir=runs/adv_s25
The perception-distortion plane at σ = 25 (recipes.perception_sweep):
  SIGMA=25 bash benchmarks/perception_distortion.sh runs/pd25
Smoke run: --config=experiments/adv_s25.py:smoke (G keeps the shipped size).
"""

from ddn import configs
from ddn import recipes

DATA = "../shared/data"


def get_config(arg=None):
  return configs.apply_args(recipes.adversarial_finetune(25, DATA), arg)


def get_sweep():
  return recipes.perception_sweep()
