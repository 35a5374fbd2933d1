"""Times and scores realism judges on one method, to choose their settings.

  python benchmarks/realism_judges.py '{"judges": ["image"], "seeds": 1}' ...

Each argument is a JSON dict of config.eval.realism overrides; every setting
judges the same outputs: the shipped gray-blind model at σ = 50, judges
trained on Train400 (the protocol's realism tuning images), tested on the
even-numbered half of BSD68 (34 images). Prints the seconds and the record
(ddn.realism.describe). Needs ../shared/data.
"""

import json
import sys
import time

import numpy as np

from ddn import configs
from ddn import evaluate
from ddn import inference
from ddn import methods
from ddn import protocol
from ddn import realism

SIGMA = 50
DATA = "../shared/data"


def main(specs):
  d = inference.load("gray-blind")
  tune = evaluate.realism_tuning(f"folder:{DATA}/Train400", 1,
                                 configs.realism(), [])[1]
  src = methods.load_eval_source(f"folder:{DATA}/BSD68", 1)
  test = [np.asarray(src[i], np.float32) for i in range(0, len(src), 2)]
  data = realism.Data(
      tune, [protocol.noisy_version(c, SIGMA, i, realism.REALISM_SEED)
             for i, c in enumerate(tune)],
      test, [protocol.noisy_version(c, SIGMA, i, 0)
             for i, c in enumerate(test)])
  t0 = time.time()
  tune_out = [None if i % 2 == 0 else d(x)
              for i, x in enumerate(data.tune_noisy)]
  test_out = [d(x) for x in data.test_noisy]
  print(f"denoising: {time.time() - t0:.1f} s", flush=True)
  for spec in specs:
    cfg = configs.realism()
    cfg.update(json.loads(spec))
    t0 = time.time()
    r = realism.Meter(data, cfg, 0).judge(tune_out, test_out)
    print(f"{spec}: {time.time() - t0:.1f} s, {realism.describe(r)}, "
          f"judges {r['judges']}", flush=True)


if __name__ == "__main__":
  main(sys.argv[1:] or ['{"seeds": 1}'])
