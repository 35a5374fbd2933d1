#!/usr/bin/env bash
# Is the structure-rich gap a matter of training data? (docs/quality.md,
# issue "Quality where BM3D still wins"). Train400's 180 px natural images
# hold few repeated patterns (windows, bricks, stripes). This diagnostic
# splits the structure-rich development set (benchmarks/structure_devset.py)
# in two by sorted name: A (even positions, 18 images) goes into training,
# B (odd positions, 17) is only read. gray-map is continued exactly as
# benchmarks/map_more_crops.sh continued it (150,000 crops, Adam 2e-4 on a
# second cosine, seed 1) but on Train400 plus A's images, each linked
# COPIES times (default 8: 144 of 544 files, a quarter of the draws). That
# continuation on Train400 alone (runs/map_more/run, CONTROL) is the
# control: the same crops, schedule and seed, only the data differ. Then
# gray-map, the control, this run and BM3D are read on B, and the natural-
# texture development set (benchmarks/natural_devset.py) checks that
# natural images lose nothing; paired over the images.
#
#   bash benchmarks/structure_train_split.sh [OUT]   # default runs/rep39
#
# A model trained this way has seen half the development set and is not
# shipped; the diagnostic asks whether training data is the lever.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/rep39}
DEV=${DEV:-runs/structure_dev}
NAT=${NAT:-runs/natural_dev}
T400=${T400:-../shared/data/Train400}
CONTROL=${CONTROL:-runs/map_more/run}
COPIES=${COPIES:-8}
SIGMAS=${SIGMAS:-15,25,50}
for d in "$DEV" "$NAT" "$T400" "$CONTROL"; do
  [ -e "$d" ] || { echo "missing $d (see the header)" >&2; exit 1; }
done
mkdir -p "$OUT/A" "$OUT/B" "$OUT/train/t400"
i=0
for f in $(ls "$DEV"/*.png | sort); do
  half=$([ $((i % 2)) -eq 0 ] && echo A || echo B)
  ln -sf "$(realpath "$f")" "$OUT/$half/"
  i=$((i + 1))
done
for f in "$(realpath "$T400")"/*; do ln -sf "$f" "$OUT/train/t400/"; done
for k in $(seq 1 "$COPIES"); do
  mkdir -p "$OUT/train/s$k"
  for f in "$OUT"/A/*.png; do ln -sf "$(realpath "$f")" "$OUT/train/s$k/"; done
done
if [ ! -e "$OUT/repeats/checkpoints" ] || ! grep -q "training wall time" "$OUT/run.log" 2>/dev/null; then
  start=$(date +%s)
  python launch.py --config=experiments/ae_map.py --workdir="$OUT/repeats" \
    --config.train.init_from=gray-map --config.seed=1 \
    --config.data.train=folder:"$OUT/train" \
    --config.data.eval=folder:"$OUT/B" --config.eval.max_images=4 \
    --config.optim.lr=2e-4 --config.train.total_images=150000 \
    --config.eval.every_images=37500 >> "$OUT/run.log" 2>&1
  echo "training wall time: $(( $(date +%s) - start )) s" | tee -a "$OUT/run.log"
fi
# BM3D on B only (7 s an image here): the natural set checks for a loss.
python -m ddn.evaluate --checkpoint=gray-map,"$CONTROL","$OUT/repeats" \
  --data=folder:"$OUT/B" --sigmas="$SIGMAS" --baselines=bm3d \
  --out="$OUT/eval_B.json"
python -m ddn.evaluate --checkpoint=gray-map,"$CONTROL","$OUT/repeats" \
  --data=folder:"$NAT" --sigmas="$SIGMAS" --out="$OUT/eval_natural.json"
for f in eval_B eval_natural; do
  for b in "ddn $(basename "$CONTROL")" "ddn gray-map" bm3d; do
    [ $f = eval_natural ] && [ "$b" = bm3d ] && continue
    python benchmarks/paired_psnr.py "$OUT/$f.json" "$OUT/$f.json" \
      --method_a="ddn repeats" --method_b="$b"
  done
done | tee "$OUT/paired.txt"
