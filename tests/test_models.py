"""Model shapes for every variant, odd sizes, the receptive field."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ddn import configs
from ddn import inference
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
    ("name", "vit", "valid models are autoencoder"),
    ("activation", "tanhh", "valid values"),
    ("output", "linear", "valid values"),
    ("upsample", "pixelshuffle", "valid values"),
    ("kernel_size", 4, "odd"),
    ("features", (), "at least one level"),
])
def test_bad_model_config(field, value, match):
  c = configs.defaults("autoencoder").model
  c[field] = value
  with pytest.raises(ValueError, match=match):
    models.from_config(c, 1)


def test_wrong_channel_count_is_clear():
  model = models.Autoencoder(channels=1, **TINY)
  with pytest.raises(ValueError, match="1-channel.*data.channels"):
    init_apply(model, (1, 8, 8, 3))


# ----------------------------------------------------------------------------
# Pixel-unshuffle front end (config.model.unshuffle).


def test_space_to_depth_gives_the_pixel_phases_and_inverts():
  x = jnp.asarray(np.random.default_rng(0).random((2, 6, 8, 3), np.float32))
  s = models.space_to_depth(x, 2)
  assert s.shape == (2, 3, 4, 12)
  for i in range(2):
    for j in range(2):  # phase (i, j) is channels (2i + j) * 3 ... + 3
      np.testing.assert_array_equal(s[..., (2 * i + j) * 3:(2 * i + j + 1) * 3],
                                    x[:, i::2, j::2, :])
  np.testing.assert_array_equal(models.depth_to_space(s, 2), x)


@pytest.mark.parametrize("shape", [(1, 17, 9, 1), (2, 16, 16, 3),
                                   (1, 5, 6, 1)])
def test_unshuffled_model_keeps_shapes_and_runs_at_half_resolution(shape):
  model = models.Autoencoder(channels=shape[-1], unshuffle=2, noise_map=True,
                             **TINY)
  x = jnp.asarray(np.random.default_rng(0).random(shape, np.float32))
  params = model.init(jax.random.PRNGKey(0), x, sigma=25.0)["params"]
  y = model.apply({"params": params}, x, sigma=25.0)
  assert y.shape == shape
  c = shape[-1]
  # 4 phases of c channels plus the noise map in; 4 phases of c out.
  assert params["enc0_0"]["kernel"].shape == (3, 3, 4 * c + 1, 4)
  assert params["head"]["kernel"].shape == (1, 1, 4, 4 * c)


def test_unshuffle_one_is_the_plain_network():
  plain = models.Autoencoder(channels=1, **TINY)
  one = models.Autoencoder(channels=1, unshuffle=1, **TINY)
  params, y = init_apply(plain, (1, 12, 10, 1))
  x = jnp.asarray(np.random.default_rng(0).random((1, 12, 10, 1), np.float32))
  np.testing.assert_array_equal(one.apply({"params": params}, x), y)


def test_unshuffled_receptive_field_bounds_the_influence_and_tiles_agree():
  """A pixel moves no output farther than Denoiser.receptive_field(), so
  tiled inference (margins from it, cores a multiple of 2 ** (levels - 1)
  * unshuffle) equals one whole pass."""
  cfg = configs.defaults("autoencoder").model.to_dict()
  cfg.update(features=(2, 2), blocks=1, unshuffle=2)
  model = models.from_config(configs.ml_collections.ConfigDict(cfg), 1)
  x = jnp.asarray(np.random.default_rng(0).random((1, 48, 48, 1),
                                                  np.float32))
  params = model.init(jax.random.PRNGKey(0), x)["params"]
  params = jax.tree_util.tree_map(lambda p: jnp.abs(p) + 0.01, params)
  g = jax.grad(lambda xx: model.apply({"params": params}, xx)[0, 24, 24, 0])
  rows, cols = np.nonzero(np.asarray(g(x))[0, :, :, 0])
  reach = max(abs(rows - 24).max(), abs(cols - 24).max())
  d = inference.Denoiser(cfg, 1, params, 0, "tiny", {"sigma": 25.0},
                         margin=12, blend=4)
  assert reach <= d.receptive_field() <= d.margin and d.multiple == 4
  img = np.asarray(x[0])[:46, :42]
  np.testing.assert_allclose(d(img, tile=12), d(img, tile="none"), atol=2e-5)


def test_bad_unshuffle_is_clear():
  c = configs.defaults("autoencoder").model
  c.unshuffle = 3
  with pytest.raises(ValueError, match="unshuffle=3.*1 \\(off\\), 2 and 4"):
    models.from_config(c, 1)


# ----------------------------------------------------------------------------
# Residual blocks (config.model.res_blocks).


def test_residual_blocks_add_their_convs_where_asked():
  model = models.Autoencoder(channels=1, features=(4, 8, 16), blocks=1,
                             res_blocks=(1, 0, 2))
  params, y = init_apply(model, (1, 17, 9, 1))
  assert y.shape == (1, 17, 9, 1)
  res = sorted(k for k in params if "res" in k)
  assert res == ["decres0_0a", "decres0_0b", "encres0_0a", "encres0_0b",
                 "encres2_0a", "encres2_0b", "encres2_1a", "encres2_1b"]
  assert params["encres2_1b"]["kernel"].shape == (3, 3, 16, 16)


def test_residual_block_starts_from_its_input():
  """With its second conv zeroed, each block is the identity: the network
  is then the plain U-Net with the same remaining parameters."""
  plain = models.Autoencoder(channels=1, **TINY)
  res = models.Autoencoder(channels=1, res_blocks=(1, 1), **TINY)
  x = jnp.asarray(np.random.default_rng(0).random((1, 12, 10, 1), np.float32))
  params = res.init(jax.random.PRNGKey(0), x)["params"]
  zeroed = {k: (jax.tree_util.tree_map(jnp.zeros_like, v) if k.endswith("b")
                and "res" in k else v) for k, v in params.items()}
  kept = {k: v for k, v in params.items() if "res" not in k}
  np.testing.assert_allclose(res.apply({"params": zeroed}, x),
                             plain.apply({"params": kept}, x), atol=1e-6)
  assert not np.allclose(res.apply({"params": params}, x),
                         plain.apply({"params": kept}, x), atol=1e-4)


def test_residual_receptive_field_bounds_the_influence_and_tiles_agree():
  cfg = configs.defaults("autoencoder").model.to_dict()
  cfg.update(features=(2, 2), blocks=1, res_blocks=(1, 2))
  model = models.from_config(configs.ml_collections.ConfigDict(cfg), 1)
  x = jnp.asarray(np.random.default_rng(0).random((1, 64, 64, 1),
                                                  np.float32))
  params = model.init(jax.random.PRNGKey(0), x)["params"]
  params = jax.tree_util.tree_map(lambda p: jnp.abs(p) + 0.01, params)
  g = jax.grad(lambda xx: model.apply({"params": params}, xx)[0, 32, 32, 0])
  rows, cols = np.nonzero(np.asarray(g(x))[0, :, :, 0])
  reach = max(abs(rows - 32).max(), abs(cols - 32).max())
  d = inference.Denoiser(cfg, 1, params, 0, "tiny", {"sigma": 25.0},
                         margin=20, blend=4)
  plain = inference.Denoiser(dict(cfg, res_blocks=()), 1, None, 0, "tiny",
                             {"sigma": 25.0}).receptive_field()
  # The residual convs reach past the plain network's field, within 17 px
  # (encoder 3 + 10, decoder 1 + 3).
  assert plain == 5 and plain < reach <= d.receptive_field() == 17
  size = models.receptive_field(model.encoder_layers()).size
  # 3 convs at jump 1 and the stride-2 conv, then 4 convs at jump 2.
  assert size == 1 + 2 * 3 + 2 + 4 * 2 * 2
  img = np.asarray(x[0])[:58, :50]
  np.testing.assert_allclose(d(img, tile=16), d(img, tile="none"),
                             rtol=1e-6)


@pytest.mark.parametrize("value, match", [
    ((1, 2, 3, 4), r"res_blocks=\(1, 2, 3, 4\): give one count >= 0 per "
                   r"level \(at most 3"),
    ((0, -1), r"res_blocks=\(0, -1\)"),
])
def test_bad_res_blocks_is_clear(value, match):
  c = configs.defaults("autoencoder").model
  c.res_blocks = value
  with pytest.raises(ValueError, match=match):
    models.from_config(c, 1)


def test_attention_blocks_start_as_the_identity_and_are_validated():
  """config.model.attention inserts non-local blocks (ddn.attention) that
  a trained U-Net without them takes on unchanged (init_from)."""
  cfg = models.Autoencoder.default_config()
  cfg.features, cfg.blocks = (8, 16, 16), 1
  plain = models.from_config(cfg, 1)
  cfg.attention = ("", "mdta", "nonlocal")
  attn = models.from_config(cfg, 1)
  x = jax.random.uniform(jax.random.PRNGKey(1), (2, 20, 28, 1))
  p_plain = plain.init(jax.random.PRNGKey(0), x)["params"]
  p_attn = attn.init(jax.random.PRNGKey(2), x)["params"]
  assert {"encatt1", "encatt2", "decatt1"} <= set(p_attn)
  grown = models.add_new_blocks(p_plain, p_attn)
  np.testing.assert_array_equal(attn.apply({"params": grown}, x),
                                plain.apply({"params": p_plain}, x))
  # Not the identity once the blocks' output weights move.
  bumped = jax.tree_util.tree_map(lambda a: a + 0.1, grown["encatt2"])
  out = attn.apply({"params": {**grown, "encatt2": bumped}}, x)
  assert not np.allclose(out, plain.apply({"params": p_plain}, x))
  cfg.attention = ("", "swin")
  with pytest.raises(ValueError, match=r"config\.model\.attention"):
    models.from_config(cfg, 1)
