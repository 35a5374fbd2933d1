"""The perception-distortion plane: λ swept for a big and a small adversary.

Every run starts from the same trained autoencoder (`train.init_from`,
default runs/ae: python launch.py --config=experiments/ae.py
--workdir=runs/ae), warms D up for 1,600 images, then trains G against it
for 3,200 (experiments/adv.py's recipe from a trained G: G lr 2e-4, no
warm-up). λ = 0 is the control (D trains, G ignores it), the start of both
curves. Each final G gets the realism test of ddn.realism (fresh judges'
AUC with its 95% interval; 0.5 = indistinguishable from real).

Command (one sweep, then WORKDIR/perception_distortion.png and .json):
  python -m ddn.sweep --config=experiments/adv_pd.py --workdir=runs/pd
About 35 minutes on a 2-core CPU (two XLA host devices).
"""

from ddn import configs

# The small adversary: experiments/adv_patch.py's patch classifier.
SMALL = {"disc.kind": "patch", "disc.padding": "VALID",
         "disc.features": (16, 32, 64), "disc.dense": ()}
WEIGHTS = (3e-3, 3e-2)


def get_config(arg=None):
  c = configs.defaults("adversarial")
  c.train.init_from = "runs/ae"
  c.optim.lr = 2e-4
  c.optim.warmup_images = 0
  c.train.total_images = 4_000
  c.adv.d_warmup_images = 1_600
  return configs.apply_args(c, arg)


def get_sweep():
  runs = [{"_name": "lambda=0", "adv.weight": 0.0}]
  for w in WEIGHTS:
    runs.append({"_name": f"big,lambda={w:g}", "adv.weight": w})
    runs.append({"_name": f"small,lambda={w:g}", "adv.weight": w, **SMALL})
  return runs
