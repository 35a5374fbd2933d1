#!/usr/bin/env bash
# Issue 39's non-local screen, second round (docs/quality.md, "Structure-rich
# images"): gray-map fine-tuned with MDTA at 1/2 resolution and a non-local
# block at 1/4 (experiments/ae_map_attn.py, the blocks zero-initialised) with
# the blocks' learning rate LR_MULT times the network's (config.optim.lr_mult,
# default 10: at 1x they learnt nothing in 6,000 crops), against the same
# fine-tune without the blocks (:control), CROPS crops of 96 px each
# (default 12,000). Read on the structure-rich development set
# (benchmarks/structure_devset.py, 35 building photographs; not a test set)
# at σ = 15 and 25 with gray-map, then paired PSNR differences.
#
#   bash benchmarks/attn_lr.sh [OUT]        # default OUT=runs/attn_lr
#
# A finished run is skipped (launch.py resumes). On a 2-core CPU each arm
# takes about 10-20 minutes, the reading about 10 (the non-local block is
# quadratic in pixels: ~4 s per 512 px image).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/attn_lr}
DEV=${DEV:-runs/structure_dev}
CROPS=${CROPS:-12000}
LR_MULT=${LR_MULT:-10}
mkdir -p "$OUT"
[ -d "$DEV" ] || python benchmarks/structure_devset.py --out="$DEV"

train() {  # NAME CONFIG [overrides...]
  local name=$1 config=$2; shift 2
  python launch.py --config="$config" --workdir="$OUT/$name" \
    --config.train.total_images="$CROPS" "$@" > "$OUT/$name.log" 2>&1
}

train control experiments/ae_map_attn.py:control
train attn experiments/ae_map_attn.py --config.optim.lr_mult="$LR_MULT" \
  --config.optim.lr_mult_prefixes="('encatt', 'decatt')"
python -m ddn.evaluate --checkpoint="$OUT/attn,$OUT/control,gray-map" \
  --data=folder:"$DEV" --sigmas=15,25 --out="$OUT/structure.json"
python benchmarks/paired_psnr.py "$OUT/structure.json" "$OUT/structure.json" \
  --method_a='ddn attn' --method_b='ddn control'
python benchmarks/paired_psnr.py "$OUT/structure.json" "$OUT/structure.json" \
  --method_a='ddn control' --method_b='ddn gray-map'
