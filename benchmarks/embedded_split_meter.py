"""ddn.evaluate with another held-out split of the embedded photographs.

README's first command fine-tunes G on `embedded:train` and judges it on
`embedded:eval` (ddn.data.EMBEDDED_EVAL: camera, coffee, clock). Does a
held-out split with more texture give the realism meter the power the
three photographs lack? This runs ddn.evaluate (every flag as usual) with
the photographs in --held_out as `embedded:eval` and the rest as
`embedded:train`, e.g. the shipped σ = 50 pair with the motion-blurred
clock swapped for gravel (docs/adversarial.md, README's first command):

  python benchmarks/embedded_split_meter.py --held_out=camera,coffee,gravel \
    --checkpoint=gray-s50,gray-s50-adv --data=embedded:eval --sigmas=50 \
    --realism --tune_data=embedded:train --realism_tune_tile=128 \
    --out=docs/records/shipped_pair_embedded_gravel.json
"""

from absl import app
from absl import flags

from ddn import data
from ddn import evaluate
from ddn import runtime

flags.DEFINE_list("held_out", list(data.EMBEDDED_EVAL),
                  "Embedded photographs read as embedded:eval; the others "
                  "are embedded:train.")


def main(argv):
  held_out = tuple(flags.FLAGS.held_out)
  every = data.EMBEDDED_TRAIN + data.EMBEDDED_EVAL
  unknown = [n for n in held_out if n not in every]
  if unknown or not held_out:
    raise SystemExit(f"--held_out={','.join(held_out)}: choose from "
                     f"{', '.join(every)}.")
  data.EMBEDDED_EVAL = held_out
  data.EMBEDDED_TRAIN = tuple(n for n in every if n not in held_out)
  print(f"embedded:train = {', '.join(data.EMBEDDED_TRAIN)}; embedded:eval "
        f"= {', '.join(data.EMBEDDED_EVAL)}", flush=True)
  evaluate.main(argv)


if __name__ == "__main__":
  evaluate.define_flags()
  app.run(main, flags_parser=runtime.parse_flags)
