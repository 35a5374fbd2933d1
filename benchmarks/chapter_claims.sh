#!/usr/bin/env bash
# The chapter's claims, one experiment each (docs/results.md):
#   cheating   an autoencoder trained on clean inputs vs the same one trained
#              to denoise, both evaluated on noisy inputs;
#   losses     SSD only, L1 only and the mix (a·SSD + b·L1, b/a = 0.1);
#   general    training vs validation loss on ONE training image, with and
#              without augmentation and weight decay.
# Short Train400 runs sized for a 2-core CPU (about 35 minutes of training);
# outputs in ROOT (default runs/claims). Rerunning skips finished runs.
#   bash benchmarks/chapter_claims.sh [ROOT]
# Needs ../shared/data (Train400, Set12) beside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${1:-runs/claims}
DATA=../shared/data
export XLA_FLAGS=--xla_force_host_platform_device_count=2
COMMON=(--config.data.train=folder:$DATA/Train400
        --config.data.eval=folder:$DATA/Set12 --config.eval.max_images=4)
mkdir -p "$ROOT"
train() {  # train WORKDIR CONFIG [overrides...]; skips a finished run
  local dir=$1 cfg=$2; shift 2
  if [[ -f "$dir/done" ]]; then return; fi
  python launch.py --config="$cfg" --workdir="$dir" "$@" > "$dir.log" 2>&1
  touch "$dir/done"
}

# Losses (16,000 crops each; the l2 and l1 runs are benchmarks/figures.sh's)
# and cheating (the mix's network and budget, trained on clean inputs).
LONG=("${COMMON[@]}" --config.train.total_images=16000
      --config.eval.every_images=8000)
train "$ROOT/ae_l2" experiments/ae_l2.py "${LONG[@]}"
train "$ROOT/ae_l1" experiments/ae_l1.py "${LONG[@]}"
train "$ROOT/ae_mix" experiments/ae.py "${LONG[@]}"
train "$ROOT/ae_cheat" experiments/ae.py "${LONG[@]}" --config.noise.kinds=

# Generalization: one 180x180 training image, 6,400 crops, validation on 4
# Set12 images every 400 crops.
ONE=(--config.data.train=folder:$DATA/Train400/test_001.png
     --config.data.eval=folder:$DATA/Set12 --config.eval.max_images=4
     --config.train.total_images=6400 --config.eval.every_images=400
     --config.log.every_images=200)
NOAUG=(--config.data.augment.scale_min=1 --config.data.augment.flip_lr=False
       --config.data.augment.flip_ud=False
       --config.data.augment.brightness_min=1)
WD=(--config.optim.name=adamw --config.optim.weight_decay=0.1)
train "$ROOT/gen_plain" experiments/ae.py "${ONE[@]}" "${NOAUG[@]}"
train "$ROOT/gen_aug" experiments/ae.py "${ONE[@]}"
train "$ROOT/gen_wd" experiments/ae.py "${ONE[@]}" "${NOAUG[@]}" "${WD[@]}"
train "$ROOT/gen_aug_wd" experiments/ae.py "${ONE[@]}" "${WD[@]}"

# Figures and numbers (docs/results.md). Cheating and losses: PSNR on the
# same noisy Set12 images (σ = 25) and detail crops of scikit-image's camera
# (embedded:eval #0, so docs/figures/ holds no pixel of the shared test sets).
python -m ddn.evaluate --checkpoint="$ROOT/ae_l2,$ROOT/ae_l1,$ROOT/ae_mix,$ROOT/ae_cheat" \
  --data=folder:$DATA/Set12 --sigmas=25 --out="$ROOT/losses_cheat.json"
python -m ddn.figures detail --data=embedded:eval --index=0 --sigma=25 \
  --runs="SSD only=$ROOT/ae_l2,L1 only=$ROOT/ae_l1,mix=$ROOT/ae_mix" \
  --out=docs/figures/detail_losses.png
python -m ddn.figures detail --data=embedded:eval --index=0 --sigma=25 \
  --runs="trained on clean inputs=$ROOT/ae_cheat,trained to denoise=$ROOT/ae_mix" \
  --out=docs/figures/cheating.png
python -m ddn.figures generalization --out=docs/figures/generalization.png \
  --runs="plain=$ROOT/gen_plain,augmentation=$ROOT/gen_aug,weight decay=$ROOT/gen_wd,both=$ROOT/gen_aug_wd"
# Smoothing vs learned: widths tuned on Train400, the shipped σ=25 model.
python -m ddn.figures detail --data=embedded:eval --index=0 --sigma=25 \
  --baselines=gaussian,median --tune_data=folder:$DATA/Train400 \
  --runs="ddn (gray-s25)=gray-s25" --out=docs/figures/smoothing_vs_learned.png
