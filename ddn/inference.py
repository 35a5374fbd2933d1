"""Trained denoisers for inference: from a workdir or shipped in the package,
applied to whole images of any size, tiled when memory asks for it.

  denoiser = inference.load()              # gray-map, told σ or estimating it
  denoiser = inference.load("gray-blind")  # the shipped blind one
  denoiser = inference.load("runs/ae")     # a workdir's latest checkpoint
  clean = denoiser(noisy)                  # (H, W, C) float, tiled if large
  clean = denoiser.at(25)(noisy)           # told the noise level (σ = 25)
  mean = inference.load("runs/adv_sample", samples=8)(noisy)  # G samples
  fused = inference.load(fuse="bm3d").at(25)(noisy)  # blended with BM3D

A G that samples (model.noise_input > 0) is given z ~ N(0, 1) drawn from
the Denoiser's `seed` (one field for the whole image, so tiles agree); with
`samples` = N it returns the mean of N samples (independent z): N = 1 is one
realistic sample, larger N walks towards the MSE estimate. The same seed
gives the same sample on every call; give another seed for another. Other
models ignore `samples` and `seed`.

Tiling. The image is cut into cores of `tile` x `tile` pixels; each core is
denoised inside a window that adds `margin` pixels of the image's own
context on every side (none past the image's border, so the network sees the
border exactly as it does on the whole image), and neighbouring outputs are
cross-faded with linear ramps over `blend` pixels around each core boundary
(the weights sum to one). Cores and margins are multiples of the network's
downsampling factor, so every window sits on the whole image's pooling grid.
With the default margin (at least the network's receptive-field radius) a
tiled output matches the untiled one to float rounding in the interior of
each core. tile='auto' denoises whole when the compiled network's working
memory (XLA's own figure, per pixel) fits in `memory_mb`, else picks the
largest core that does.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
from typing import Any

import flax.serialization
import jax
import ml_collections
import numpy as np

from ddn import checkpoint
from ddn import fusion
from ddn import models
from ddn import registry
from ddn import steps

SHIPPED_DIR = os.path.join(os.path.dirname(__file__), "shipped")
DEFAULT_MODEL = "gray-map"
PARAMS_FILE = "params.msgpack"
MODEL_FILE = "model.json"
# An adversarial model may ship the D it was trained against (its config
# under model.json's "disc"): config.adv.d_init_from can start a D from it.
DISC_FILE = "discriminator.msgpack"


def shipped_models() -> list[str]:
  """Names of the models shipped inside the package."""
  if not os.path.isdir(SHIPPED_DIR):
    return []
  return sorted(n for n in os.listdir(SHIPPED_DIR)
                if os.path.exists(os.path.join(SHIPPED_DIR, n, PARAMS_FILE)))


def shipped_meta(name: str) -> dict:
  """A shipped model's model.json."""
  with open(os.path.join(SHIPPED_DIR, name, MODEL_FILE)) as f:
    return json.load(f)


def shipped_disc(name: str) -> tuple[Any, Any, dict]:
  """The discriminator a shipped adversarial model ships: (its parameters,
  its spectral-norm state ({} without), its config.disc as a dict); a
  ValueError naming the fix when it ships none."""
  path = os.path.join(SHIPPED_DIR, name, DISC_FILE)
  if not os.path.exists(path):
    ships = [n for n in shipped_models()
             if os.path.exists(os.path.join(SHIPPED_DIR, n, DISC_FILE))]
    raise ValueError(f"shipped model {name!r} ships no discriminator; give "
                     "an adversarial run's workdir"
                     + (f" or one of {', '.join(ships)}." if ships else "."))
  try:
    with open(path, "rb") as f:
      saved = flax.serialization.msgpack_restore(f.read())
    return saved["params"], saved.get("stats") or {}, shipped_meta(name)[
        "disc"]
  except (OSError, ValueError, KeyError) as e:
    raise ValueError(f"shipped model {name!r}'s discriminator is unreadable "
                     f"({e}); reinstall ddn (pip install -e .).") from None


