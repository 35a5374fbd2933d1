"""A G that samples (PSCGAN's device) on the adversarial recipe at σ = 50.

recipes.adversarial_finetune(50) (the shipped gray-s50 fine-tuned against
the 33 px patch D, as experiments/adv_s50.py), with G given
`model.noise_input` = 2 channels of z ~ N(0, 1) per pixel, and
`adv.samples` = 4: each noisy crop goes through G four times with
independent z; the reconstruction term is on the mean of the four samples,
the adversarial term on each sample (D sees single samples). A
reconstruction loss on every sample would teach G to ignore z (each sample
collapses to the mean); on their mean it does not, and D asks every sample
to look clean. g/sample_std in the logs is the per-pixel spread of the
samples.

The start is gray-s50, which has no z inputs: init_from grows its first
conv with zero weights for the z channels (models.grow_z_inputs), so
training starts from exactly gray-s50's function and learns to use z
(slowly: a 3,200-image run's samples differed by 0.002). --config.adv.z_init=0.1
starts the z weights at 0.1 x a fresh initialisation's instead, so the
samples differ from the first step (at σ = 25, benchmarks/adv_sample.sh:
they keep a spread of about 0.009, but one sample lost 1.0 dB against the
same run without z and both judge families caught it more often;
docs/adversarial.md).

Command (needs ../shared/data):
  python launch.py --config=experiments/adv_sample.py --workdir=runs/adv_sample
Cost on a 2-core CPU (AMD EPYC, shared, load average 5-7; one step each,
batch 32 of 48 px): a D step 3.2 s, a G step 3.3 s with one sample and
22 s with four (11 s with two), so an iteration (two D steps, one G step)
costs about 2.9 times adv_s50's: expect about 30 minutes where adv_s50
takes 11. Not yet measured on the whole run.
Then the perception-distortion curve of the one model, N samples averaged:
  python -m ddn.evaluate --checkpoint=runs/adv_sample \
    --data=folder:../shared/data/BSD68 --sigmas=50 --samples=N \
    --realism --tune_data=folder:../shared/data/Train400 \
    --out=runs/adv_sample/bsd68_nN.json      # N in 1, 2, 4, 8, 32
Smoke run (2-4 minutes on that loaded CPU, the final realism evaluation
included; G keeps gray-s50's size, so init_from's grown start is tested):
  python launch.py --config=experiments/adv_sample.py:smoke \
    --workdir=/tmp/adv_sample_smoke
"""

from ddn import configs
from ddn import recipes

DATA = "../shared/data"
NOISE_INPUT = 2  # z channels
SAMPLES = 4  # samples per noisy crop in G's step


def get_config(arg=None):
  c = recipes.adversarial_finetune(50, DATA)
  c.model.noise_input = NOISE_INPUT
  c.adv.samples = SAMPLES
  return configs.apply_args(c, arg)
