#!/usr/bin/env bash
# Knocked-out blocks, big against small adversary (docs/adversarial.md):
# experiments/ae_blocks.py (gray-s50 trained at σ = 50 with one 16-40 px
# block per 64 px crop knocked out), then experiments/adv_blocks.py's sweep
# from it (λ = 0, the small patch adversary at λ = 3, the big whole-image
# one at λ = 1), then on BSD68 with
# 4 blocks of 24-40 px per image: PSNR inside and outside the blocks and the
# detail power inside them, with bootstrap 95% intervals, and
# noisy | gray-s50 | MSE on blocks | λ = 0 | big | small | clean around a
# block.
#   bash benchmarks/knocked_out_blocks.sh [WORKDIR]
# On a 2-core CPU (two XLA host devices): 9,600 crops of MSE training, 3
# adversarial runs of 3,200 crops (finished runs are skipped), then the
# figure. Outputs in WORKDIR (default
# runs/blocks): blocks.png and blocks.json (the figures' numbers).
set -euo pipefail
cd "$(dirname "$0")/.."
w=${1:-runs/blocks}
export XLA_FLAGS=${XLA_FLAGS:---xla_force_host_platform_device_count=2}
mkdir -p "$w"
if [[ ! -f $w/mse/done ]]; then
  python launch.py --config=experiments/ae_blocks.py --workdir="$w/mse" \
    2>&1 | tee "$w/mse.log"
  if grep -q "Rerun the same command" "$w/mse.log"; then exit 1; fi
  touch "$w/mse/done"
fi
python -m ddn.sweep --config=experiments/adv_blocks.py --workdir="$w" \
  --config.train.init_from="$w/mse" --config.eval.final=False 2>&1 \
  | tee "$w/sweep.log"
if grep -q "Rerun the same command" "$w/sweep.log"; then
  exit 1  # preempted: the sweep is checkpointed; this command resumes it
fi
python -m ddn.figures blocks --data=folder:../shared/data/BSD68 --sigma=50 \
  --indices="${IDX:-2,17,40}" --out="$w/blocks.png" --runs="gray-s50=gray-s50,\
MSE on blocks=$w/mse,no adversary=$w/push0,big push 1=$w/big-push1,\
small push 3=$w/small-push3"
