"""ddn's autoencoder vs the same network in PyTorch, on CPU.

Builds ddn's default denoiser (`ddn.configs.defaults("autoencoder")`: a
U-Net with features (32, 64, 128), 2 convs per level, 3x3 kernels, 2x2
stride-2 transposed-conv upsampling, ReLU, residual output, 1 channel) and
the same architecture in torch.nn (NCHW), copies the same weights into both,
checks that they agree, and then times, alternating ddn and PyTorch rep by
rep (medians reported). Agreement: forward outputs that differ by more than
FWD_TOL stop the run (the networks are not the same); the gradients are
reported per layer against a float64 reference, and one beyond its
allowance is a warning, not a stop (--strict_grads makes it one): float32
sums in another order can exceed it on some CPUs while the network and its
timing are the same. Timed:

  forward     the denoiser on a noisy batch (no gradient);
  train step  noise added inside the step, forward, backward and Adam update
              (ddn: its jitted, data-parallel
              `ddn.tasks.autoencoder.make_ae_train_step` as `ddn.train` runs
              it; PyTorch: eager, a·SSD + b·L1 as `ddn.losses.reconstruction`,
              torch.optim.Adam).

  python benchmarks/vs_pytorch.py [--batch=32] [--crop=48] [--reps=10]
                                  [--iters=5] [--threads=N] [--channels_last]
                                  [--strict_grads]

ddn runs with one XLA host device per core (XLA_FLAGS
--xla_force_host_platform_device_count), PyTorch with torch.set_num_threads
(default: os.cpu_count()). Run it on an otherwise idle machine: with
every core in use, a busy core slows torch's OpenMP barriers by up to ~50x.
Needs the optional `bench` extra:
`pip install -e ".[bench]"` (torch==2.13.0, CPU).
"""

import argparse
import os
import statistics
import sys
import time

try:
  import torch
  import torch.nn.functional as F
  from torch import nn as tnn
except ImportError:
  sys.exit('vs_pytorch: PyTorch is not installed; install the bench extra: '
           'pip install -e ".[bench]"')

from ddn import runtime  # imports jax, but does not start its backend


runtime.configure_cpu_devices()  # one XLA device per core, as launch.py

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top

from ddn import configs  # pylint: disable=g-import-not-at-top
from ddn import losses  # pylint: disable=g-import-not-at-top
from ddn import models  # pylint: disable=g-import-not-at-top
from ddn import steps  # pylint: disable=g-import-not-at-top
from ddn import tasks  # pylint: disable=g-import-not-at-top
from ddn import train  # pylint: disable=g-import-not-at-top
from ddn.tasks import autoencoder as ae_task

FWD_TOL = 1e-4  # max |ddn - torch| of the forward output
# Gradients: float32 sums in another order differ by float32 rounding, which
# grows with the layer's fan-in, so no fixed tolerance fits every layer. The
# reference is PyTorch in float64: per layer, ddn's float32 error against it
# may be at most GRAD_FACTOR x PyTorch's own float32 error (plus GRAD_FLOOR
# of the layer's largest gradient), i.e. ddn is as exact as float32 allows.
GRAD_FACTOR = 10.0
GRAD_FLOOR = 1e-5


# ----------------------------------------------------------------------------
# The same network in PyTorch.


