"""Time to quality: BSD68 σ = 25 PSNR against wall-clock training minutes.

  python benchmarks/time_to_quality.py [--minutes=30] [--eval_every=5]
      [--contenders=ddn,torch-same,torch-dncnn] [--batch=32] [--crop=48]
      [--eval_images=68] [--bm3d_psnr=28.57] [--out=runs/ttq/ttq.json]

Three contenders, trained one after another (never at once) for --minutes of
training wall clock each, on this machine and the same data:

  ddn          ddn's default denoiser and recipe
               (`configs.defaults("autoencoder")`: the U-Net, a·SSD + b·L1,
               Adam with the warm-up + cosine schedule over
               config.train.total_images, or --total_images), trained by
               ddn's jitted data-parallel step
               (`ddn.tasks.autoencoder.make_ae_train_step` via tasks, as
               `ddn.train` runs it), one XLA host device per core
               (`runtime.configure_cpu_devices`, by importing
               benchmarks/vs_pytorch.py).
  torch-same   the same U-Net (vs_pytorch.TorchAutoencoder), started from the
               same initial parameters as ddn, the same loss, Adam
               (b1, b2, eps from the config) and the same per-step learning
               rate (ddn's schedule, evaluated by step), in eager PyTorch.
  torch-dncnn  DnCNN-S's recipe (Zhang et al. 2017): 17 3x3 convolutions of
               64 channels (conv+ReLU, 15 x conv+BN+ReLU, conv), residual (it
               predicts the noise; output = input - predicted noise), He
               initialisation, the paper's loss 1/(2N) sum ||R(y) - (y - x)||^2
               (sum of squares over each patch, / 2, mean over the N patches
               of the batch), Adam at a constant --dncnn_lr (default 1e-3; the
               paper drops it to 1e-4 after 30 epochs, far beyond any run
               here). The paper's batch is 128 patches of 40x40; here the
               CPU-feasible defaults --dncnn_batch=32 of --dncnn_crop=40.

Data: Train400 (--train_data, default ../shared/data/Train400 from the repo
root). Every contender reads its clean crops from ddn's seeded numpy crop
generator (`ddn.data.train_batches`: row j of step s drawn from (seed,
s·batch + j) alone, a background thread keeping 2 batches ready, as
`ddn.train`), with --augment=flips (default: random crops, random left-right
and up-down flips) or ddn (ddn's augmentation: also scale 0.6-1 and
brightness 0.8-1). ddn and torch-same see identical crops; DnCNN's n-th
crop comes from the same image and random state as theirs, but is of its
own size (and its batches of its own batch size). Noise σ = --sigma (0-255
scale; images in [0, 1]): ddn adds it inside its jitted step from the
step's key (jax.random, as `ddn.train` does); the PyTorch contenders add
numpy noise drawn from (seed, step, 3) inside their step. So the noise
realisations differ between ddn and the PyTorch contenders, their
distribution does not.

The schedule's length matters: ddn's default cosine decays over 32,000
images and then stays at 1% of the learning rate; pass --total_images
(about the images ddn sees in --minutes) for a schedule fitted to the run.
torch-same follows the same schedule per step, so at a given minute it is
at an earlier point of it when it is slower.

The training clock (time.perf_counter) runs from before the contender's
set-up (ddn: jitted parameter init and the train step's compilation ARE
counted: a user waits for them too; the persistent compilation cache is off
unless --compile_cache, so compiles are cold) until the end of the last step.
JAX's backend and PyTorch's one-time lazy initialisation are started before
any clock (neither is part of a contender's recipe, and PyTorch's would
otherwise fall on whichever PyTorch contender runs first).
ddn's steps run asynchronously as in `ddn.train`, but at most one step ahead
of the clock (each step waits for the previous step's loss), and the clock
is read after the last step finished. At every --eval_every minutes of
training (and at --minutes) the clock is paused and the network is scored on
the first --eval_images images of BSD68 (--eval_data) with ddn's protocol
(`ddn.protocol.noisy_version(clean, σ, index)`, output clipped and
quantised, `psnr_uint8`; `ddn.evaluate`'s numbers); evaluation time is not
counted. A point records the clock when the step that crossed the mark
ended, so its minutes are a little past the mark (far past it, with 0
images, if the set-up alone outlasted the mark). DnCNN is scored with its
batch-norm running statistics (model.eval()).

Output: --out (JSON: "results" = per contender a list of {target_minutes,
minutes, images_seen, steps, psnr}; "details" = per contender its recipe,
batch, crop, setup_seconds (ddn: the jitted init), startup_seconds (set-up
and first step, ddn's compiles; null if no step ran),
the process CPU seconds it used; "settings"), next to it the plot (.png,
PSNR against minutes, BM3D as a horizontal line with --bm3d_psnr) and the
table (.md, also printed: rows = time points, columns = contenders), then a
line per time point where ddn is not ahead. The JSON is rewritten after
every evaluation. Needs the `bench` extra (PyTorch), as vs_pytorch.py.
Run on an otherwise idle machine: the 1-min load average at the start is
printed and saved, and other processes slow the contenders unevenly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# This checkout's ddn (whatever is installed) and vs_pytorch.py beside us.
sys.path[:0] = [ROOT, HERE]

# Imports torch (or exits naming the bench extra) and sets one XLA host
# device per core before jax starts its backend.
import vs_pytorch  # pylint: disable=g-import-not-at-top,wrong-import-position

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top
import torch  # pylint: disable=g-import-not-at-top
from torch import nn as tnn  # pylint: disable=g-import-not-at-top

from ddn import configs  # pylint: disable=g-import-not-at-top
from ddn import data as data_lib  # pylint: disable=g-import-not-at-top
from ddn import methods  # pylint: disable=g-import-not-at-top
from ddn import parallel  # pylint: disable=g-import-not-at-top
from ddn import plots  # pylint: disable=g-import-not-at-top
from ddn import protocol  # pylint: disable=g-import-not-at-top
from ddn import runtime  # pylint: disable=g-import-not-at-top
from ddn import steps  # pylint: disable=g-import-not-at-top
from ddn import tasks  # pylint: disable=g-import-not-at-top
from ddn import train  # pylint: disable=g-import-not-at-top

CONTENDERS = ("ddn", "torch-same", "torch-dncnn")
DATA_README = "../shared/data/README.md"
LR_CHUNK = 1024  # torch-same: learning rates computed this many steps at once


def fail(msg: str):
  sys.exit(f"time_to_quality: {msg}")


# ----------------------------------------------------------------------------
# The contenders. Each has name, batch, crop, start(), step(clean, i),
# sync(), denoise(noisy (H, W, 1)) -> (H, W, 1) and describe().


class DdnContender:
  """ddn's jitted data-parallel step, as ddn.train runs it."""

  name = "ddn"

  def __init__(self, config, setup, task):
    self.config, self.setup, self.task = config, setup, task
    self.batch, self.crop = int(config.data.batch_size), int(config.data.crop)
    self.state = self.step_fn = self.key = self.pending = None
    self.eval_params = None  # the parameters on one device, for denoise
    self.fwd = jax.jit(lambda prm, x: steps.denoise(prm, x, model=task.model))

  def start(self):
    setup, seed = self.setup, self.config.seed
    self.state = train.fresh_state(setup, self.task, jax.random.PRNGKey(seed))
    self.step_fn = self.task.make_step(
        (setup.repl, setup.batch_sharding, setup.repl))
    self.key = jax.device_put(jax.random.PRNGKey(seed), setup.repl)

  def step(self, clean: np.ndarray, i: int):
    del i  # the step's key comes from state.step
    batch = parallel.global_batch(clean, self.setup.batch_sharding,
                                  clean.shape)
    self.state, metrics = self.step_fn(self.state, batch, self.key)
    if self.pending is not None:  # at most one step ahead of the clock
      jax.block_until_ready(self.pending)
    self.pending = metrics["ae/loss"]

  def sync(self):
    jax.block_until_ready(self.state)
    self.pending = self.eval_params = None

  def denoise(self, noisy: np.ndarray) -> np.ndarray:
    if self.eval_params is None:
      self.eval_params = jax.device_put(self.state.params, jax.devices()[0])
    return np.asarray(self.fwd(self.eval_params, noisy[None]))[0]

  def describe(self) -> str:
    c = self.config
    return (f"configs.defaults('autoencoder') U-Net "
            f"{tuple(c.model.features)}; "
            f"{c.loss.ssd_weight:g}·SSD + {c.loss.l1_weight:g}·L1; "
            f"{c.optim.name} lr {c.optim.lr:g} {c.optim.schedule} over "
            f"{c.train.total_images} images, warm-up {c.optim.warmup_images} "
            f"images; noise in the jitted step; {jax.device_count()} XLA "
            "devices")


