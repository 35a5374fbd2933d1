#!/usr/bin/env bash
# The README's figures, from scratch: the learning-rate sweep (the chapter's
# Figure 17.4) and SSD-only vs L1 detail crops (Figure 17.7). Short runs on
# Train400 sized for a 2-core CPU (about 35 minutes in all); outputs go to
# ROOT (default runs/figures) and the PNGs are copied to docs/figures/.
#   bash benchmarks/figures.sh [ROOT]
# Needs ../shared/data (Train400, Set12) beside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${1:-runs/figures}
DATA=../shared/data
export XLA_FLAGS=--xla_force_host_platform_device_count=2
COMMON=(--config.data.train=folder:$DATA/Train400
        --config.data.eval=folder:$DATA/Set12 --config.eval.max_images=4)
mkdir -p "$ROOT" docs/figures

# Six learning rates (the chapter's four, and 0.5 and 0.05 to show
# divergence), 8,000 crops each at a constant rate (no warm-up), so the
# curves differ only by the rate; a diverged run leaves diverged.json and
# the sweep goes on. Draws $ROOT/lr/lr_sweep.png (all six).
python -m ddn.sweep --config=experiments/ae.py --workdir="$ROOT/lr" "${COMMON[@]}" \
  --config.train.total_images=8000 --config.eval.every_images=1600 \
  --config.optim.schedule=constant --config.optim.warmup_images=0 \
  --config.train.checkpoint_every_images=4000
cp "$ROOT/lr/lr_sweep.png" docs/figures/lr_sweep_all.png
L=$ROOT/lr  # the chapter's four, readable on their own scale
python -m ddn.figures lr_sweep --out=docs/figures/lr_sweep.png \
  --runs="$L/lr=0.005,$L/lr=0.001,$L/lr=0.0001,$L/lr=1e-05"

# SSD only vs L1 only, 16,000 crops each, then magnified crops of one image.
for loss in l2 l1; do
  python launch.py --config=experiments/ae_$loss.py --workdir="$ROOT/ae_$loss" \
    "${COMMON[@]}" --config.train.total_images=16000 \
    --config.eval.every_images=8000
done
# The detail image is scikit-image's camera (embedded:eval #0), so the figure
# in docs/figures/ holds no pixel of the shared test sets.
python -m ddn.figures detail --runs=SSD="$ROOT/ae_l2",L1="$ROOT/ae_l1" \
  --data=embedded:eval --index=0 --sigma=25 --out=docs/figures/detail_ssd_l1.png
