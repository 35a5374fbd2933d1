"""Denoising U-Net (skip connections), a·SSD + b·L1 with b/a = 0.1, σ = 25.

Command (embedded photographs, no download):
  python launch.py --config=experiments/ae.py --workdir=/tmp/ddn/ae
Cost: 32,000 crops of 48x48, about 20 minutes on a 2-core CPU (README,
"Experiments"). Smoke run (< 1 min): --config=experiments/ae.py:smoke

On Train400 (the quality benchmark in README):
  --config.data.train=folder:../shared/data/Train400
  --config.data.eval=folder:../shared/data/Set12

The chapter's full scale (gray 128x128, hundreds of thousands of images):
  --config.data.crop=128 --config.train.total_images=500000
  --config.optim.schedule=step --config.optim.decay_every_images=100000
On an accelerator that is minutes; on a 2-core CPU, days.

Learning-rate sweep (the chapter's Figure 17.4):
  python -m ddn.sweep --config=experiments/ae.py --workdir=/tmp/ddn/lr
"""

from ddn import configs


def get_config(arg=None):
  c = configs.defaults("autoencoder")
  return configs.apply_args(c, arg)


def get_sweep():
  """The chapter's learning-rate sweep, as override dicts, plus two rates
  above it that show what divergence looks like (diverged.json)."""
  return [{"optim.lr": lr} for lr in (5e-1, 5e-2, 5e-3, 1e-3, 1e-4, 1e-5)]