def nchw(x: np.ndarray) -> torch.Tensor:
  return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


class TorchContender:
  """An eager PyTorch training loop: numpy noise, forward, loss, backward,
  Adam step; `lr_at(step)` sets the learning rate of each step."""

  def __init__(self, name: str, make_model, loss_fn, lr_at, adam: dict,
               batch: int, crop: int, sigma: float, seed: int, recipe: str):
    self.name, self.make_model, self.loss_fn = name, make_model, loss_fn
    self.lr_at, self.adam, self.recipe = lr_at, adam, recipe
    self.batch, self.crop, self.sigma, self.seed = batch, crop, sigma, seed
    self.model = self.opt = None

  def start(self):
    self.model = self.make_model()
    self.model.train()
    self.opt = torch.optim.Adam(self.model.parameters(), lr=self.lr_at(0),
                                **self.adam)

  def step(self, clean: np.ndarray, i: int):
    rng = np.random.default_rng([self.seed, i, 3])
    noise = rng.standard_normal(clean.shape, dtype=np.float32) * (
        self.sigma / 255.0)
    y, x = nchw(clean), nchw(clean + noise)
    for group in self.opt.param_groups:
      group["lr"] = self.lr_at(i)
    self.opt.zero_grad(set_to_none=True)
    loss = self.loss_fn(self.model(x), y)
    loss.backward()
    self.opt.step()

  def sync(self):
    pass  # eager: every step has finished when step() returns

  def denoise(self, noisy: np.ndarray) -> np.ndarray:
    self.model.eval()
    with torch.inference_mode():
      out = self.model(nchw(noisy[None]))
    self.model.train()
    return out.permute(0, 2, 3, 1).numpy()[0]

  def describe(self) -> str:
    return self.recipe


