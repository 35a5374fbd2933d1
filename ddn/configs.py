"""The config groups the tasks share, the defaults of a task, and
config-string modifiers.

`config.task` picks what `launch.py` trains (ddn.registry.TASKS); each task
module owns its defaults (`Task.default_config()`, built from the groups
here: `data`, `noise`, `optim`, `disc`, `realism`); `defaults(task)` gives
them, with the `model` group of the model `config.model.name` names.
Experiment recipes are in ddn.recipes; the type checker in
ddn.config_check.

An experiment file defines `get_config(arg=None)`; `arg` is a comma-separated
list of modifiers applied after the experiment's own settings:

  smoke                     tiny sizes, the same code path: a complete run
                            (train, checkpoint, eval, plots) in well under a
                            minute on a 2-core CPU. Tests rely on it.
  mild | moderate | severe  noise presets (ddn.noise.PRESETS).

e.g. `--config=experiments/ae.py:smoke,severe`. Field overrides on the command
line (`--config.optim.lr=1e-4`) apply after the modifiers.
"""

from __future__ import annotations

import os

import ml_collections

from ddn import noise as noise_lib
from ddn import registry


def defaults(task: str = "autoencoder", model: str | None = None
             ) -> ml_collections.ConfigDict:
  """Every field of a `task` config with its default value; with `model`,
  its `model` group is that model's defaults (ddn.registry.MODELS). Raises
  ValueError naming the valid names for an unknown task or model."""
  c = registry.lookup("task", task).default_config()
  if model is not None and "model" in c and c.model.get("name") != model:
    c.model = registry.lookup("model", model).default_config()
  return c


def data(batch_size: int) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      train="embedded:train", eval="embedded:eval", channels=1,
      convert_channels=False, crop=48,
      # Image files of a folder source that cannot be used (corrupt, empty,
      # not an image, too large, wrong channels): 'stop' = one error listing
      # them all, 'skip' = one warning each, train on the others.
      bad_files="stop",
      batch_size=batch_size,  # global batch, split over all devices
      prefetch=2, tfds_data_dir="",
      augment=ml_collections.ConfigDict(dict(
          scale_min=0.6, scale_max=1.0, flip_lr=True, flip_ud=True,
          brightness_min=0.8, brightness_max=1.0))))


def noise() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.kinds = "gaussian"
  c.gaussian = ml_collections.ConfigDict(dict(
      sigma=25.0, blind=False, sigma_min=0.0, sigma_max=55.0))
  c.salt_pepper = ml_collections.ConfigDict(dict(
      rate=0.05, salt_fraction=0.5))
  c.blocks = ml_collections.ConfigDict(dict(
      count=4, size_min=4, size_max=12, fill="zero"))
  return c


def optim(lr: float, warmup_images: int) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      name="adam", lr=lr, b1=0.9, b2=0.999, eps=1e-8, momentum=0.9,
      nesterov=False, weight_decay=0.0, grad_clip=0.0,
      schedule="cosine", warmup_images=warmup_images, final_fraction=0.01,
      decay_every_images=100_000, decay_factor=0.5,
      # lr × lr_mult for modules whose name starts with one of these
      # (ddn.optim), e.g. ('encatt', 'decatt') for added non-local blocks.
      lr_mult=1.0, lr_mult_prefixes=()))


def disc(**overrides) -> ml_collections.ConfigDict:
  d = dict(
      kind="image", features=(16, 32, 64, 128), blocks=1, kernel_size=3,
      downsample="stride", padding="SAME", pool="avg", dense=(64,),
      activation="leaky_relu", leaky_slope=0.2, spectral_norm=False,
      power_iterations=1, dropout=0.0,
      detail=False,  # also feed x minus its blur (discriminators.highpass)
      detail_width=3,  # its binomial blur: 3, or 5 (half an octave lower)
      mscn=False,  # also feed its MSCN coefficients (discriminators.mscn)
      # True (adversarial task): D also sees the noisy input, so it scores
      # the image beside the noise removed (pix2pix's conditional D).
      conditional=False,
      joint=False,  # with conditional: also an image-only stack beside it
      scales=1,  # > 1: a multi-scale patch D (discriminators.Classifier)
      loss="logistic", margin=1.0)  # margin: of the hinge loss
  d.update(overrides)
  return ml_collections.ConfigDict(d)


