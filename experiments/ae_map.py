"""One denoiser for every σ in [0, 75], told the noise level (FFDNet).

The U-Net of experiments/ae.py with the noise level σ/255 as one more input
channel (config.model.noise_map), trained on Gaussian noise whose σ is
drawn per crop from [0, 75]. At inference the σ comes from the user
(`--sigma`, `--add_noise`) or is estimated from the image; ddn.evaluate and
ddn.denoise pass it. Validation is at σ = 25.

Command (embedded photographs, no download):
  python launch.py --config=experiments/ae_map.py --workdir=/tmp/ddn/ae_map
Smoke run (< 1 min): --config=experiments/ae_map.py:smoke

Training crops are taken at the image's own scale (data.augment.scale_min
= 1.0; the other configs shrink each crop by a random 0.6-1.0 first), which
docs/quality.md measured as 0.06-0.26 dB better on BSD68.

The shipped `gray-map` model is this config on Train400, trained by
  CONFIG=experiments/ae_map.py bash benchmarks/quality_train400.sh \
    runs/map_600k --config.data.augment.scale_min=1.0 \
    --config.train.total_images=600000 --config.eval.every_images=150000
(600,000 crops; 110 min on a 2-core Intel Xeon with AVX-512, 2.5-4.5
hours on the 2-core AMD EPYC of earlier runs). Set12 PSNR 32.48 / 30.14 /
26.99 dB and BSD68 31.46 / 29.02 / 26.11 dB at σ = 15 / 25 / 50 (see its
model.json for the command, wall time and machine, and docs/quality.md for
the architecture and recipe screens).
"""

from ddn import configs


def get_config(arg=None):
  c = configs.defaults("autoencoder")
  c.model.noise_map = True
  c.noise.gaussian.blind = True
  c.noise.gaussian.sigma_min = 0.0
  c.noise.gaussian.sigma_max = 75.0
  c.eval.sigma = 25.0
  c.data.augment.scale_min = 1.0  # crops at the image's own scale
  return configs.apply_args(c, arg)
