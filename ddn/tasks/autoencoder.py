"""The denoising autoencoder task: the denoiser (ddn.models) trained on
a·SSD + b·L1 of clean crops vs their denoised noisy versions;
`train.init_from` = a workdir whose parameters it starts from."""

from __future__ import annotations

import functools
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from ddn import configs
from ddn import data as data_lib
from ddn import init_from
from ddn import losses
from ddn import models
from ddn import noise as noise_lib
from ddn import steps
from ddn.tasks import base


class AutoencoderTask(base.Task):
  """Trains the denoiser on a·SSD + b·L1 of clean crops vs their denoised
  noisy versions."""

  # Why a field of another task is not one of this one's (ddn.config_check).
  hints = {"disc": "a discriminator belongs to the classifier and "
                   "adversarial tasks (set config.task)",
           "adv": "adversarial training is config.task='adversarial' "
                  "(experiments/adv.py)"}

  @staticmethod
  def default_config() -> ml_collections.ConfigDict:
    """Every field of an autoencoder config at its default, sized for a
    2-core CPU."""
    return default_config()

  def __init__(self, config: ml_collections.ConfigDict, setup):
    super().__init__(config, setup)
    if config.eval.max_images <= 0:
      raise ValueError(f"config.eval.max_images={config.eval.max_images}: "
                       "validation needs at least 1 image, e.g. 4.")
    if config.model.get("noise_input", 0):
      raise ValueError(
          f"config.model.noise_input={config.model.noise_input}: a G that "
          "samples is trained adversarially (config.task='adversarial', "
          "experiments/adv_sample.py); on reconstruction alone it would learn "
          "to ignore z. Set it to 0 here.")
    self.noise_spec = noise_lib.spec_from_config(config.noise)
    losses.validate(config.loss)
    self.model = models.from_config(config.model, int(config.data.channels),
                                    config.compute_dtype)
    base.eval_sigma(config, self.noise_spec, self.model)  # before compute

  def attach(self, workdir: str, resuming: bool) -> None:
    """Checks init_from (unless resuming: the checkpoint then wins) before
    anything is written."""
    del workdir
    if self.config.train.init_from and not resuming:
      expected = jax.eval_shape(self.init, jax.random.PRNGKey(0)).params
      init_from.check(self.config, expected)

  def init(self, rng: jax.Array) -> TrainState:
    return init_state(rng, self.model, self.setup.tx,
                            self.config.data.crop)

  def start(self, state: TrainState) -> tuple[TrainState, str]:
    """A fresh state, with init_from's parameters when one is given."""
    src = self.config.train.init_from
    if not src:
      return state, "started from scratch"
    params, step = init_from.load_params_into(
        src, state.params, f"init_from={src!r}", self.setup.repl,
        grow_inputs=init_from.grows_inputs(self.config.model))
    opt_state = jax.jit(self.setup.tx.init,
                        out_shardings=self.setup.repl)(params)
    return (state.replace(params=params, opt_state=opt_state),
            f"initialised from {src} step {step}")

  def describe(self, state) -> str:
    line = f"{models.count_params(state.params)} parameters"
    if hasattr(self.model, "encoder_layers"):
      rf = models.receptive_field(self.model.encoder_layers()).size
      line += f"; encoder receptive field {rf} px"
    return line

  def make_step(self, shardings):
    return make_ae_train_step(
        self.model, self.setup.tx, self.setup.lr_fn, self.noise_spec,
        self.config.loss, shardings=shardings,
        skip_nonfinite=self.config.train.skip_nonfinite > 0)

  def evaluator(self, source: data_lib.Source):
    images = base.ImageEvaluator(self.model, self.config, self.noise_spec,
                                 self.setup.mesh, source)
    return lambda state: images(state.params)

  def log_line(self, m: dict) -> str:
    return f"loss {m['ae/loss']:.5f}  psnr {m['ae/psnr']:.2f} dB"

  def eval_line(self, m: dict) -> str:
    return (f"val loss {m['val/loss']:.5f}, PSNR {m['val/psnr']:.2f} dB "
            f"(noisy {m['val/psnr_noisy']:.2f} dB)")


def default_config() -> ml_collections.ConfigDict:
  """Defaults for training the denoising autoencoder, sized for a 2-core CPU."""
  c = ml_collections.ConfigDict()
  c.task = "autoencoder"
  c.seed = 0
  # Activations in float32, or bfloat16 (TPUs: half the memory traffic);
  # parameters, losses and optimizer state are float32 either way.
  c.compute_dtype = "float32"
  c.data = configs.data(batch_size=32)
  c.noise = configs.noise()
  c.model = models.Autoencoder.default_config()

  # a * SSD + b * L1 with the chapter's b / a = 0.1 (both means, ddn.losses).
  # sigma_power p > 0 weighs each crop by max(σ, sigma_floor)^-p (mean 1 over
  # the batch) when σ varies per crop (losses.sigma_weights); 0: plain mean.
  c.loss = ml_collections.ConfigDict(dict(ssd_weight=1.0, l1_weight=0.1,
                                          sigma_power=0.0, sigma_floor=5.0))
  c.optim = configs.optim(lr=1e-3, warmup_images=2_000)
  # skip_nonfinite: 0 stops the run at the first non-finite loss or gradient
  # (naming the step window and the last good checkpoint); N > 0 skips such
  # updates instead, counts them, and stops after more than N in a row.
  c.train = ml_collections.ConfigDict(dict(
      total_images=32_000, init_from="", checkpoint_every_images=8_000,
      max_to_keep=3, skip_nonfinite=0))
  c.log = ml_collections.ConfigDict(dict(every_images=640, grid_images=4))
  c.eval = ml_collections.ConfigDict(dict(
      every_images=6_400, max_images=8, sigma=-1.0))  # -1: the train σ
  # What each evaluation measures on the eval images (ddn.evaluators,
  # ddn.registry.EVALUATORS), beside the validation loss.
  c.evals = ("psnr",)
  return c


# ----------------------------------------------------------------------------
# The state and the jitted step.


@flax.struct.dataclass
class TrainState:
  step: jax.Array  # int32 scalar: optimizer steps taken
  params: Any
  opt_state: Any


def init_state(rng: jax.Array, model: nn.Module,
               tx: optax.GradientTransformation, crop: int) -> TrainState:
  """A fresh state; `jax.eval_shape` of it is the checkpoint restore target."""
  dummy = jnp.zeros((1, crop, crop, model.channels), jnp.float32)
  params = model.init(jax.random.fold_in(rng, steps.TAG_INIT), dummy,
                      **steps.told(model, 0.0))["params"]
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    opt_state=tx.init(params))


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
      batch, steps.step_key(rng, state.step, steps.TAG_NOISE), noise_spec)
  dropout_rng = steps.step_key(rng, state.step, steps.TAG_DROPOUT)
  weights = (losses.sigma_weights(sigma, sigma_power, sigma_floor)
             if sigma_power else None)

  def loss_fn(params):
    out = model.apply({"params": params}, noisy, train=True,
                      rngs={"dropout": dropout_rng}, **steps.told(model, sigma))
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
    (params, opt_state), extra["skipped"] = steps.keep_if_finite(
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
  return steps.jit_step(fn, shardings)