class DnCNN(tnn.Module):
  """DnCNN-S: conv+ReLU, depth - 2 x (conv+BN+ReLU), conv; predicts the
  noise, returns input - noise. He (fan-in, ReLU) initialisation."""

  def __init__(self, depth: int = 17, width: int = 64, channels: int = 1):
    super().__init__()
    layers = [tnn.Conv2d(channels, width, 3, padding=1), tnn.ReLU()]
    for _ in range(depth - 2):
      layers += [tnn.Conv2d(width, width, 3, padding=1, bias=False),
                 tnn.BatchNorm2d(width), tnn.ReLU()]
    layers.append(tnn.Conv2d(width, channels, 3, padding=1, bias=False))
    self.body = tnn.Sequential(*layers)
    for m in self.body:
      if isinstance(m, tnn.Conv2d):
        tnn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        if m.bias is not None:
          tnn.init.zeros_(m.bias)

  def forward(self, x):
    return x - self.body(x)


def lr_table(lr_fn):
  """step -> float(lr_fn(step)), computed LR_CHUNK steps at a time."""
  chunks = {}
  batched = jax.jit(jax.vmap(lr_fn))

  def lr_at(i: int) -> float:
    k = i // LR_CHUNK
    if k not in chunks:
      chunks[k] = np.asarray(batched(jnp.arange(k * LR_CHUNK,
                                                (k + 1) * LR_CHUNK)))
    return float(chunks[k][i % LR_CHUNK])

  return lr_at


