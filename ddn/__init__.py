"""ddn: learned image denoising in JAX/Flax.

The pipeline, one concern per module:
data (sources, crops, augmentation) -> noise (inside the jitted step) ->
models (convolutional autoencoder / U-Net) -> losses -> optim (optimizers,
schedules in images seen) -> steps (jitted train/eval steps) -> train (host
loop, logging, checkpoints) -> evaluate (the standard denoising protocol) ->
plots and figures.
"""

__version__ = "0.1.0"
