"""The adversarial recipe at σ = 50 on Train400 (configs.adversarial_finetune):
the shipped MSE model gray-s50 fine-tuned against a 33 px patch
discriminator that sees the image and its detail channel, evaluated on
Set12. This run (11 min on a 2-core CPU) is the shipped gray-s50-adv: on
BSD68 at σ = 50 it costs 0.15 dB and lowers the realism AUC of fresh judges
from 0.930 to 0.858 (docs/adversarial.md).

Command (needs ../shared/data):
  python launch.py --config=experiments/adv_s50.py --workdir=runs/adv_s50
The λ sweep, both adversary sizes (the perception-distortion plane,
docs/adversarial.md):
  python -m ddn.sweep --config=experiments/adv_s50.py --workdir=runs/pd50
Smoke run: --config=experiments/adv_s50.py:smoke (G keeps the shipped size).
"""

from ddn import configs

DATA = "../shared/data"
BIG = {"disc.kind": "image", "disc.padding": "SAME",
       "disc.features": (16, 32, 64, 128), "disc.blocks": 1,
       "disc.dense": (64,)}


def get_config(arg=None):
  c = configs.adversarial_finetune()
  c.data.train = f"folder:{DATA}/Train400"
  c.data.eval = f"folder:{DATA}/Set12"
  c.eval.max_images = 4
  return configs.apply_args(c, arg)


def get_sweep():
  """λ (the relative push at G's last layer) over three decades for the
  small (patch) adversary, two values for the big (whole-image) one."""
  runs = [{"_name": "lambda=0", "adv.weight": 0.0}]
  for w in (0.03, 0.3, 1.0, 3.0):
    runs.append({"_name": f"small,lambda={w:g}", "adv.weight": w})
  for w in (0.3, 1.0):
    runs.append({"_name": f"big,lambda={w:g}", "adv.weight": w, **BIG})
  return runs
