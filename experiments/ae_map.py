"""One denoiser for every σ in [0, 75], told the noise level (FFDNet).

The U-Net of experiments/ae.py with the noise level σ/255 as one more input
channel (config.model.noise_map), trained on Gaussian noise whose σ is
drawn per crop from [0, 75]. At inference the σ comes from the user
(`--sigma`, `--add_noise`) or is estimated from the image; ddn.evaluate and
ddn.denoise pass it. Validation is at σ = 25.

Command (embedded photographs, no download):
  python launch.py --config=experiments/ae_map.py --workdir=/tmp/ddn/ae_map
Smoke run (< 1 min): --config=experiments/ae_map.py:smoke

The shipped `gray-map` model is this config on Train400, trained by
  CONFIG=experiments/ae_map.py bash benchmarks/quality_train400.sh runs/ae_map \
    --config.train.total_images=170000
(78 min on a 2-core CPU), then restarted from those weights (37 min):
  CONFIG=experiments/ae_map.py bash benchmarks/quality_train400.sh runs/ae_map2 \
    --config.train.init_from=runs/ae_map --config.train.total_images=80000 \
    --config.optim.lr=3e-4 --config.seed=1
BSD68 PSNR 31.19 / 28.79 / 25.97 dB at σ = 15 / 25 / 50 (see its model.json
for the commands, wall time and machine, and docs/quality.md for the
architecture screen and what the restart gained).
"""

from ddn import configs


def get_config(arg=None):
  c = configs.autoencoder()
  c.model.noise_map = True
  c.noise.gaussian.blind = True
  c.noise.gaussian.sigma_min = 0.0
  c.noise.gaussian.sigma_max = 75.0
  c.eval.sigma = 25.0
  return configs.apply_args(c, arg)
