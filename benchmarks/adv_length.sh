#!/usr/bin/env bash
# The adversarial recipe's training-length lever at one σ (docs/adversarial.md,
# "Levers"), judged on a development set, not a test set: the structure-rich
# set of benchmarks/structure_devset.py (35 building photographs, 512 px, in
# neither Train400 nor the test sets).
#
#   SIGMA=50 bash benchmarks/adv_length.sh [OUT]     # default OUT=runs/levers50
#
# One long run of experiments/adv_s$SIGMA.py (gray-s$SIGMA fine-tuned on
# Train400 against the 33 px patch D, recipes.adversarial_finetune) for
# 38,400 images, without its final evaluation. Its schedules are constant, so
# its checkpoint at N images is the run of length N: copies at 6,400 (the
# recipe's own length, the control), 25,600 and 38,400 images (push1_s200,
# _s800, _s1200). Then ONE ddn.evaluate call judges gray-s$SIGMA and the
# three on the same tiles, noise and judges (CNN, NSS and wavelet families, intervals
# over images and judge seeds). On a 2-core CPU the run takes about 70
# minutes alone, the judging about 2 minutes per method. A finished run is
# skipped (launch.py resumes).
#
# The push x length grid (docs/adversarial.md, "Push at length"):
#   SIGMA=25 PUSHES="2 3" TOTAL=25600 READ="200 400 800" EXTRA=gray-s25-adv \
#     NAME=push_length_s25 bash benchmarks/adv_length.sh runs/pushlen25
# PUSHES: relative pushes (adv.weight), one run each (pushP); TOTAL: images
# per run; READ: the checkpoints (steps of 32 images) judged; EXTRA:
# checkpoints judged beside gray-s$SIGMA (comma-separated); NAME: the record.
# ARGS: more launch.py overrides for every run, TAG: appended to the run
# names, e.g. G's learning rate:
#   SIGMA=25 PUSHES=2 TOTAL=12800 READ="200 400" ARGS=--config.optim.lr=4e-4 \
#     TAG=_lr4e-4 NAME=lr_s25 bash benchmarks/adv_length.sh runs/lr25
# DEV: the development set's folder, or several comma-separated (one
# realism test each), e.g. D's detail band half an octave lower, judged on both
# development sets beside the recipe's run at the same length:
#   SIGMA=25 PUSHES=2 TOTAL=6400 READ=200 ARGS=--config.disc.detail_width=5 \
#     TAG=_dw5 EXTRA=runs/pushlen25/push2_s200 \
#     DEV=runs/natural_dev,runs/structure_dev NAME=detail5_s25 \
#     bash benchmarks/adv_length.sh runs/dw25
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/snapshot.sh
SIGMA=${SIGMA:-50}
OUT=${1:-runs/levers$SIGMA}
DEV=${DEV:-runs/structure_dev}
mkdir -p "$OUT"
for dev in ${DEV//,/ }; do  # every set there before any training
  if [ ! -d "$dev" ]; then
    if [ "$dev" = runs/structure_dev ]; then
      python benchmarks/structure_devset.py --out="$dev"
    else
      echo "adv_length.sh: no development set at $dev; build it first" \
        "(benchmarks/natural_devset.py --out=$dev, or structure_devset.py)" >&2
      exit 2
    fi
  fi
done

TOTAL=${TOTAL:-38400}
runs=gray-s$SIGMA${EXTRA:+,$EXTRA}
for push in ${PUSHES:-1}; do
  adv_run "$SIGMA" "push$push${TAG:-}" --config.adv.weight="$push" \
    --config.train.total_images="$TOTAL" \
    --config.train.max_to_keep=$((TOTAL / 3200 + 2)) ${ARGS:-}
  add_snapshots "$OUT/push$push${TAG:-}" ${READ:-200 800 1200}
done
python -m ddn.evaluate --checkpoint="$runs" --data="folder:${DEV//,/,folder:}" \
  --sigmas="$SIGMA" --realism --out="$OUT/${NAME:-length_s$SIGMA}.json"
