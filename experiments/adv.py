"""Adversarial fine-tuning at σ = 50 on the embedded photographs: README's
first command (recipes.adversarial_finetune).

G starts from the shipped MSE model gray-s50 and trains against a patch
discriminator (33x33 patches of the image and its detail channel) that warms
up for 800 images, then takes two steps per G step; λ is set
adaptively (`adv.weight` = the adversarial gradient's size relative to
reconstruction's at G's last layer, logged as g/grad_ratio), at most 0.05;
G's EMA is evaluated and exported.

The ceiling (`adv.max_weight`), measured by this command on a 2-core CPU:
on these photographs D falls to chance for a few steps after its warm-up
(loss log 2), and without a ceiling the adaptive rule raised λ from 0.016
to 0.43 to scale D's vanishing gradient up to the push; G's training PSNR
fell from 28.0 to 25.3 dB and the final G lost 1.04 dB (30.56 → 29.52) with
realism AUC 0.705 → 0.751. With λ at most 0.05: 30.56 → 30.23 dB, AUC
0.705 → 0.713 [0.578, 0.832]. On 3 held-out photographs neither is outside
the reference's interval [0.570, 0.823]; on BSD68 the same recipe does
separate (experiments/adv_s50.py, docs/adversarial.md).

The judges train on 128 px tiles of the eight photographs, real and
denoised on a checkerboard (`eval.realism.tune_tile`): with whole
photographs, four scenes a side, the judges that choose the architecture
told clean from clean at AUC 0.82 (docs/evaluation.md). With the tiles and
judges trained the meter's default 600 steps: calibration clean 0.488,
noisy 1.000, Gaussian smoothing 1.000; G 0.824 [0.710, 0.922] → 0.848
[0.731, 0.938], overlapping (docs/adversarial.md). Two judges of each
architecture, not one (`eval.realism.seeds`, as the meter's default): on a
2-core AMD EPYC one judge caught Gaussian smoothing at 0.905 only, two at
0.953 (`python benchmarks/first_command_meter.py '{}' '{"seeds": 2}'`:
about 30 s more for the three calibration rows).

Command (embedded photographs, no download):
  python launch.py --config=experiments/adv.py --workdir=runs/adv
The workdir ends with checkpoints, metrics.jsonl, learning_curve.png,
adversarial_curve.png, evaluation.json (PSNR and the calibrated realism test
of ddn.realism, for G before and after the adversary, with the calibration
rows) and comparison.png (noisy | before | after | clean).
Smoke run: --config=experiments/adv.py:smoke (G keeps the shipped size).

From scratch instead (G warm-up on reconstruction first):
  --config.train.init_from= --config.adv.g_warmup_images=6400
On Train400 / Set12: experiments/adv_s50.py. Variants: --config.adv.weight
(relative push), --config.adv.adaptive=False (λ fixed), --config.adv.g_loss=
hinge|score, --config.adv.n_d=2, experiments/adv_patch.py and adv_frozen.py.
"""

from ddn import configs
from ddn import recipes


def get_config(arg=None):
  c = recipes.adversarial_finetune()
  c.train.total_images = 3_200  # 2,400 adversarial: README's time budget
  c.adv.d_warmup_images = 800
  c.adv.max_weight = 0.05  # the adaptive λ's ceiling (docstring)
  # Eight photographs: the judges train on tiles of all of them (docstring).
  c.eval.realism.tune_tile = 128
  c.eval.realism.seeds = 2  # one caught Gaussian smoothing at 0.905 (docstring)
  return configs.apply_args(c, arg)
