"""The denoising autoencoder task: the denoiser (ddn.models) trained on
a·SSD + b·L1 of clean crops vs their denoised noisy versions;
`train.init_from` = a workdir whose parameters it starts from."""

from __future__ import annotations

import jax
import ml_collections

from ddn import data as data_lib
from ddn import losses
from ddn import models
from ddn import noise as noise_lib
from ddn import steps
from ddn.tasks import base


class AutoencoderTask(base.Task):
  """Trains the denoiser on a·SSD + b·L1 of clean crops vs their denoised
  noisy versions."""

  def __init__(self, config: ml_collections.ConfigDict, setup):
    super().__init__(config, setup)
    if config.eval.max_images <= 0:
      raise ValueError(f"config.eval.max_images={config.eval.max_images}: "
                       "validation needs at least 1 image, e.g. 4.")
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
      base.check_init_from(self.config, expected)

  def init(self, rng: jax.Array) -> steps.TrainState:
    return steps.init_state(rng, self.model, self.setup.tx,
                            self.config.data.crop)

  def start(self, state: steps.TrainState) -> tuple[steps.TrainState, str]:
    """A fresh state, with init_from's parameters when one is given."""
    src = self.config.train.init_from
    if not src:
      return state, "started from scratch"
    params, step = base.load_params_into(src, state.params,
                                          f"init_from={src!r}",
                                          self.setup.repl)
    opt_state = jax.jit(self.setup.tx.init,
                        out_shardings=self.setup.repl)(params)
    return (state.replace(params=params, opt_state=opt_state),
            f"initialised from {src} step {step}")

  def describe(self, state) -> str:
    return (f"{models.count_params(state.params)} parameters; encoder "
            "receptive field "
            f"{models.receptive_field(self.model.encoder_layers()).size} px")

  def make_step(self, shardings):
    return steps.make_ae_train_step(
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
