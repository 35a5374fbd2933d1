"""What the tasks' jitted steps share (pure functions): keys, the
non-finite guard, a denoiser's and a discriminator's apply and update.

Each task module (ddn.tasks.*) owns its array-only state and its steps.
Randomness is derived, never stored: the step's key is
`fold_in(fold_in(rng, state.step), TAG)` with one tag per use, so a resumed
run draws the same noise. Steps take `(state, batch, rng)` and return
`(state, metrics)`; static settings (model, optimizer, noise, loss weights)
are bound with `functools.partial` before `jax.jit` (`jit_step`).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from ddn import discriminators
from ddn import losses

TAG_NOISE, TAG_DROPOUT, TAG_INIT = 1, 2, 3
TAG_Z = 6  # the random input of a denoiser that samples (noise_input)
# The z of evaluation during training: one fixed draw, so validation PSNR
# and pictures show one sample, the same at every evaluation.
EVAL_Z_SEED = 7
STATS = discriminators.STATS  # flax collection of the spectral-norm state


def told(model: nn.Module, sigma) -> dict:
  """Keyword arguments that give a denoiser the noise level σ (0-255) when
  it is told it (models.Autoencoder.noise_map); none for any other."""
  return {"sigma": sigma} if getattr(model, "noise_map", False) else {}


def samples(model: nn.Module) -> bool:
  """Whether a denoiser takes a random input z (Autoencoder.noise_input)."""
  return getattr(model, "noise_input", 0) > 0


def z_rngs(model: nn.Module, key: jax.Array) -> dict:
  """The rng streams that give a denoiser that samples its random input z
  (`{'z': key}`); none for any other. Merge with 'dropout' when training."""
  return {"z": key} if samples(model) else {}


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


def denoise(params, noisy: jax.Array, sigma=None, *, model: nn.Module,
            z_key: jax.Array | None = None,
            z: jax.Array | None = None) -> jax.Array:
  """Model output for a noisy batch (no dropout); `sigma` (0-255, scalar
  or (B,)) for a model told the noise level. A model that samples is
  given `z` (B, H, W, noise_input), or draws it from `z_key`, by default
  the fixed PRNGKey(EVAL_Z_SEED): one sample, the same for the same batch
  shape. Other models ignore both."""
  kw, rngs = told(model, sigma), {}
  if samples(model) and z is not None:
    kw["z"] = z
  elif samples(model):
    rngs = z_rngs(model, jax.random.PRNGKey(EVAL_Z_SEED) if z_key is None
                  else z_key)
  return model.apply({"params": params}, noisy, train=False, rngs=rngs, **kw)


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


def jit_step(fn, shardings):
  """`fn` (state, batch, rng) -> (state, metrics) jitted with state
  donation; `shardings` = (state, batch, replicated) or None."""
  if shardings is None:
    return jax.jit(fn, donate_argnums=(0,))
  state_sh, batch_sh, repl = shardings
  return jax.jit(fn, donate_argnums=(0,),
                 in_shardings=(state_sh, batch_sh, repl),
                 out_shardings=(state_sh, repl))


# ----------------------------------------------------------------------------
# Discriminators (the classifier task, the adversarial task's D, the realism
# judges).


def disc_update(params, stats, opt_state, x: jax.Array, y: jax.Array,
                dropout_rng: jax.Array, *, disc: nn.Module,
                tx: optax.GradientTransformation, loss: str, margin: float,
                skip_nonfinite: bool = False, r1: float = 0.0):
  """One classifier update on images x with labels y, in one call (the
  spectral-norm state advances one power iteration); with `skip_nonfinite`
  an update with a non-finite loss or gradient is not applied
  (`keep_if_finite`). With `r1` = γ > 0 the loss adds the R1 gradient
  penalty (Mescheder et al. 2018): γ/2 · the mean over real images of
  |∇_x mean u(x)|², the squared gradient of each real image's mean score
  (over the scales' means for a multi-scale D)
  with respect to its pixels, which keeps D smooth around the real data;
  for a conditional D, the image's pixels only (not its noisy input's).

  Returns:
    (params, stats, opt_state, loss value, scores u, {'grad_norm', 'r1'
     (the penalty before γ/2) with r1 > 0, and 'skipped' with
     skip_nonfinite}).
  """
  def loss_fn(p):
    scores = lambda xx: disc.apply({"params": p, STATS: stats}, xx,
                                   train=True, mutable=[STATS],
                                   rngs={"dropout": dropout_rng})
    if r1 <= 0:
      u, updates = scores(x)
      return losses.disc_loss(loss, u, y, margin), (u, updates, 0.0)
    real = (y == losses.REAL).astype(jnp.float32)

    def real_score_sum(xx):  # Σ over real images of each one's mean score
      u, updates = scores(xx)
      return jnp.sum(losses.image_scores(u) * real), (u, updates)

    gx, (u, updates) = jax.grad(real_score_sum, has_aux=True)(x)
    if getattr(disc, "conditional", False):  # its noisy input: not data
      gx = gx[..., :disc.channels]
    penalty = jnp.sum(jnp.square(gx)) / jnp.maximum(jnp.sum(real), 1.0)
    value = losses.disc_loss(loss, u, y, margin) + 0.5 * r1 * penalty
    return value, (u, updates, penalty)

  (value, (u, updates, penalty)), grads = jax.value_and_grad(
      loss_fn, has_aux=True)(params)
  tx_updates, new_opt_state = tx.update(grads, opt_state, params)
  new = (optax.apply_updates(params, tx_updates), updates.get(STATS, stats),
         new_opt_state)
  extra = {"grad_norm": optax.global_norm(grads)}
  if r1 > 0:
    extra["r1"] = penalty
  if skip_nonfinite:
    new, extra["skipped"] = keep_if_finite(value, extra["grad_norm"], new,
                                           (params, stats, opt_state))
  return (*new, value, u, extra)


def classify(params, stats, x: jax.Array, *, disc: nn.Module) -> jax.Array:
  """Scores u (B,) or (B, H', W') in evaluation mode (no state update)."""
  return disc.apply({"params": params, STATS: stats}, x, train=False)


# ----------------------------------------------------------------------------
# The generator's gradient against a discriminator (ddn.tasks.adversarial).

def weighted_gradient(vjp, adversary: bool, adv_weight: float,
                      adaptive: bool, max_weight: float | jax.Array = 0.0):
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
  if adaptive:  # max_weight may be traced: no Python test of its value
    weight = jnp.where(max_weight > 0, jnp.minimum(weight, max_weight), weight)
  grads = jax.tree_util.tree_map(lambda a, b: a + weight * b, g_pred, g_adv)
  return grads, weight, weight * adv_norm / (pred_norm + 1e-12)


def last_layer(params) -> str:
  """The name of a denoiser's output layer in its parameter tree."""
  return "head" if "head" in params else list(params)[-1]
