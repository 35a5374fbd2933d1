"""Runs in a subprocess of tests/test_scale.py with 8 CPU devices (its
XLA_FLAGS) and prints one JSON line of results for the tests to check:

  steps   each kind of step (autoencoder, classifier, adversarial D and G)
          twice, then its evaluator, on 1 and on 4 devices: the differences
          of metrics, parameters and the whole state;
  resume  an autoencoder run checkpointed on 4 devices, resumed on 1, then
          on 8, against the same run on 4 devices throughout.

  python tests/scale_worker.py steps
  python tests/scale_worker.py resume WORKDIR_ROOT
"""

import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))  # this checkout's ddn, installed or not
from ddn import configs  # pylint: disable=g-import-not-at-top,wrong-import-position
from ddn import data as data_lib
from ddn import models
from ddn import parallel
from ddn import tasks
from ddn import train


def tiny(kind: str):
  c = configs.defaults(kind)
  configs.smoke(c)
  # Constant learning rate: a run's total_images then changes nothing but
  # its length, so resumed legs and the steps of every mode share programs.
  c.optim.schedule = "constant"
  c.data.batch_size = 8
  c.data.train, c.data.eval = "embedded:train", "embedded:eval"
  if kind == "adversarial":  # D then G from the first iteration
    c.adv.g_warmup_images = c.adv.d_warmup_images = 0
  return c


def build(config, devices):
  setup = train.Setup(config, devices)
  task = tasks.build(config, setup)
  if config.task == "classifier":  # a random frozen denoiser stands in
    task.denoiser = models.from_config(tiny("autoencoder").model, 1)
    task.denoiser_record = {"workdir": "-", "model": {}, "channels": 1}
  return setup, task


def two_steps(config, devices):
  """Metrics of two steps and the parameters after them, as numpy."""
  setup, task = build(config, devices)
  rng = jax.random.PRNGKey(config.seed)
  state = train.fresh_state(setup, task, rng)
  step = task.make_step((setup.repl, setup.batch_sharding, setup.repl))
  k = getattr(task, "batches_per_step", 1)
  bs = int(config.data.batch_size)
  src = data_lib.load_source(config.data.train, config.data)
  sharding = (parallel.batch_sharding(setup.mesh, 1) if k > 1
              else setup.batch_sharding)
  rng = jax.device_put(rng, setup.repl)
  out = []
  for s in range(2):
    crops = data_lib.batch_at(src, s, bs * k, config.data.crop,
                              config.data.augment, config.seed)
    if k > 1:
      crops = crops.reshape((k, bs) + crops.shape[1:])
    state, metrics = step(state, parallel.from_host(crops, sharding), rng)
    out.append(jax.device_get(metrics))
  eval_src = data_lib.load_source(config.data.eval, config.data)
  val, _ = task.evaluator(eval_src)(state)
  return out, jax.device_get(state), val


def collectives(config, devices) -> dict[str, list[str]]:
  """The kinds of communication in each compiled step of the config."""
  setup, task = build(config, devices)
  state = jax.eval_shape(task.init, jax.random.PRNGKey(0))
  rng = jax.ShapeDtypeStruct((2,), jnp.uint32, sharding=setup.repl)
  shape = (config.data.batch_size, config.data.crop, config.data.crop, 1)
  shardings = (setup.repl, setup.batch_sharding, setup.repl)
  if config.task == "adversarial":
    fns, stack_sh = task.step_fns(shardings)
    fns = {k: fns[k] for k in ("d", "g")}
    batch = jax.ShapeDtypeStruct((2,) + shape, jnp.float32, sharding=stack_sh)
  else:
    fns = {"step": task.make_step(shardings)}
    batch = jax.ShapeDtypeStruct(shape, jnp.float32,
                                 sharding=setup.batch_sharding)
  state = parallel.placed(state, setup.repl)
  return {name: _ops(fn.lower(state, batch, rng).compile().as_text())
          for name, fn in fns.items()}


