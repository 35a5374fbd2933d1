"""Training throughput of ddn's jitted steps against the machine's fp32 peak.

  python benchmarks/train_throughput.py                  # default sizes, < 2 min
  python benchmarks/train_throughput.py --sizes=default,chapter
  python benchmarks/train_throughput.py --devices=1      # one XLA device
  python benchmarks/train_throughput.py --compute_dtype=bfloat16

For the autoencoder step, the discriminator (D) step and the generator (G)
step of experiments/adv.py, each at the default training size (batch 32,
48x48 crops) and, with --sizes=chapter, at the chapter's (batch 32, 128x128):
images/s; GFLOP per step from XLA's cost analysis (of one device's program,
times the devices); achieved GFLOP/s and its % of the fp32 peak
(benchmarks/peak.py: cores x FLOP/cycle x measured clock); CPU utilisation
(process CPU time / wall time: 2.0 = both cores busy); peak process RSS and
XLA's per-device buffer sizes. Then the AE step fed by the real input
pipeline (ddn.data.train_batches on the embedded photos, prefetching as
training does): the fraction of wall time the step waited on data.

--devices=auto (the default) sets up devices as launch.py does on CPU (one
per core, ddn.runtime.configure_cpu_devices); --devices=N forces N. The last
line sums it all up. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SIZES = {"default": (32, 48), "chapter": (32, 128)}


def parse():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--sizes", default="default",
                 help="comma-separated: default (32 x 48^2), chapter "
                 "(32 x 128^2)")
  p.add_argument("--devices", default="auto",
                 help="auto (one per core, as launch.py) or a count")
  p.add_argument("--compute_dtype", default="float32",
                 help="config.compute_dtype: float32 or bfloat16 "
                 "(activations; GFLOP and %% of the fp32 peak still count "
                 "every operation)")
  p.add_argument("--steps", type=int, default=10, help="timed steps per step "
                 "kind (after 2 untimed)")
  p.add_argument("--pipeline_steps", type=int, default=30,
                 help="AE steps fed by the input pipeline (0: skip)")
  args = p.parse_args()
  for s in args.sizes.split(","):
    if s not in SIZES:
      p.error(f"--sizes: unknown size {s!r}; valid: {', '.join(SIZES)}")
  return args


def main():
  args = parse()
  # Devices first: XLA reads its flags when the backend starts.
  from ddn import runtime  # pylint: disable=g-import-not-at-top
  if args.devices != "auto":
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" {runtime.DEVICE_FLAG}={int(args.devices)}")
  runtime.setup()  # on CPU, one device per core unless XLA_FLAGS says
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from ddn import configs  # pylint: disable=g-import-not-at-top
  from ddn import data as data_lib  # pylint: disable=g-import-not-at-top
  from ddn import tasks  # pylint: disable=g-import-not-at-top
  from ddn import train  # pylint: disable=g-import-not-at-top
  import peak as peak_lib  # pylint: disable=g-import-not-at-top

  peak, how = peak_lib.fp32_peak()
  n_dev = jax.device_count()
  print(f"fp32 peak: {how}")
  print(f"JAX {jax.__version__}, {n_dev} {jax.default_backend()} device(s); "
        f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}; compute dtype "
        f"{args.compute_dtype}")
  print(f"{'step':<6}{'batch x crop':>14}{'img/s':>9}{'GFLOP':>8}"
        f"{'GFLOP/s':>9}{'% peak':>8}{'CPU util':>9}{'XLA MiB':>9}")

  def measure(fn, state, batch, rng, bs):
    """(images/s, GFLOP per step, CPU util, XLA MiB, state) of `fn`."""
    compiled = fn.lower(state, batch, rng).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    flops = float(cost.get("flops", 0.0)) * n_dev  # one device's program
    mem = compiled.memory_analysis()
    mib = (mem.temp_size_in_bytes + mem.argument_size_in_bytes +
           mem.output_size_in_bytes) / 2**20 if mem else float("nan")
    for _ in range(2):
      state, _ = fn(state, batch, rng)
    jax.block_until_ready(state)
    times = []
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(args.steps):
      t = time.perf_counter()
      state, m = fn(state, batch, rng)
      jax.block_until_ready((state, m))
      times.append(time.perf_counter() - t)
    util = (time.process_time() - c0) / (time.perf_counter() - w0)
    dt = float(np.median(times))
    return bs / dt, flops / 1e9, flops / dt / 1e9, util, mib, state

  results = []
  for size in args.sizes.split(","):
    bs, crop = SIZES[size]
    c = configs.defaults("adversarial")
    c.data.batch_size, c.data.crop = bs, crop
    c.adv.g_warmup_images = 0
    c.compute_dtype = args.compute_dtype
    setup = train.Setup(c)
    rng = jax.device_put(jax.random.PRNGKey(0), setup.repl)
    clean = np.random.default_rng(0).random((2, bs, crop, crop, 1),
                                            dtype=np.float32)
    # Autoencoder step (experiments/ae.py), as ddn.train runs it.
    c_ae = configs.defaults("autoencoder")
    c_ae.data.batch_size, c_ae.data.crop = bs, crop
    ae = tasks.build(c_ae, setup)
    state = train.fresh_state(setup, ae, jax.random.PRNGKey(0))
    ae_step = ae.make_step((setup.repl, setup.batch_sharding, setup.repl))
    batch = jax.device_put(clean[0], setup.batch_sharding)
    r = measure(ae_step, state, batch, rng, bs)
    results.append(("AE", size) + r[:5])
    del state
    # D and G steps of experiments/adv.py (one iteration: 1 D, 1 G step).
    adv = tasks.build(c, setup)
    fns, stack_sh = adv.step_fns(
        (setup.repl, setup.batch_sharding, setup.repl))
    state = train.fresh_state(setup, adv, jax.random.PRNGKey(0))
    stack = jax.device_put(clean, stack_sh)
    for name in ("d", "g"):
      r = measure(fns[name], state, stack, rng, bs)
      state = r[5]
      results.append((name.upper(), size) + r[:5])
    del state
    for name, sz, ips, gf, gfs, util, mib in results[-3:]:
      print(f"{name:<6}{f'{SIZES[sz][0]} x {SIZES[sz][1]}^2':>14}{ips:9.1f}"
            f"{gf:8.1f}{gfs:9.1f}{100 * gfs / peak:8.1f}{util:9.2f}"
            f"{mib:9.0f}", flush=True)

  wait = float("nan")
  if args.pipeline_steps > 0:
    bs, crop = SIZES["default"]
    c = configs.defaults("autoencoder")
    c.data.batch_size, c.data.crop = bs, crop
    setup = train.Setup(c)
    ae = tasks.build(c, setup)
    src = data_lib.drop_small(data_lib.load_source(c.data.train, c.data), crop)
    state = train.fresh_state(setup, ae, jax.random.PRNGKey(0))
    step = ae.make_step((setup.repl, setup.batch_sharding, setup.repl))
    rng = jax.device_put(jax.random.PRNGKey(0), setup.repl)
    batches = data_lib.train_batches(src, 0, bs, crop, c.data.augment, 0,
                                     c.data.prefetch)
    fixed = jax.device_put(next(batches), setup.batch_sharding)
    for _ in range(2):  # compile
      state, m = step(state, fixed, rng)
    jax.block_until_ready(state)
    # Alternating rounds: the step fed by the pipeline (as ddn.train's loop)
    # and the step on one fixed device batch (no input work at all).
    n = max(args.pipeline_steps // 3, 1)
    fed, alone, waited, fed_time = [], [], 0.0, 0.0
    for _ in range(3):
      t0 = time.perf_counter()
      for _ in range(n):
        t = time.perf_counter()
        batch = jax.device_put(next(batches), setup.batch_sharding)
        waited += time.perf_counter() - t
        state, m = step(state, batch, rng)
      jax.block_until_ready((state, m))
      fed.append(n * bs / (time.perf_counter() - t0))
      fed_time += time.perf_counter() - t0
      t0 = time.perf_counter()
      for _ in range(n):
        state, m = step(state, fixed, rng)
      jax.block_until_ready((state, m))
      alone.append(n * bs / (time.perf_counter() - t0))
    batches.close()
    wait = waited / fed_time
    print(f"input pipeline ({src.name}, {c.data.prefetch} batches "
          f"prefetched), 3 alternating rounds of {n} steps: fed "
          f"{np.median(fed):.1f} img/s, on a fixed batch "
          f"{np.median(alone):.1f} img/s; the fed step waited on data "
          f"{100 * wait:.1f} % of the time")

  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
  ae_default = [r for r in results if r[0] == "AE"][0]
  print(f"peak RSS {rss:.0f} MiB")
  print(f"train_throughput: AE step {ae_default[2]:.1f} img/s at "
        f"{SIZES[ae_default[1]][0]} x {SIZES[ae_default[1]][1]}^2, "
        f"{ae_default[4]:.1f} GFLOP/s = {100 * ae_default[4] / peak:.1f} % "
        f"of {peak:.0f} GFLOP/s peak, CPU util {ae_default[5]:.2f} on "
        f"{n_dev} device(s); "
        + ", ".join(f"{n} {sz} {100 * g / peak:.0f} %"
                    for n, sz, _, _, g, _, _ in results)
        + (f"; data wait {100 * wait:.1f} %" if wait == wait else ""))


if __name__ == "__main__":
  main()
