#!/usr/bin/env bash
# Time-to-quality screen of architectures for the σ-aware model
# (experiments/ae_map.py): each candidate trains on Train400 for about the
# same wall time (~8 minutes on a 2-core CPU, two XLA host devices; the crop
# counts below were set from measured step times), then is evaluated on BSD68
# at σ = 15, 25, 50. Prints one line per candidate: training seconds, PSNRs.
#   bash benchmarks/arch_screen.sh [OUT]       (OUT defaults to runs/arch_screen)
#   ONLY=unshuffle bash benchmarks/arch_screen.sh   (candidates whose name
#                                                    contains ONLY)
# Every candidate keeps the chapter's shrunk crops (scale_min=0.6), as when
# they were screened, unless it overrides it (the last override wins):
# experiments/ae_map.py itself now takes crops at the image's own scale.
# Needs ../shared/data beside the checkout. Run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/arch_screen}
DATA=../shared/data
export XLA_FLAGS=--xla_force_host_platform_device_count=2
mkdir -p "$OUT"

run() {  # name crops overrides...
  local name=$1 total=$2 w="$OUT/$1"
  shift 2
  if [[ -n ${ONLY:-} && $name != *"$ONLY"* ]]; then return; fi
  mkdir -p "$w"
  local start=$(date +%s)
  python launch.py --config=experiments/ae_map.py --workdir="$w" \
    --config.data.train=folder:$DATA/Train400 \
    --config.data.eval=folder:$DATA/Set12 \
    --config.train.total_images="$total" --config.eval.every_images=100000 \
    --config.eval.max_images=4 --config.data.augment.scale_min=0.6 "$@" \
    > "$w/train.log" 2>&1
  local secs=$(( $(date +%s) - start ))
  python -m ddn.evaluate --checkpoint="$w" --data=folder:$DATA/BSD68 \
    --sigmas=15,25,50 --out="$w/eval.json" > "$w/eval.log" 2>&1
  python - "$w/eval.json" "$name" "$secs" <<'EOF'
import json, sys
records = json.load(open(sys.argv[1]))
records = records["records"] if isinstance(records, dict) else records
psnr = {r["sigma"]: r["psnr"] for r in records if r["method"] == "ddn"}
print(f"{sys.argv[2]:>28s}  {sys.argv[3]} s  BSD68 PSNR "
      + "  ".join(f"σ={s:g}: {p:.2f}" for s, p in sorted(psnr.items())))
EOF
}

# The U-Net of experiments/ae.py (3 levels, 0.47 M parameters), and a fourth
# level of 160 channels (1.41 M; 12% slower per crop, so fewer crops).
run "U-Net 32-64-128" 16000
run "U-Net 32-64-128-160" 14400 --config.model.features="(32,64,128,160)"
# FFDNet's pixel-unshuffle front end: the convolutions run at half
# resolution, so at widths 48-96-192 (1.05 M parameters, 4.2 MB) a step costs
# 22 GFLOP against 41, and the CPU trains 72-85 crops/s against about 40.
run "unshuffle 2 U-Net 48-96-192" 36000 --config.model.unshuffle=2 \
  --config.model.features="(48,96,192)"
# Residual blocks (config.model.res_blocks), screened later against the same
# U-Net re-timed beside them (this CPU then trained it at 69.5 crops/s, the
# bottleneck variant at 53.5, the residual levels at 48): about 8 minutes
# each. ONLY=res runs these three.
run "res: U-Net 32-64-128" 32000
run "res: U-Net + 2 residual blocks at the bottleneck" 25600 \
  --config.model.res_blocks="(0,0,2)"
run "res: 1 conv + 1 residual block per level" 23040 \
  --config.model.blocks=1 --config.model.res_blocks="(1,1,1)"
# Training data and loss, against the same U-Net ("res: U-Net 32-64-128"
# above, 32,000 crops): crops cut at the image's own scale (no 0.6-1.0
# rescale), and the loss (default: mean squared error + 0.1 x mean absolute
# error) as the squared error alone or the absolute error alone.
# ONLY=recipe runs these three.
run "recipe: U-Net with crops not rescaled" 32000 \
  --config.data.augment.scale_min=1.0
run "recipe: U-Net with the squared error alone" 32000 --config.loss.l1_weight=0.0
run "recipe: U-Net with the absolute error alone" 32000 \
  --config.loss.ssd_weight=0.0 --config.loss.l1_weight=1.0
# The loss on top of crops at their own scale (experiments/ae_map.py's
# recipe since the retrained gray-map), against "recipe: U-Net with crops not
# rescaled" above (the same 32,000 crops). ONLY=own runs it.
run "own: absolute error alone" 32000 --config.data.augment.scale_min=1.0 \
  --config.loss.ssd_weight=0.0 --config.loss.l1_weight=1.0
# Each crop's loss weighted by its noise level (config.loss.sigma_power,
# losses.sigma_weights): the squared error grows about as σ, so the plain
# mean over σ in [0, 75] is dominated by the noisiest crops. Against
# "recipe: U-Net with crops not rescaled" (the same 32,000 crops at their own
# scale). ONLY=weigh runs it.
run "weigh: default loss x σ^-1" 32000 --config.data.augment.scale_min=1.0 \
  --config.loss.sigma_power=1.0
