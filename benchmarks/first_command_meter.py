"""The calibration rows of README's first command's realism test, without
its training: to choose the meter's settings there.

  python benchmarks/first_command_meter.py '{}' '{"seeds": 2}' ...

Each argument is a JSON dict of overrides of the first command's
config.eval.realism (experiments/adv.py, as its final evaluation sets it);
each is run on the same images as that evaluation: the judges tune on the
8 embedded training photographs, the rows are read on the 3 embedded
held-out ones with the run's evaluation noise (σ = 50). Prints the seconds
and the clean / noisy / Gaussian-smoothing rows (ddn.realism.describe). A
meter whose Gaussian row is not near 1 cannot be read on G.
"""

import importlib.util
import json
import os
import sys
import time

from ddn import data as data_lib
from ddn import realism
from ddn import tasks
from ddn import train
from ddn.evaluators import base
from ddn.evaluators import realism as ev_realism
from ddn.tasks import adversarial
from ddn.tasks import base as task_base

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def first_command_config():
  spec = importlib.util.spec_from_file_location(
      "adv", os.path.join(ROOT, "experiments", "adv.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def main(overrides):
  c = first_command_config()
  task = tasks.build(c, train.Setup(c))
  train_src = data_lib.load_source(c.data.train, c.data)
  eval_src = data_lib.load_source(c.data.eval, c.data)
  tune = adversarial.tuning_images(task, train_src)
  noise = task_base.eval_noise_spec(c, task.noise_spec)
  images = base.noisy_images(eval_src, noise, int(c.seed))
  for o in overrides:
    cfg = c.eval.realism.copy_and_resolve_references()
    cfg.update(json.loads(o))
    ev = ev_realism.Realism(c).tune(tune, noise, cfg)
    t0 = time.time()
    rows = ev.calibrate(images)
    print(f"{o} ({time.time() - t0:.0f} s):", flush=True)
    for name, r in rows.items():
      print(f"  clean vs {name}: {realism.describe(r)}; judges "
            f"{ {k: [round(a, 3) for a in v] for k, v in r['judges'].items()} }",
            flush=True)


if __name__ == "__main__":
  main(sys.argv[1:] or ["{}"])
