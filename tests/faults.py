"""Helpers of the fault-injection tests (tests/test_reliability*.py): run
an experiment in a subprocess, wait for a logged step, SIGTERM or SIGKILL
it, and compare the resumed run with the uninterrupted one."""

import ast
import glob
import json
import os
import random
import signal
import subprocess
import sys
import time

import jax
import numpy as np

from ddn import checkpoint
from ddn import logs

from conftest import ROOT

# One device, as the in-process references: results are then bit-identical.
ENV = dict(os.environ, DDN_CPU_DEVICES="1")
AE = ("experiments/ae.py:smoke", ["--config.train.total_images=192"])
# README's first command at smoke sizes, but G a smoke-sized U-Net trained
# from scratch (a reconstruction warm-up, then D's) rather than the shipped
# gray-s50: what is tested is the adversarial run's state, resume and final
# evaluation; G's size only made each run 2.3 times slower (37 s against 16
# s in this process). Starting from the shipped model: tests/test_configs.py.
ADV = ("experiments/adv.py:smoke", ["--config.train.total_images=128",
                                    "--config.train.init_from=",
                                    "--config.model.features=(8,16)",
                                    "--config.model.blocks=1"])


def experiment(spec: str, overrides: list[str]):
  """The config launch.py builds from `--config=spec` and overrides."""
  path, _, arg = spec.partition(":")
  ns = {}
  exec(compile(open(os.path.join(ROOT, path)).read(), path, "exec"), ns)  # pylint: disable=exec-used
  c = ns["get_config"](arg or None)
  for o in overrides:
    key, value = o[len("--config."):].split("=", 1)
    old = c[key]  # a dotted path
    if isinstance(old, (tuple, list)):
      value = ast.literal_eval(value)
    elif old is not None:
      value = type(old)(value)
    c.update_from_flattened_dict({key: value})
  return c


def command(spec, overrides, workdir, fault=None):
  args = [f"--config={spec}", f"--workdir={workdir}", *overrides]
  if fault:
    return [sys.executable, os.path.join(ROOT, "tests", "fault_worker.py"),
            *fault, "--", *args]
  return [sys.executable, os.path.join(ROOT, "launch.py"), *args]


def start(cmd):
  return subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def run(cmd, timeout=300):
  p = start(cmd)
  out, _ = p.communicate(timeout=timeout)
  return p.returncode, out


def logged_step(workdir) -> int:
  recs = logs.read_metrics(os.path.join(workdir, "metrics.jsonl"))
  return max((r["step"] for r in recs if len(r) > 2), default=0)


def wait_for_step(proc, workdir, step, timeout=300):
  """Returns once metrics.jsonl has a record at `step` or later."""
  t0 = time.time()
  while logged_step(workdir) < step:
    assert proc.poll() is None, proc.communicate()[0][-3000:]
    assert time.time() - t0 < timeout, "no progress"
    time.sleep(0.02)


def curve(workdir) -> list[dict]:
  """Every metrics record, without the timings."""
  recs = logs.read_metrics(os.path.join(workdir, "metrics.jsonl"))
  return [{k: v for k, v in r.items() if not k.startswith("perf/")}
          for r in recs]


def final_digest(workdir) -> tuple[int, str]:
  """(last step, digest of its whole state) from the checkpoint's host
  record."""
  steps = sorted(int(s) for s in os.listdir(
      os.path.join(workdir, "checkpoints")) if s.isdigit())
  host = [f for f in glob.glob(os.path.join(
      workdir, "checkpoints", str(steps[-1]), "host", "*"))
          if not f.endswith("commit_success.txt")]
  with open(host[0]) as f:
    return steps[-1], json.load(f)["digest"]


def assert_same_run(workdir, reference):
  got, want = curve(workdir), curve(reference)
  assert [r["step"] for r in got] == [r["step"] for r in want]
  assert got == want
  assert final_digest(workdir) == final_digest(reference)
  for a, b in zip(jax.tree_util.tree_leaves(checkpoint.load_params(workdir)),
                  jax.tree_util.tree_leaves(checkpoint.load_params(reference))):
    np.testing.assert_array_equal(a, b)


def sigterm_then(spec, over, w, second):
  """A run stopped by SIGTERM once its first log line is out (exit 0, a
  checkpoint at that step), resumed and killed by `second(w)`, then resumed
  to the end. Returns the step SIGTERM stopped at and the last output."""
  p = start(command(spec, over, w))
  wait_for_step(p, w, 1)
  p.send_signal(signal.SIGTERM)
  out, _ = p.communicate(timeout=180)
  assert p.returncode == 0, out[-3000:]
  assert "ddn: stopped by SIGTERM after step" in out
  stopped = int(out.split("stopped by SIGTERM after step ")[1].split()[0])
  assert os.path.isdir(os.path.join(w, "checkpoints", str(stopped)))
  second(w)
  rc, out = run(command(spec, over, w))
  assert rc == 0, out[-3000:]
  return stopped, out


def kill_at_random(spec, over, w, after: int, within: float) -> None:
  """Runs the command and SIGKILLs it 0 to `within` s after step `after`
  is logged, before it ends."""
  p = start(command(spec, over, w))
  wait_for_step(p, w, after)
  time.sleep(random.uniform(0.0, within))
  p.kill()
  out, _ = p.communicate(timeout=60)
  assert p.returncode == -signal.SIGKILL, out[-3000:]  # killed mid-run
