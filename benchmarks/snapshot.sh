# Sourced by benchmarks/adv_levers.sh, adv_length.sh and adv_push.sh.
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