def best_shipped(sigma: float | None, channels: int = 1) -> str:
  """The shipped model ddn uses at noise σ (0-255) when none is named: a
  model told the noise level (noise map) trained over a range that holds
  σ, else an MSE model trained at exactly σ, else one trained over a range
  of σ that holds it (blind), else the MSE model trained nearest σ (a map
  model counting as trained at its range's nearest end). Adversarial
  fine-tunes (model.json objective 'adversarial') are never picked: they
  trade PSNR for realism. σ None: DEFAULT_MODEL."""
  if sigma is None:
    return DEFAULT_MODEL
  ranked = []
  for name in shipped_models():
    meta = shipped_meta(name)
    if (meta.get("objective", "mse") != "mse"
        or int(meta["channels"]) != channels):
      continue
    n = meta["noise"]
    if n.get("map") or meta.get("model", {}).get("noise_map"):
      # Told σ: beyond its range, like a model trained at its edge.
      lo, hi = n.get("sigma_min", n.get("sigma")), n.get("sigma_max",
                                                          n.get("sigma"))
      out = max(lo - sigma, sigma - hi, 0.0)
      rank = (0, -1.0) if out == 0 else (2, out)
    elif "sigma" in n and not n.get("blind"):
      rank = (0, 0.0) if n["sigma"] == sigma else (2, abs(n["sigma"] - sigma))
    elif n["sigma_min"] <= sigma <= n["sigma_max"]:
      rank = (1, n["sigma_max"] - n["sigma_min"])  # the narrower range first
    else:
      rank = (3, min(abs(sigma - n["sigma_min"]), abs(sigma - n["sigma_max"])))
    ranked.append((rank, name))
  if not ranked:
    raise ValueError(f"no shipped {channels}-channel model; reinstall ddn "
                     "(pip install -e .) or give --checkpoint.")
  return min(ranked)[1]


def _noise_summary(noise: dict) -> dict:
  g = noise.get("gaussian", {})
  if noise.get("kinds", "gaussian") != "gaussian":
    return {"kinds": noise.get("kinds")}
  if g.get("blind"):
    return {"blind": True, "sigma_min": g.get("sigma_min"),
            "sigma_max": g.get("sigma_max")}
  return {"blind": False, "sigma": g.get("sigma")}


