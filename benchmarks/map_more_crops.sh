#!/usr/bin/env bash
# Do more crops buy gray-map more? (docs/quality.md, issue "Quality where
# BM3D still wins"). gray-map trained 600,000 crops in 110 minutes and its
# validation PSNR still rose over the last quarter of its cosine schedule.
# This run restarts from gray-map with a short warm-up and a second cosine
# (Adam, peak LR, default 2e-4, to 1% of it) over CROPS more crops (default
# 200,000; the recorded run, CROPS=150000, trained 27 minutes on a 2-core
# Xeon, 137 minutes in all with gray-map's 110, inside the issue's 2.5
# hours), with fresh draws (seed 1), validating on 4
# structure-rich development images (not Set12). Then it is read on the
# development set beside gray-map, same noisy images, σ = 15, 25, 50
# (benchmarks/structure_devset.py), paired over the images:
#
#   bash benchmarks/map_more_crops.sh [OUT]          # default OUT=runs/map_more
#
# Test sets (Set12, BSD68, the 11 photographs) are read only afterwards, by
# hand, if the development set says it wins.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/map_more}
DEV=${DEV:-runs/structure_dev}
CROPS=${CROPS:-200000}
LR=${LR:-2e-4}
mkdir -p "$OUT"
[ -d "$DEV" ] || python benchmarks/structure_devset.py --out="$DEV"
start=$(date +%s)
python launch.py --config=experiments/ae_map.py --workdir="$OUT/run" \
  --config.train.init_from=gray-map --config.seed=1 \
  --config.data.train=folder:../shared/data/Train400 \
  --config.data.eval=folder:"$DEV" --config.eval.max_images=4 \
  --config.optim.lr="$LR" --config.train.total_images="$CROPS" \
  --config.eval.every_images=$((CROPS / 4)) >> "$OUT/run.log" 2>&1
echo "training wall time: $(( $(date +%s) - start )) s" | tee -a "$OUT/run.log"
python -m ddn.evaluate --checkpoint=gray-map,"$OUT/run" --data=folder:"$DEV" \
  --sigmas=15,25,50 --out="$OUT/dev.json"
python benchmarks/paired_psnr.py "$OUT/dev.json" "$OUT/dev.json" \
  --method_a="ddn run" --method_b="ddn gray-map" | tee "$OUT/dev_paired.txt"
