"""Two processes train together like one: launch.py twice on localhost
with jax.distributed (a file of its own, so pytest-xdist runs it beside
tests/test_scale.py's multi-device subprocesses)."""

import os
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from ddn import logs

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_two_processes_train_together_like_one(tmp_path):
  """launch.py on two processes (coordinator on localhost, one CPU device
  each) trains the same run as one process: each process makes its half of
  every batch. SIGTERM to one of them stops both after the same step, with a
  checkpoint (JAX's preemption sync point); the same commands resume."""
  base = [sys.executable, "launch.py", "--config=experiments/ae.py:smoke",
          "--config.train.total_images=96"]
  env = dict(os.environ, DDN_CPU_DEVICES="1", JAX_PLATFORMS="cpu")
  env["XLA_FLAGS"] = " ".join(  # conftest's flags, without a device count
      f for f in os.environ.get("XLA_FLAGS", "").split()
      if not f.startswith("--xla_force_host_platform_device_count"))
  multi = tmp_path / "two_processes"

  def launch_pair():
    port = _free_port()
    return [subprocess.Popen(
        base + [f"--workdir={multi}", f"--coordinator=127.0.0.1:{port}",
                "--num_processes=2", f"--process_id={i}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for i in range(2)]

  procs = launch_pair()
  metrics = multi / "metrics.jsonl"
  t0 = time.time()
  while not (metrics.exists() and '"train/ae/loss"' in metrics.read_text()):
    assert all(p.poll() is None for p in procs), procs[0].communicate()
    assert time.time() - t0 < 300
    time.sleep(0.05)
  procs[1].send_signal(signal.SIGTERM)  # preemption of one host
  outs = [p.communicate(timeout=600) for p in procs]
  stops = []
  for p, (_, err) in zip(procs, outs):
    assert p.returncode == 0, err[-3000:]
    stops.append(err.split("stopped by a preemption notice after step ")[1]
                 .split()[0])
  stop = int(stops[0])
  assert stops == [str(stop)] * 2 and stop < 24, stops
  assert (multi / "checkpoints" / str(stop)).is_dir()
  procs = launch_pair()
  outs = [p.communicate(timeout=600) for p in procs]
  for p, (_, err) in zip(procs, outs):
    assert p.returncode == 0, err[-3000:]
  assert f"resumed from step {stop}" in outs[0][1]
  assert "process 0 of 2" in outs[0][1] and "step 24/24" in outs[0][1]
  assert "step 24/24" not in outs[1][1]  # process 1 logs warnings only
  assert "2 devices in 2 process(es)" in outs[0][1]
  # The same run in this process, on one device: the 1-vs-4-device test
  # shows the device count changes nothing.
  from ddn import configs, train
  single = tmp_path / "one_process"
  c = configs.apply_args(configs.defaults("autoencoder"), "smoke")
  c.train.total_images = 96
  train.train_and_evaluate(c, str(single), jax.devices()[:1])

  def losses(workdir):
    records = logs.read_metrics(str(workdir / "metrics.jsonl"))
    return [(r["step"], r["train/ae/loss"]) for r in records
            if "train/ae/loss" in r]

  two, one = losses(multi), losses(single)
  assert [s for s, _ in two] == [s for s, _ in one] == list(range(4, 25, 4))
  np.testing.assert_allclose([v for _, v in two], [v for _, v in one],
                             rtol=1e-4)
  from ddn import checkpoint
  p2, s2 = checkpoint.load_params(str(multi))
  p1, s1 = checkpoint.load_params(str(single))
  assert s1 == s2 == 24
  for a, b in zip(jax.tree_util.tree_leaves(p2), jax.tree_util.tree_leaves(p1)):
    np.testing.assert_allclose(a, b, atol=1e-5)
  assert not list(multi.glob(".write_test*"))


# ----------------------------------------------------------------------------
# bfloat16 activations.
