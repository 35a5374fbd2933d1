#!/usr/bin/env bash
# A G that samples, at σ = 25, judged on a development set, not a test set
# (docs/adversarial.md, "A generator that samples"): the structure-rich set of
# benchmarks/structure_devset.py (35 building photographs, 512 px, in neither
# Train400 nor the test sets).
#
#   bash benchmarks/adv_sample.sh [OUT]      # default OUT=runs/sample25
#
# One run of experiments/adv_s25.py (gray-s25 fine-tuned on Train400 against
# the 33 px patch D) at relative push PUSH (default 2) with G given 2
# channels of z per pixel
# (model.noise_input), 4 samples per crop in G's step (adv.samples: Pred on
# their mean, the adversarial term on each, PSCGAN) and z's weights started at
# Z_INIT (default 0.1) times a fresh initialisation's (adv.z_init; 0 leaves
# them zero, and a 3,200-image run at σ = 50 then barely used z). TOTAL
# images (default 12,800), constant schedules, read at READ (steps of 32
# images; default 200 400). Z_AT (model.z_at, default input): where z
# enters G, `input` (concatenated to the noisy image) or `decoder` (projected
# into the full-resolution decoder convs, where texture lives; the run is
# then push${PUSH}_z${Z_INIT}_decoder). ARGS: more launch.py overrides,
# TAG: appended to the run's name, e.g. with the conditional D (PSCGAN's D
# sees the noisy image too):
#   Z_INIT=0.025 Z_AT=decoder READ=400 ARGS=--config.disc.conditional=True \
#     TAG=_cond REFS=gray-s25,runs/sample25/push2_z0.025_decoder_s400 \
#     bash benchmarks/adv_sample.sh runs/sample25
# Then:
#   * one ddn.evaluate call, one sample per image (--samples=1), judging
#     REFS (default gray-s25,gray-s25-adv; the same run without z is
#     adv_length.sh's pushP at the same reads) and the reads, CNN and NSS
#     judge families, intervals over images and seeds;
#   * one call with the mean of 8 samples (--samples=8) for the reads;
#   * benchmarks/sample_diversity.py on the last read: the samples' per-pixel
#     spread against the MSE model's error, and PSNR of the mean of N samples.
# A finished run is skipped (launch.py resumes). On a 2-core CPU a G step
# with 4 samples costs about 3 plain ones: about 30 minutes for 12,800
# images, the judging about 2 minutes per method.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/snapshot.sh
OUT=${1:-runs/sample25}
DEV=${DEV:-runs/structure_dev}
Z_INIT=${Z_INIT:-0.1}
PUSH=${PUSH:-2}
TOTAL=${TOTAL:-12800}
READ=${READ:-200 400}
REFS=${REFS:-gray-s25,gray-s25-adv}
Z_AT=${Z_AT:-input}
NAME=push${PUSH}_z$Z_INIT$([ "$Z_AT" = input ] || echo "_$Z_AT")${TAG:-}
mkdir -p "$OUT"
[ -d "$DEV" ] || python benchmarks/structure_devset.py --out="$DEV"

adv_run 25 "$NAME" --config.adv.weight="$PUSH" --config.model.noise_input=2 \
  --config.adv.samples=4 --config.adv.z_init="$Z_INIT" \
  --config.model.z_at="$Z_AT" \
  --config.train.total_images="$TOTAL" \
  --config.train.max_to_keep=$((TOTAL / 3200 + 2)) ${ARGS:-}
runs=""
add_snapshots "$OUT/$NAME" $READ
reads=$runs
last=${reads##*,}
python -m ddn.evaluate --checkpoint="$REFS$reads" \
  --data=folder:"$DEV" --sigmas=25 --realism --samples=1 \
  --out="$OUT/${NAME}_n1.json"
python -m ddn.evaluate --checkpoint="${reads#,}" --data=folder:"$DEV" \
  --sigmas=25 --realism --samples=8 --out="$OUT/${NAME}_n8.json"
python benchmarks/sample_diversity.py --run="$last" --mse=gray-s25 \
  --data=folder:"$DEV" --sigma=25 --out="$OUT/${NAME}_diversity.json"