def evaluation_collectives(devices) -> dict[str, list[str]]:
  """Communication in the compiled evaluation programs: a BatchMap (the
  autoencoder evaluator's) and the realism judge's update."""
  from ddn import realism, steps  # pylint: disable=g-import-not-at-top
  config = tiny("adversarial")
  setup, task = build(config, devices)
  params = parallel.placed(
      jax.eval_shape(task.init, jax.random.PRNGKey(0)).params, setup.repl)
  n = len(devices)
  images = jax.ShapeDtypeStruct((n, 32, 32, 1), jnp.float32,
                                sharding=setup.batch_sharding)
  bmap = parallel.BatchMap(lambda p, c, x: steps.eval_images(
      p, c, x, model=task.model, ssd_weight=1.0, l1_weight=0.1), setup.mesh)
  r = config.eval.realism
  crop = int(r.crop)
  model, tx, update, _ = realism.judge_fns(
      r.judges[0], 1, crop, int(r.steps), float(r.lr), bool(r.detail))
  d = jax.eval_shape(lambda k: model.init(
      k, jnp.zeros((1, crop, crop, model.channels))),
                     jax.random.PRNGKey(0))["params"]
  bs = int(r.batch_size)
  x = jax.ShapeDtypeStruct((bs, crop, crop, 1), jnp.float32,
                           sharding=setup.repl)
  y = jax.ShapeDtypeStruct((bs,), jnp.float32, sharding=setup.repl)
  key = jax.ShapeDtypeStruct((2,), jnp.uint32, sharding=setup.repl)
  lowered = {"batch_map": bmap._fn.lower(params, images, images),
             "judge_update": update.lower(
                 parallel.placed(d, setup.repl),
                 parallel.placed(jax.eval_shape(tx.init, d), setup.repl),
                 x, y, key, jax.ShapeDtypeStruct((), jnp.int32,
                                                 sharding=setup.repl))}
  return {k: _ops(v.compile().as_text()) for k, v in lowered.items()}


def _ops(text: str) -> list[str]:
  ops = ("all-reduce", "all-gather", "all-to-all", "collective-permute",
         "reduce-scatter")
  return sorted(op for op in ops if f" {op}(" in text)


def max_diff(a, b):
  leaves = zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))
  return max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(
      y, np.float64)), initial=0.0)) for x, y in leaves)


def steps_mode(n: int = 4) -> dict:
  """Each kind of step, then its evaluator, on 1 and on n devices."""
  devices = jax.devices()[:n]
  result = {"devices": len(devices)}
  for kind in ("autoencoder", "classifier", "adversarial"):
    config = tiny(kind)
    m1, s1, v1 = two_steps(config, devices[:1])
    mn, sn, vn = two_steps(config, devices)
    rel = lambda a, b: max(float(abs(a[k] - b[k]) / max(abs(a[k]), 1e-3))
                           for k in a)
    result[kind] = {
        "keys": sorted(m1[-1]),
        "metrics_rel": max(rel(a, b) for a, b in zip(m1, mn)),
        "params": max_diff(s1.params, sn.params),
        "state": max_diff(s1, sn),
        "eval_rel": rel(v1, vn),
        "eval_keys": sorted(v1)}
    if kind != "classifier":
      result[kind]["collectives"] = collectives(config, devices)
  result["evaluation_collectives"] = evaluation_collectives(devices)
  return result


def resume_mode(root: str) -> dict:
  """An autoencoder run checkpointed on 4 devices, resumed on 1, then on
  all; and the same run on 4 devices throughout."""
  devices = jax.devices()
  config = tiny("autoencoder")  # constant learning rate: legs may differ
  config.train.checkpoint_every_images = 16  # in total_images only
  resumed, straight = os.path.join(root, "resumed"), os.path.join(
      root, "straight")
  shardings = []
  for total, devs in ((16, devices[:4]), (32, devices[:1]), (48, devices)):
    config.train.total_images = total
    state = train.train_and_evaluate(config, resumed, devs)
    shardings.append(len(state.params["head"]["kernel"].sharding.device_set))
  state_r = jax.device_get(state)
  config.train.total_images = 48
  state_s = jax.device_get(train.train_and_evaluate(config, straight,
                                                    devices[:4]))
  losses = {}
  for name in ("resumed", "straight"):
    with open(os.path.join(root, name, "metrics.jsonl")) as f:
      records = [json.loads(line) for line in f]
    losses[name] = {r["step"]: r["train/ae/loss"] for r in records
                    if "train/ae/loss" in r}
  return ({"steps": int(state_r.step),
                    "device_sets": shardings,
                    "params": max_diff(state_r.params, state_s.params),
                    "state": max_diff(state_r, state_s),
                    "losses": losses})


if __name__ == "__main__":
  from ddn import runtime  # pylint: disable=g-import-not-at-top
  # The persistent compilation cache: legs that repeat a mesh reuse programs.
  runtime.setup(cpu_devices=False)  # XLA_FLAGS gives the devices
  if sys.argv[1] == "steps":
    print(json.dumps(steps_mode(4)))
  else:
    print(json.dumps(resume_mode(sys.argv[2])))
