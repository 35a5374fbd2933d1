#!/usr/bin/env bash
# The perception-distortion plane, Train400 -> BSD68 (default) or Set12
# (SET=Set12), at σ = 50 (default) or σ = 25 (SIGMA=25), docs/adversarial.md:
# experiments/adv_s$SIGMA.py's sweep (recipes.perception_sweep: gray-s$SIGMA
# fine-tuned against the small patch adversary at relative push λ = 0, 0.3,
# 1, 3, 10, the big whole-image one at λ = 1, 3, and the frozen classifier);
# then every final G, gray-s$SIGMA and the network interpolation
# gray-s$SIGMA -> small λ = 3 (α = 0.25, 0.5, 0.75), judged by one realism
# test (fresh judges trained on Train400, AUC with bootstrap 95% intervals
# over the test set's images, calibration rows); then the figures: the plane,
# the radial spectra, and noisy | no adversary | big | small | frozen | clean
# on test images.
#   [SIGMA=25] [SET=Set12] bash benchmarks/perception_distortion.sh [WORKDIR]
# On a 2-core CPU (two XLA host devices), SIGMA=25 from an empty workdir on
# the otherwise idle machine: 72 min 15 s in all, peak 2.5 GB (8 runs of
# 6,400 images, 51 min: 6.5-8.5 min each against the small D, 4.2 against
# the big one; then 19 min of judging on BSD68 and 2 min of figures). σ = 50
# runs the same models on the same images. Finished runs are skipped, so a
# second test set costs only the judging.
# Outputs in WORKDIR (default runs/pd$SIGMA): records-$SET.json (every
# ddn.evaluate record), plane-$SET.png/.json, spectra-$SET.png, grid-$SET.png.
set -euo pipefail
cd "$(dirname "$0")/.."
sigma=${SIGMA:-50}
set=${SET:-BSD68}
w=${1:-runs/pd$sigma}
data=folder:../shared/data/$set
idx=2,17,40  # the grid's test images (0-based, sorted by name)
if [[ $set == Set12 ]]; then idx=4,8,9; fi  # monarch, barbara, boat
export XLA_FLAGS=${XLA_FLAGS:---xla_force_host_platform_device_count=2}
mkdir -p "$w"
python -m ddn.sweep --config="experiments/adv_s$sigma.py" --workdir="$w" \
  --config.eval.final=False 2>&1 | tee "$w/sweep.log"
if grep -q "Rerun the same command" "$w/sweep.log"; then
  exit 1  # preempted: the sweep is checkpointed; this command resumes it
fi
runs=gray-s$sigma,$w/small-push3,$w/push0,$w/small-push0.3,$w/small-push1
runs=$runs,$w/small-push10,$w/big-push1,$w/big-push3,$w/frozen-push1
python -m ddn.evaluate --checkpoint="$runs" --interpolate=0.25,0.5,0.75 \
  --data="$data" --sigmas="$sigma" --realism --out="$w/records-$set.json"
python -m ddn.figures plane --records="$w/records-$set.json" \
  --out="$w/plane-$set.png"
python -m ddn.figures spectra --data="$data" --sigma="$sigma" \
  --out="$w/spectra-$set.png" --runs="MSE=gray-s$sigma,\
small push 1=$w/small-push1,small push 10=$w/small-push10,\
big push 3=$w/big-push3,frozen=$w/frozen-push1"
python -m ddn.figures adversarial --data="$data" --indices="$idx" \
  --sigma="$sigma" --out="$w/grid-$set.png" --runs="no adversary=$w/push0,\
big push 3=$w/big-push3,small push 3=$w/small-push3,small push 10=$w/small-push10,\
frozen=$w/frozen-push1"