def same_pad(n: int, k: int, s: int) -> tuple[int, int]:
  """XLA's 'SAME' padding (before, after) of one axis of size n."""
  total = max((-(-n // s) - 1) * s + k - n, 0)
  return total // 2, total - total // 2


class TorchAutoencoder(tnn.Module):
  """ddn.models.Autoencoder (upsample='transpose', output='residual', no
  dropout) in NCHW; parameter names follow the flax ones."""

  def __init__(self, ae: models.Autoencoder):
    super().__init__()
    if (ae.upsample != "transpose" or ae.output != "residual"
        or ae.dropout > 0 or ae.activation != "relu"):
      raise ValueError("the torch model covers upsample='transpose', "
                       "output='residual', activation='relu', dropout=0.")
    self.ae, k = ae, ae.kernel_size
    self.convs = tnn.ModuleDict()
    cin = ae.channels
    for level, feat in enumerate(ae.features):
      for i in range(ae.blocks):
        stride = 2 if (level > 0 and i == 0) else 1
        # Stride 2: XLA's SAME is asymmetric; padded in forward().
        self.convs[f"enc{level}_{i}"] = tnn.Conv2d(
            cin, feat, k, stride, padding=0 if stride > 1 else k // 2)
        cin = feat
    for level in range(ae.levels - 2, -1, -1):
      feat = ae.features[level]
      self.convs[f"up{level}"] = tnn.ConvTranspose2d(cin, feat, 2, stride=2)
      cin = feat + feat if ae.skip else feat
      for i in range(ae.blocks):
        self.convs[f"dec{level}_{i}"] = tnn.Conv2d(cin, feat, k, padding=k // 2)
        cin = feat
    self.convs["head"] = tnn.Conv2d(cin, ae.channels, 1)

  def forward(self, x):
    ae, c, k = self.ae, self.convs, self.ae.kernel_size
    h, w = x.shape[-2:]
    m = 2 ** (ae.levels - 1)
    ph, pw = (-h) % m, (-w) % m
    y = x
    if ph or pw:
      mode = "reflect" if (ph < h and pw < w) else "replicate"
      y = F.pad(x, (0, pw, 0, ph), mode=mode)
    skips = []
    for level in range(ae.levels):
      for i in range(ae.blocks):
        if level > 0 and i == 0:
          (ht, hb), (wl, wr) = (same_pad(n, k, 2) for n in y.shape[-2:])
          y = F.pad(y, (wl, wr, ht, hb))
        y = F.relu(c[f"enc{level}_{i}"](y))
      skips.append(y)
    for level in range(ae.levels - 2, -1, -1):
      y = F.relu(c[f"up{level}"](y))
      if ae.skip:
        y = torch.cat([y, skips[level]], dim=1)
      for i in range(ae.blocks):
        y = F.relu(c[f"dec{level}_{i}"](y))
    y = c["head"](y)[:, :, :h, :w]
    return x - y


def to_torch_kernel(name: str, kernel: np.ndarray) -> np.ndarray:
  """flax kernel -> torch weight.

  Conv: (kh, kw, in, out) -> (out, in, kh, kw), both cross-correlations.
  ConvTranspose (flax, padding SAME, transpose_kernel=False): for k = s = 2,
  lax.conv_transpose pads the dilated input by (1, 1), so out[2i] = x[i]·w[1]
  and out[2i+1] = x[i]·w[0], while torch's out[2i+t] = x[i]·W[t]: the
  spatial axes are flipped, and the layout (kh, kw, in, out) ->
  (in, out, kh, kw).
  """
  if name.startswith("up"):
    return np.ascontiguousarray(kernel.transpose(2, 3, 0, 1)[:, :, ::-1, ::-1])
  return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


def from_torch_kernel(name: str, weight: np.ndarray) -> np.ndarray:
  """Inverse of to_torch_kernel (for gradients)."""
  if name.startswith("up"):
    return weight[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)
  return weight.transpose(2, 3, 1, 0)


def load_flax_params(tmodel: TorchAutoencoder, params) -> None:
  with torch.no_grad():
    for name, conv in tmodel.convs.items():
      p = params[name]
      conv.weight.copy_(torch.from_numpy(
          to_torch_kernel(name, np.asarray(p["kernel"]))))
      conv.bias.copy_(torch.from_numpy(np.asarray(p["bias"])))


def random_params(model: models.Autoencoder, crop: int, seed: int = 0):
  """Parameters of the model's shapes (no init compile): kernels
  N(0, 1/fan_in) as flax's lecun_normal, small random biases."""
  dummy = jax.ShapeDtypeStruct((1, crop, crop, model.channels), jnp.float32)
  shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), dummy)["params"]
  rng = np.random.default_rng(seed)

  def fill(path, s):
    if path[-1].key == "kernel":
      std = 1.0 / np.sqrt(np.prod(s.shape[:-1]))
    else:
      std = 0.01
    return (rng.standard_normal(s.shape) * std).astype(np.float32)

  return jax.tree_util.tree_map_with_path(fill, shapes)


# ----------------------------------------------------------------------------
# Agreement of the gradients.


def torch_grads(m: TorchAutoencoder, x, y, weights):
  """PyTorch's loss and per-layer (kernel, bias) gradients in flax layout."""
  ssd_w, l1_w = weights
  m.zero_grad()
  d = m(x) - y
  loss = ssd_w * d.square().mean() + l1_w * d.abs().mean()
  loss.backward()
  g = {name: (from_torch_kernel(name, conv.weight.grad.double().numpy()),
              conv.bias.grad.double().numpy())
       for name, conv in m.convs.items()}
  m.zero_grad(set_to_none=True)
  return loss.item(), g


def gradient_errors(model, tmodel, params, batch, t_batch, weights):
  """Per parameter tensor: ddn's and PyTorch float32's gradient errors.

  Both are measured against PyTorch in float64, relative to the tensor's
  largest float64 gradient.

  Returns:
    A list of dicts (layer, param, ddn, torch, allowed, ratio, losses):
    ddn and torch are max |g - g64| / max |g64|; allowed is
    GRAD_FACTOR x torch + GRAD_FLOOR; ratio = ddn / allowed (> 1: ddn's
    gradient is further from float64 than the allowance).
  """
  ssd_w, l1_w = weights

  def loss_fn(prm, x, y):
    out = model.apply({"params": prm}, x)
    return losses.reconstruction(out, y, ssd_w, l1_w)[0]

  loss_d, grads_d = jax.jit(jax.value_and_grad(loss_fn))(params, *batch)
  loss_t, grads_t = torch_grads(tmodel, *t_batch, weights)
  t64 = TorchAutoencoder(model).double()
  t64.load_state_dict({k: v.double() for k, v in tmodel.state_dict().items()})
  loss_64, grads_64 = torch_grads(t64, *(t.double() for t in t_batch),
                                  weights)
  rows = []
  for name, (k64, b64) in grads_64.items():
    for part, gt, g64 in (("kernel", grads_t[name][0], k64),
                          ("bias", grads_t[name][1], b64)):
      gd = np.asarray(grads_d[name][part], np.float64)
      scale = max(float(np.max(np.abs(g64))), 1e-30)
      err_d = float(np.max(np.abs(gd - g64))) / scale
      err_t = float(np.max(np.abs(gt - g64))) / scale
      allowed = GRAD_FACTOR * err_t + GRAD_FLOOR
      rows.append(dict(layer=name, param=part, ddn=err_d, torch=err_t,
                       allowed=allowed, ratio=err_d / allowed,
                       losses=(float(loss_d), loss_t, loss_64)))
  return rows


def report_gradients(rows, strict: bool) -> dict:
  """Prints the per-layer gradient errors; returns the worst row.

  A gradient beyond its allowance is reported, not fatal (the forward check
  is): float32 sums in another order can exceed it on some CPUs, and the
  timing is still of the same network. With strict, it exits instead.
  """
  loss_d, loss_t, loss_64 = rows[0]["losses"]
  print(f"loss: ddn {loss_d:.7f}, torch {loss_t:.7f}, torch float64 "
        f"{loss_64:.7f}")
  print(f"gradients against PyTorch float64 (max error / the tensor's max "
        f"|gradient|; allowance {GRAD_FACTOR:g}x torch float32's + "
        f"{GRAD_FLOOR:g}):")
  print(f"  {'layer':10s} {'param':6s} {'ddn':>9s} {'torch f32':>9s} "
        f"{'allowed':>9s} {'ddn/allowed':>11s}")
  for r in rows:
    flag = "  BEYOND" if r["ratio"] > 1.0 else ""
    print(f"  {r['layer']:10s} {r['param']:6s} {r['ddn']:9.2e} "
          f"{r['torch']:9.2e} {r['allowed']:9.2e} {r['ratio']:11.2f}{flag}")
  worst = max(rows, key=lambda r: r["ratio"])
  over = [r for r in rows if r["ratio"] > 1.0]
  print(f"gradients: worst {worst['ratio']:.2f} of the allowance "
        f"({worst['layer']} {worst['param']}); {len(over)} of {len(rows)} "
        "tensors beyond it")
  if over:
    msg = (f"ddn's gradients are up to {worst['ratio']:.2f}x further from "
           f"the float64 reference than {GRAD_FACTOR:g}x PyTorch's float32 "
           f"(layer {worst['layer']}).")
    if strict:
      sys.exit(f"vs_pytorch: {msg}")
    print(f"warning: {msg} The forward outputs agree, so the timing goes "
          "on (--strict_grads stops here instead).")
  return worst


# ----------------------------------------------------------------------------
# Timing.


def timed(fn, iters: int) -> float:
  """Milliseconds per call of fn (which must block until done)."""
  t = time.perf_counter()
  for _ in range(iters):
    fn()
  return (time.perf_counter() - t) * 1e3 / iters


def alternate(ddn_fn, torch_fn, reps: int, iters: int):
  """ABAB... reps of `iters` calls each; per-call ms lists (ddn, torch)."""
  a, b = [], []
  for _ in range(reps):
    a.append(timed(ddn_fn, iters))
    b.append(timed(torch_fn, iters))
  return a, b


def parse_args():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--batch", type=int, default=32, help="global batch")
  p.add_argument("--crop", type=int, default=48, help="crop size (pixels)")
  p.add_argument("--reps", type=int, default=10, help="alternating reps")
  p.add_argument("--iters", type=int, default=5, help="calls per rep")
  p.add_argument("--threads", type=int, default=os.cpu_count(),
                 help="torch.set_num_threads")
  p.add_argument("--channels_last", action="store_true",
                 help="torch model and inputs in channels_last")
  p.add_argument("--strict_grads", action="store_true",
                 help="exit when a gradient exceeds its allowance (default: "
                 "report it and go on; differing forward outputs always stop)")
  return p.parse_args()


def check_forward(fwd, params_d, noisy_d, tmodel, t_noisy) -> None:
  """Exits unless ddn's and PyTorch's forward outputs agree within FWD_TOL."""
  t = time.perf_counter()
  out_d = np.asarray(fwd(params_d, noisy_d))
  fwd_compile = time.perf_counter() - t
  with torch.inference_mode():
    out_t = tmodel(t_noisy).permute(0, 2, 3, 1).numpy()
  fwd_diff = float(np.max(np.abs(out_d - out_t)))
  print(f"forward: max |ddn - torch| = {fwd_diff:.2e} (output max "
        f"{np.max(np.abs(out_d)):.2f}; ddn compile {fwd_compile:.1f} s)")
  if not fwd_diff <= FWD_TOL:
    sys.exit(f"vs_pytorch: forward outputs differ by {fwd_diff:.2e} > "
             f"{FWD_TOL:g}: the torch model is not ddn's.")


def ddn_callables(task, setup, params, fwd, data, seed: int):
  """ddn's (train step, forward) as ddn.train runs them: state replicated,
  batch split over the devices; the state starts from `params`."""
  repl, bsh = setup.repl, setup.batch_sharding
  clean, noisy = data
  state = jax.device_put(
      ae_task.TrainState(step=jnp.zeros((), jnp.int32), params=params,
                       opt_state=setup.tx.init(params)), repl)
  ddn_step = task.make_step((repl, bsh, repl))
  clean_d = jax.device_put(clean, bsh)
  key = jax.device_put(jax.random.PRNGKey(seed), repl)
  params_d, noisy_d = jax.device_put(params, repl), jax.device_put(noisy, bsh)
  box = [state]

  def ddn_train():
    box[0], metrics = ddn_step(box[0], clean_d, key)
    jax.block_until_ready((box[0], metrics))

  def ddn_fwd():
    fwd(params_d, noisy_d).block_until_ready()

  return ddn_train, ddn_fwd


def torch_callables(tmodel, config, t_data, sigma, weights, mf):
  """PyTorch's (train step, forward): eager, Adam, the same loss."""
  t_clean, t_noisy = t_data
  ssd_w, l1_w = weights
  opt = torch.optim.Adam(tmodel.parameters(), lr=float(config.optim.lr),
                         betas=(config.optim.b1, config.optim.b2),
                         eps=config.optim.eps)
  gen = torch.Generator().manual_seed(0)

  def torch_train():
    x = t_clean + torch.randn(t_clean.shape, generator=gen) * sigma
    x = mf(x)
    opt.zero_grad(set_to_none=True)
    diff = tmodel(x) - t_clean
    loss = ssd_w * diff.square().mean() + l1_w * diff.abs().mean()
    loss.backward()
    opt.step()

  def torch_fwd():
    with torch.inference_mode():
      tmodel(t_noisy)

  return torch_train, torch_fwd


def report_times(a, fwd_ab, trn_ab, worst, n_dev) -> None:
  """Prints the timing table and the one-line summary."""
  med = statistics.median
  (fwd_a, fwd_b), (trn_a, trn_b) = fwd_ab, trn_ab
  rows = [("forward", med(fwd_a), med(fwd_b)),
          ("train step", med(trn_a), med(trn_b))]
  print(f"\n{'':12s} {'ddn ms':>9s} {'torch ms':>9s} {'torch/ddn':>9s} "
        f"{'ddn img/s':>10s} {'torch img/s':>11s}")
  for name, ms_a, ms_b in rows:
    print(f"{name:12s} {ms_a:9.2f} {ms_b:9.2f} {ms_b / ms_a:9.2f} "
          f"{a.batch * 1e3 / ms_a:10.1f} {a.batch * 1e3 / ms_b:11.1f}")
  print(f"(medians of {a.reps} alternating reps of {a.iters} calls; spread "
        f"ddn train {min(trn_a):.2f}-{max(trn_a):.2f} ms, torch "
        f"{min(trn_b):.2f}-{max(trn_b):.2f} ms; load average now "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())})\n")
  (_, fa, fb), (_, ta, tb) = rows
  print(f"vs_pytorch: train step ddn {ta:.2f} ms, torch {tb:.2f} ms -> ddn is "
        f"{tb / ta:.2f}x PyTorch's speed; forward ddn {fa:.2f} ms, torch "
        f"{fb:.2f} ms -> {fb / fa:.2f}x (batch {a.batch}, crop {a.crop}, "
        f"{n_dev} XLA devices, {torch.get_num_threads()} torch threads); "
        f"gradients {worst['ratio']:.2f} of the allowance "
        f"({worst['layer']} {worst['param']})")


def main():
  a = parse_args()
  torch.set_num_threads(a.threads)
  runtime.setup()  # compilation cache
  n_dev = jax.device_count()
  print(f"JAX {jax.__version__}: {n_dev} {jax.default_backend()} device(s) "
        f"(XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}); torch "
        f"{torch.__version__}: {torch.get_num_threads()} thread(s)"
        f"{', channels_last' if a.channels_last else ''}; batch {a.batch}, "
        f"crop {a.crop}, {a.reps} reps x {a.iters} calls")
  load = os.getloadavg()[0]
  if load > 0.5:  # torch's OpenMP barriers suffer most from a busy core
    print(f"warning: 1-min load average {load:.2f} before starting: other "
          "processes are using the CPU; measure on a quiet machine.")

  config = configs.defaults("autoencoder")
  config.data.batch_size = a.batch
  config.data.crop = a.crop
  setup = train.Setup(config)  # raises if the batch does not split over devices
  task = tasks.build(config, setup)
  model, spec = task.model, task.noise_spec
  if spec.kinds != ("gaussian",) or spec.blind:
    sys.exit("vs_pytorch: the torch step implements fixed-σ gaussian noise "
             "only")
  weights = (float(config.loss.ssd_weight), float(config.loss.l1_weight))
  mf = (lambda t: t.contiguous(memory_format=torch.channels_last)
        if a.channels_last else t)

  params = random_params(model, a.crop)
  tmodel = TorchAutoencoder(model)
  load_flax_params(tmodel, params)
  if a.channels_last:
    tmodel = tmodel.to(memory_format=torch.channels_last)
  print(f"{models.count_params(params)} parameters (ddn), "
        f"{sum(t.numel() for t in tmodel.parameters())} (torch)")

  rng = np.random.default_rng(1)
  clean = rng.uniform(0.0, 1.0, (a.batch, a.crop, a.crop, model.channels)
                      ).astype(np.float32)
  noisy = (clean + rng.standard_normal(clean.shape).astype(np.float32)
           * spec.sigma / 255.0)
  nchw = lambda x: mf(torch.from_numpy(np.ascontiguousarray(
      x.transpose(0, 3, 1, 2))))
  t_clean, t_noisy = nchw(clean), nchw(noisy)

  # 1. Agreement: the forward output (fatal), then loss and gradients.
  fwd = jax.jit(lambda prm, x: steps.denoise(prm, x, model=model),
                in_shardings=(setup.repl, setup.batch_sharding),
                out_shardings=setup.batch_sharding)
  check_forward(fwd, jax.device_put(params, setup.repl),
                jax.device_put(noisy, setup.batch_sharding), tmodel, t_noisy)
  worst = report_gradients(
      gradient_errors(model, tmodel, params, (noisy, clean),
                      (t_noisy, t_clean), weights), a.strict_grads)

  # 2. The steps, alternating ddn and PyTorch.
  ddn_train, ddn_fwd = ddn_callables(task, setup, params, fwd, (clean, noisy),
                                     config.seed)
  torch_train, torch_fwd = torch_callables(
      tmodel, config, (t_clean, t_noisy), spec.sigma / 255.0, weights, mf)
  t = time.perf_counter()
  ddn_train()
  step_compile = time.perf_counter() - t
  for fn in (ddn_train, torch_train, ddn_fwd, torch_fwd):  # warm-up
    fn()
  print(f"ddn train step compile {step_compile:.1f} s; timing...")
  fwd_ab = alternate(ddn_fwd, torch_fwd, a.reps, a.iters)
  trn_ab = alternate(ddn_train, torch_train, a.reps, a.iters)
  report_times(a, fwd_ab, trn_ab, worst, n_dev)


if __name__ == "__main__":
  main()
