"""Array-only training state and the jitted steps (pure functions).

Randomness is derived, never stored: the step's key is
`fold_in(fold_in(rng, state.step), TAG)` with one tag per use, so a resumed
run draws the same noise. Steps take `(state, batch, rng)` and return
`(state, metrics)`; static settings (model, optimizer, noise, loss weights)
are bound with `functools.partial` before `jax.jit`.
"""

from __future__ import annotations

import functools
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from ddn import discriminators
from ddn import losses
from ddn import noise as noise_lib

TAG_NOISE, TAG_DROPOUT, TAG_INIT = 1, 2, 3
STATS = discriminators.STATS  # flax collection of the spectral-norm state


@flax.struct.dataclass
class TrainState:
  step: jax.Array  # int32 scalar: optimizer steps taken
  params: Any
  opt_state: Any


def init_state(rng: jax.Array, model: nn.Module, tx: optax.GradientTransformation,
               crop: int) -> TrainState:
  """A fresh state; `jax.eval_shape` of it is the checkpoint restore target."""
  dummy = jnp.zeros((1, crop, crop, model.channels), jnp.float32)
  params = model.init(jax.random.fold_in(rng, TAG_INIT), dummy)["params"]
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    opt_state=tx.init(params))


def step_key(rng: jax.Array, step: jax.Array, tag: int) -> jax.Array:
  return jax.random.fold_in(jax.random.fold_in(rng, step), tag)


