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
  params = model.init(jax.random.fold_in(rng, TAG_INIT), dummy,
                      **told(model, 0.0))["params"]
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    opt_state=tx.init(params))


def told(model: nn.Module, sigma) -> dict:
  """Keyword arguments that give a denoiser the noise level σ (0-255) when
  it is told it (models.Autoencoder.noise_map); none for any other."""
  return {"sigma": sigma} if getattr(model, "noise_map", False) else {}


def step_key(rng: jax.Array, step: jax.Array, tag: int) -> jax.Array:
  return jax.random.fold_in(jax.random.fold_in(rng, step), tag)


def keep_if_finite(loss: jax.Array, grad_norm: jax.Array, new, old):
  """(`new` if the loss and the gradient norm are finite, else `old`: the
  update is skipped; 1.0 when skipped, else 0.0). For
  config.train.skip_nonfinite; the step counters advance either way, so the
  data and noise of later steps do not change."""
  ok = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
  kept = jax.tree_util.tree_map(lambda n, o: jnp.where(ok, n, o), new, old)
  return kept, 1.0 - ok.astype(jnp.float32)


def ae_train_step(state: TrainState, batch: jax.Array, rng: jax.Array, *,
                  model: nn.Module, tx: optax.GradientTransformation,
                  lr_fn: optax.Schedule, noise_spec: noise_lib.NoiseSpec,
                  ssd_weight: float, l1_weight: float,
                  sigma_power: float = 0.0, sigma_floor: float = 5.0,
                  skip_nonfinite: bool = False):
  """One autoencoder update on clean images `batch` (B, H, W, C) in [0, 1].

  The batch is corrupted here, from `fold_in(rng, step)`. With
  `sigma_power` > 0 each crop's loss is weighted by its noise level
  (losses.sigma_weights).

  Returns:
    (new state, metrics): metrics are scalars 'ae/loss', 'ae/ssd', 'ae/l1',
    'ae/psnr' (of the clipped output), 'ae/psnr_noisy', 'grad_norm',
    'param_norm' (after the update), 'lr', and with `skip_nonfinite`
    'skipped' (1.0: the update had a non-finite loss or gradient and was not
    applied, `keep_if_finite`).
  """
  noisy, sigma = noise_lib.apply_with_sigma(
      batch, step_key(rng, state.step, TAG_NOISE), noise_spec)
  dropout_rng = step_key(rng, state.step, TAG_DROPOUT)
  weights = (losses.sigma_weights(sigma, sigma_power, sigma_floor)
             if sigma_power else None)

  def loss_fn(params):
    out = model.apply({"params": params}, noisy, train=True,
                      rngs={"dropout": dropout_rng}, **told(model, sigma))
    loss, parts = losses.reconstruction(out, batch, ssd_weight, l1_weight,
                                        weights)
    return loss, (parts, out)

  (loss, (parts, out)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  grad_norm = optax.global_norm(grads)
  extra = {}
  if skip_nonfinite:
    (params, opt_state), extra["skipped"] = keep_if_finite(
        loss, grad_norm, (params, opt_state), (state.params, state.opt_state))
  metrics = {
      "ae/loss": loss,
      "ae/ssd": parts["ssd"],
      "ae/l1": parts["l1"],
      "ae/psnr": jnp.mean(losses.psnr(out, batch, axis=(1, 2, 3))),
      "ae/psnr_noisy": jnp.mean(losses.psnr(noisy, batch, axis=(1, 2, 3))),
      "grad_norm": grad_norm,
      # Of the updated parameters: an update that overflows is caught before
      # those parameters can be checkpointed.
      "param_norm": optax.global_norm(params),
      "lr": lr_fn(state.step),
      **extra,
  }
  new_state = state.replace(step=state.step + 1, params=params,
                            opt_state=opt_state)
  return new_state, metrics


def denoise(params, noisy: jax.Array, sigma=None, *,
            model: nn.Module) -> jax.Array:
  """Model output for a noisy batch (deterministic: no dropout); `sigma`
  (0-255, scalar or (B,)) for a model told the noise level."""
  return model.apply({"params": params}, noisy, train=False,
                     **told(model, sigma))


def eval_images(params, clean: jax.Array, noisy: jax.Array, *,
                model: nn.Module, ssd_weight: float, l1_weight: float,
                sigma: float | None = None):
  """Validation loss and PSNR of each of N full images (N, H, W, C), each
  image's loss a mean over its own pixels (per-example, for
  ddn.parallel.BatchMap); `sigma` the noise level they carry.

  Returns:
    (outputs (N, H, W, C), {'loss': (N,), 'psnr': (N,)}).
  """
  out = denoise(params, noisy, sigma, model=model)
  loss = jax.vmap(lambda o, c: losses.reconstruction(
      o[None], c[None], ssd_weight, l1_weight)[0])(out, clean)
  return out, {"loss": loss, "psnr": losses.psnr(out, clean, axis=(1, 2, 3))}


def make_ae_train_step(model, tx, lr_fn, noise_spec, loss_cfg, shardings=None,
                       skip_nonfinite: bool = False):
  """Jitted autoencoder step with state donation.

  Args:
    shardings: optional (state_sharding, batch_sharding, replicated) for a
      data-parallel mesh; the step's code is the same either way.
    skip_nonfinite: skip updates with a non-finite loss or gradient.
  """
  fn = functools.partial(ae_train_step, model=model, tx=tx, lr_fn=lr_fn,
                         noise_spec=noise_spec,
                         ssd_weight=float(loss_cfg.ssd_weight),
                         l1_weight=float(loss_cfg.l1_weight),
                         sigma_power=float(loss_cfg.sigma_power),
                         sigma_floor=float(loss_cfg.sigma_floor),
                         skip_nonfinite=skip_nonfinite)
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
  den = denoiser.init(jax.random.fold_in(key, 1), dummy,
                      **told(denoiser, 0.0))["params"]
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
  noisy, sigma = noise_lib.apply_with_sigma(src, key, noise_spec)
  fake = denoiser.apply({"params": denoiser_params}, noisy, train=False,
                        **told(denoiser, sigma))
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
                          margin: float, skip_nonfinite: bool = False):
  """One classifier update on clean images `batch` (B, H, W, C) in [0, 1]:
  the first half is shown as real, the second is noised (from
  `fold_in(rng, step)`), denoised by the frozen autoencoder and shown as
  denoised, all in one classifier call.

  Returns:
    (new state, metrics): 'd/loss', 'd/err_real', 'd/err_denoised', 'd/err',
    'd/acc_real', 'd/acc_denoised', 'd/acc', 'd/u_real', 'd/u_denoised',
    'd/psnr_denoised', 'grad_norm', 'param_norm', 'lr' (and 'skipped' with
    `skip_nonfinite`, as in ae_train_step).
  """
  x, y, psnr = real_and_denoised(
      state.denoiser, batch, step_key(rng, state.step, TAG_NOISE),
      denoiser=denoiser, noise_spec=noise_spec)
  params, stats, opt_state, value, u, extra = disc_update(
      state.params, state.stats, state.opt_state, x, y,
      step_key(rng, state.step, TAG_DROPOUT), disc=disc, tx=tx, loss=loss,
      margin=margin, skip_nonfinite=skip_nonfinite)
  metrics = {"d/loss": value, "d/psnr_denoised": psnr, **extra,
             "param_norm": optax.global_norm(params), "lr": lr_fn(state.step)}
  metrics.update({f"d/{k}": v for k, v in
                  losses.classification_metrics(u, y).items()})
  new_state = state.replace(step=state.step + 1, params=params, stats=stats,
                            opt_state=opt_state)
  return new_state, metrics


