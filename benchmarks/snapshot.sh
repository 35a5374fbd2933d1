# Sourced by benchmarks/adv_levers.sh, adv_d_levers.sh, adv_length.sh and
# adv_push.sh.
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