def realism() -> ml_collections.ConfigDict:
  """`config.eval.realism`, the realism test of ddn.realism (also
  ddn.evaluate --realism)."""
  return ml_collections.ConfigDict(dict(
      judges=("image", "patch"),  # architectures (JUDGES)
      detail=True,  # judges also see x minus its blur (discriminators.highpass)
      seeds=2,  # judges of each architecture
      crop=48,  # judges' training crops, pixels
      test_crop=96,  # held-out tiles the judges score, pixels
      steps=600,  # training steps of each judge
      batch_size=32,  # half real, half denoised
      lr=1e-3,  # Adam, cosine decay to 1%
      test_crops=16,  # fixed crops per held-out image
      tune_images=64,  # at most this many tuning images
      # > 0: tuning images cut into tiles of this size, real and denoised
      # on a checkerboard (few large images); 0: whole images, even / odd.
      tune_tile=0,
      bootstrap=1000))  # resamples of the held-out images for the CI


def _names_a_shipped_model(c: ml_collections.ConfigDict) -> bool:
  src = c.train.get("init_from", "") if "train" in c else ""
  shipped = os.path.join(os.path.dirname(__file__), "shipped", str(src))
  return bool(src) and os.path.isdir(shipped) and not os.path.isdir(src)


def smoke(c: ml_collections.ConfigDict) -> None:
  """Shrinks a config in place to a complete run in seconds."""
  c.data.crop = 32
  c.data.batch_size = 4
  c.data.prefetch = 1
  c.optim.warmup_images = 0
  c.train.total_images = 96
  c.train.checkpoint_every_images = 48
  c.log.every_images = 16
  c.eval.every_images = 48
  if "model" in c and not _names_a_shipped_model(c):
    # (a shipped model to start from keeps its size)
    model = registry.lookup("model", c.model.name)
    if hasattr(model, "smoke"):
      model.smoke(c.model)
  if "disc" in c:
    c.disc.features = (8, 16)
    c.disc.blocks = 1
    c.disc.dense = (8,) if c.disc.dense else ()
  if "grid_images" in c.log:
    c.log.grid_images = 2
  if "max_images" in c.eval:
    c.eval.max_images = 1
  if "crops" in c.eval:
    c.eval.crops = 16
  if "adv" in c:
    c.adv.g_warmup_images = 16
    c.adv.d_warmup_images = 16
  if "realism" in c.eval:
    c.eval.realism.update(dict(judges=("patch",), seeds=1, crop=24,
                               test_crop=24, steps=4,
                               batch_size=8, test_crops=2, tune_images=4,
                               bootstrap=20))


def apply_args(c: ml_collections.ConfigDict, arg: str | None):
  """Applies the comma-separated modifiers of `--config=FILE:ARG`."""
  for mod in [m.strip() for m in (arg or "").split(",") if m.strip()]:
    if mod == "smoke":
      smoke(c)
    elif mod in noise_lib.PRESETS:
      for path, value in noise_lib.PRESETS[mod].items():
        node = c.noise
        *parents, leaf = path.split(".")
        for p in parents:
          node = node[p]
        node[leaf] = value
    else:
      raise ValueError(f"unknown config modifier {mod!r}; valid modifiers "
                       f"are smoke, {', '.join(noise_lib.PRESETS)}.")
  return c


# Fields added after runs and shipped models were saved without them, with
# the value those had (ddn.train and init_from read a missing one as this).
ADDED_FIELDS = {"model.noise_map": False, "model.unshuffle": 1,
                "model.res_blocks": (),
                "adv.max_weight": 0.0, "loss.sigma_power": 0.0,
                "loss.sigma_floor": 5.0, "model.noise_input": 0,
                "adv.samples": 1, "model.attention": (), "adv.r1": 0.0,
                "adv.z_init": 0.0, "model.z_at": "input",
                "adv.fm_weight": 0.0, "optim.lr_mult": 1.0,
                "optim.lr_mult_prefixes": (), "disc_optim.lr_mult": 1.0,
                "disc_optim.lr_mult_prefixes": (), "disc.scales": 1,
                "adv.d_init_from": "", "disc.detail_width": 3,
                "disc.mscn": False, "disc.conditional": False,
                "model.nlm": (), "model.nlm_radius": 10, "model.nlm_patch": 2,
                "model.nlm_residual": False,
                "disc.joint": False}


def with_added_fields(saved: dict) -> dict:
  """A saved config dict (or a shipped model's) with ADDED_FIELDS it lacks
  set to the value it had; groups it does not have stay absent."""
  for path, value in ADDED_FIELDS.items():
    group, leaf = path.split(".")
    if isinstance(saved.get(group), dict):
      saved[group].setdefault(leaf, value)
  task = saved.get("task", "autoencoder")
  if ("evals" not in saved and "eval" in saved and task in registry.TASKS
      and "evals" in registry.lookup("task", task).default_config()):
    # config.evals: what the task's evaluation measured before it was a field
    saved["evals"] = list(defaults(task).evals)
  return saved