def disc_update(params, stats, opt_state, x: jax.Array, y: jax.Array,
                dropout_rng: jax.Array, *, disc: nn.Module,
                tx: optax.GradientTransformation, loss: str, margin: float,
                skip_nonfinite: bool = False):
  """One classifier update on images x with labels y, in one call (the
  spectral-norm state advances one power iteration); with `skip_nonfinite`
  an update with a non-finite loss or gradient is not applied
  (`keep_if_finite`).

  Returns:
    (params, stats, opt_state, loss value, scores u, {'grad_norm', and
     'skipped' with skip_nonfinite}).
  """
  def loss_fn(p):
    u, updates = disc.apply({"params": p, STATS: stats}, x, train=True,
                            mutable=[STATS], rngs={"dropout": dropout_rng})
    return losses.disc_loss(loss, u, y, margin), (u, updates)

  (value, (u, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      params)
  tx_updates, new_opt_state = tx.update(grads, opt_state, params)
  new = (optax.apply_updates(params, tx_updates), updates.get(STATS, stats),
         new_opt_state)
  extra = {"grad_norm": optax.global_norm(grads)}
  if skip_nonfinite:
    new, extra["skipped"] = keep_if_finite(value, extra["grad_norm"], new,
                                           (params, stats, opt_state))
  return (*new, value, u, extra)


def classify(params, stats, x: jax.Array, *, disc: nn.Module) -> jax.Array:
  """Scores u (B,) or (B, H', W') in evaluation mode (no state update)."""
  return disc.apply({"params": params, STATS: stats}, x, train=False)


def make_classifier_train_step(disc, denoiser, tx, lr_fn, noise_spec, disc_cfg,
                               shardings=None, skip_nonfinite: bool = False):
  """Jitted classifier step with state donation (see make_ae_train_step)."""
  fn = functools.partial(classifier_train_step, disc=disc, denoiser=denoiser,
                         tx=tx, lr_fn=lr_fn, noise_spec=noise_spec,
                         loss=disc_cfg.loss, margin=float(disc_cfg.margin),
                         skip_nonfinite=skip_nonfinite)
  return _jit_step(fn, shardings)


# ----------------------------------------------------------------------------
# Adversarial training: a generator G (the denoiser) and a discriminator D
# (a classifier of ddn.discriminators), each with its own jitted step over
# one state. D steps touch only the d_* fields, G steps only the G fields.

TAG_D_NOISE, TAG_D_DROPOUT = 4, 5


@flax.struct.dataclass
class AdversarialState:
  step: jax.Array  # int32: finished iterations (n_d D steps + n_g G steps)
  g_step: jax.Array  # int32: G updates taken (keys G's noise and dropout)
  params: Any  # G (named as in TrainState: init_from and evaluation read it)
  opt_state: Any  # G's optimizer
  ema: Any  # exponential moving average of G's params; {} when off
  ref: Any  # G before the adversarial phase (frozen: the "no adversary" G)
  d_step: jax.Array  # int32: D updates taken (keys D's noise and dropout)
  d_params: Any
  d_stats: Any  # D's spectral-norm state; {} without spectral norm
  d_opt_state: Any


def init_adversarial_state(rng: jax.Array, g: nn.Module, disc: nn.Module,
                           g_tx: optax.GradientTransformation,
                           d_tx: optax.GradientTransformation, crop: int,
                           ema: bool) -> AdversarialState:
  """A fresh state; `jax.eval_shape` of it is the checkpoint restore target."""
  key = jax.random.fold_in(rng, TAG_INIT)
  dummy = jnp.zeros((1, crop, crop, g.channels), jnp.float32)
  params = g.init(key, dummy, **told(g, 0.0))["params"]
  variables = disc.init(jax.random.fold_in(key, 1), dummy)
  d_params = variables["params"]
  zero = jnp.zeros((), jnp.int32)
  copy = lambda t: jax.tree_util.tree_map(jnp.copy, t)
  return AdversarialState(
      step=zero, g_step=zero, params=params, opt_state=g_tx.init(params),
      ema=copy(params) if ema else {}, ref=copy(params), d_step=zero,
      d_params=d_params, d_stats=variables.get(STATS, {}),
      d_opt_state=d_tx.init(d_params))


def d_train_step(state: AdversarialState, batch: jax.Array, rng: jax.Array, *,
                 g: nn.Module, disc: nn.Module,
                 tx: optax.GradientTransformation, lr_fn: optax.Schedule,
                 noise_spec: noise_lib.NoiseSpec, loss: str, margin: float,
                 skip_nonfinite: bool = False):
  """One D update on clean images `batch` (B, H, W, C): the B clean images
  (real) and G's outputs for their noisy versions (noise from
  `fold_in(rng, d_step)`; G in evaluation mode, clipped to [0, 1], no
  gradient to G) go through D in one call of 2B images, each real image
  next to its denoised version.

  Returns:
    (new state, metrics 'd/loss', 'd/err*', 'd/acc_real', 'd/acc_fake',
     'd/acc', 'd/u_real', 'd/u_fake', 'd/grad_norm', 'd/lr', and
     'd/skipped' with `skip_nonfinite`, as in ae_train_step).
  """
  noisy, sigma = noise_lib.apply_with_sigma(
      batch, step_key(rng, state.d_step, TAG_D_NOISE), noise_spec)
  fake = g.apply({"params": state.params}, noisy, train=False,
                 **told(g, sigma))
  fake = jnp.clip(jax.lax.stop_gradient(fake), 0.0, 1.0)
  # Interleaved (real 0, fake 0, real 1, ...), not concatenated: each device
  # then scores its own rows, with no resharding of images between devices.
  n = batch.shape[0]
  x = jnp.stack([batch, fake], axis=1).reshape((2 * n,) + batch.shape[1:])
  y = jnp.tile(jnp.array([losses.REAL, losses.DENOISED], jnp.float32), n)
  params, stats, opt_state, value, u, extra = disc_update(
      state.d_params, state.d_stats, state.d_opt_state, x, y,
      step_key(rng, state.d_step, TAG_D_DROPOUT), disc=disc, tx=tx, loss=loss,
      margin=margin, skip_nonfinite=skip_nonfinite)
  cm = losses.classification_metrics(u, y)
  metrics = {"d/loss": value, **{f"d/{k}": v for k, v in extra.items()},
             "d/lr": lr_fn(state.d_step),
             "d/err": cm["err"], "d/err_real": cm["err_real"],
             "d/err_fake": cm["err_denoised"], "d/acc": cm["acc"],
             "d/acc_real": cm["acc_real"], "d/acc_fake": cm["acc_denoised"],
             "d/u_real": cm["u_real"], "d/u_fake": cm["u_denoised"]}
  new_state = state.replace(d_step=state.d_step + 1, d_params=params,
                            d_stats=stats, d_opt_state=opt_state)
  return new_state, metrics


def g_train_step(state: AdversarialState, batch: jax.Array, rng: jax.Array, *,
                 g: nn.Module, disc: nn.Module | None,
                 tx: optax.GradientTransformation, lr_fn: optax.Schedule,
                 noise_spec: noise_lib.NoiseSpec, ssd_weight: float,
                 l1_weight: float, adv_weight: float, g_loss: str,
                 margin: float, ema_decay: float, n_g: int,
                 adaptive: bool = False, max_weight: float = 0.0,
                 sigma_power: float = 0.0, sigma_floor: float = 5.0,
                 skip_nonfinite: bool = False):
  """One G update on clean images `batch`: loss = a·SSD + b·L1 of G(noisy)
  vs clean (the "Pred" term) + λ · generator_loss(u(G(noisy))), with
  λ = adv_weight, or with `adaptive` (VQGAN's rule) λ = adv_weight ·
  |∇ Pred| / |∇ adversarial| at G's last layer (no gradient through λ),
  at most `max_weight` when that is > 0. `sigma_power` weighs each crop's
  Pred term by its noise level, as in ae_train_step.

  Noise and dropout come from `fold_in(rng, g_step)` with the autoencoder
  step's tags, so with adv_weight = 0 this is the autoencoder step. D is
  applied in evaluation mode (its spectral-norm state is read, not advanced)
  and only G's parameters get gradients. `disc=None` is the reconstruction
  warm-up: no D call at all.

  Returns:
    (new state, metrics 'g/loss', 'g/pred', 'g/ssd', 'g/l1', 'g/adv',
     'g/u_fake', 'g/adv_weight' (λ), 'g/grad_ratio', 'g/psnr', 'grad_norm',
     'param_norm', 'lr', and 'skipped' with `skip_nonfinite`, as in
     ae_train_step).
  """
  noisy, sigma = noise_lib.apply_with_sigma(
      batch, step_key(rng, state.g_step, TAG_NOISE), noise_spec)
  dropout_rng = step_key(rng, state.g_step, TAG_DROPOUT)
  weights = (losses.sigma_weights(sigma, sigma_power, sigma_floor)
             if sigma_power else None)

  def terms(params):
    out = g.apply({"params": params}, noisy, train=True,
                  rngs={"dropout": dropout_rng}, **told(g, sigma))
    pred, parts = losses.reconstruction(out, batch, ssd_weight, l1_weight,
                                        weights)
    if disc is None:
      return (pred, jnp.zeros(())), (parts, out, jnp.zeros(()))
    u = disc.apply({"params": state.d_params, STATS: state.d_stats},
                   jnp.clip(out, 0.0, 1.0), train=False)
    adv = losses.generator_loss(g_loss, u, margin)
    return (pred, adv), (parts, out, jnp.mean(u))

  (pred, adv), vjp, (parts, out, u_fake) = jax.vjp(terms, state.params,
                                                   has_aux=True)
  grads, weight, ratio = weighted_gradient(
      vjp, disc is not None, adv_weight, adaptive, max_weight)
  loss = pred + weight * adv
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  ema = state.ema
  if ema_decay > 0:
    ema = jax.tree_util.tree_map(
        lambda e, p: ema_decay * e + (1.0 - ema_decay) * p, ema, params)
  grad_norm = optax.global_norm(grads)
  extra = {}
  if skip_nonfinite:
    (params, opt_state, ema), extra["skipped"] = keep_if_finite(
        loss, grad_norm, (params, opt_state, ema),
        (state.params, state.opt_state, state.ema))
  metrics = {"g/loss": loss, "g/pred": pred, "g/ssd": parts["ssd"],
             "g/l1": parts["l1"], **extra,
             "g/psnr": jnp.mean(losses.psnr(out, batch, axis=(1, 2, 3))),
             "grad_norm": grad_norm,
             "param_norm": optax.global_norm(params),
             "lr": lr_fn(state.g_step)}
  if disc is not None:
    # grad_ratio: the adversarial term's push against reconstruction's at
    # G's last layer (|λ ∇adv| / |∇pred|); ~0: the adversary does nothing.
    metrics.update({"g/adv": adv, "g/u_fake": u_fake, "g/adv_weight": weight,
                    "g/grad_ratio": ratio})
  g_step = state.g_step + 1
  new_state = state.replace(
      step=state.step + (g_step % n_g == 0).astype(jnp.int32), g_step=g_step,
      params=params, opt_state=opt_state, ema=ema)
  return new_state, metrics


def weighted_gradient(vjp, adversary: bool, adv_weight: float,
                      adaptive: bool, max_weight: float = 0.0):
  """∇Pred + λ ∇adv from `vjp` of (Pred, adv), one backward pass per term,
  so λ can be set from (and the logs can show) the two gradients at G's
  last layer. An adaptive λ is at most `max_weight` (when > 0): when D
  falls to chance its gradient shrinks and the rule alone would scale that
  uninformative gradient up to the push. Returns (gradient, λ,
  |λ ∇adv| / |∇Pred| at the last layer)."""
  one, zero = jnp.ones(()), jnp.zeros(())
  (g_pred,) = vjp((one, zero))
  if not adversary:
    return g_pred, zero, zero
  (g_adv,) = vjp((zero, one))
  head = last_layer(g_pred)
  pred_norm = optax.global_norm(g_pred[head])
  adv_norm = optax.global_norm(g_adv[head])
  weight = adv_weight * (jax.lax.stop_gradient(
      jnp.minimum(pred_norm / (adv_norm + 1e-8), 1e4)) if adaptive else 1.0)
  if adaptive and max_weight > 0:
    weight = jnp.minimum(weight, max_weight)
  grads = jax.tree_util.tree_map(lambda a, b: a + weight * b, g_pred, g_adv)
  return grads, weight, weight * adv_norm / (pred_norm + 1e-12)


def last_layer(params) -> str:
  """The name of a denoiser's output layer in its parameter tree."""
  return "head" if "head" in params else list(params)[-1]


def snapshot_ref(state: AdversarialState) -> AdversarialState:
  """Keeps the current G as the "no adversary" reference."""
  return state.replace(ref=jax.tree_util.tree_map(jnp.copy, state.params))


def make_adversarial_steps(g, disc, g_tx, g_lr_fn, d_tx, d_lr_fn, noise_spec,
                           config, shardings=None):
  """The jitted steps of one iteration, each with state donation:
  {'d': D step, 'g': G step with the adversarial term, 'g_rec': G step on
  reconstruction alone (warm-ups), 'ref': snapshot_ref}.

  The steps take the iteration's stacked batches (n_d + n_g, B, H, W, C):
  the i-th D step of an iteration uses batch i = d_step mod n_d, the G steps
  the batches after those.
  """
  a, lc = config.adv, config.loss
  n_d, n_g = int(a.n_d), int(a.n_g)
  skip = config.train.skip_nonfinite > 0
  d_fn = functools.partial(
      d_train_step, g=g, disc=disc, tx=d_tx, lr_fn=d_lr_fn,
      noise_spec=noise_spec, loss=config.disc.loss,
      margin=float(config.disc.margin), skip_nonfinite=skip)
  g_kw = dict(g=g, tx=g_tx, lr_fn=g_lr_fn, noise_spec=noise_spec,
              ssd_weight=float(lc.ssd_weight), l1_weight=float(lc.l1_weight),
              adv_weight=float(a.weight), g_loss=a.g_loss,
              margin=float(config.disc.margin), ema_decay=float(a.ema_decay),
              n_g=n_g, adaptive=bool(a.adaptive),
              max_weight=float(a.get("max_weight", 0.0)),
              sigma_power=float(lc.sigma_power),
              sigma_floor=float(lc.sigma_floor), skip_nonfinite=skip)
  g_fn = functools.partial(g_train_step, disc=disc, **g_kw)
  g_rec_fn = functools.partial(g_train_step, disc=None, **g_kw)

  def on_stack(fn, pick):
    return lambda state, stack, rng: fn(state, stack[pick(state)], rng)

  d_pick = lambda s: s.d_step % n_d
  g_pick = lambda s: n_d + s.g_step % n_g
  if shardings is None:
    jit = lambda f: jax.jit(f, donate_argnums=(0,))
    ref = jax.jit(snapshot_ref, donate_argnums=(0,))
  else:
    state_sh, stack_sh, repl = shardings
    jit = lambda f: jax.jit(f, donate_argnums=(0,),
                            in_shardings=(state_sh, stack_sh, repl),
                            out_shardings=(state_sh, repl))
    ref = jax.jit(snapshot_ref, donate_argnums=(0,), in_shardings=(state_sh,),
                  out_shardings=state_sh)
  return {"d": jit(on_stack(d_fn, d_pick)), "g": jit(on_stack(g_fn, g_pick)),
          "g_rec": jit(on_stack(g_rec_fn, g_pick)), "ref": ref}
