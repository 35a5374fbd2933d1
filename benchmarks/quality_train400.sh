#!/usr/bin/env bash
# Quality benchmark (issue: "Quality, measured"): train experiments/ae.py on
# Train400 at σ=25 within an hour on a 2-core CPU, then evaluate on Set12 and
# BSD68 at σ = 15, 25, 50 with the standard protocol. Prints the table.
#   bash benchmarks/quality_train400.sh [WORKDIR [OVERRIDE...]]
# CONFIG (env) defaults to experiments/ae.py, e.g.
#   CONFIG=experiments/ae_map.py bash benchmarks/quality_train400.sh runs/ae_map
# WORKDIR defaults to runs/ae_train400; OVERRIDEs go to launch.py, e.g. the
# blind model: bash benchmarks/quality_train400.sh runs/ae_train400_blind \
#   --config.noise.gaussian.blind=True --config.eval.sigma=25
# Needs ../shared/data (Train400, Set12, BSD68) beside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKDIR=${1:-runs/ae_train400}
shift $(( $# > 0 ? 1 : 0 ))
DATA=../shared/data
mkdir -p "$WORKDIR"
# Both CPU cores: split the batch over two XLA host devices.
export XLA_FLAGS=--xla_force_host_platform_device_count=2
start=$(date +%s)
python launch.py --config="${CONFIG:-experiments/ae.py}" --workdir="$WORKDIR" \
  --config.data.train=folder:$DATA/Train400 \
  --config.data.eval=folder:$DATA/Set12 \
  --config.train.total_images=80000 --config.eval.every_images=20000 \
  --config.eval.max_images=4 "$@" 2>&1 | tee -a "$WORKDIR/train.log"
echo "training wall time: $(( $(date +%s) - start )) s" | tee -a "$WORKDIR/train.log"
python -m ddn.evaluate --checkpoint="$WORKDIR" \
  --data=folder:$DATA/Set12,folder:$DATA/BSD68 \
  --sigmas=15,25,50 --out="$WORKDIR/eval.json"
python -m ddn.report "$WORKDIR/eval.json"