def torch_same(config, setup, task, a) -> TorchContender:
  """ddn's recipe in PyTorch, from ddn's initial parameters."""
  ssd_w, l1_w = float(config.loss.ssd_weight), float(config.loss.l1_weight)
  o = config.optim
  if o.name != "adam" or o.grad_clip > 0:
    fail("torch-same implements plain Adam (config.optim.name='adam', no "
         "grad_clip) only.")

  # ddn's initial parameters, computed before the clock starts (torch's own
  # initialisation would take milliseconds).
  params = jax.tree_util.tree_map(np.array, jax.device_get(jax.jit(
      task.init)(jax.random.PRNGKey(config.seed)).params))  # writable

  def make_model():
    model = vs_pytorch.TorchAutoencoder(task.model)
    vs_pytorch.load_flax_params(model, params)
    return model

  def loss_fn(out, clean):
    d = out - clean
    return ssd_w * d.square().mean() + l1_w * d.abs().mean()

  recipe = (f"vs_pytorch.TorchAutoencoder from ddn's initial parameters; "
            f"{ssd_w:g}·SSD + {l1_w:g}·L1; torch Adam, ddn's per-step "
            f"learning rate; numpy noise; {torch.get_num_threads()} threads")
  lr_at = lr_table(setup.lr_fn)
  lr_at(0)  # compiles the schedule before the clock starts
  return TorchContender(
      "torch-same", make_model, loss_fn, lr_at,
      dict(betas=(o.b1, o.b2), eps=o.eps), int(config.data.batch_size),
      int(config.data.crop), a.sigma, a.seed, recipe)


def torch_dncnn(a) -> TorchContender:
  def make_model():
    torch.manual_seed(a.seed)
    return DnCNN()

  def loss_fn(out, clean):  # 1/(2N) sum ||R(y) - (y - x)||^2
    return (out - clean).square().sum() / (2 * out.shape[0])

  recipe = (f"DnCNN-S 17 x 64, BN, residual, He init; sum-of-squares / (2N) "
            f"loss; torch Adam lr {a.dncnn_lr:g} constant; batch "
            f"{a.dncnn_batch} of {a.dncnn_crop}x{a.dncnn_crop}; numpy noise; "
            f"{torch.get_num_threads()} threads")
  return TorchContender(
      "torch-dncnn", make_model, loss_fn, lambda i: a.dncnn_lr, {},
      a.dncnn_batch, a.dncnn_crop, a.sigma, a.seed, recipe)


# ----------------------------------------------------------------------------
# Training against the clock, evaluation.


def eval_marks(minutes: float, every: float) -> list[float]:
  """Training-clock minutes at which to evaluate: every `every`, and the
  end."""
  marks = []
  if every > 0:
    k = 1
    while k * every < minutes - 1e-9:
      marks.append(k * every)
      k += 1
  return marks + [minutes]


def bsd68_psnr(denoise, images: list[np.ndarray], sigma: float) -> float:
  """Mean PSNR (dB) with ddn's protocol (noise seeded by position, seed 0)."""
  scores = []
  for i, clean in enumerate(images):
    noisy = protocol.noisy_version(clean, sigma, i)
    out = denoise(noisy)
    scores.append(protocol.psnr_uint8(protocol.quantise(out),
                                      protocol.quantise(clean)))
  return float(np.mean(scores))


def run(c, source, images, a, on_point) -> dict:
  """Trains contender `c` against the clock, evaluating at the marks;
  calls on_point(point) after each evaluation. Returns its details."""
  crops = data_lib.train_batches(source, 0, c.batch, c.crop, a.aug, a.seed,
                                 prefetch=2)
  clock, done, startup, cpu = 0.0, 0, None, 0.0
  try:
    t, p = time.perf_counter(), time.process_time()
    c.start()
    setup_seconds = time.perf_counter() - t
    for mark in eval_marks(a.minutes, a.eval_every):
      while clock + time.perf_counter() - t < mark * 60:
        c.step(next(crops), done)
        done += 1
        if startup is None:
          c.sync()
          startup = clock + time.perf_counter() - t
      c.sync()
      clock += time.perf_counter() - t
      cpu += time.process_time() - p
      e = time.perf_counter()
      psnr = bsd68_psnr(c.denoise, images, a.sigma)
      point = dict(target_minutes=mark, minutes=clock / 60,
                   images_seen=done * c.batch, steps=done, psnr=psnr)
      print(f"{c.name}: {clock / 60:6.2f} min, {done * c.batch:7d} images, "
            f"BSD68 σ={a.sigma:g} PSNR {psnr:.2f} dB (evaluated in "
            f"{time.perf_counter() - e:.0f} s, not counted)", flush=True)
      on_point(point)
      t, p = time.perf_counter(), time.process_time()
  finally:
    crops.close()
  return dict(recipe=c.describe(), batch=c.batch, crop=c.crop,
              setup_seconds=setup_seconds, startup_seconds=startup,
              cpu_seconds=cpu, train_seconds=clock)


