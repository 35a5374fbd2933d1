"""Optimizers and learning-rate schedules.

Schedules are configured in images seen (the chapter's unit) and turned into
optax step schedules by dividing by the global batch size:

  constant  lr
  step      lr * decay_factor ** floor(images / decay_every_images)
            (halve every 100k images: decay_factor=0.5,
            decay_every_images=100_000; x0.1: decay_factor=0.1)
  cosine    cosine decay from lr to lr * final_fraction over the run

plus an optional linear warm-up from 0 over `warmup_images` (the step
schedule's decays still fall at multiples of decay_every_images; cosine
decays over the images after the warm-up).

`lr_mult` (!= 1) scales the learning rate of the parameters under modules
whose name starts with one of `lr_mult_prefixes` (e.g. ('encatt',
'decatt'): the non-local blocks a fine-tune adds to a trained network,
zero-initialised, which learn slowly at the network's learning rate); the
rest keep `lr`. Prefixes that name no module are an error at init.

Weight decay is decoupled (applied after the optimizer's scaling, as AdamW):
'adamw' is Adam with it; 'sgd' with weight_decay > 0 is decoupled SGD-W.
"""

from __future__ import annotations

import math

import jax
import optax

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine")


def steps_for(images: int, batch_size: int) -> int:
  """Number of steps that see at least `images` images."""
  return max(int(math.ceil(images / batch_size)), 0)


def schedule(cfg, batch_size: int, total_images: int,
             field: str = "config.optim") -> optax.Schedule:
  """The learning-rate schedule described by `cfg` (the config group named
  `field`, for errors), per step."""
  if cfg.lr <= 0:
    raise ValueError(f"{field}.lr={cfg.lr}: the learning rate must be "
                     "> 0, e.g. 1e-3.")
  if cfg.schedule not in SCHEDULES:
    raise ValueError(f"{field}.schedule={cfg.schedule!r}: valid "
                     f"schedules are {', '.join(SCHEDULES)}.")
  total = max(steps_for(total_images, batch_size), 1)
  warmup = steps_for(cfg.warmup_images, batch_size)
  if cfg.schedule == "constant":
    main = optax.constant_schedule(cfg.lr)
  elif cfg.schedule == "step":
    if cfg.decay_every_images <= 0 or not 0 < cfg.decay_factor:
      raise ValueError(
          f"{field}: the step schedule needs decay_every_images > 0 and "
          f"decay_factor > 0, got {cfg.decay_every_images} and "
          f"{cfg.decay_factor}.")
    decay = optax.exponential_decay(
        cfg.lr, transition_steps=max(cfg.decay_every_images / batch_size, 1e-9),
        decay_rate=cfg.decay_factor, staircase=True)
    # join_schedules restarts the count after warm-up; decays stay on the
    # absolute number of images seen.
    main = lambda count: decay(count + warmup)
  else:
    main = optax.cosine_decay_schedule(
        cfg.lr, decay_steps=max(total - warmup, 1), alpha=cfg.final_fraction)
  if warmup <= 0:
    return main
  return optax.join_schedules(
      [optax.linear_schedule(0.0, cfg.lr, warmup), main], [warmup])


def optimizer(cfg, lr_schedule: optax.Schedule,
              field: str = "config.optim") -> optax.GradientTransformation:
  """The optimizer described by `cfg` (the config group named `field`)."""
  if cfg.name not in OPTIMIZERS:
    raise ValueError(f"{field}.name={cfg.name!r}: valid optimizers are "
                     f"{', '.join(OPTIMIZERS)}.")
  if cfg.weight_decay < 0:
    raise ValueError(f"{field}.weight_decay={cfg.weight_decay}: must be "
                     ">= 0.")
  if cfg.name == "adam" and cfg.weight_decay > 0:
    raise ValueError(f"{field}.weight_decay > 0 with name='adam': use "
                     "name='adamw' for (decoupled) weight decay.")
  parts = []
  if cfg.grad_clip > 0:
    parts.append(optax.clip_by_global_norm(cfg.grad_clip))
  if cfg.name == "sgd":
    if cfg.momentum > 0:
      parts.append(optax.trace(decay=cfg.momentum, nesterov=cfg.nesterov))
  else:
    parts.append(optax.scale_by_adam(b1=cfg.b1, b2=cfg.b2, eps=cfg.eps))
  if cfg.weight_decay > 0:
    parts.append(optax.add_decayed_weights(cfg.weight_decay))
  mult = float(cfg.get("lr_mult", 1.0))
  prefixes = tuple(cfg.get("lr_mult_prefixes", ()))
  if mult <= 0:
    raise ValueError(f"{field}.lr_mult={mult}: must be > 0 (1: every "
                     "parameter at lr).")
  if mult == 1.0 or not prefixes:
    parts.append(optax.scale_by_learning_rate(lr_schedule))
    return optax.chain(*parts)
  scaled = lambda count: mult * lr_schedule(count)
  parts.append(optax.multi_transform(
      {"base": optax.scale_by_learning_rate(lr_schedule),
       "mult": optax.scale_by_learning_rate(scaled)},
      lambda params: module_labels(params, prefixes, field)))
  return optax.chain(*parts)


def module_labels(params, prefixes: tuple[str, ...],
                  field: str = "config.optim"):
  """'mult' for every leaf under a module whose name starts with one of
  `prefixes`, 'base' for the rest (optax.multi_transform's labels); raises
  when no leaf is 'mult' (a misspelt prefix would silently do nothing)."""
  def label(path, _):
    names = [str(getattr(k, "key", k)) for k in path]
    return "mult" if any(n.startswith(prefixes) for n in names) else "base"
  labels = jax.tree_util.tree_map_with_path(label, params)
  if "mult" not in jax.tree_util.tree_leaves(labels):
    tops = sorted({str(getattr(p[0], "key", p[0])) for p, _ in
                   jax.tree_util.tree_leaves_with_path(params)})
    raise ValueError(
        f"{field}.lr_mult_prefixes={prefixes}: no module's name starts with "
        f"these; the model's top-level modules are {', '.join(tops)}.")
  return labels
