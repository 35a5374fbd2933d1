#!/usr/bin/env bash
# The adversarial push lever at σ = 25 (docs/adversarial.md, "The push
# lever"), judged on a development set, not a test set: the structure-rich
# set of benchmarks/structure_devset.py (35 building photographs, 512 px, in
# neither Train400 nor the test sets).
#
#   bash benchmarks/adv_push.sh [OUT]        # default OUT=runs/s38p
#
# The shipped gray-s25-adv (the recipe at push 1 for 25,600 images) trained
# on with a stronger push: experiments/adv_s25.py from gray-s25-adv's G with
# a fresh D (1,600 images of D warm-up, then 12,800 adversarial images),
# adv.weight = PUSH (default 3), constant schedules, no final evaluation;
# copies at 6,400 (push3_s200) and 14,400 images (push3_s450). Then ONE
# ddn.evaluate call judges gray-s25, gray-s25-adv and the two copies on the
# same tiles, noise and judges (CNN and NSS families, intervals over images
# and judge seeds). On a 2-core CPU the run takes about 20 minutes alone,
# the judging about 2 minutes per method. A finished run is skipped
# (launch.py resumes).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/snapshot.sh
PUSH=${PUSH:-3}
OUT=${1:-runs/s38p}
DEV=${DEV:-runs/structure_dev}
NAME=push${PUSH}
mkdir -p "$OUT"
[ -d "$DEV" ] || python benchmarks/structure_devset.py --out="$DEV"

python launch.py --config=experiments/adv_s25.py --workdir="$OUT/$NAME" \
  --config.train.init_from=gray-s25-adv --config.adv.weight="$PUSH" \
  --config.train.total_images=14400 --config.eval.final=False \
  --config.train.max_to_keep=10 > "$OUT/$NAME.log" 2>&1
runs=gray-s25,gray-s25-adv
for step in 200 450; do
  snapshot "$OUT/$NAME" "$step"
  runs="$runs,$OUT/${NAME}_s$step"
done
python -m ddn.evaluate --checkpoint="$runs" --data=folder:"$DEV" \
  --sigmas=25 --realism --out="$OUT/${NAME}_s25.json"