# ----------------------------------------------------------------------------
# Set-up and reports.


def parse_args():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--minutes", type=float, default=30.0,
                 help="training wall clock per contender")
  p.add_argument("--eval_every", type=float, default=5.0,
                 help="evaluate every so many training minutes (0: at the "
                 "end only)")
  p.add_argument("--contenders", default=",".join(CONTENDERS))
  p.add_argument("--batch", type=int, default=32, help="ddn, torch-same")
  p.add_argument("--crop", type=int, default=48, help="ddn, torch-same")
  p.add_argument("--total_images", type=int, default=0,
                 help="ddn's schedule length (0: "
                 "configs.defaults('autoencoder')'s)")
  p.add_argument("--dncnn_batch", type=int, default=32)
  p.add_argument("--dncnn_crop", type=int, default=40)
  p.add_argument("--dncnn_lr", type=float, default=1e-3)
  p.add_argument("--augment", choices=("flips", "ddn"), default="flips")
  p.add_argument("--sigma", type=float, default=25.0)
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--train_data",
                 default=os.path.join(ROOT, "../shared/data/Train400"))
  p.add_argument("--eval_data",
                 default=os.path.join(ROOT, "../shared/data/BSD68"))
  p.add_argument("--eval_images", type=int, default=68,
                 help="score on the first N BSD68 images")
  p.add_argument("--bm3d_psnr", type=float, default=None,
                 help="BM3D's BSD68 figure, drawn as a reference line")
  p.add_argument("--threads", type=int, default=os.cpu_count(),
                 help="torch.set_num_threads")
  p.add_argument("--compile_cache", action="store_true",
                 help="use ddn's persistent compilation cache (warm compiles)")
  p.add_argument("--out", default="runs/ttq/ttq.json")
  return p.parse_args()


def check_args(a) -> list[str]:
  names = [n.strip() for n in a.contenders.split(",") if n.strip()]
  bad = [n for n in names if n not in CONTENDERS]
  if bad or not names:
    fail(f"--contenders={a.contenders!r}: choose from {', '.join(CONTENDERS)}.")
  if a.minutes <= 0 or a.eval_every < 0:
    fail("--minutes must be > 0 and --eval_every >= 0.")
  if min(a.batch, a.crop, a.dncnn_batch, a.dncnn_crop, a.eval_images) <= 0:
    fail("--batch, --crop, --dncnn_batch, --dncnn_crop and --eval_images "
         "must be > 0.")
  for flag, path in (("--train_data", a.train_data),
                     ("--eval_data", a.eval_data)):
    if not os.path.isdir(path):
      fail(f"{flag}: no folder {os.path.normpath(path)}. Put the images "
           f"there (see {DATA_README} next to the repository) or pass "
           f"{flag}=FOLDER.")
  return names


def ddn_config(a):
  config = configs.defaults("autoencoder")
  config.data.batch_size, config.data.crop = a.batch, a.crop
  config.data.train = f"folder:{a.train_data}"
  config.data.eval = f"folder:{a.eval_data}"
  config.noise.gaussian.sigma = a.sigma
  config.seed = a.seed
  if a.total_images > 0:
    config.train.total_images = a.total_images
  if a.augment == "flips":
    config.data.augment.update(dict(scale_min=1.0, scale_max=1.0,
                                    brightness_min=1.0, brightness_max=1.0,
                                    flip_lr=True, flip_ud=True))
  return config


def load_data(a, channels: int):
  source = methods.load_eval_source(f"folder:{a.train_data}", channels)
  source = data_lib.drop_small(source, max(a.crop, a.dncnn_crop))
  bsd = methods.load_eval_source(f"folder:{a.eval_data}", channels)
  data_lib.check_disjoint(source, bsd)
  images = [np.asarray(bsd[i], np.float32)
            for i in range(min(a.eval_images, len(bsd)))]
  return source, images


