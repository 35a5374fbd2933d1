"""gray-map with non-local blocks at its low-resolution levels, fine-tuned.

The shipped `gray-map` (experiments/ae_map.py) takes on Restormer's
transposed channel attention (MDTA) at level 1 (1/2 resolution) and a
non-local self-attention block at the bottleneck (level 2, 1/4 resolution)
in the encoder, and MDTA in the decoder at level 1 (config.model.attention;
ddn.attention). Each block starts as the identity (zero-initialised
output), so the run starts from gray-map's exact function and can only learn
to use what a patch elsewhere in the crop says about this one (the
non-local structure BM3D's block matching uses). The crops are 96 px (batch
8: the pixels of gray-map's 32 crops of 48 px), so that a crop holds
repeats for attention to find.

The control is the same fine-tune without the blocks:
--config=experiments/ae_map_attn.py:control. `:nlm` is the control with
non-local means of the noisy input as two more input channels instead
(config.model.nlm = (0.4, 1.0): filter widths 0.4 σ and σ, a 21 px search
window, 5 px patches; ddn.nlm), their first-conv weights starting at zero:
what the means remove from the noisy image (its noise estimate);
`:nlm_means` gives the means themselves.
All on Train400 (needs ../shared/data),
validated on 4 images of the structure-rich development set
(benchmarks/structure_devset.py writes runs/structure_dev):
  python launch.py --config=experiments/ae_map_attn.py --workdir=runs/attn
Smoke run: --config=experiments/ae_map_attn.py:smoke

Measured at 6,000 crops each (--config.train.total_images=6000), on the
whole structure-rich set at σ = 25: attention − control +0.002 dB
[−0.011, +0.013], 7x the inference time on 512² images; with the blocks at
10x the learning rate for 12,000 crops (benchmarks/attn_lr.sh) +0.012 dB
[+0.000, +0.023] (docs/quality.md).
"""

from ddn import configs

DATA = "../shared/data"


def get_config(arg=None):
  mods = [m for m in (arg or "").split(",") if m.strip()]
  control = "control" in mods
  nonlocal_means = "nlm" in mods or "nlm_means" in mods
  arg = ",".join(m for m in mods
                 if m not in ("control", "nlm", "nlm_means"))
  c = configs.defaults("autoencoder")
  c.model.noise_map = True
  c.model.attention = ("", "mdta", "nonlocal")
  c.noise.gaussian.blind = True
  c.noise.gaussian.sigma_min = 0.0
  c.noise.gaussian.sigma_max = 75.0
  c.eval.sigma = 25.0
  c.data.augment.scale_min = 1.0
  c.data.crop = 96
  c.data.batch_size = 8
  c.data.train = f"folder:{DATA}/Train400"
  c.data.eval = "folder:runs/structure_dev"
  c.eval.max_images = 4
  if control or nonlocal_means:
    c.model.attention = ()
  if nonlocal_means:
    c.model.nlm = (0.4, 1.0)
    c.model.nlm_residual = "nlm_means" not in mods
  c.train.init_from = "gray-map"
  c.train.total_images = 12_000
  c.train.checkpoint_every_images = 2_000
  c.eval.every_images = 4_000
  c.log.every_images = 400
  c.optim.lr = 2e-4
  c.optim.warmup_images = 0
  c = configs.apply_args(c, arg)
  if arg and "smoke" in arg:
    c.data.train, c.data.eval = "embedded:train", "embedded:eval"
    c.model.features = (32, 64, 128)  # gray-map's, for init_from
    c.model.blocks = 2
  return c
