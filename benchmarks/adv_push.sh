#!/usr/bin/env bash
# The adversarial push lever at one σ (docs/adversarial.md, "The push
# lever"), judged on a development set, not a test set: the structure-rich
# set of benchmarks/structure_devset.py (35 building photographs, 512 px, in
# neither Train400 nor the test sets).
#
#   bash benchmarks/adv_push.sh [OUT]            # σ = 25, default OUT=runs/s38p
#   SIGMA=50 bash benchmarks/adv_push.sh [OUT]   # default OUT=runs/s38p50
#
# The shipped gray-s$SIGMA-adv (the recipe at push 1: 25,600 images at
# σ = 25, 6,400 at σ = 50) trained on with a stronger push:
# experiments/adv_s$SIGMA.py from that model's G with
# a fresh D (1,600 images of D warm-up, then 12,800 adversarial images),
# adv.weight = PUSH (default 3), constant schedules, no final evaluation;
# copies at 6,400 (push${PUSH}_s200) and 14,400 images (push${PUSH}_s450). Then ONE
# ddn.evaluate call judges gray-s$SIGMA, gray-s$SIGMA-adv and the copies on the
# same tiles, noise and judges (CNN, NSS and wavelet families, intervals over images
# and judge seeds). On a 2-core CPU the run takes 20-25 minutes alone,
# the judging about 2 minutes per method. A finished run is skipped
# (launch.py resumes).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/snapshot.sh
PUSH=${PUSH:-3}
SIGMA=${SIGMA:-25}
OUT=${1:-runs/s38p$([ "$SIGMA" = 25 ] || echo "$SIGMA")}
DEV=${DEV:-runs/structure_dev}
NAME=push${PUSH}
mkdir -p "$OUT"
[ -d "$DEV" ] || python benchmarks/structure_devset.py --out="$DEV"

adv_run "$SIGMA" "$NAME" --config.train.init_from="gray-s$SIGMA-adv" \
  --config.adv.weight="$PUSH" --config.train.total_images=14400 \
  --config.train.max_to_keep=10
runs=gray-s$SIGMA,gray-s$SIGMA-adv
add_snapshots "$OUT/$NAME" 200 450
python -m ddn.evaluate --checkpoint="$runs" --data=folder:"$DEV" \
  --sigmas="$SIGMA" --realism --out="$OUT/${NAME}_s$SIGMA.json"
