"""Scale: the same training on 1, 4 and 8 devices, checkpoints across device
counts, bfloat16 (two processes with jax.distributed: tests/test_multiprocess.py;
the Colab notebook: tests/test_notebook.py; files of their own so that
pytest-xdist can run them beside these).

Multi-device runs are subprocesses whose XLA_FLAGS give them N CPU devices
(tests/scale_worker.py)."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ddn.tasks import autoencoder as ae_task

# System tests: subprocesses on several devices and processes, the notebook.
pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "scale_worker.py")


@pytest.fixture(scope="module")
def eight_devices(tmp_path_factory):
  """tests/scale_worker.py's results, {'steps', 'resume'}, each from a
  subprocess with 8 CPU devices."""
  flags = os.environ.get("XLA_FLAGS", "")  # conftest's, plus the devices
  env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=(
      f"{flags} --xla_force_host_platform_device_count=8").strip())
  out = {}
  for mode, args in (("steps", []),
                     ("resume", [str(tmp_path_factory.mktemp("resume"))])):
    r = subprocess.run([sys.executable, WORKER, mode, *args], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, (mode, r.stderr[-3000:])
    out[mode] = json.loads(r.stdout.strip().splitlines()[-1])
  return out


def test_each_step_and_evaluator_is_the_same_on_1_and_4_devices(
    eight_devices):
  r = eight_devices["steps"]
  assert r["devices"] == 4
  for kind in ("autoencoder", "classifier", "adversarial"):
    k = r[kind]
    # Loss and every metric of two steps, the parameters and the whole state
    # after them (optimizer moments included), the evaluator's metrics.
    assert k["metrics_rel"] < 1e-4, (kind, k)
    assert k["params"] < 1e-5, (kind, k)
    assert k["state"] < 1e-4, (kind, k)
    assert k["eval_rel"] < 1e-4, (kind, k)
  assert "d/loss" in r["adversarial"]["keys"]  # a D and a G step ran
  assert "g/adv" in r["adversarial"]["keys"]
  assert "val/d_err" in r["adversarial"]["eval_keys"]
  assert "val/err" in r["classifier"]["eval_keys"]
  # The steps move no images between devices, only the gradient all-reduce.
  assert r["autoencoder"]["collectives"] == {"step": ["all-reduce"]}
  assert r["adversarial"]["collectives"] == {"d": ["all-reduce"],
                                             "g": ["all-reduce"]}
  # Evaluation programs have none: on a CPU two programs in flight that both
  # wait in a collective can starve XLA's thread pool (ddn.parallel.BatchMap).
  assert r["evaluation_collectives"] == {"batch_map": [], "judge_update": []}


def test_checkpoint_from_4_devices_resumes_on_1_then_on_8(eight_devices):
  """Stopped twice and resumed on another device count each time, a run
  ends with the parameters of the uninterrupted run (this is also the test
  that resuming is exact)."""
  r = eight_devices["resume"]
  assert r["steps"] == 6  # 48 images in batches of 8
  assert r["device_sets"] == [4, 1, 8]  # each leg's state on its own mesh
  # Resumed twice on other device counts, it is the uninterrupted run.
  assert r["params"] < 1e-5, r
  assert r["state"] < 1e-4, r
  resumed, straight = r["losses"]["resumed"], r["losses"]["straight"]
  assert sorted(resumed) == sorted(straight) == ["2", "4", "6"]
  for step in straight:
    assert resumed[step] == pytest.approx(straight[step], rel=1e-4)


def _tiny_models(dtype):
  from ddn import configs, discriminators, models
  c = configs.defaults("adversarial")
  configs.smoke(c)
  return (models.from_config(c.model, 1, dtype),
          discriminators.from_config(c.disc, 1, 32, dtype))


def test_bfloat16_computes_activations_in_bf16_and_keeps_float32_outside():
  g32, d32 = _tiny_models("float32")
  g16, d16 = _tiny_models("bfloat16")
  x = jax.random.uniform(jax.random.PRNGKey(0), (2, 32, 32, 1))
  gp = g32.init(jax.random.PRNGKey(1), x)["params"]
  dv = d32.init(jax.random.PRNGKey(2), x)
  # The same parameters (float32) serve both precisions.
  assert jax.tree_util.tree_structure(gp) == jax.tree_util.tree_structure(
      g16.init(jax.random.PRNGKey(1), x)["params"])
  assert {a.dtype for a in jax.tree_util.tree_leaves(
      g16.init(jax.random.PRNGKey(1), x))} == {jnp.dtype("float32")}
  out32 = g32.apply({"params": gp}, x)
  out16 = g16.apply({"params": gp}, x)
  assert out16.dtype == jnp.float32 and out16.shape == x.shape
  # bf16 keeps 8 bits of mantissa: close to, not equal to, float32.
  err = float(jnp.max(jnp.abs(out16 - out32)))
  assert 0 < err < 0.05, err
  u32, u16 = d32.apply(dv, x), d16.apply(dv, x)
  assert u16.dtype == jnp.float32
  np.testing.assert_allclose(u16, u32, atol=0.05)
  # The convolutions really run in bf16.
  hlo = jax.jit(lambda p, x: g16.apply({"params": p}, x)).lower(
      gp, x).as_text()
  assert "bf16" in hlo and "f32" in hlo


def test_bfloat16_training_step_keeps_float32_state_and_learns():
  from ddn import configs, optim, steps, noise as noise_lib
  c = configs.defaults("autoencoder")
  configs.smoke(c)
  g16, _ = _tiny_models("bfloat16")
  tx = optim.optimizer(c.optim, optim.schedule(c.optim, 4, 96))
  step = ae_task.make_ae_train_step(
      g16, tx, optim.schedule(c.optim, 4, 96),
      noise_lib.spec_from_config(c.noise), c.loss)
  state = ae_task.init_state(jax.random.PRNGKey(0), g16, tx, 32)
  batch = jax.random.uniform(jax.random.PRNGKey(1), (4, 32, 32, 1))
  rng = jax.random.PRNGKey(2)
  losses = []
  for _ in range(20):
    state, m = step(state, batch, rng)
    losses.append(float(m["ae/loss"]))
  assert all(np.isfinite(losses))
  assert losses[-1] < 0.8 * losses[0], losses
  assert {a.dtype for a in jax.tree_util.tree_leaves(
      (state.params, state.opt_state)) if a.ndim} == {jnp.dtype("float32")}


def test_compute_dtype_is_checked_before_any_compute():
  from ddn import configs, train
  c = configs.defaults("autoencoder")
  c.compute_dtype = "float16"
  with pytest.raises(ValueError, match="config.compute_dtype='float16'"):
    train.Setup(c)