class Denoiser:
  """A trained denoiser: `denoiser(noisy (H, W, C)) -> (H, W, C)` float32.

  Attributes:
    name: the shipped model's name or the workdir.
    channels: 1 (gray) or 3 (RGB).
    step: the checkpoint's step (shipped: the step it was exported at).
    noise: what it was trained on: {'blind': False, 'sigma': 25.0} or
      {'blind': True, 'sigma_min', 'sigma_max'}.
    info: the shipped model's provenance (empty for a workdir).
    samples: for a G that samples, outputs averaged per call (see above).
    seed: z's seed for a G that samples.
    fuse: '' (the network alone) or a classical partner ('bm3d') blended
      with the network's output per image by SURE (ddn.fusion).
  """

  def __init__(self, model_cfg: dict, channels: int, params: Any, step: int,
               name: str, noise: dict, info: dict | None = None,
               tile: int | str = "auto", memory_mb: float = 1024.0,
               margin: int | None = None, blend: int | None = None,
               ensemble: bool = False, progress: bool = False,
               samples: int = 1, seed: int = 0, fuse: str = ""):
    self.model = models.from_config(ml_collections.ConfigDict(model_cfg),
                                    channels)
    self.model_cfg, self.channels, self.params = model_cfg, channels, params
    self.step, self.name, self.noise = step, name, noise
    self.info = info or {}
    self.multiple = int(getattr(self.model, "multiple", 1))
    rf = self.receptive_field()
    self.margin = _round_up(margin if margin is not None else max(32, rf),
                            self.multiple)
    self.blend = blend if blend is not None else min(16, self.margin)
    if not 0 <= self.blend <= self.margin:
      raise ValueError(f"blend={self.blend}: must be in [0, margin="
                       f"{self.margin}].")
    self.tile, self.memory_mb = tile, float(memory_mb)
    self.ensemble = bool(ensemble)
    self.progress = bool(progress)  # a bar over the tiles of a large image
    self.noise_map = bool(getattr(self.model, "noise_map", False))
    self.noise_input = int(getattr(self.model, "noise_input", 0))
    if int(samples) < 1:
      raise ValueError(f"samples={samples}: give how many samples of a G "
                       "that samples to average, >= 1.")
    self.samples, self.seed = int(samples), int(seed)
    self.fuse = fusion.check_partner(fuse) if fuse else ""
    self.sigma = None  # the inputs' σ, when known (`at`)
    _check_tile(tile, self.multiple, self.blend)
    self._apply = _jitted_apply(self.model)
    self._cache = {}  # shared with the views `at` makes

  # -- construction --------------------------------------------------------

  @classmethod
  def from_workdir(cls, workdir: str, step: int | None = None, **kw):
    cfg = checkpoint.load_config(workdir)
    task = cfg.get("task", "autoencoder")
    if (task not in registry.TASKS or not registry.TASKS[task].denoiser
        or "model" not in cfg):
      kinds = " or ".join(n for n, e in registry.TASKS.items() if e.denoiser)
      raise ValueError(f"{workdir!r} is a {task} run, not a denoiser; give "
                       f"the workdir of an {kinds} run.")
    params, step = checkpoint.load_params(workdir, step)
    noise = _noise_summary(cfg.get("noise", {}))
    if cfg["model"].get("noise_map"):
      noise["map"] = True
    return cls(cfg["model"], int(cfg["data"]["channels"]), params, step,
               workdir, noise, {"train_data": cfg["data"]["train"]}, **kw)

  @classmethod
  def from_shipped(cls, name: str, **kw):
    try:
      meta = shipped_meta(name)
      with open(os.path.join(SHIPPED_DIR, name, PARAMS_FILE), "rb") as f:
        params = flax.serialization.msgpack_restore(f.read())
    except (OSError, ValueError) as e:
      raise ValueError(f"shipped model {name!r} is unreadable ({e}); "
                       "reinstall ddn (pip install -e .).") from None
    return cls(meta["model"], int(meta["channels"]), params,
               int(meta["step"]), name, meta["noise"], meta.get("info"), **kw)

  # -- inference -----------------------------------------------------------

  def receptive_field(self) -> int:
    """Radius, in pixels, of the whole network's receptive field (the
    model's `receptive_radius()`; 32 for a model that does not say)."""
    radius = getattr(self.model, "receptive_radius", None)
    return int(radius()) if radius else 32

  def at(self, sigma: float | None) -> "Denoiser":
    """This denoiser told that its inputs carry Gaussian noise of σ (0-255):
    a model trained with the noise level as an input (noise_map) is given
    it; any other model ignores it. Shares parameters and compiled code."""
    view = copy.copy(self)
    view.sigma = None if sigma is None else float(sigma)
    return view

  def apply_batch(self, x: np.ndarray, sigma: float | None = None,
                  z: np.ndarray | None = None) -> np.ndarray:
    """(N, H, W, C) -> (N, H, W, C): the network on whole inputs; `sigma`
    the noise level (0-255), needed by a noise_map model; `z` (N, H, W,
    noise_input) the random input of a G that samples (default: drawn
    from the seed)."""
    if x.shape[-1] != self.channels:
      raise ValueError(
          f"{self.name} is a {self.channels}-channel model, the image has "
          f"{x.shape[-1]} channels.")
    if sigma is None and self.noise_map:
      raise ValueError(f"{self.name} is told the noise level: give sigma.")
    if self.noise_input and z is None:
      z = self.draw_z(x.shape[:3])
    return np.asarray(self._apply(self.params, np.asarray(x, np.float32),
                                  np.float32(sigma or 0.0), z))

  def draw_z(self, shape: tuple, index: int = 0) -> np.ndarray | None:
    """Sample `index`'s random input, shape + (noise_input,), from the
    seed; None for a model that does not sample."""
    if not self.noise_input:
      return None
    key = jax.random.fold_in(jax.random.PRNGKey(self.seed), index)
    return np.asarray(jax.random.normal(
        key, tuple(shape) + (self.noise_input,), np.float32))

  def bytes_per_pixel(self) -> float:
    """XLA's working memory per input pixel for this network (measured once
    on a 128 x 128 input)."""
    if "bytes_per_pixel" not in self._cache:
      x = jax.ShapeDtypeStruct((1, 128, 128, self.channels), np.float32)
      z = (jax.ShapeDtypeStruct((1, 128, 128, self.noise_input), np.float32)
           if self.noise_input else None)
      mem = self._apply.lower(self.params, x, np.float32(0), z).compile(
      ).memory_analysis()
      temp = getattr(mem, "temp_size_in_bytes", 0) if mem else 0
      # Without XLA's figure: 4 bytes x all feature maps x 2 (conservative).
      self._cache["bytes_per_pixel"] = (
          temp / 128 ** 2 if temp
          else 8.0 * sum(getattr(self.model, "features", (64,))) * 2)
    return self._cache["bytes_per_pixel"]

  def plan(self, h: int, w: int, tile: int | str | None = None) -> int | None:
    """The core size for an (h, w) image: None = whole image."""
    tile = self.tile if tile is None else tile
    _check_tile(tile, self.multiple, self.blend)
    if tile == "none" or tile == 0:
      return None
    if tile != "auto":
      core = int(tile)
      return None if core >= max(h, w) else core
    budget = self.memory_mb * 2 ** 20 / self.bytes_per_pixel()
    if _round_up(h, self.multiple) * _round_up(w, self.multiple) <= budget:
      return None
    core = int(math.sqrt(budget)) - 2 * self.margin
    core = max(core // self.multiple * self.multiple,
               max(self.multiple, self.blend))
    return None if core >= max(h, w) else core

  def __call__(self, noisy: np.ndarray, tile: int | str | None = None,
               ensemble: bool | None = None,
               sigma: float | None = None) -> np.ndarray:
    """The denoised image; with `ensemble` (default: the Denoiser's), the
    mean over the 8 flips and rotations (self_ensemble), 8x the cost; for
    a G that samples, the mean of `samples` samples (N x the cost); with
    `fuse`, blended with its partner (see `fused`).
    `sigma` (0-255; default the one given by `at`) is read by a noise_map
    model only, which estimates it from the image (colour.estimate_sigma)
    when it is given none."""
    if self.fuse:
      return self.fused(noisy, tile, ensemble, sigma)[0]
    noisy, sigma = self._checked(noisy, sigma)
    if self.ensemble if ensemble is None else ensemble:
      return self_ensemble(
          lambda x: self(x, tile, ensemble=False, sigma=sigma), noisy)
    core = self.plan(noisy.shape[0], noisy.shape[1], tile)
    if not self.noise_input:
      return self._whole_or_tiled(noisy, core, sigma)
    out = np.zeros(noisy.shape, np.float64)
    for i in range(self.samples):
      z = self.draw_z(noisy.shape[:2], i)
      out += self._whole_or_tiled(np.concatenate([noisy, z], -1), core, sigma)
    return (out / self.samples).astype(np.float32)

  def fused(self, noisy: np.ndarray, tile: int | str | None = None,
            ensemble: bool | None = None,
            sigma: float | None = None) -> tuple[np.ndarray, float]:
    """(output, α): α x the network's output + (1 - α) x the `fuse`
    partner's (BM3D), α in [0, 1] chosen per image by SURE (ddn.fusion),
    which needs σ: given, else estimated from the image. About 2x the
    network's and 2x the partner's cost."""
    noisy, sigma = self._checked(noisy, sigma, need_sigma=True)
    alone = self.alone()
    return fusion.fuse(
        lambda x: alone(x, tile, ensemble, sigma), noisy, sigma,
        self.fuse or "bm3d", self.seed)

  def alone(self) -> "Denoiser":
    """This denoiser without its `fuse` partner: the network's output only.
    Shares parameters and compiled code."""
    view = copy.copy(self)
    view.fuse = ""
    return view

  def _checked(self, noisy, sigma, need_sigma: bool = False
               ) -> tuple[np.ndarray, float | None]:
    """(noisy as float32 (H, W, C), σ): the given σ, else `at`'s, else
    (noise_map models, or `need_sigma`) estimated from the image."""
    noisy = np.asarray(noisy)
    if not np.issubdtype(noisy.dtype, np.floating):
      raise ValueError(
          f"{self.name} takes float images in [0, 1], got a {noisy.dtype} "
          "array; pass image / 255.0 for 8-bit pixels (65535.0 for 16-bit).")
    noisy = noisy.astype(np.float32, copy=False)
    if noisy.ndim != 3:
      raise ValueError(f"expected one (H, W, C) image, got shape "
                       f"{noisy.shape}.")
    sigma = self.sigma if sigma is None else float(sigma)
    if sigma is None and (self.noise_map or need_sigma):
      from ddn import colour  # pylint: disable=g-import-not-at-top
      sigma = colour.estimate_sigma(noisy)
    return noisy, sigma

  def _whole_or_tiled(self, x: np.ndarray, core: int | None, sigma):
    """The network on one (H, W, C) image, whole (core None) or tiled; a G
    that samples gets its z as x's channels after the image's."""
    c = self.channels
    apply = lambda b: self.apply_batch(b[..., :c], sigma,
                                       b[..., c:] if self.noise_input else None)
    if core is None:
      return apply(x[None])[0]
    return denoise_tiled(apply, x, core, self.margin, self.blend,
                         progress=self.progress, channels=c)


