#!/usr/bin/env bash
# The figures in docs/classifier.md: the whole-image and the patch
# classifier trained on Train400 crops against the Train400 autoencoder
# (benchmarks/quality_train400.sh) and validated on BSD68 crops; then, for
# contrast, a deliberately weak autoencoder (3,200 Train400 crops) and the
# whole-image classifier against it.
#   bash benchmarks/classifiers_train400.sh [AE_WORKDIR] [OUT_DIR] [overrides...]
# About 25 minutes on a 2-core CPU (two XLA host devices).
set -euo pipefail
cd "$(dirname "$0")/.."
ae=${1:-runs/ae_train400}
out=${2:-runs/clf_train400}
shift $(( $# > 2 ? 2 : $# ))
mkdir -p "$out"
export XLA_FLAGS=${XLA_FLAGS:---xla_force_host_platform_device_count=2}
data=(--config.data.train=folder:../shared/data/Train400
      --config.data.eval=folder:../shared/data/BSD68)
for kind in classifier classifier_patch; do
  python launch.py --config=experiments/$kind.py --workdir="$out/$kind" \
    --config.train.init_from="$ae" "${data[@]}" "$@" > "$out/$kind.log" 2>&1
done
python launch.py --config=experiments/ae.py --workdir="$out/ae_short" \
  --config.data.train=folder:../shared/data/Train400 \
  --config.data.eval=folder:../shared/data/Set12 \
  --config.train.total_images=3200 --config.eval.every_images=3200 \
  --config.eval.max_images=4 > "$out/ae_short.log" 2>&1
python launch.py --config=experiments/classifier.py \
  --workdir="$out/classifier_vs_short" --config.train.init_from="$out/ae_short" \
  "${data[@]}" "$@" > "$out/classifier_vs_short.log" 2>&1
python -m ddn.figures classifiers --out="$out/classifier_error.png" \
  --runs="image=$out/classifier,patch=$out/classifier_patch,image vs weak denoiser=$out/classifier_vs_short"
