#!/usr/bin/env bash
# The adversarial recipe's levers at σ = 25 (docs/adversarial.md, "Levers"),
# judged on a development set, not a test set: the structure-rich set of
# benchmarks/structure_devset.py (35 building photographs, 512 px, in
# neither Train400 nor the test sets).
#
#   bash benchmarks/adv_levers.sh [OUT]        # default OUT=runs/levers
#
# Every run is experiments/adv_s25.py (gray-s25 fine-tuned on Train400
# against the 33 px patch D, recipes.adversarial_finetune) with one lever
# changed, trained without its final evaluation; then ONE ddn.evaluate call
# judges gray-s25 and every run on the same tiles, noise and judges (CNN and
# NSS families, intervals over images and judge seeds):
#   push1_s200, _s600, _s800   the recipe (λ push 1) read at 6,400, 19,200
#                              and 25,600 images of one long run (the
#                              training-length lever; its schedules are
#                              constant, so each is the run of that length);
#                              the first is the recipe's own, the control
#   r1_push1                   + R1 gradient penalty on D (adv.r1 = R1,
#                              default 0.1; 10 held D at chance)
#   rel_push1                  the relativistic average loss for D and G
#                              (disc.loss = adv.g_loss = 'relativistic')
# The recorded table (docs/records/adv_levers_s25.md) has no R1 row: both
# R1 runs (γ = 10 and 0.1) were stopped while D sat near chance, before
# judging (docs/adversarial.md). A run that finished is skipped (launch.py
# resumes). On a 2-core CPU each
# 6,400-image run takes about 8-10 minutes (R1 about twice), the long run
# about 40, and the
# judging about 2 minutes per method.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/snapshot.sh
OUT=${1:-runs/levers}
DEV=${DEV:-runs/structure_dev}
R1=${R1:-0.1}
mkdir -p "$OUT"
[ -d "$DEV" ] || python benchmarks/structure_devset.py --out="$DEV"

train() { adv_run 25 "$@"; }  # NAME [overrides...] (snapshot.sh)

# The long run, with a copy of its checkpoint at each 6,400 images.
train push1 --config.train.total_images=25600 --config.train.max_to_keep=10
for step in 200 600 800; do
  snapshot "$OUT/push1" "$step"
done
train r1_push1 --config.adv.r1="$R1"
train rel_push1 --config.disc.loss=relativistic \
  --config.adv.g_loss=relativistic

runs=gray-s25
for r in push1_s200 push1_s600 push1_s800 r1_push1 rel_push1; do
  [ -d "$OUT/$r/checkpoints" ] && runs="$runs,$OUT/$r"
done
python -m ddn.evaluate --checkpoint="$runs" --data=folder:"$DEV" --sigmas=25 \
  --realism --out="$OUT/levers_s25.json"
