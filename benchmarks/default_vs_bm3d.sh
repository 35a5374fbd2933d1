#!/usr/bin/env bash
# README's quality table: what `ddn.denoise` and `ddn.evaluate` use when no
# model is named (at each σ the shipped model inference.best_shipped picks),
# alone and as a geometric self-ensemble (--ensemble, the 8 flips and
# rotations), against BM3D, on Set12 and BSD68 at σ = 15, 25, 50, all on
# the same noisy images (the protocol of docs/evaluation.md).
#   bash benchmarks/default_vs_bm3d.sh [OUT_DIR] [--no-bm3d]
# Writes OUT_DIR/default.json, default_ensemble.json and table.md (default
# runs/tables). BM3D takes about 20 of its minutes on a 2-core CPU; with
# --no-bm3d the table takes BM3D's records from
# docs/records/shipped_vs_classical.json (the same protocol, noise and images).
# Needs ../shared/data (Set12, BSD68) beside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/tables}
DATA=../shared/data
SETS=folder:$DATA/Set12,folder:$DATA/BSD68
mkdir -p "$OUT"
if [[ "${2:-}" == "--no-bm3d" ]]; then
  BASE=() ; BM3D=docs/records/shipped_vs_classical.json
else
  BASE=(--baselines=bm3d) ; BM3D=
fi
python -m ddn.evaluate --data=$SETS --sigmas=15,25,50 "${BASE[@]}" \
  --out="$OUT/default.json"
python -m ddn.evaluate --data=$SETS --sigmas=15,25,50 --ensemble \
  --method="ddn, self-ensemble" --out="$OUT/default_ensemble.json"
python - "$OUT" $BM3D <<'PY'
import json, sys
from ddn import report
out, extra = sys.argv[1], sys.argv[2:]
records = []
for name in ("default.json", "default_ensemble.json"):
  records += json.load(open(f"{out}/{name}"))
for path in extra:  # BM3D's stored records
  records += [r for r in json.load(open(path)) if r["method"] == "bm3d"]
open(f"{out}/table.md", "w").write(report.table(records) + "\n")
print(report.table(records))
PY
