#!/usr/bin/env bash
# docs/evaluation.md's table: the shipped models (gray-s25, gray-blind) against
# Gaussian and median smoothing (widths chosen on Train400), non-local means
# and BM3D on Set12 and BSD68 at σ = 15, 25, 50, all on the same noisy
# images, in one evaluate command. About 25 minutes on a 2-core CPU, most of
# it BM3D (about 5 s per BSD68 image).
#   bash benchmarks/shipped_vs_classical.sh [OUT_DIR]
# Writes OUT_DIR/shipped_vs_classical.json and .md (default runs/tables).
# Needs ../shared/data (Train400, Set12, BSD68) beside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/tables}
DATA=../shared/data
mkdir -p "$OUT"
python -m ddn.evaluate --checkpoint=gray-s25,gray-blind \
  --data=folder:$DATA/Set12,folder:$DATA/BSD68 --sigmas=15,25,50 \
  --baselines=gaussian,median,nlm,bm3d \
  --tune_data=folder:$DATA/Train400 \
  --out="$OUT/shipped_vs_classical.json" 2>&1 | tee "$OUT/shipped_vs_classical.log"
cat "$OUT/shipped_vs_classical.md"
