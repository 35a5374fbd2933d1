# Sourced by benchmarks/adv_levers.sh, adv_d_levers.sh, adv_length.sh,
# adv_push.sh and adv_sample.sh.
#
# adv_run SIGMA NAME [overrides...]: one run of experiments/adv_s$SIGMA.py in
# $OUT/NAME without its final evaluation (the runs are judged together
# afterwards), its log appended to $OUT/NAME.log; a finished run is skipped
# (launch.py resumes) and keeps its training log.
adv_run() {
  local sigma=$1 name=$2; shift 2
  python launch.py --config="experiments/adv_s$sigma.py" \
    --workdir="$OUT/$name" --config.eval.final=False "$@" \
    >> "$OUT/$name.log" 2>&1
}

# snapshot RUN STEP: RUN_sSTEP, a workdir holding RUN's checkpoint STEP and
# its config.json (ddn.evaluate reads it as a run of that length); kept if
# it exists.
snapshot() {
  local run=$1 step=$2
  if [ ! -d "${run}_s$step" ]; then
    mkdir -p "${run}_s$step/checkpoints"
    cp "$run/config.json" "${run}_s$step/"
    cp -r "$run/checkpoints/$step" "${run}_s$step/checkpoints/"
  fi
}

# add_snapshots RUN STEP...: snapshot RUN at each STEP and append
# ",RUN_sSTEP" to $runs, the ddn.evaluate --checkpoint list being built.
add_snapshots() {
  local run=$1 step; shift
  for step in "$@"; do
    snapshot "$run" "$step"
    runs="$runs,${run}_s$step"
  done
}
