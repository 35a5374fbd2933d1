#!/usr/bin/env bash
# The default model's quality table (README "The default model against
# BM3D", docs/quality.md): gray-map against BM3D on Set12, BSD68, the 11
# photographs inside scikit-image, the structure-rich development set and
# Barbara alone, each cell with its paired 95% interval, beside DnCNN-S's
# published figures. This runs the two evaluations the records lack, then
# benchmarks/quality_table.py assembles the table from the records:
#   - the structure-rich set (benchmarks/structure_devset.py) at σ = 50;
#   - Barbara (Set12's 09.png) under 8 noise draws: 8 copies of it in one
#     folder, so the protocol's noise for copy i is default_rng(seed + i)
#     (ddn.protocol); its interval is over noise draws, not images.
#
#   bash benchmarks/quality_table.sh [OUT]      # default OUT=runs/qtable
#
# Needs ../shared/data. About 15 minutes on a 2-core CPU (BM3D ~8 s per
# 512 px image at σ = 50). The other cells' records are in docs/records/
# (default_vs_bm3d, held_out_vs_bm3d, structure_dev_s15, structure_dev_s25).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/qtable}
DEV=${DEV:-runs/structure_dev}
DATA=${DATA:-../shared/data}
mkdir -p "$OUT/barbara"
[ -d "$DEV" ] || python benchmarks/structure_devset.py --out="$DEV"
for i in 0 1 2 3 4 5 6 7; do cp "$DATA/Set12/09.png" "$OUT/barbara/barbara_$i.png"; done

[ -f "$OUT/structure_dev_s50.json" ] || python -m ddn.evaluate \
  --data=folder:"$DEV" --sigmas=50 --baselines=bm3d \
  --out="$OUT/structure_dev_s50.json"
[ -f "$OUT/barbara.json" ] || python -m ddn.evaluate \
  --data=folder:"$OUT/barbara" --sigmas=15,25,50 --baselines=bm3d \
  --out="$OUT/barbara.json"
python benchmarks/quality_table.py docs/records/default_vs_bm3d.json \
  docs/records/held_out_vs_bm3d.json docs/records/structure_dev_s15.json \
  docs/records/structure_dev_s25.json "$OUT/structure_dev_s50.json" \
  "$OUT/barbara.json" --out="$OUT/quality_table.json"
