"""The fast paths keep the results: the upsampling kernel equals flax's
layer, devices per core on CPU, no hidden host<->device copies in the steps."""

import os
import subprocess
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ddn import configs
from ddn import models
from ddn import runtime
from ddn import tasks
from ddn import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _perturbed(variables, seed=0):
  rng = np.random.default_rng(seed)
  return jax.tree_util.tree_map(
      lambda a: a + 0.1 * rng.standard_normal(a.shape).astype(np.float32),
      variables)


def test_upsample_is_flax_conv_transpose():
  x = jnp.asarray(np.random.default_rng(2).random((2, 5, 7, 6)), jnp.float32)
  ref = nn.ConvTranspose(4, (2, 2), strides=(2, 2))
  new = models.Upsample2x(4)
  v_ref = ref.init(jax.random.PRNGKey(0), x)
  jax.tree_util.tree_map(np.testing.assert_array_equal, v_ref,
                         new.init(jax.random.PRNGKey(0), x))
  v = _perturbed(v_ref)
  for grad in (True, False):
    np.testing.assert_allclose(new.apply(v, x, grad=grad), ref.apply(v, x),
                               atol=1e-5)
  g = lambda m: jax.grad(lambda v: jnp.sum(m.apply(v, x) ** 3))(v)
  jax.tree_util.tree_map(
      lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4),
      g(ref), g(new))


def test_autoencoder_same_output_in_train_and_eval_kernels():
  model = models.Autoencoder(features=(4, 8, 8), blocks=1)
  x = jnp.asarray(np.random.default_rng(3).random((2, 20, 12, 1)),
                  jnp.float32)
  v = _perturbed(jax.tree_util.tree_map(
      lambda s: np.zeros(s.shape, s.dtype),
      jax.eval_shape(model.init, jax.random.PRNGKey(0), x)))
  np.testing.assert_allclose(model.apply(v, x, train=True),
                             model.apply(v, x, train=False), atol=1e-5)


@pytest.mark.slow
def test_cpu_devices_one_per_core():
  code = ("from ddn import runtime; runtime.setup(compilation_cache=False); "
          "import jax; print(jax.device_count(), runtime.cpu_cores())")
  env = {k: v for k, v in os.environ.items()
         if k not in ("XLA_FLAGS", "DDN_CPU_DEVICES", "JAX_PLATFORMS")}
  out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, env=env, timeout=120, check=True).stdout
  devices, cores = map(int, out.split())
  assert devices == cores
  env["DDN_CPU_DEVICES"] = "1"  # turned off
  out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, env=env, timeout=120, check=True).stdout
  assert out.split()[0] == "1"
  env["DDN_CPU_DEVICES"] = "two"  # one clear line from launch.py
  r = subprocess.run([sys.executable, os.path.join(ROOT, "launch.py"),
                      "--config=experiments/ae.py:smoke",
                      "--workdir=/nonexistent/never/written"],
                     capture_output=True, text=True, env=env, timeout=120,
                     cwd=ROOT)
  assert r.returncode != 0 and "ddn: DDN_CPU_DEVICES='two'" in r.stderr
  assert "Traceback" not in r.stderr


def test_cpu_devices_leave_accelerators_and_user_flags(monkeypatch):
  monkeypatch.setattr(
      "jax._src.xla_bridge.backends_are_initialized", lambda: False)
  monkeypatch.delenv("DDN_CPU_DEVICES", raising=False)
  monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=3")
  assert runtime.configure_cpu_devices() == 0  # the user's count stays
  assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=3"
  monkeypatch.setenv("XLA_FLAGS", "")
  monkeypatch.setenv("JAX_PLATFORMS", "tpu")
  assert runtime.configure_cpu_devices() == 0
  assert os.environ["XLA_FLAGS"] == ""
  monkeypatch.setenv("JAX_PLATFORMS", "cpu")
  assert runtime.configure_cpu_devices(devices=2) == 2
  assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=2"


@pytest.mark.slow
def test_steps_make_no_implicit_transfers():
  """Under transfer_guard('disallow') any implicit host<->device copy in a
  step (a numpy constant as an argument, a Python scalar pulled from the
  device) raises; the training loop's explicit device_put and device_get are
  the only transfers."""
  c = configs.apply_args(configs.defaults("adversarial"), "smoke")
  c.adv.g_warmup_images = 0
  setup = train.Setup(c)
  adv = tasks.build(c, setup)
  state = jax.eval_shape(lambda: adv.init(jax.random.PRNGKey(0)))
  state = jax.tree_util.tree_map(
      lambda s: jax.device_put(np.full(s.shape, 0.01, s.dtype), setup.repl),
      state)
  fns, stack_sh = adv.step_fns(
      (setup.repl, setup.batch_sharding, setup.repl))
  bs, crop = c.data.batch_size, c.data.crop
  stack = jax.device_put(
      np.random.default_rng(0).random((2, bs, crop, crop, 1), np.float32),
      stack_sh)
  rng = jax.device_put(jax.random.PRNGKey(0), setup.repl)
  with jax.transfer_guard("disallow"):
    for name in ("d", "g", "g_rec", "d"):
      state, metrics = fns[name](state, stack, rng)
    fetched = jax.device_get(metrics)  # explicit: allowed
  assert np.isfinite(fetched["d/loss"])
  assert int(jax.device_get(state.d_step)) == 2

  ae = tasks.build(
      configs.apply_args(configs.defaults("autoencoder"), "smoke"), setup)
  ae_state = jax.tree_util.tree_map(
      lambda s: jax.device_put(np.full(s.shape, 0.01, s.dtype), setup.repl),
      jax.eval_shape(lambda: ae.init(jax.random.PRNGKey(0))))
  ae_step = ae.make_step((setup.repl, setup.batch_sharding, setup.repl))
  batch = jax.device_put(np.asarray(stack[0]), setup.batch_sharding)
  with jax.transfer_guard("disallow"):
    for _ in range(2):
      ae_state, metrics = ae_step(ae_state, batch, rng)
    assert np.isfinite(jax.device_get(metrics)["ae/loss"])
