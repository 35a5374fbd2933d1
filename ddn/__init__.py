"""ddn: learned image denoising in JAX/Flax.

The pipeline, one concern per module (README's "Code layout"):
data (sources, crops, augmentation) -> noise (inside the jitted step) ->
models (the U-Net and any model in registry.MODELS), discriminators ->
losses -> optim (optimizers, schedules in images seen) -> steps (what the
jitted steps share) -> tasks (autoencoder, classifier, adversarial: each
its default config, state and steps; registry.TASKS) -> train (the one
host loop, logging, checkpoints) -> evaluators (psnr, realism;
registry.EVALUATORS) over protocol (the standard denoising protocol) and
realism (the calibrated realism test) -> inference (trained and shipped
models, tiling) -> evaluate, denoise, figures (command lines).
"""

__version__ = "0.1.0"
