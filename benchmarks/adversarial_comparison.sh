#!/usr/bin/env bash
# The figures in README, "Adversarial training": starting from a trained
# autoencoder (default runs/ae, experiments/ae.py on the embedded
# photographs), the big adversary (experiments/adv.py), the small one
# (experiments/adv_patch.py), the frozen-classifier strategy
# (experiments/adv_frozen.py) and the control (λ = 0: the same fine-tuning
# without the adversarial term), each with its evaluation.json; then the
# comparison grid noisy | no adversary | big | small | frozen | clean.
#   bash benchmarks/adversarial_comparison.sh [AE_WORKDIR] [OUT_DIR] [overrides...]
# About 25 minutes on a 2-core CPU (two XLA host devices).
# On Train400 (eval BSD68), from the Train400 autoencoder:
#   bash benchmarks/adversarial_comparison.sh runs/ae_train400 runs/adv_train400 \
#     --config.data.train=folder:../shared/data/Train400 \
#     --config.data.eval=folder:../shared/data/BSD68
set -euo pipefail
cd "$(dirname "$0")/.."
ae=${1:-runs/ae}
out=${2:-runs/adv_embedded}
shift $(( $# > 2 ? 2 : $# ))
mkdir -p "$out"
export XLA_FLAGS=${XLA_FLAGS:---xla_force_host_platform_device_count=2}
# From a trained G: a lower G learning rate, 1,600 images of D warm-up,
# then 3,200 adversarial (the frozen run: 3,200 of classifier training).
common=(--config.train.init_from="$ae" --config.optim.lr=2e-4
        --config.optim.warmup_images=0 --config.train.total_images=4800)
python launch.py --config=experiments/adv.py --workdir="$out/big" \
  "${common[@]}" "$@" > "$out/big.log" 2>&1
python launch.py --config=experiments/adv_patch.py --workdir="$out/small" \
  "${common[@]}" "$@" > "$out/small.log" 2>&1
python launch.py --config=experiments/adv_frozen.py --workdir="$out/frozen" \
  "${common[@]}" --config.adv.d_warmup_images=3200 \
  --config.train.total_images=6400 "$@" > "$out/frozen.log" 2>&1
# The control: the same fine-tuning with λ = 0 (D trains, G ignores it).
python launch.py --config=experiments/adv.py --workdir="$out/none" \
  "${common[@]}" --config.adv.weight=0 "$@" > "$out/none.log" 2>&1
data=$(python -c "import json; print(json.load(open('$out/big/config.json'))['data']['eval'])")
python -m ddn.figures adversarial --data="$data" --indices=0,1,2 \
  --runs="no adversary=$out/none,big=$out/big,small=$out/small,frozen D=$out/frozen" \
  --out="$out/comparison.png"
for r in none big small frozen; do
  python - "$out/$r/evaluation.json" "$r" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]}: PSNR {e['ref']['psnr']:.2f} -> {e['g']['psnr']:.2f} dB, "
      f"realism AUC {e['ref']['realism_auc']:.3f} -> {e['g']['realism_auc']:.3f}")
PY
done
