"""Config defaults shared by the experiments, and config-string modifiers.

`config.task` picks what `launch.py` trains: 'autoencoder' (the denoiser),
'classifier' (real vs denoised, against a frozen trained denoiser) or
'adversarial' (the denoiser against a discriminator trained alongside).

An experiment file defines `get_config(arg=None)`; `arg` is a comma-separated
list of modifiers applied after the experiment's own settings:

  smoke                     tiny sizes, the same code path: a complete run
                            (train, checkpoint, eval, plots) in well under a
                            minute on a 2-core CPU. Tests rely on it.
  mild | moderate | severe  noise presets (ddn.noise.PRESETS).

e.g. `--config=experiments/ae.py:smoke,severe`. Field overrides on the command
line (`--config.optim.lr=1e-4`) apply after the modifiers.

`validate(config)` checks a config's fields and their types against the
defaults of its task, before any compute (ddn.train.Setup calls it): a config
built in Python (a notebook, a script calling `train.train_and_evaluate`) gets
the same one clear error as a mistyped `--config.x.y` on the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
import difflib
import math
import numbers
import os
from typing import Any

import ml_collections
import numpy as np

from ddn import noise as noise_lib


def _data(batch_size: int) -> ml_collections.ConfigDict:
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


def _noise() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.kinds = "gaussian"
  c.gaussian = ml_collections.ConfigDict(dict(
      sigma=25.0, blind=False, sigma_min=0.0, sigma_max=55.0))
  c.salt_pepper = ml_collections.ConfigDict(dict(
      rate=0.05, salt_fraction=0.5))
  c.blocks = ml_collections.ConfigDict(dict(
      count=4, size_min=4, size_max=12, fill="zero"))
  return c


def _optim(lr: float, warmup_images: int) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      name="adam", lr=lr, b1=0.9, b2=0.999, eps=1e-8, momentum=0.9,
      nesterov=False, weight_decay=0.0, grad_clip=0.0,
      schedule="cosine", warmup_images=warmup_images, final_fraction=0.01,
      decay_every_images=100_000, decay_factor=0.5))


def autoencoder() -> ml_collections.ConfigDict:
  """Defaults for training the denoising autoencoder, sized for a 2-core CPU."""
  c = ml_collections.ConfigDict()
  c.task = "autoencoder"
  c.seed = 0
  # Activations in float32, or bfloat16 (TPUs: half the memory traffic);
  # parameters, losses and optimizer state are float32 either way.
  c.compute_dtype = "float32"
  c.data = _data(batch_size=32)
  c.noise = _noise()
  c.model = ml_collections.ConfigDict(dict(
      name="autoencoder", features=(32, 64, 128), blocks=2, kernel_size=3,
      skip=True, upsample="transpose", activation="relu", dropout=0.0,
      output="residual", noise_map=False, unshuffle=1, res_blocks=()))

  # a * SSD + b * L1 with the chapter's b / a = 0.1 (both means, ddn.losses).
  # sigma_power p > 0 weighs each crop by max(σ, sigma_floor)^-p (mean 1 over
  # the batch) when σ varies per crop (losses.sigma_weights); 0: plain mean.
  c.loss = ml_collections.ConfigDict(dict(ssd_weight=1.0, l1_weight=0.1,
                                          sigma_power=0.0, sigma_floor=5.0))
  c.optim = _optim(lr=1e-3, warmup_images=2_000)
  # skip_nonfinite: 0 stops the run at the first non-finite loss or gradient
  # (naming the step window and the last good checkpoint); N > 0 skips such
  # updates instead, counts them, and stops after more than N in a row.
  c.train = ml_collections.ConfigDict(dict(
      total_images=32_000, init_from="", checkpoint_every_images=8_000,
      max_to_keep=3, skip_nonfinite=0))
  c.log = ml_collections.ConfigDict(dict(every_images=640, grid_images=4))
  c.eval = ml_collections.ConfigDict(dict(
      every_images=6_400, max_images=8, sigma=-1.0))  # -1: the train σ
  return c


def classifier() -> ml_collections.ConfigDict:
  """Defaults for the real-vs-denoised classifier, sized for a 2-core CPU.

  `train.init_from` must name the workdir of a trained autoencoder: its
  outputs are the "denoised" class. Each step's batch is half real crops and
  half crops noised with `config.noise` and denoised by that frozen network.
  """
  c = ml_collections.ConfigDict()
  c.task = "classifier"
  c.seed = 0
  c.compute_dtype = "float32"  # or bfloat16, as in autoencoder()
  c.data = _data(batch_size=128)  # the chapter's worked example
  c.noise = _noise()
  c.disc = _disc()
  c.optim = _optim(lr=1e-3, warmup_images=2_000)
  c.train = ml_collections.ConfigDict(dict(
      total_images=102_400, init_from="", checkpoint_every_images=25_600,
      max_to_keep=3, skip_nonfinite=0))  # as in autoencoder()
  c.log = ml_collections.ConfigDict(dict(every_images=2_560))
  # Validation: `crops` fixed crops of the eval images, each scored as real
  # and, noised (σ = eval.sigma, -1: the train σ) and denoised, as denoised.
  c.eval = ml_collections.ConfigDict(dict(
      every_images=12_800, crops=1_024, sigma=-1.0))
  return c


def _disc(**overrides) -> ml_collections.ConfigDict:
  d = dict(
      kind="image", features=(16, 32, 64, 128), blocks=1, kernel_size=3,
      downsample="stride", padding="SAME", pool="avg", dense=(64,),
      activation="leaky_relu", leaky_slope=0.2, spectral_norm=False,
      power_iterations=1, dropout=0.0,
      detail=False,  # also feed x minus its blur (discriminators.highpass)
      loss="logistic", margin=1.0)  # margin: of the hinge loss
  d.update(overrides)
  return ml_collections.ConfigDict(d)


def adversarial() -> ml_collections.ConfigDict:
  """Defaults for adversarial training of the denoiser, sized for a 2-core
  CPU (ddn.tasks.adversarial).

  G is the autoencoder (`model`, `loss`, `optim` as in autoencoder(), so
  `train.init_from` can name an autoencoder's workdir); D is a classifier
  (`disc`) with its own optimizer (`disc_optim`). `train.total_images`
  counts G's batches over the whole run, warm-ups included.
  """
  c = autoencoder()
  c.task = "adversarial"
  c.disc = _disc(spectral_norm=True)
  c.disc_optim = _optim(lr=1e-3, warmup_images=0)
  c.disc_optim.b1 = 0.5
  c.disc_optim.schedule = "constant"
  c.adv = ml_collections.ConfigDict(dict(
      weight=3e-3,  # λ: G loss = Pred + λ · adversarial term
      # True: λ = weight · |∇Pred| / |∇adversarial| at G's last layer
      # (VQGAN's adaptive weight), so `weight` is the adversary's relative push.
      adaptive=False,
      # > 0: the adaptive λ's ceiling (when D falls to chance, its shrinking
      # gradient would otherwise be scaled up to the push); 0: none.
      max_weight=0.0,
      g_loss="score",  # score (the chapter's) | nonsaturating | hinge
      n_d=1, n_g=1,  # per iteration: n_d D steps, then n_g G steps
      # Reconstruction-only G steps first, when train.init_from is empty.
      g_warmup_images=6_400,
      # Then D steps with G still on reconstruction only.
      d_warmup_images=1_600,
      freeze_disc=False,  # True: D stops after its warm-up (the 17.3.1 test)
      ema_decay=0.0,  # > 0: keep an EMA of G, used for evaluation
      # Balance warnings: a side has "won" when, over `balance_window`
      # consecutive log lines, D's loss < d_won_loss (D wins), or D's
      # accuracy is within `chance_band` of 0.5 (D is at chance).
      balance_window=4, d_won_loss=0.05, chance_band=0.05))
  c.train.total_images = 12_800
  c.train.checkpoint_every_images = 3_200
  c.log.every_images = 320
  c.eval.every_images = 4_800
  c.eval.max_images = 3
  c.eval.crops = 256  # D's validation error on held-out crops
  # After training: PSNR on every eval image and realism (ddn.realism: fresh
  # judges tell clean crops from G's outputs; AUC with its 95% interval,
  # beside calibration rows), for G and for G entering the adversarial
  # phase. test_crops: tiles per held-out image (the embedded eval images
  # hold 24-64 tiles of 64 px).
  c.eval.realism = realism()
  c.eval.realism.update(dict(seeds=1, steps=400, batch_size=32,
                             test_crops=64))  # 5 tests (3 calibrations)
  # False skips that final evaluation (evaluation.json, comparison.png),
  # e.g. in a sweep whose runs are judged together afterwards.
  c.eval.final = True
  return c


def adversarial_finetune(sigma: int = 50, data_root: str = ""
                         ) -> ml_collections.ConfigDict:
  """The adversarial recipe (experiments/adv.py, adv_s50.py, adv_s25.py):
  the shipped MSE model `gray-s{sigma}` fine-tuned at σ = `sigma` against a
  patch discriminator; with `data_root` (a folder laid out as
  ../shared/data), on its Train400, evaluated on 4 of its Set12 images.

  D: every 33x33 patch (three levels of two 3x3 convs on the image and its
  detail channel, as the realism judges see it), no spectral norm, Adam
  1e-3 (b1 = 0.5), 1,600 images of warm-up, then two D steps per G step.
  G: Pred + λ · the non-saturating term, λ set adaptively (VQGAN):
  `adv.weight` is the adversarial gradient's size relative to
  reconstruction's at G's last layer (logged as g/grad_ratio). Adam 1e-4,
  constant; EMA of G (0.99), which is what is evaluated and exported.

  Chosen by measurement (adv_s50.py, 6,400 images, BSD68 σ = 50, realism
  AUC of fresh judges): a D with spectral norm at 2e-4 and one step sat at
  log 2 through the adversarial phase, and its G was caught *more* often
  than gray-s50; this D wins (held-out error 0.16-0.42), and relative push
  0.3 → AUC 0.898, push 1.0 → 0.858 (gray-s50: 0.930), docs/adversarial.md.
  """
  c = adversarial()
  c.noise.gaussian.sigma = float(sigma)
  c.train.init_from = f"gray-s{sigma}"
  c.train.total_images = 6_400
  c.optim.lr = 1e-4
  c.optim.warmup_images = 0
  c.optim.schedule = "constant"
  c.disc_optim.lr = 1e-3
  c.disc.kind = "patch"
  c.disc.padding = "VALID"
  c.disc.features = (32, 64, 64)
  c.disc.blocks = 2
  c.disc.dense = ()
  c.disc.detail = True
  c.disc.spectral_norm = False
  c.adv.g_loss = "nonsaturating"
  c.adv.adaptive = True
  c.adv.weight = 1.0
  c.adv.n_d = 2
  c.adv.d_warmup_images = 1_600
  c.adv.ema_decay = 0.99
  c.eval.every_images = 3_200
  return on_train400(c, data_root) if data_root else c


def on_train400(c: ml_collections.ConfigDict, data_root: str
                ) -> ml_collections.ConfigDict:
  """Trains on `data_root`/Train400 and evaluates on 4 of its Set12 images
  (`data_root` laid out as ../shared/data)."""
  c.data.train = f"folder:{data_root}/Train400"
  c.data.eval = f"folder:{data_root}/Set12"
  c.eval.max_images = 4
  return c


def knocked_out_blocks(c: ml_collections.ConfigDict
                       ) -> ml_collections.ConfigDict:
  """The knocked-out-blocks experiments' data (experiments/ae_blocks.py,
  adv_blocks.py): 64 px crops, σ = 50 Gaussian noise, then one square of
  16-40 px per crop set to 0."""
  c.data.crop = 64
  c.noise.kinds = "gaussian,blocks"
  c.noise.gaussian.sigma = 50.0
  c.noise.blocks.update(dict(count=1, size_min=16, size_max=40, fill="zero"))
  return c


# The big adversary of the perception-distortion sweep: a whole-image D.
BIG_DISC = {"disc.kind": "image", "disc.padding": "SAME",
            "disc.features": (16, 32, 64, 128), "disc.blocks": 1,
            "disc.dense": (64,)}


def perception_sweep() -> list[dict]:
  """The perception-distortion plane's runs over adversarial_finetune
  (experiments/adv_s50.py, adv_s25.py; benchmarks/perception_distortion.sh):
  the relative push λ over 1.5 decades for the small (33 px patch)
  adversary, two pushes for the big (whole-image) one, λ = 0 (D trains, G
  ignores it) and the frozen classifier (D trained for 3,200 images against
  the start model, then frozen while G trains 3,200 images against it). Run
  names hold no comma, so ddn.evaluate --checkpoint can list their workdirs,
  and name their family for ddn.figures plane ('FAMILY-pushW', 'pushW')."""
  runs = [{"_name": "push0", "adv.weight": 0.0}]
  for w in (0.3, 1.0, 3.0, 10.0):
    runs.append({"_name": f"small-push{w:g}", "adv.weight": w})
  for w in (1.0, 3.0):
    runs.append({"_name": f"big-push{w:g}", "adv.weight": w, **BIG_DISC})
  runs.append({"_name": "frozen-push1", "adv.weight": 1.0,
               "adv.freeze_disc": True, "adv.d_warmup_images": 3_200})
  return runs


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
    c.model.features = (8, 16)  # (a shipped model to start from keeps its)
    c.model.blocks = 1
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


# ----------------------------------------------------------------------------
# Field and type checks against the task's defaults.


TASKS = {"autoencoder": autoencoder, "classifier": classifier,
         "adversarial": adversarial}

# Fields the code reads with a fallback: `task` (tasks.build trains the
# autoencoder when it is absent) and `eval.sigma` (None, like -1: the train
# σ, tasks.base.eval_noise_spec).
OPTIONAL = ("task",)
# Fields added after runs and shipped models were saved without them, with
# the value those had (ddn.train and init_from read a missing one as this).
ADDED_FIELDS = {"model.noise_map": False, "model.unshuffle": 1,
                "model.res_blocks": (),
                "adv.max_weight": 0.0, "loss.sigma_power": 0.0,
                "loss.sigma_floor": 5.0}


def with_added_fields(saved: dict) -> dict:
  """A saved config dict (or a shipped model's) with ADDED_FIELDS it lacks
  set to the value it had; groups it does not have stay absent."""
  for path, value in ADDED_FIELDS.items():
    group, leaf = path.split(".")
    if isinstance(saved.get(group), dict):
      saved[group].setdefault(leaf, value)
  return saved


NULLABLE = ("eval.sigma",)

# Why a field of another task is not one of this task's.
HINTS = {
    ("classifier", "model"): "the classifier's denoiser is the network of "
                             "config.train.init_from, built from that run's "
                             "saved config",
    ("classifier", "loss"): "the classifier's loss is config.disc.loss",
    ("autoencoder", "disc"): "a discriminator belongs to the classifier and "
                             "adversarial tasks (set config.task)",
    ("autoencoder", "adv"): "adversarial training is config.task="
                            "'adversarial' (experiments/adv.py)",
}

MAX_LISTED = 3  # problems named in one error


def validate(config: ml_collections.ConfigDict) -> None:
  """Checks the fields and value types of `config` against its task's
  defaults (`TASKS[config.task]()`), before any compute.

  Every field must exist in the defaults (a typo gets the closest field
  name suggested) and every default field must be present (`task` may be
  left out: the autoencoder). Each value must have the type of the default:
  an int passes where a float is expected, a list or a tuple where a
  sequence is (its items checked alike), but a bool is not a number, a
  number is not a bool and nothing but a str is a str; floats must be
  finite; None passes only where the code reads it as "unset"
  (`NULLABLE`). Value ranges are checked where the values are used
  (ddn.train.Setup, ddn.noise, ddn.models, ddn.optim, the tasks).

  Raises:
    ValueError: naming the first offending field(s), what is expected and a
      fix, e.g. "config.optim.lrr: not a field of the autoencoder config;
      did you mean config.optim.lr? ...".
  """
  name = config.get("task", "autoencoder") if _is_mapping(config) else None
  if not isinstance(name, str) or name not in TASKS:
    raise ValueError(f"config.task={name!r}: valid tasks are "
                     f"{', '.join(TASKS)}.")
  defaults = TASKS[name]()
  problems = _compare(config, defaults, "", name, _paths(defaults))
  if not problems:
    return
  message = problems[0]
  rest = problems[1:MAX_LISTED]
  if rest:
    more = len(problems) - MAX_LISTED
    message += (f" Also: {' '.join(rest)}"
                + (f" (and {more} more)" if more > 0 else ""))
  raise ValueError(message)


def _is_mapping(value: Any) -> bool:
  return isinstance(value, (ml_collections.ConfigDict, Mapping))


def _paths(defaults, prefix: str = "") -> list[str]:
  """Dotted names of every field and group under `defaults`."""
  out = []
  for key, value in defaults.items():
    out.append(prefix + key)
    if _is_mapping(value):
      out += _paths(value, f"{prefix}{key}.")
  return out


def _compare(config, defaults, prefix: str, task: str,
             all_paths: list[str]) -> list[str]:
  """Problems of `config` (a group) against `defaults`, in field order."""
  problems = []
  expected = dict(defaults.items())
  present = dict(config.items())  # FieldReferences resolved
  for key, value in present.items():
    path = prefix + key
    if key not in expected:
      problems.append(_unknown(path, key, list(expected), task, all_paths))
      continue
    default = expected[key]
    if _is_mapping(default):
      if _is_mapping(value):
        problems += _compare(value, default, f"{path}.", task, all_paths)
      else:
        problems.append(
            f"config.{path}={value!r} ({type(value).__name__}): expected a "
            f"group of fields ({', '.join(default)}), "
            f"as in ddn.configs.{task}().")
      continue
    problem = _type_problem(path, value, default)
    if problem:
      problems.append(problem)
  for key in expected:
    if key not in present and (prefix + key) not in OPTIONAL:
      default = expected[key]
      example = ("a group as in ddn.configs." + task + "()"
                 if _is_mapping(default) else f"e.g. {default!r}")
      problems.append(
          f"config.{prefix}{key} is missing ({example}); start from "
          f"ddn.configs.{task}(), which has every field.")
  return problems


def _unknown(path: str, key: str, siblings: list[str], task: str,
             all_paths: list[str]) -> str:
  group = path.rpartition(".")[0]
  parent = f"config.{group}." if group else "config."
  close = [parent + c for c in
           difflib.get_close_matches(key, siblings, n=1, cutoff=0.6)]
  if not close:  # the right name in another group, e.g. config.lr
    close = ["config." + p for p in all_paths if p.rpartition(".")[2] == key]
  msg = f"config.{path}: not a field of the {task} config"
  hint = HINTS.get((task, path))
  if hint:
    msg += f" ({hint})"
  if close:
    msg += f"; did you mean {' or '.join(close[:MAX_LISTED])}?"
  else:
    msg += (f"; the fields of {parent.rstrip('.')} are "
            f"{', '.join(sorted(siblings))}.")
  return msg + " Remove or rename it."


def _is_bool(v) -> bool:
  return isinstance(v, (bool, np.bool_))


def _is_int(v) -> bool:
  return isinstance(v, numbers.Integral) and not _is_bool(v)


def _is_number(v) -> bool:
  return isinstance(v, numbers.Real) and not _is_bool(v)


def _kind(default) -> tuple[str, Any]:
  """(what is expected, its test) for a default value."""
  if _is_bool(default):
    return "a bool (True or False)", _is_bool
  if _is_int(default):
    return "an int", _is_int
  if isinstance(default, float):
    return "a number", _is_number
  if isinstance(default, str):
    return "a str", lambda v: isinstance(v, str)
  if isinstance(default, (tuple, list)):
    if default:
      what, ok = _kind(default[0])
      return (f"a tuple of {what.partition(' ')[2]}s",
              lambda v: isinstance(v, (tuple, list)) and all(map(ok, v)))
    return "a tuple", lambda v: isinstance(v, (tuple, list))
  return f"a {type(default).__name__}", lambda v: isinstance(v,
                                                             type(default))


def _type_problem(path: str, value, default) -> str | None:
  """What is wrong with the type of `value` for a field whose default is
  `default`, or None."""
  if value is None and path in NULLABLE:
    return None
  what, ok = _kind(default)
  if not ok(value):
    return (f"config.{path}={value!r} ({type(value).__name__}): expected "
            f"{what}, e.g. config.{path}={default!r}.")
  numbers_in = value if isinstance(value, (tuple, list)) else (value,)
  if any(_is_number(v) and not math.isfinite(v) for v in numbers_in):
    return (f"config.{path}={value!r}: must be finite, e.g. "
            f"config.{path}={default!r}.")
  return None
