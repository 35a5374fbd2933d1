"""Reconstruction losses (pure functions).

All losses are MEANS over every pixel, channel and image of the batch, not
sums: a mean keeps the loss scale independent of crop and batch size, so the
same learning rate works at 40x40 and 128x128. The chapter's SSD is a sum of
squared differences; the mean differs from it by the constant factor
B*H*W*C, which Adam is invariant to (for SGD, scale the learning rate).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def ssd(pred: jax.Array, target: jax.Array, axis=None) -> jax.Array:
  """Mean squared difference (the chapter's SSD, as a mean), over `axis`."""
  return jnp.mean(jnp.square(pred - target), axis=axis)


def l1(pred: jax.Array, target: jax.Array, axis=None) -> jax.Array:
  """Mean absolute difference, over `axis`."""
  return jnp.mean(jnp.abs(pred - target), axis=axis)


def reconstruction(pred, target, ssd_weight: float, l1_weight: float,
                   weights: jax.Array | None = None):
  """a * SSD + b * L1, and its parts.

  With `weights` (B,), one per image of mean 1 (`sigma_weights`), the loss
  is the weighted mean of each image's a * SSD + b * L1; the parts stay
  plain means.

  Returns:
    (loss, {'ssd': ..., 'l1': ...}) as scalars.
  """
  if weights is None:
    parts = {"ssd": ssd(pred, target), "l1": l1(pred, target)}
    return ssd_weight * parts["ssd"] + l1_weight * parts["l1"], parts
  axes = tuple(range(1, pred.ndim))
  per_image = {"ssd": ssd(pred, target, axes), "l1": l1(pred, target, axes)}
  loss = jnp.mean(weights * (ssd_weight * per_image["ssd"]
                             + l1_weight * per_image["l1"]))
  return loss, {k: jnp.mean(v) for k, v in per_image.items()}


def sigma_weights(sigma: jax.Array, power: float, floor: float) -> jax.Array:
  """Per-image loss weights max(σ, floor)^-power, scaled to mean 1 over the
  batch, for training over a range of noise levels σ (0-255).

  A denoiser's squared error (0-255 scale) grows about in proportion to σ:
  3.1-3.6 σ for BM3D and `gray-map` on BSD68 at σ = 15, 25 and 50, from
  their mean PSNR. With power = 1 under SSD (0.5 under L1) every σ then
  counts about alike in PSNR, where the plain mean lets the noisiest crops
  dominate. power = 0: all weights 1.
  """
  w = jnp.maximum(jnp.asarray(sigma, jnp.float32), floor) ** (-power)
  return w / jnp.mean(w)


def psnr(pred: jax.Array, target: jax.Array, axis=None) -> jax.Array:
  """PSNR in dB for images in [0, 1] (pred is clipped first)."""
  mse = jnp.mean(jnp.square(jnp.clip(pred, 0.0, 1.0) - target), axis=axis)
  return -10.0 * jnp.log10(jnp.maximum(mse, 1e-12))


def validate(cfg) -> None:
  """Checks `config.loss`; raises ValueError naming the bad field."""
  if cfg.ssd_weight < 0 or cfg.l1_weight < 0 or (
      cfg.ssd_weight == 0 and cfg.l1_weight == 0):
    raise ValueError(
        "config.loss: ssd_weight and l1_weight must be >= 0 and not both 0, "
        f"got ssd_weight={cfg.ssd_weight}, l1_weight={cfg.l1_weight}.")
  power, floor = cfg.sigma_power, cfg.sigma_floor
  if not 0 <= power <= 4:
    raise ValueError(f"config.loss.sigma_power={power}: must be in [0, 4] "
                     "(0: the plain mean; 1: about equal PSNR weight to "
                     "every σ under SSD).")
  if not floor > 0:
    raise ValueError(f"config.loss.sigma_floor={floor}: must be > 0 (the "
                     "σ, 0-255, below which crops weigh the same, e.g. 5).")


# ----------------------------------------------------------------------------
# Real-vs-denoised classification (the chapter's convention).
#
# The classifier's score is u = log P(denoised | x) / P(real | x) and labels
# are y = +1 for real and -1 for denoised, so a correct decision has y·u < 0.
# Scores may be per image (B,) or per patch (B, H', W'); labels are (B,) and
# broadcast over the patches, and every mean runs over all scores. A
# multi-scale D's scores are a tuple of maps, one per scale (ddn.
# discriminators, `scales`; a joint D's, one per stack, `joint`): every loss
# and metric here is then the mean over the maps of its value on each
# (`per_scale`), so each scale or stack weighs alike whatever its number of
# patches.

REAL, DENOISED = 1.0, -1.0
DISC_LOSSES = ("logistic", "hinge", "relativistic")


def per_scale(fn):
  """`fn` of one score map, extended to a multi-scale D's scores: when any
  argument is a tuple of maps (u, u_real), `fn` runs scale by scale and
  the result is the mean over scales of each value (a dict's entries
  alike)."""
  @functools.wraps(fn)
  def wrapped(*args, **kwargs):
    tuples = [a for a in (*args, *kwargs.values())
              if isinstance(a, (tuple, list))]
    if not tuples:
      return fn(*args, **kwargs)
    pick = lambda a, s: a[s] if isinstance(a, (tuple, list)) else a
    values = [fn(*[pick(a, s) for a in args],
                 **{k: pick(v, s) for k, v in kwargs.items()})
              for s in range(len(tuples[0]))]
    return jax.tree_util.tree_map(lambda *v: sum(v) / len(v), *values)
  return wrapped


@per_scale
def mean_score(u: jax.Array) -> jax.Array:
  """The mean score (over the scales' means for a multi-scale D)."""
  return jnp.mean(u)


@per_scale
def image_scores(u: jax.Array) -> jax.Array:
  """Each image's mean score (B,) (over the scales' means for a multi-scale
  D)."""
  return jnp.mean(u.reshape((u.shape[0], -1)), axis=1)


def _labels_like(u: jax.Array, y: jax.Array) -> jax.Array:
  y = jnp.asarray(y, u.dtype)
  return jnp.broadcast_to(y.reshape(y.shape + (1,) * (u.ndim - y.ndim)),
                          u.shape)


def logistic(u: jax.Array, y: jax.Array) -> jax.Array:
  """Cross-entropy, mean of -log P(label | x) = log(1 + exp(y·u))."""
  return jnp.mean(jax.nn.softplus(_labels_like(u, y) * u))


def hinge(u: jax.Array, y: jax.Array, margin: float = 1.0) -> jax.Array:
  """Mean of max(0, margin + y·u): zero once every score is on the right
  side by the margin."""
  return jnp.mean(jax.nn.relu(margin + _labels_like(u, y) * u))


def validate_disc(cfg) -> None:
  """Checks the loss fields of `config.disc`; raises naming the bad one."""
  if cfg.loss not in DISC_LOSSES:
    raise ValueError(f"config.disc.loss={cfg.loss!r}: valid losses are "
                     f"{', '.join(DISC_LOSSES)}.")
  if cfg.margin <= 0:
    raise ValueError(f"config.disc.margin={cfg.margin}: the hinge margin must "
                     "be > 0 (the chapter's is 1).")


def relativistic(u: jax.Array, y: jax.Array) -> jax.Array:
  """The relativistic average loss (Jolicoeur-Martineau 2019, as ESRGAN):
  each score is judged against the other side's mean, a real x by
  softplus(u(x) - mean u(denoised)) and a denoised x by
  softplus(mean u(real) - u(x)); the mean of the two sides' means. D
  learns that real is *more real than the average output*, not real in
  absolute terms. Needs both labels in the batch."""
  real = (_labels_like(u, y) > 0).astype(u.dtype)
  fake = 1.0 - real
  mean = lambda m, v: jnp.sum(m * v) / jnp.maximum(jnp.sum(m), 1.0)
  mean_real, mean_fake = mean(real, u), mean(fake, u)
  return 0.5 * (mean(real, jax.nn.softplus(u - mean_fake)) +
                mean(fake, jax.nn.softplus(mean_real - u)))


@per_scale
def disc_loss(name: str, u: jax.Array, y: jax.Array, margin: float = 1.0):
  """The classifier loss named by `config.disc.loss`."""
  if name == "logistic":
    return logistic(u, y)
  if name == "hinge":
    return hinge(u, y, margin)
  if name == "relativistic":
    return relativistic(u, y)
  raise ValueError(f"config.disc.loss={name!r}: valid losses are "
                   f"{', '.join(DISC_LOSSES)}.")


@per_scale
def classification_metrics(u: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
  """Error rates and accuracies on real and on denoised separately.

  A score u > 0 is the decision "denoised", u <= 0 "real". With patch scores
  every patch is one decision.

  Returns:
    scalars 'err_real', 'err_denoised', 'err' (the mean of the two, so an
    unbalanced batch does not tilt it), 'acc_real', 'acc_denoised', 'acc',
    'u_real', 'u_denoised' (mean scores).
  """
  y = _labels_like(u, y)
  real = (y > 0).astype(u.dtype)
  fake = 1.0 - real
  said_fake = (u > 0).astype(u.dtype)
  n_real = jnp.maximum(jnp.sum(real), 1.0)
  n_fake = jnp.maximum(jnp.sum(fake), 1.0)
  err_real = jnp.sum(real * said_fake) / n_real
  err_fake = jnp.sum(fake * (1.0 - said_fake)) / n_fake
  err = 0.5 * (err_real + err_fake)
  return {"err_real": err_real, "err_denoised": err_fake, "err": err,
          "acc_real": 1.0 - err_real, "acc_denoised": 1.0 - err_fake,
          "acc": 1.0 - err,
          "u_real": jnp.sum(real * u) / n_real,
          "u_denoised": jnp.sum(fake * u) / n_fake}


# ----------------------------------------------------------------------------
# The generator's adversarial term (same sign convention: the generator wants
# its outputs scored as real, i.e. u(G(x)) low).

GEN_LOSSES = ("score", "nonsaturating", "hinge", "relativistic")


def feature_matching(fake: list[jax.Array], real: list[jax.Array]
                     ) -> jax.Array:
  """pix2pixHD's feature-matching term (Wang et al. 2018): the mean over D's
  levels of the mean absolute difference between D's features of each
  output and of its own clean image (paired, level by level). G is pulled
  towards what D sees in the clean image, not only away from what D
  flags."""
  terms = [jnp.mean(jnp.abs(f - r)) for f, r in zip(fake, real)]
  return sum(terms) / len(terms)


@per_scale
def generator_loss(name: str, u: jax.Array, margin: float = 1.0,
                   u_real: jax.Array | None = None) -> jax.Array:
  """The adversarial term the generator minimises, from the classifier's
  scores u of its outputs (and, for `relativistic`, u_real of the real
  images of the same batch).

    score          mean u: the chapter's raw-score term (its "-u", with u
                   read as the log-odds of *real*; here u is the log-odds of
                   denoised, so the generator lowers u). Also the hinge-GAN
                   generator loss. Unbounded: keeps pushing.
    nonsaturating  mean log(1 + exp(u)) = -log P(real | G(x)): the
                   classifier's logistic loss with the real label; strong
                   gradient while the classifier is sure the output is fake.
    hinge          mean max(0, margin + u): the classifier's hinge loss with
                   the real label; stops pushing a score once it is `margin`
                   on the real side.
    relativistic   the relativistic average loss with the labels swapped:
                   0.5 · (mean softplus(mean u - u_real) + mean
                   softplus(u - mean u_real)); G gains from real images too,
                   through the mean of its outputs' scores (ESRGAN).
  """
  if name == "score":
    return jnp.mean(u)
  if name == "nonsaturating":
    return logistic(u, jnp.full(u.shape[:1], REAL))
  if name == "hinge":
    return hinge(u, jnp.full(u.shape[:1], REAL), margin)
  if name == "relativistic":
    if u_real is None:
      raise ValueError("the relativistic generator loss needs u_real, the "
                       "scores of the real images")
    return 0.5 * (jnp.mean(jax.nn.softplus(jnp.mean(u) - u_real)) +
                  jnp.mean(jax.nn.softplus(u - jnp.mean(u_real))))
  raise ValueError(f"config.adv.g_loss={name!r}: valid generator losses are "
                   f"{', '.join(GEN_LOSSES)}.")