def ae_train_step(state: TrainState, batch: jax.Array, rng: jax.Array, *,
                  model: nn.Module, tx: optax.GradientTransformation,
                  lr_fn: optax.Schedule, noise_spec: noise_lib.NoiseSpec,
                  ssd_weight: float, l1_weight: float):
  """One autoencoder update on clean images `batch` (B, H, W, C) in [0, 1].

  The batch is corrupted here, from `fold_in(rng, step)`.

  Returns:
    (new state, metrics): metrics are scalars 'ae/loss', 'ae/ssd', 'ae/l1',
    'ae/psnr' (of the clipped output), 'ae/psnr_noisy', 'grad_norm',
    'param_norm' (after the update), 'lr'.
  """
  noisy = noise_lib.apply(batch, step_key(rng, state.step, TAG_NOISE),
                          noise_spec)
  dropout_rng = step_key(rng, state.step, TAG_DROPOUT)

  def loss_fn(params):
    out = model.apply({"params": params}, noisy, train=True,
                      rngs={"dropout": dropout_rng})
    loss, parts = losses.reconstruction(out, batch, ssd_weight, l1_weight)
    return loss, (parts, out)

  (loss, (parts, out)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  metrics = {
      "ae/loss": loss,
      "ae/ssd": parts["ssd"],
      "ae/l1": parts["l1"],
      "ae/psnr": jnp.mean(losses.psnr(out, batch, axis=(1, 2, 3))),
      "ae/psnr_noisy": jnp.mean(losses.psnr(noisy, batch, axis=(1, 2, 3))),
      "grad_norm": optax.global_norm(grads),
      # Of the updated parameters: an update that overflows is caught before
      # those parameters can be checkpointed.
      "param_norm": optax.global_norm(params),
      "lr": lr_fn(state.step),
  }
  new_state = state.replace(step=state.step + 1, params=params,
                            opt_state=opt_state)
  return new_state, metrics


def denoise(params, noisy: jax.Array, *, model: nn.Module) -> jax.Array:
  """Model output for a noisy batch (deterministic: no dropout)."""
  return model.apply({"params": params}, noisy, train=False)


def eval_step(params, clean: jax.Array, noisy: jax.Array, *, model: nn.Module,
              ssd_weight: float, l1_weight: float):
  """Validation loss and PSNR of one full image (1, H, W, C).

  Returns:
    (output (1, H, W, C), {'loss', 'psnr'}).
  """
  out = denoise(params, noisy, model=model)
  loss, _ = losses.reconstruction(out, clean, ssd_weight, l1_weight)
  return out, {"loss": loss, "psnr": losses.psnr(out, clean)}


def make_ae_train_step(model, tx, lr_fn, noise_spec, loss_cfg, shardings=None):
  """Jitted autoencoder step with state donation.

  Args:
    shardings: optional (state_sharding, batch_sharding, replicated) for a
      data-parallel mesh; the step's code is the same either way.
  """
  fn = functools.partial(ae_train_step, model=model, tx=tx, lr_fn=lr_fn,
                         noise_spec=noise_spec,
                         ssd_weight=float(loss_cfg.ssd_weight),
                         l1_weight=float(loss_cfg.l1_weight))
  return _jit_step(fn, shardings)


def _jit_step(fn, shardings):
  if shardings is None:
    return jax.jit(fn, donate_argnums=(0,))
  state_sh, batch_sh, repl = shardings
  return jax.jit(fn, donate_argnums=(0,),
                 in_shardings=(state_sh, batch_sh, repl),
                 out_shardings=(state_sh, repl))


# ----------------------------------------------------------------------------
# Real-vs-denoised classifier.


@flax.struct.dataclass
class ClassifierState:
  step: jax.Array  # int32 scalar: optimizer steps taken
  params: Any  # classifier parameters
  stats: Any  # spectral-norm state (u, sigma); {} without spectral norm
  opt_state: Any
  denoiser: Any  # the frozen autoencoder's parameters (never updated)


def init_classifier_state(rng: jax.Array, disc: nn.Module, denoiser: nn.Module,
                          tx: optax.GradientTransformation, crop: int
                          ) -> ClassifierState:
  """A fresh state whose denoiser parameters are placeholders of the right
  shapes (the caller loads the trained ones); `jax.eval_shape` of it is the
  checkpoint restore target."""
  key = jax.random.fold_in(rng, TAG_INIT)
  variables = disc.init(key, jnp.zeros((1, crop, crop, disc.channels)))
  params = variables["params"]
  stats = variables.get(STATS, {})
  dummy = jnp.zeros((1, crop, crop, denoiser.channels), jnp.float32)
  den = denoiser.init(jax.random.fold_in(key, 1), dummy)["params"]
  return ClassifierState(step=jnp.zeros((), jnp.int32), params=params,
                         stats=stats, opt_state=tx.init(params), denoiser=den)


def real_and_denoised(denoiser_params, clean: jax.Array, key: jax.Array, *,
                      denoiser: nn.Module, noise_spec: noise_lib.NoiseSpec):
  """Splits clean images (B, H, W, C) into B // 2 real ones and B - B // 2
  denoised ones (made from the other half, freshly noised with `key`).

  The denoised images are clipped to [0, 1], as they would be saved: values
  outside the range would give them away.

  Returns:
    (x (B, H, W, C): real then denoised, y (B,): +1 real, -1 denoised,
     PSNR (dB) of the denoised half against its clean images).
  """
  half = clean.shape[0] // 2
  src = clean[half:]
  noisy = noise_lib.apply(src, key, noise_spec)
  fake = denoiser.apply({"params": denoiser_params}, noisy, train=False)
  fake = jnp.clip(jax.lax.stop_gradient(fake), 0.0, 1.0)
  x = jnp.concatenate([clean[:half], fake], axis=0)
  y = jnp.concatenate([jnp.full((half,), losses.REAL),
                       jnp.full((src.shape[0],), losses.DENOISED)])
  return x, y, jnp.mean(losses.psnr(fake, src, axis=(1, 2, 3)))


def classifier_train_step(state: ClassifierState, batch: jax.Array,
                          rng: jax.Array, *, disc: nn.Module,
                          denoiser: nn.Module, tx: optax.GradientTransformation,
                          lr_fn: optax.Schedule,
                          noise_spec: noise_lib.NoiseSpec, loss: str,
                          margin: float):
  """One classifier update on clean images `batch` (B, H, W, C) in [0, 1]:
  the first half is shown as real, the second is noised (from
  `fold_in(rng, step)`), denoised by the frozen autoencoder and shown as
  denoised, all in one classifier call.

  Returns:
    (new state, metrics): 'd/loss', 'd/err_real', 'd/err_denoised', 'd/err',
    'd/acc_real', 'd/acc_denoised', 'd/acc', 'd/u_real', 'd/u_denoised',
    'd/psnr_denoised', 'grad_norm', 'param_norm', 'lr'.
  """
  x, y, psnr = real_and_denoised(
      state.denoiser, batch, step_key(rng, state.step, TAG_NOISE),
      denoiser=denoiser, noise_spec=noise_spec)
  dropout_rng = step_key(rng, state.step, TAG_DROPOUT)

  def loss_fn(params):
    u, updates = disc.apply({"params": params, STATS: state.stats}, x,
                            train=True, mutable=[STATS],
                            rngs={"dropout": dropout_rng})
    return losses.disc_loss(loss, u, y, margin), (u, updates)

  (value, (u, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params)
  tx_updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, tx_updates)
  metrics = {"d/loss": value, "d/psnr_denoised": psnr,
             "grad_norm": optax.global_norm(grads),
             "param_norm": optax.global_norm(params), "lr": lr_fn(state.step)}
  metrics.update({f"d/{k}": v for k, v in
                  losses.classification_metrics(u, y).items()})
  new_state = state.replace(step=state.step + 1, params=params,
                            stats=updates.get(STATS, state.stats),
                            opt_state=opt_state)
  return new_state, metrics


def classify(params, stats, x: jax.Array, *, disc: nn.Module) -> jax.Array:
  """Scores u (B,) or (B, H', W') in evaluation mode (no state update)."""
  return disc.apply({"params": params, STATS: stats}, x, train=False)


def make_classifier_train_step(disc, denoiser, tx, lr_fn, noise_spec, disc_cfg,
                               shardings=None):
  """Jitted classifier step with state donation (see make_ae_train_step)."""
  fn = functools.partial(classifier_train_step, disc=disc, denoiser=denoiser,
                         tx=tx, lr_fn=lr_fn, noise_spec=noise_spec,
                         loss=disc_cfg.loss, margin=float(disc_cfg.margin))
  return _jit_step(fn, shardings)
