#!/usr/bin/env bash
# gray-map fused with BM3D (ddn.fusion: one weight per image, chosen by
# SURE without the clean image) against BM3D, on every kind of image of
# the quality table (benchmarks/quality_table.sh): the structure-rich
# development set first (it chose the design: one weight per image, from
# two screens of 12 and 10 of its images), then the test sets, read once:
# Barbara under 8 noise draws, Set12, the 11 photographs inside
# scikit-image, BSD68. BM3D's rows are the quality table's records (same
# noisy images, same outputs); benchmarks/quality_table.py pairs them.
#
#   bash benchmarks/fusion_table.sh [OUT]      # default OUT=runs/fusion
#
# Needs ../shared/data. About 80 minutes on a 2-core CPU: each image costs
# two BM3D runs (the image and the SURE probe) and two network passes.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/fusion}
DEV=${DEV:-runs/structure_dev}
DATA=${DATA:-../shared/data}
QT=${QT:-runs/qtable}
M="ddn + bm3d"
mkdir -p "$OUT" "$QT/barbara"
[ -d "$DEV" ] || python benchmarks/structure_devset.py --out="$DEV"
for i in 0 1 2 3 4 5 6 7; do cp "$DATA/Set12/09.png" "$QT/barbara/barbara_$i.png"; done

fused() {  # NAME DATA: one evaluation, skipped when its record exists
  [ -f "$OUT/$1.json" ] || python -m ddn.evaluate --checkpoint=gray-map \
    --fuse=bm3d --method="$M" --data="$2" --sigmas=15,25,50 \
    --out="$OUT/$1.json"
}
fused structure_dev folder:"$DEV"
fused barbara folder:"$QT/barbara"
fused set12 folder:"$DATA/Set12"
fused embedded embedded
fused bsd68 folder:"$DATA/BSD68"

python benchmarks/quality_table.py --method="$M" \
  docs/records/default_vs_bm3d.json docs/records/held_out_vs_bm3d.json \
  docs/records/structure_dev_s15.json docs/records/structure_dev_s25.json \
  docs/records/structure_dev_s50.json docs/records/barbara_draws.json \
  "$OUT"/{structure_dev,barbara,set12,embedded,bsd68}.json \
  --out="$OUT/fusion_table.json"