def table(results: dict, names: list[str]) -> str:
  marks = sorted({p["target_minutes"] for pts in results.values()
                  for p in pts})
  lines = ["| minutes | " + " | ".join(names) + " |",
           "|---:|" + "---:|" * len(names)]
  for m in marks:
    cells = []
    for n in names:
      pt = next((p for p in results.get(n, []) if p["target_minutes"] == m),
                None)
      cells.append("-" if pt is None else
                   f"{pt['psnr']:.2f} dB ({pt['images_seen']} img)")
    lines.append(f"| {m:g} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def not_ahead(results: dict) -> list[str]:
  """One line per time point where another contender beats ddn."""
  out = []
  for p in results.get("ddn", []):
    for name, pts in results.items():
      q = next((q for q in pts if q["target_minutes"] == p["target_minutes"]),
               None)
      if name != "ddn" and q is not None and q["psnr"] >= p["psnr"]:
        out.append(f"at {p['target_minutes']:g} min ddn {p['psnr']:.2f} dB "
                   f"({p['images_seen']} images) is not ahead of {name} "
                   f"{q['psnr']:.2f} dB ({q['images_seen']} images)")
  return out


def plot(results: dict, a, path: str):
  fig = plots.figure(figsize=(6.4, 4.2))
  ax = fig.subplots()
  for name, pts in results.items():
    ax.plot([p["minutes"] for p in pts], [p["psnr"] for p in pts], "o-",
            label=name)
  if a.bm3d_psnr is not None:
    ax.axhline(a.bm3d_psnr, color="gray", ls="--",
               label=f"BM3D {a.bm3d_psnr:.2f} dB")
  ax.set_xlabel("training wall clock (minutes, this machine)")
  ax.set_ylabel(f"BSD68 PSNR (dB), σ = {a.sigma:g}")
  ax.set_title(f"Time to quality ({a.eval_images} BSD68 images)", fontsize=10)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  plots.save_figure(fig, path)


def save(record: dict, path: str):
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path + ".tmp", "w") as f:
    json.dump(record, f, indent=1)
  os.replace(path + ".tmp", path)


def warm_up_torch():
  """Pays PyTorch's one-time lazy initialisation (first convolution,
  backward and Adam step of the process) before any clock, so that it
  does not fall on whichever PyTorch contender runs first."""
  model = tnn.Conv2d(1, 1, 3, padding=1)
  opt = torch.optim.Adam(model.parameters())
  model(torch.zeros(1, 1, 8, 8)).square().mean().backward()
  opt.step()


def build(name: str, config, setup, task, a):
  if name == "ddn":
    return DdnContender(config, setup, task)
  if name == "torch-same":
    return torch_same(config, setup, task, a)
  return torch_dncnn(a)


def main():
  a = parse_args()
  names = check_args(a)
  torch.set_num_threads(a.threads)
  runtime.setup(compilation_cache=a.compile_cache)
  config = ddn_config(a)
  a.aug = config.data.augment
  try:
    setup = train.Setup(config)  # raises if the batch does not split
    task = tasks.build(config, setup)
  except ValueError as e:
    fail(str(e))
  source, images = load_data(a, int(config.data.channels))
  load = os.getloadavg()[0]
  print(f"JAX {jax.__version__}: {jax.device_count()} device(s); torch "
        f"{torch.__version__}: {torch.get_num_threads()} thread(s); "
        f"{len(source)} training images, {len(images)} BSD68 images; "
        f"{a.minutes:g} min per contender; 1-min load {load:.2f}", flush=True)
  if load > 0.5:
    print("warning: other processes are using the CPU; timings are shared.")
  settings = {k: v for k, v in vars(a).items() if k != "aug"}
  settings.update(load_average=load, cpu_count=os.cpu_count(),
                  xla_devices=jax.device_count(),
                  augment_config=a.aug.to_dict())
  record = dict(settings=settings, results={}, details={})
  warm_up_torch()
  for name in names:
    pts = record["results"].setdefault(name, [])
    c = build(name, config, setup, task, a)
    record["details"][name] = run(
        c, source, images, a, lambda p, pts=pts: (pts.append(p),
                                                  save(record, a.out)))
    save(record, a.out)
  md = table(record["results"], names)
  stem = os.path.splitext(a.out)[0]
  with open(stem + ".md", "w") as f:
    f.write(md + "\n")
  plot(record["results"], a, stem + ".png")
  print("\n" + md + "\n")
  if "ddn" in names and len(names) > 1:
    for line in not_ahead(record["results"]) or ["ddn is ahead at every "
                                                 "point."]:
      print(line)
  print(f"wrote {a.out}, {stem}.md, {stem}.png")


if __name__ == "__main__":
  main()
