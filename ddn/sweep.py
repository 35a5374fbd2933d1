"""Runs an experiment's `get_sweep()` one run after another.

  python -m ddn.sweep --config=experiments/ae.py --workdir=/tmp/ddn/lr
  python -m ddn.sweep --config=experiments/ae.py:smoke --workdir=DIR \
      --config.train.total_images=32000 --dry_run

Each entry of `get_sweep()` (a dict of dotted overrides) runs in
WORKDIR/<name>, e.g. WORKDIR/lr=0.001, on top of the config and its
command-line overrides; an entry's optional "_name" key names its run
instead. Rerunning resumes unfinished runs and skips finished ones (the
training loop resumes from checkpoints). A run that diverges (non-finite
loss) is recorded in WORKDIR/<name>/diverged.json ({"step", "images",
"why"}) and the sweep goes on. At the end (ddn.figures): WORKDIR/lr_sweep.png when every
entry only sets optim.lr; WORKDIR/perception_distortion.png when every entry
sets adv.weight and every run made its final evaluation (with
eval.final=False the runs are judged together afterwards:
benchmarks/perception_distortion.sh).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from ddn import runtime

def define_flags():
  """Command-line flags; defined only when run as a program."""
  config_flags.DEFINE_config_file(
      "config", None, "Experiment config file with a get_sweep().",
      lock_config=True)
  flags.DEFINE_string("workdir", None, "Root directory of the sweep.")
  flags.DEFINE_bool("dry_run", False, "Print the runs, train none.")
  flags.mark_flags_as_required(["config", "workdir"])


def load_sweep(config_path: str) -> list[dict]:
  path = config_path.split(":")[0]
  spec = importlib.util.spec_from_file_location("sweep_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  if not hasattr(module, "get_sweep"):
    raise ValueError(f"{path} has no get_sweep(); nothing to sweep.")
  return list(module.get_sweep())


def run_name(overrides: dict) -> str:
  if "_name" in overrides:
    return str(overrides["_name"])
  return ",".join(f"{k.split('.')[-1]}={v:g}" if isinstance(v, float)
                  else f"{k.split('.')[-1]}={v}" for k, v in overrides.items())


def apply_overrides(config, overrides: dict):
  c = config.copy_and_resolve_references()
  for key, value in overrides.items():
    if key == "_name":
      continue
    node = c
    *parents, leaf = key.split(".")
    for p in parents:
      node = node[p]
    if leaf not in node:
      raise ValueError(f"sweep override {key!r}: no such config field.")
    node[leaf] = value
  return c


def main(argv):
  del argv
  runtime.setup()
  from ddn.figures import curves  # pylint: disable=g-import-not-at-top
  from ddn.figures import perception  # pylint: disable=g-import-not-at-top
  from ddn import train  # pylint: disable=g-import-not-at-top
  f = flags.FLAGS
  sweep = load_sweep(config_flags.get_config_filename(f["config"]))
  configs = [(run_name(o), apply_overrides(f.config, o)) for o in sweep]
  for name, _ in configs:
    print(os.path.join(f.workdir, name))
  if f.dry_run:
    return
  diverged = {}
  for name, config in configs:
    logging.info("sweep run %s", name)
    try:
      train.train_and_evaluate(config, os.path.join(f.workdir, name))
    except FloatingPointError as e:  # a too-high lr is a result, not a crash
      logging.warning("sweep run %s diverged: %s", name, e)
      diverged[name] = str(e).splitlines()[0]
    except train.Preempted as e:  # checkpointed: the same command resumes
      print(f"ddn.sweep: run {name}: {e} (the finished runs are kept)",
            file=sys.stderr)
      sys.exit(0)
    except (ValueError, train.WorkdirError) as e:  # one message, no traceback
      sys.exit(f"ddn.sweep: run {name}: {e}")
  finished = {n: os.path.join(f.workdir, n) for n, _ in configs
              if n not in diverged}
  if all(set(o) - {"_name"} == {"optim.lr"} for o in sweep):
    out = os.path.join(f.workdir, "lr_sweep.png")
    curves.lr_sweep({n: os.path.join(f.workdir, n) for n, _ in configs},
                    out)
    logging.info("wrote %s", out)
  plane = all("adv.weight" in o for o in sweep) and finished
  judged = all(os.path.exists(os.path.join(w, "evaluation.json"))
               for w in finished.values())
  if plane and not judged:
    print("ddn.sweep: the runs have no evaluation.json (eval.final=False); "
          "judge them together with python -m ddn.evaluate --realism and "
          "draw the plane with python -m ddn.figures plane "
          "(benchmarks/perception_distortion.sh).")
  elif plane:
    out = os.path.join(f.workdir, "perception_distortion.png")
    for p in perception.perception(finished, out):
      lo, hi = p["realism_ci95"]
      print(f"{p['run']}: PSNR {p['psnr']:.2f} dB, realism AUC "
            f"{p['realism']:.3f} [{lo:.3f}, {hi:.3f}]")
    logging.info("wrote %s", out)
  for name, why in diverged.items():
    print(f"{name}: diverged ({why})")


if __name__ == "__main__":
  define_flags()
  app.run(main, flags_parser=runtime.parse_flags)