def dihedral(x: np.ndarray, k: int, inverse: bool = False) -> np.ndarray:
  """Transform k in 0..7 of the square's symmetry group on (H, W, C):
  k % 4 quarter turns, then a left-right flip when k >= 4 (or its inverse)."""
  if inverse:
    x = x[:, ::-1] if k >= 4 else x
    return np.rot90(x, -(k % 4), axes=(0, 1))
  x = np.rot90(x, k % 4, axes=(0, 1))
  return x[:, ::-1] if k >= 4 else x


def self_ensemble(denoise, noisy: np.ndarray) -> np.ndarray:
  """Geometric self-ensemble (EDSR): `denoise` applied to the 8 flips and
  rotations of `noisy` (H, W, C), each output turned back, averaged."""
  out = np.zeros(noisy.shape, np.float64)
  for k in range(8):
    y = denoise(np.ascontiguousarray(dihedral(noisy, k)))
    out += dihedral(np.asarray(y, np.float64), k, inverse=True)
  return (out / 8).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _jitted_apply(model):
  """One jitted apply per architecture, so Denoisers of the same network
  share compiled shapes: (params, x, sigma, z) -> output; z, the random
  input of a G that samples, None for any other."""
  return jax.jit(lambda p, x, s, z=None: steps.denoise(p, x, s, model=model,
                                                        z=z))


