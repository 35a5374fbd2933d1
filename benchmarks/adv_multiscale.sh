#!/usr/bin/env bash
# The multi-scale patch D lever, σ = 25 by default (docs/adversarial.md, "A
# multi-scale D"), judged on the structure-rich development set
# (benchmarks/structure_devset.py), not a test set.
#
#   bash benchmarks/adv_multiscale.sh [OUT]        # default OUT=runs/ms25
#   CROP=64 BATCH=18 STEPS=800 SCALES=2 TAG=_64 bash benchmarks/adv_multiscale.sh
#
# gray-s$SIGMA-adv's recipe (experiments/adv_s$SIGMA.py at push $PUSH, default
# 2; gray-s25-adv ran 800 G steps of 32 crops of 48 px) with G and D on
# CROP px crops (default 96), BATCH per batch (default 16), for STEPS G steps
# (default 400), D's warm-up the recipe's 50 steps:
#   ms1  the recipe's 33 px patch D (one scale): the crop's own effect;
#   ms2  two scales (config.disc.scales=2): the same D on the image and, with
#        its own weights, on the image average-pooled by 2 (66 px of context).
# A 48 px crop cannot hold the second scale's patch; 64 px holds one. The
# default, 16 crops of 96 px for 400 steps, is the pixels of gray-s25-adv's
# run in half its steps (8 crops of 96 px, its pixels per step, stopped on a
# 2-core CPU in XLA:CPU's all-reduce after a few dozen steps, every time:
# docs/scaling.md); 18 crops of 64 px is its pixels per step. Checkpoints
# at half and all of STEPS are judged in ONE ddn.evaluate call beside
# gray-s$SIGMA and gray-s$SIGMA-adv (same tiles, noise and judges). About 21
# minutes per run at the default on a 2-core CPU, 1 minute per judged method.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/snapshot.sh
SIGMA=${SIGMA:-25}
PUSH=${PUSH:-2}
CROP=${CROP:-96}
BATCH=${BATCH:-16}
STEPS=${STEPS:-400}
OUT=${1:-runs/ms$SIGMA}
DEV=${DEV:-runs/structure_dev}
mkdir -p "$OUT"
[ -d "$DEV" ] || python benchmarks/structure_devset.py --out="$DEV"

runs=gray-s$SIGMA,gray-s$SIGMA-adv
for scales in ${SCALES:-1 2}; do
  name=ms$scales${TAG:-}
  adv_run "$SIGMA" "$name" --config.adv.weight="$PUSH" \
    --config.data.crop="$CROP" --config.data.batch_size="$BATCH" \
    --config.train.total_images=$((STEPS * BATCH)) \
    --config.adv.d_warmup_images=$((50 * BATCH)) \
    --config.eval.every_images=$((STEPS * BATCH / 4)) \
    --config.train.checkpoint_every_images=$((STEPS * BATCH / 4)) \
    --config.train.max_to_keep=6 --config.disc.scales="$scales" ${ARGS:-}
  add_snapshots "$OUT/$name" $((STEPS / 2)) "$STEPS"
done
python -m ddn.evaluate --checkpoint="$runs" --data=folder:"$DEV" \
  --sigmas="$SIGMA" --realism --out="$OUT/${NAME:-multiscale_s$SIGMA}.json"
