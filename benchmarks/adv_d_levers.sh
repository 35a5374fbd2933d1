#!/usr/bin/env bash
# What D asks for, at σ = 25 (docs/adversarial.md, "Levers of D"): the
# adversarial recipe (experiments/adv_s25.py: gray-s25 fine-tuned on
# Train400 for 6,400 images against the 33 px patch D, push 1) with one of
# D's levers changed, judged on a development set, not a test set: the
# structure-rich set of benchmarks/structure_devset.py (35 building
# photographs, 512 px, in neither Train400 nor the test sets).
#
#   bash benchmarks/adv_d_levers.sh [OUT]      # default OUT=runs/dlevers
#
#   control     the recipe as it is (its row of docs/records/adv_levers_s25)
#   dcap        D 2x wider: features (64, 128, 128) instead of (32, 64, 64)
#   dcap_lr     D 2x wider at D learning rate 2.5e-4 (dcap's 1e-3 held
#               the wider D at chance)
#   dcap_lr_long  dcap_lr for 19,200 images (the length lever of
#               adv_levers.sh; constant schedules, so its first 6,400 images
#               are dcap_lr's run, bit for bit on one machine)
#   d_lr        D as the recipe's at a quarter of its learning rate (2.5e-4)
#   fm          + pix2pixHD's feature matching: G's adversarial term adds
#               the mean |D's features of G's output - of its clean crop|,
#               level by level (adv.fm_weight = 1; the adaptive λ scales both)
# Not run: a multi-scale patch D (pix2pixHD's). The recipe's D sees 48 px
# crops, so a 33 px patch at half scale (24 px) does not fit; it needs
# G and D on 96 px crops, 4x the G cost of every run.
# RUNS picks the runs to train (default: control dcap fm), JUDGE those to
# judge (default: every one trained), NAME the record (d_levers_s25),
# SIGMA the noise (default 25: experiments/adv_s$SIGMA.py from gray-s$SIGMA),
# EXTRA more checkpoints judged beside gray-s$SIGMA (comma-separated).
# Then ONE ddn.evaluate call judges gray-s25 and those runs on the same tiles,
# noise and judges (CNN, NSS and wavelet families, intervals over images and judge
# seeds). A finished run is skipped (launch.py resumes). On a 2-core CPU
# each 6,400-image run takes about 6-8 minutes (dcap_lr_long about 30) and
# the judging about 2 minutes per method.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/snapshot.sh
OUT=${1:-runs/dlevers}
DEV=${DEV:-runs/structure_dev}
RUNS=${RUNS:-control dcap fm}
SIGMA=${SIGMA:-25}
mkdir -p "$OUT"
[ -d "$DEV" ] || python benchmarks/structure_devset.py --out="$DEV"

train() { adv_run "$SIGMA" "$@"; }  # NAME [overrides...] (snapshot.sh)

for r in $RUNS; do
  case $r in
    control) train control ;;
    dcap) train dcap --config.disc.features='(64, 128, 128)' ;;
    dcap_lr) train dcap_lr --config.disc.features='(64, 128, 128)' \
      --config.disc_optim.lr=2.5e-4 ;;
    dcap_lr_long) train dcap_lr_long --config.disc.features='(64, 128, 128)' \
      --config.disc_optim.lr=2.5e-4 --config.train.total_images=19200 ;;
    d_lr) train d_lr --config.disc_optim.lr=2.5e-4 ;;
    fm) train fm --config.adv.fm_weight=1.0 ;;
    *) echo "adv_d_levers: unknown run $r" >&2; exit 2 ;;
  esac
done

runs=gray-s$SIGMA${EXTRA:+,$EXTRA}
for r in ${JUDGE:-control dcap dcap_lr dcap_lr_long d_lr fm}; do
  [ -d "$OUT/$r/checkpoints" ] && runs="$runs,$OUT/$r"
done
python -m ddn.evaluate --checkpoint="$runs" --data=folder:"$DEV" \
  --sigmas="$SIGMA" --realism --out="$OUT/${NAME:-d_levers_s$SIGMA}.json"
