#!/usr/bin/env bash
# README's first command's training (experiments/adv.py: gray-s50 fine-tuned
# adversarially on the 8 embedded training photographs) under variants,
# judged on a development set, not on the command's own 3 held-out
# photographs: the structure-rich set of benchmarks/structure_devset.py (35
# building photographs, 512 px, in neither the embedded photographs nor the
# test sets), where 35 images give the realism test the power 3 cannot.
#
#   bash benchmarks/first_command_dev.sh [OUT]     # default OUT=runs/fcdev
#
# VARIANTS: space-separated NAME=OVERRIDES pairs, OVERRIDES comma-separated
# launch.py overrides (default: the command as shipped, and G's EMA at 0.9):
#   VARIANTS="base= ema0.9=--config.adv.ema_decay=0.9" bash ...
# SIGMA (default 50): the noise level, G starting from gray-s$SIGMA; EXTRA:
# more checkpoints judged beside it (comma-separated, e.g. gray-s25-adv);
# NAME: the record's name. The screen of a D started from a trained one
# (each variant's overrides on one line: no space inside a variant):
#   F=--config.adv.weight=2,--config.train.total_images=6400
#   P=$F,--config.adv.d_warmup_images=0
#   P=$P,--config.adv.d_init_from=runs/pushlen25/push2_s800
#   SIGMA=25 EXTRA=gray-s25-adv NAME=first_command_d_init \
#     VARIANTS="fresh=$F pre=$P" bash benchmarks/first_command_dev.sh runs/fc38
# Each variant trains without its final evaluation into OUT/NAME (a finished
# run is skipped: launch.py resumes), then ONE ddn.evaluate call judges
# gray-s$SIGMA, EXTRA and every variant on the same tiles, noise and
# judges (CNN, NSS and wavelet families, intervals over images and judge seeds). On a 2-core CPU each
# training takes 2-3 minutes, the judging about 2 minutes per method.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/fcdev}
DEV=${DEV:-runs/structure_dev}
VARIANTS=${VARIANTS:-base= ema0.9=--config.adv.ema_decay=0.9}
mkdir -p "$OUT"
[ -d "$DEV" ] || python benchmarks/structure_devset.py --out="$DEV"

SIGMA=${SIGMA:-50}
runs=gray-s$SIGMA${EXTRA:+,$EXTRA}
for variant in $VARIANTS; do
  name=${variant%%=*}
  overrides=${variant#*=}
  python launch.py --config=experiments/adv.py --workdir="$OUT/$name" \
    --config.eval.final=False --config.noise.gaussian.sigma="$SIGMA" \
    --config.train.init_from=gray-s"$SIGMA" ${overrides//,/ } \
    >> "$OUT/$name.log" 2>&1
  runs="$runs,$OUT/$name"
done
python -m ddn.evaluate --checkpoint="$runs" --data=folder:"$DEV" \
  --sigmas="$SIGMA" --realism --out="$OUT/${NAME:-first_command_dev}.json"
