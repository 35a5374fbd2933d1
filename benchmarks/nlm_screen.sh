#!/usr/bin/env bash
# Issue 39's non-local means screen (docs/quality.md, "Structure-rich
# images"): gray-map fine-tuned with non-local means of the noisy input as
# two more input channels (config.model.nlm, their first-conv weights
# starting at zero), as what the means remove (experiments/ae_map_attn.py:nlm)
# or as the means (:nlm_means), against the same fine-tune without them
# (:control), CROPS crops of 96 px each (default 12,000). Read
# with gray-map on the structure-rich development set (35 building
# photographs, benchmarks/structure_devset.py) and the natural-texture one
# (40 photographs, benchmarks/natural_devset.py) at σ = 15 and 25, neither
# a test set; then paired PSNR differences.
#
#   bash benchmarks/nlm_screen.sh [OUT]        # default OUT=runs/nlm
#   TAG=_lr10 ARMS="control nlm" ARGS="--config.optim.lr_mult=10 \
#     --config.optim.lr_mult_prefixes=('enc0_0',)" bash benchmarks/nlm_screen.sh
#                          # the arms with the first conv at 10x the rate
#
# A finished run is skipped (launch.py resumes; its log is appended to). On
# a 2-core CPU each arm takes about 10-15 minutes, the reading about 15.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/nlm}
DEV=${DEV:-runs/structure_dev}
NATURAL=${NATURAL:-runs/natural_dev}
CROPS=${CROPS:-12000}
SIGMAS=${SIGMAS:-15,25}
ARMS=${ARMS:-control nlm_means nlm}  # read against control, else gray-map
TAG=${TAG:-}
ARGS=${ARGS:-}
mkdir -p "$OUT"
[ -d "$DEV" ] || python benchmarks/structure_devset.py --out="$DEV"
[ -d "$NATURAL" ] || python benchmarks/natural_devset.py --out="$NATURAL"

checkpoints=""
for arm in $ARMS; do
  python launch.py --config="experiments/ae_map_attn.py:$arm" \
    --workdir="$OUT/$arm$TAG" --config.train.total_images="$CROPS" $ARGS \
    >> "$OUT/$arm$TAG.log" 2>&1
  checkpoints="$checkpoints$OUT/$arm$TAG,"
done
python -m ddn.evaluate --checkpoint="${checkpoints}gray-map" \
  --data=folder:"$DEV",folder:"$NATURAL" --sigmas="$SIGMAS" \
  --out="$OUT/dev$TAG.json"
base=gray-map  # each arm against the control, the control against gray-map
[[ " $ARMS " == *" control "* ]] && base="control$TAG"
for arm in $ARMS; do
  a="$arm$TAG" b=$base
  [ "$arm" = control ] && b=gray-map
  python benchmarks/paired_psnr.py "$OUT/dev$TAG.json" "$OUT/dev$TAG.json" \
    --method_a="ddn $a" --method_b="ddn $b"
done
