#!/usr/bin/env bash
# The realism meter's and the colour path's tests must bite: each mutation
# below (the silent mistakes a review found, issue 38) is applied alone to a
# copy of this checkout, and the tests that guard it are run there. Every
# mutation must make at least one test fail; prints the failing tests per
# mutation and exits 1 if some mutation leaves its tests green, 2 if the
# tests could not run at all.
#
#   bash benchmarks/meter_mutations.sh        # about 2 minutes on 2 cores
set -uo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
survivors=0

mutate() {  # NAME FILE OLD NEW TESTS...
  local name=$1 file=$2 old=$3 new=$4; shift 4
  rm -rf "$WORK/repo" && mkdir -p "$WORK/repo"
  (cd "$SRC" && git ls-files -co --exclude-standard -z \
     | xargs -0 cp --parents -t "$WORK/repo")
  OLD="$old" NEW="$new" python - "$WORK/repo/$file" <<'PY' || exit 2
import os, sys
path, old, new = sys.argv[1], os.environ["OLD"], os.environ["NEW"]
text = open(path).read()
if text.count(old) != 1:
  sys.exit(f"{path}: the mutated line is not there once; update this script")
open(path, "w").write(text.replace(old, new))
PY
  local out rc
  out=$(cd "$WORK/repo" && PYTHONPATH="$WORK/repo" python -m pytest -q \
          -n 0 -p no:cacheprovider "$@" 2>&1)
  rc=$?
  if [ $rc -eq 1 ]; then  # tests ran, and some failed
    echo "$name: caught by"
    echo "$out" | grep -E "^FAILED" | sed 's/ - .*//; s/^/  /'
  elif [ $rc -eq 0 ]; then
    echo "$name: NOT CAUGHT"; survivors=$((survivors + 1))
  else  # usage or collection error, interrupted: nothing was judged
    echo "$name: the tests could not run (pytest exit $rc):"
    echo "$out" | tail -5; exit 2
  fi
}

METER="tests/test_meter_bites.py tests/test_realism.py"
mutate "denoised test tiles from the real tiles' colour" ddn/realism.py \
  "parity=[1 - p for p in self.real_parity])" \
  "parity=list(self.real_parity))" $METER
mutate "architecture chosen on the test tiles" ddn/realism.py \
  "best = (max(selection, key=selection.get) if selection" \
  "best = (max(scores, key=lambda n: auc(*(s.mean(axis=0) for s in scores[n]))) if selection" \
  $METER
mutate "selection images' outputs in the judges' training" ddn/realism.py \
  "    scores, selection = self._cnn_family(fake, select_fake, test_fake)" \
  "    fake = fake + [_as_image(o) for o in tune_parts(tune_out, self.tune_tile)[1]][3::4]
    scores, selection = self._cnn_family(fake, select_fake, test_fake)" \
  $METER
mutate "g_params returns raw G, not its EMA" ddn/tasks/adversarial.py \
  "return state.ema if self.config.adv.ema_decay > 0 else state.params" \
  "return state.params" tests/test_meter_bites.py tests/test_adversarial.py
mutate "no opponent colour transform (both ways the identity)" ddn/colour.py \
  "  return (rgb @ OPPONENT.T + OFFSET).astype(np.float32)


def from_opponent(opp: np.ndarray) -> np.ndarray:
  return ((opp - OFFSET) @ np.linalg.inv(OPPONENT).T).astype(np.float32)" \
  "  return rgb.astype(np.float32)


def from_opponent(opp: np.ndarray) -> np.ndarray:
  return opp.astype(np.float32)" tests/test_colour.py
exit $((survivors > 0))