def _round_up(n: int, multiple: int) -> int:
  return -(-int(n) // multiple) * multiple


def _check_tile(tile, multiple: int, blend: int) -> None:
  if tile in ("auto", "none"):
    return
  try:
    t = int(tile)
  except (TypeError, ValueError):
    t = -1
  if t == 0:
    return
  if t < max(multiple, blend) or t % multiple:
    raise ValueError(
        f"tile={tile!r}: give 'auto', 'none' (whole image) or a core size in "
        f"pixels that is a multiple of {multiple} (the network's "
        f"downsampling) and at least {max(multiple, blend)}.")


def _ramp(start: int, stop: int, core_lo: int, core_hi: int, n: int,
          blend: int) -> np.ndarray:
  """1-D weights over window [start, stop) for the core [core_lo, core_hi):
  linear ramps of `blend` pixels centred on inner core boundaries."""
  t = np.arange(start, stop, dtype=np.float64) + 0.5
  w = np.ones_like(t)
  half = blend / 2
  if core_lo > 0:
    w *= np.clip((t - (core_lo - half)) / blend, 0, 1) if blend else (
        t >= core_lo)
  if core_hi < n:
    w *= np.clip(((core_hi + half) - t) / blend, 0, 1) if blend else (
        t < core_hi)
  return w.astype(np.float32)


def tiles(h: int, w: int, core: int, margin: int, blend: int):
  """The windows covering an (h, w) image: [(ys, xs, weight (wh, ww, 1))]."""
  out = []
  for y0 in range(0, h, core):
    for x0 in range(0, w, core):
      ys = slice(max(0, y0 - margin), min(h, y0 + core + margin))
      xs = slice(max(0, x0 - margin), min(w, x0 + core + margin))
      wy = _ramp(ys.start, ys.stop, y0, min(h, y0 + core), h, blend)
      wx = _ramp(xs.start, xs.stop, x0, min(w, x0 + core), w, blend)
      out.append((ys, xs, (wy[:, None] * wx[None, :])[:, :, None]))
  return out


def denoise_tiled(apply_batch, noisy: np.ndarray, core: int, margin: int,
                  blend: int, batch: int = 4, progress: bool = False,
                  channels: int | None = None) -> np.ndarray:
  """`apply_batch` ((N, h, w, C) -> (N, h, w, channels), channels C by
  default) over the windows of `tiles`, batched by window shape, blended
  into one (H, W, channels) image; `progress` shows a bar over the tiles."""
  import tqdm  # pylint: disable=g-import-not-at-top
  h, w, c = noisy.shape
  out = np.zeros((h, w, channels or c), np.float32)
  total = np.zeros((h, w, 1), np.float32)
  by_shape: dict[tuple[int, int], list] = {}
  for t in tiles(h, w, core, margin, blend):
    ys, xs, _ = t
    by_shape.setdefault((ys.stop - ys.start, xs.stop - xs.start), []).append(t)
  bar = tqdm.tqdm(total=sum(map(len, by_shape.values())), desc="tiles",
                  unit="tile", leave=False, disable=not progress)
  for group in by_shape.values():
    for i in range(0, len(group), batch):
      part = group[i:i + batch]
      pred = apply_batch(np.stack([noisy[ys, xs] for ys, xs, _ in part]))
      for (ys, xs, wgt), p in zip(part, pred):
        out[ys, xs] += p * wgt
        total[ys, xs] += wgt
      bar.update(len(part))
  bar.close()
  return out / total


def load(checkpoint_or_name: str | None = None, step: int | None = None,
         **kw) -> Denoiser:
  """A shipped model by name, or a workdir's checkpoint; None = the shipped
  gray σ=25 model. Keyword arguments (tile, memory_mb, margin, blend) go to
  Denoiser."""
  what = checkpoint_or_name or DEFAULT_MODEL
  if what in shipped_models():
    return Denoiser.from_shipped(what, **kw)
  if os.path.isdir(what):
    return Denoiser.from_workdir(what, step, **kw)
  raise ValueError(
      f"--checkpoint={what!r}: neither a workdir nor a shipped model; shipped "
      f"models: {', '.join(shipped_models()) or 'none (reinstall ddn)'}.")


def interpolate(a: Denoiser, b: Denoiser, alpha: float, **kw) -> Denoiser:
  """Network interpolation (ESRGAN): the denoiser with parameters
  (1 - alpha) · a + alpha · b, e.g. a = an MSE model, b = its adversarial
  fine-tune; alpha in [0, 1] walks from one to the other. Both must share
  the architecture. Keyword arguments go to Denoiser."""
  if not 0.0 <= alpha <= 1.0:
    raise ValueError(f"interpolation alpha={alpha}: must be in [0, 1].")
  if a.model != b.model or a.channels != b.channels:
    raise ValueError(f"cannot interpolate {a.name} and {b.name}: their "
                     "architectures differ (give a model and its fine-tune).")
  checkpoint.check_compatible(b.params, a.params, f"{b.name}'s parameters")
  params = jax.tree_util.tree_map(
      lambda x, y: ((1.0 - alpha) * np.asarray(x, np.float32)
                    + alpha * np.asarray(y, np.float32)), a.params, b.params)
  return Denoiser(a.model_cfg, a.channels, params, b.step,
                  f"{a.name}~{b.name}@{alpha:g}", b.noise,
                  {"interpolation": {"from": a.name, "to": b.name,
                                     "alpha": alpha}}, **kw)


def export(workdir: str, name: str, info: dict, out_root: str = SHIPPED_DIR,
           step: int | None = None) -> str:
  """Writes a workdir's G parameters (float32 msgpack) and its model config
  to OUT_ROOT/NAME, the shipped-model format; returns the folder."""
  d = Denoiser.from_workdir(workdir, step)
  cfg = checkpoint.load_config(workdir)
  meta = {"model": cfg["model"], "channels": d.channels, "step": d.step,
          "noise": d.noise, "objective": _objective(workdir),
          "info": {**info, "workdir": workdir,
                   "train_data": cfg["data"]["train"]}}
  files = {}
  if cfg.get("task") == "adversarial":  # and the D it was trained against
    d_params, d_stats, _ = checkpoint.load_disc(workdir, d.step)
    meta["disc"] = cfg["disc"]
    files[DISC_FILE] = _packed({"params": d_params, "stats": d_stats})
  return _write_shipped(os.path.join(out_root, name), d.params, meta, files)


def export_interpolation(a_src: str, b_src: str, alpha: float, name: str,
                         info: dict, out_root: str = SHIPPED_DIR) -> str:
  """Writes the network interpolation (1 - alpha) · A + alpha · B
  (`interpolate`; A and B shipped names or workdirs, e.g. an MSE model and
  its adversarial fine-tune) as the shipped model OUT_ROOT/NAME, with B's
  σ and step and both sources in its model.json; returns the folder."""
  a, b = load(a_src), load(b_src)
  d = interpolate(a, b, alpha)
  provenance = {role: {"source": src, "step": m.step, **(
      {"info": m.info} if m.info else {})}
                for role, src, m in (("from", a_src, a), ("to", b_src, b))}
  # Adversarial if either end with weight is (best_shipped never picks it);
  # the judges' default tuning data (evaluate.default_tune_data): B's.
  adversarial = any(_objective(src) == "adversarial" for src, w in
                    ((a_src, 1.0 - alpha), (b_src, alpha)) if w > 0)
  train_data = b.info.get("train_data")
  meta = {"model": dict(a.model_cfg), "channels": d.channels, "step": b.step,
          "noise": b.noise, "objective": "adversarial" if adversarial
          else "mse",
          "info": {**info, "interpolation": {"alpha": alpha, **provenance},
                   **({"train_data": train_data} if train_data else {})}}
  return _write_shipped(os.path.join(out_root, name), d.params, meta, {})


def _objective(src: str) -> str:
  """'adversarial' for an adversarial run with a push (adv.weight > 0) or a
  shipped model that says so, else 'mse'."""
  if os.path.isdir(src):
    cfg = checkpoint.load_config(src)
    return ("adversarial" if cfg.get("task") == "adversarial" and float(
        cfg.get("adv", {}).get("weight", 0)) > 0 else "mse")
  return shipped_meta(src).get("objective", "mse")


def _packed(params) -> bytes:
  return flax.serialization.msgpack_serialize(jax.tree_util.tree_map(
      lambda a: np.asarray(a, np.float32), jax.device_get(params)))


def _write_shipped(folder: str, params, meta: dict, files: dict) -> str:
  """Writes G's parameters, `files` ({name: bytes}) and model.json (last,
  each file atomically) into `folder`; returns it."""
  os.makedirs(folder, exist_ok=True)
  if DISC_FILE not in files and os.path.exists(os.path.join(folder,
                                                            DISC_FILE)):
    os.remove(os.path.join(folder, DISC_FILE))  # not this model's D
  for fname, payload, mode in ([(PARAMS_FILE, _packed(params), "wb")]
                               + [(n, b, "wb") for n, b in files.items()]
                               + [(MODEL_FILE, json.dumps(meta, indent=1),
                                   "w")]):
    tmp = os.path.join(folder, fname + ".tmp")
    with open(tmp, mode) as f:
      f.write(payload)
    os.replace(tmp, os.path.join(folder, fname))
  return folder


def main(argv):
  """python -m ddn.inference --export=WORKDIR --name=NAME [--note=TEXT]:
  packs a run's G as a shipped model (ddn/shipped/NAME); with
  --interpolate_to=B --alpha=α, the network interpolation (1 - α) · EXPORT
  + α · B instead (EXPORT and B workdirs or shipped names)."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  del argv
  f = flags.FLAGS
  info = {"note": f.note, "command": f.command, "machine": f.machine}
  if f.wall_seconds:
    info["training_wall_seconds"] = f.wall_seconds
  info = {k: v for k, v in info.items() if v}
  if f.interpolate_to:
    folder = export_interpolation(f.export, f.interpolate_to, f.alpha,
                                  f.name, info, f.out_root)
  else:
    folder = export(f.export, f.name, info, f.out_root)
  size = sum(os.path.getsize(os.path.join(folder, n))
             for n in os.listdir(folder))
  print(f"wrote {folder} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  from ddn import runtime  # pylint: disable=g-import-not-at-top
  flags.DEFINE_string("export", None, "Workdir of an autoencoder or "
                      "adversarial run (or, with --interpolate_to, a shipped "
                      "name).")
  flags.DEFINE_string("name", None, "The shipped model's name.")
  flags.DEFINE_string("note", "", "Provenance: how it was trained.")
  flags.DEFINE_string("command", "", "Provenance: the training command.")
  flags.DEFINE_integer("wall_seconds", 0, "Provenance: training wall time.")
  flags.DEFINE_string("machine", "", "Provenance: where it was trained.")
  flags.DEFINE_string("out_root", SHIPPED_DIR, "Where shipped models live.")
  flags.DEFINE_string("interpolate_to", "", "A second model (workdir or "
                      "shipped name): export (1 - alpha) · export + alpha · "
                      "it (network interpolation).")
  flags.DEFINE_float("alpha", 0.5, "The interpolation's weight on "
                     "--interpolate_to, in [0, 1].")
  flags.mark_flags_as_required(["export", "name"])
  app.run(main, flags_parser=runtime.parse_flags)
