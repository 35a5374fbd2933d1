"""Model shapes for every variant, odd sizes, the receptive field."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ddn import configs
from ddn import models

TINY = dict(features=(4, 8), blocks=1)


def init_apply(model, shape):
  x = jnp.asarray(np.random.default_rng(0).random(shape, np.float32))
  params = model.init(jax.random.PRNGKey(0), x)["params"]
  return params, model.apply({"params": params}, x)


@pytest.mark.parametrize("skip", [True, False])
@pytest.mark.parametrize("upsample", ["transpose", "resize"])
@pytest.mark.parametrize("output", ["identity", "sigmoid", "clip", "residual"])
def test_shapes_for_every_variant(skip, upsample, output):
  model = models.Autoencoder(channels=1, skip=skip, upsample=upsample,
                             output=output, **TINY)
  _, y = init_apply(model, (2, 16, 16, 1))
  assert y.shape == (2, 16, 16, 1)
  if output in ("sigmoid", "clip"):
    assert float(y.min()) >= 0 and float(y.max()) <= 1


@pytest.mark.parametrize("shape", [(1, 321, 481, 1), (1, 17, 9, 3),
                                   (1, 5, 6, 1)])
def test_odd_sizes_three_levels(shape):
  model = models.Autoencoder(channels=shape[-1], features=(2, 4, 4), blocks=1)
  _, y = init_apply(model, shape)
  assert y.shape == shape


def test_param_tree_structure():
  model = models.Autoencoder(channels=3, features=(4, 8, 16), blocks=2)
  params, _ = init_apply(model, (1, 16, 16, 3))
  assert set(params) == {"enc0_0", "enc0_1", "enc1_0", "enc1_1", "enc2_0",
                         "enc2_1", "up1", "up0", "dec1_0", "dec1_1", "dec0_0",
                         "dec0_1", "head"}
  assert params["enc1_0"]["kernel"].shape == (3, 3, 4, 8)
  # U-Net: decoder level 1 sees upsampled 8 + skip 8 channels.
  assert params["dec1_0"]["kernel"].shape == (3, 3, 16, 8)
  assert params["head"]["kernel"].shape == (1, 1, 4, 3)


def test_no_skip_decoder_is_narrower():
  model = models.Autoencoder(channels=1, features=(4, 8), blocks=1, skip=False)
  params, _ = init_apply(model, (1, 8, 8, 1))
  assert params["dec0_0"]["kernel"].shape == (3, 3, 4, 4)


def test_dropout_needs_train_flag():
  model = models.Autoencoder(channels=1, dropout=0.5, **TINY)
  x = jnp.ones((1, 8, 8, 1))
  params = model.init(jax.random.PRNGKey(0), x)["params"]
  a = model.apply({"params": params}, x, train=True,
                  rngs={"dropout": jax.random.PRNGKey(1)})
  b = model.apply({"params": params}, x, train=False)
  c = model.apply({"params": params}, x, train=False)
  assert not np.allclose(a, b)
  np.testing.assert_array_equal(b, c)


def test_receptive_field_formula():
  rf = models.receptive_field([models.Layer(3, 1, 1)] * 2)
  assert (rf.size, rf.jump, rf.start) == (5, 1, 0.0)
  rf = models.receptive_field([models.Layer(3, 1, 1), models.Layer(2, 2, 0),
                               models.Layer(3, 1, 1)])  # conv, pool, conv
  assert (rf.size, rf.jump) == (8, 2)
  rf = models.receptive_field([models.Layer(3, 1, 2, dilation=2)])
  assert rf.size == 5


@pytest.mark.slow
@pytest.mark.parametrize("features,blocks,kernel", [((2, 2), 2, 3),
                                                    ((2, 2, 2), 1, 3),
                                                    ((2, 2), 1, 5)])
def test_encoder_receptive_field_matches_gradient_probe(features, blocks,
                                                        kernel):
  """The input pixels that move one deep encoder unit = the computed field."""
  model = models.Autoencoder(channels=1, features=features, blocks=blocks,
                             kernel_size=kernel, skip=False)
  size = 64
  x = jnp.asarray(np.random.default_rng(0).random((1, size, size, 1),
                                                  np.float32))
  params = model.init(jax.random.PRNGKey(0), x)["params"]
  # Make every weight positive so no gradient cancels to exactly zero.
  params = jax.tree_util.tree_map(lambda p: jnp.abs(p) + 0.01, params)

  def encoder_unit(xx):
    y = xx
    for level, feat in enumerate(features):
      for i in range(blocks):
        stride = 2 if (level > 0 and i == 0) else 1
        p = params[f"enc{level}_{i}"]
        y = jax.lax.conv_general_dilated(
            y, p["kernel"], (stride, stride), "SAME",
            dimension_numbers=("NHWC", "HWIO", "NHWC")) + p["bias"]
        y = jax.nn.relu(y)
    c = y.shape[1] // 2
    return y[0, c, c, 0]

  g = np.asarray(jax.grad(encoder_unit)(x))[0, :, :, 0]
  rows, cols = np.nonzero(g)
  rf = models.receptive_field(model.encoder_layers())
  assert rows.max() - rows.min() + 1 == rf.size
  assert cols.max() - cols.min() + 1 == rf.size
  centre = y_center = (size // rf.jump // 2) * rf.jump + rf.start
  assert (rows.max() + rows.min()) / 2 == pytest.approx(y_center)
  del centre


@pytest.mark.parametrize("field,value,match", [
    ("name", "vit", "valid models are: autoencoder"),
    ("activation", "tanhh", "valid values"),
    ("output", "linear", "valid values"),
    ("upsample", "pixelshuffle", "valid values"),
    ("kernel_size", 4, "odd"),
    ("features", (), "at least one level"),
])
def test_bad_model_config(field, value, match):
  c = configs.autoencoder().model
  c[field] = value
  with pytest.raises(ValueError, match=match):
    models.from_config(c, 1)


def test_wrong_channel_count_is_clear():
  model = models.Autoencoder(channels=1, **TINY)
  with pytest.raises(ValueError, match="1-channel.*data.channels"):
    init_apply(model, (1, 8, 8, 3))
