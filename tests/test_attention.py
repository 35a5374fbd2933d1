"""The non-local blocks of ddn.attention: shapes, identity at init, what the
attention computes, permutation equivariance, cost, dtype and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ddn import attention

C = 8  # feature channels of the tiny inputs


def features(shape, seed=0):
  return jnp.asarray(np.random.default_rng(seed).standard_normal(shape),
                     jnp.float32)


def init(block, x):
  return block.init(jax.random.PRNGKey(0), x)["params"]


def randomised(params, seed=1):
  """The same tree with every leaf random (the output conv no longer 0)."""
  leaves, tree = jax.tree_util.tree_flatten(params)
  rng = np.random.default_rng(seed)
  return jax.tree_util.tree_unflatten(tree, [
      jnp.asarray(rng.standard_normal(l.shape) * 0.5, l.dtype)
      for l in leaves])


BLOCKS = {
    "mdta": lambda **kw: attention.MDTA(heads=2, **kw),
    "nonlocal": lambda **kw: attention.NonLocal(heads=2, **kw),
    "nonlocal_pool": lambda **kw: attention.NonLocal(pool=2, chunk=7, **kw),
}


@pytest.mark.parametrize("name", sorted(BLOCKS))
@pytest.mark.parametrize("hw", [(6, 8), (7, 9), (1, 5)])
def test_shape_and_identity_at_init(name, hw):
  """Odd sizes work; the zero-initialised output makes the block x ↦ x, and
  with other parameters it is not the identity."""
  block = BLOCKS[name]()
  x = features((2,) + hw + (C,))
  params = init(block, x)
  y = block.apply({"params": params}, x)
  assert y.shape == x.shape and y.dtype == x.dtype
  np.testing.assert_array_equal(np.asarray(y), np.asarray(x))
  y = block.apply({"params": randomised(params)}, x)
  assert y.shape == x.shape
  assert float(jnp.max(jnp.abs(y - x))) > 1e-3


def test_zero_init_off_is_not_identity():
  x = features((1, 5, 5, C))
  for block in (attention.MDTA(zero_init=False),
                attention.NonLocal(zero_init=False)):
    y = block.apply({"params": init(block, x)}, x)
    assert float(jnp.max(jnp.abs(y - x))) > 1e-4


def test_transposed_attention_matches_numpy():
  rng = np.random.default_rng(0)
  q, k, v = (rng.standard_normal((2, 30, 2, 4)) for _ in range(3))
  temp = np.array([0.5, 3.0])
  got = attention.transposed_attention(
      *(jnp.asarray(t, jnp.float32) for t in (q, k, v, temp)))
  qn = q / np.linalg.norm(q, axis=1, keepdims=True)
  kn = k / np.linalg.norm(k, axis=1, keepdims=True)
  logits = np.einsum("bnhd,bnhe->bhde", qn, kn) * temp[:, None, None]
  a = np.exp(logits - logits.max(-1, keepdims=True))
  a /= a.sum(-1, keepdims=True)
  want = np.einsum("bhde,bnhe->bnhd", a, v)
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)
  # q and k are normalised along the positions: a positive scale per
  # channel of q or k changes nothing.
  scale = jnp.asarray(rng.uniform(0.1, 10.0, (1, 1, 2, 4)), jnp.float32)
  again = attention.transposed_attention(
      jnp.asarray(q, jnp.float32) * scale, jnp.asarray(k, jnp.float32) * scale,
      jnp.asarray(v, jnp.float32), jnp.asarray(temp, jnp.float32))
  np.testing.assert_allclose(np.asarray(again), np.asarray(got), rtol=1e-4,
                             atol=1e-5)


@pytest.mark.parametrize("chunk", [0, 4, 7, 100])
def test_dot_product_attention_matches_numpy(chunk):
  """Chunks of queries (also not dividing N) give the one-pass result."""
  rng = np.random.default_rng(0)
  q = rng.standard_normal((2, 19, 2, 3))
  k, v = rng.standard_normal((2, 11, 2, 3)), rng.standard_normal((2, 11, 2, 5))
  got = attention.dot_product_attention(
      *(jnp.asarray(t, jnp.float32) for t in (q, k, v)), chunk=chunk)
  logits = np.einsum("bnhd,bmhd->bhnm", q, k) / np.sqrt(3)
  a = np.exp(logits - logits.max(-1, keepdims=True))
  a /= a.sum(-1, keepdims=True)
  want = np.einsum("bhnm,bmhe->bnhe", a, v)
  assert got.shape == want.shape
  np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)


def permuted(x, perm):
  b, h, w, c = x.shape
  return x.reshape(b, h * w, c)[:, perm].reshape(b, h, w, c)


def test_nonlocal_is_permutation_equivariant():
  """Without positional terms or pooling, permuting the positions permutes
  the output the same way."""
  block = attention.NonLocal(heads=2, chunk=5)
  x = features((2, 5, 6, C))
  params = randomised(init(block, x))
  perm = np.random.default_rng(3).permutation(30)
  f = lambda z: block.apply({"params": params}, z)
  np.testing.assert_allclose(np.asarray(f(permuted(x, perm))),
                             np.asarray(permuted(f(x), perm)),
                             rtol=1e-4, atol=1e-5)


def test_mdta_equivariant_only_without_its_depthwise_conv():
  """MDTA's attention is over channels, summed over all positions: with the
  3x3 depthwise conv reduced to its centre tap it is permutation-equivariant;
  with its learned 3x3 neighbourhood it is not."""
  block = attention.MDTA(heads=2)
  x = features((1, 5, 6, C))
  params = randomised(init(block, x))
  perm = np.random.default_rng(3).permutation(30)
  f = lambda p, z: block.apply({"params": p}, z)
  gap = lambda p: float(jnp.max(jnp.abs(f(p, permuted(x, perm))
                                        - permuted(f(p, x), perm))))
  assert gap(params) > 1e-2
  kernel = params["qkv_dwconv"]["kernel"]
  centre = jnp.zeros_like(kernel).at[1, 1].set(kernel[1, 1])
  params = {**params, "qkv_dwconv": {**params["qkv_dwconv"],
                                     "kernel": centre}}
  assert gap(params) < 1e-4


def flops(block, hw):
  x = jax.ShapeDtypeStruct((1,) + hw + (C,), jnp.float32)
  params = jax.eval_shape(block.init, jax.random.PRNGKey(0), x)["params"]
  fn = jax.jit(lambda p, z: block.apply({"params": p}, z))
  cost = fn.lower(params, x).cost_analysis()
  return float((cost[0] if isinstance(cost, list) else cost)["flops"])


def test_cost_mdta_linear_nonlocal_quadratic():
  """4x the pixels: MDTA ~4x the FLOPs, the non-local block ~16x."""
  small, large = (16, 16), (32, 32)
  mdta = flops(attention.MDTA(), large) / flops(attention.MDTA(), small)
  nl = attention.NonLocal(chunk=0)
  nonlocal_ratio = flops(nl, large) / flops(nl, small)
  assert 3.8 < mdta < 4.2, mdta
  assert nonlocal_ratio > 10, nonlocal_ratio


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_gradients_finite_and_reach_the_output_conv(name):
  """At init only the output conv gets a gradient (the rest is behind its
  zeros), and it is finite and non-zero; afterwards every parameter does."""
  block = BLOCKS[name]()
  x = features((2, 7, 6, C))
  params = init(block, x)
  loss = jax.jit(lambda p: jnp.sum(jnp.sin(block.apply({"params": p}, x))))
  grads = jax.grad(loss)(params)
  for leaf in jax.tree_util.tree_leaves(grads):
    assert bool(jnp.all(jnp.isfinite(leaf)))
  assert float(jnp.max(jnp.abs(grads["proj"]["kernel"]))) > 0
  grads = jax.grad(loss)(randomised(params))
  for path, leaf in jax.tree_util.tree_leaves_with_path(grads):
    assert bool(jnp.all(jnp.isfinite(leaf))), path
    assert float(jnp.max(jnp.abs(leaf))) > 0, path


@pytest.mark.parametrize("name", ["mdta", "nonlocal"])
def test_bfloat16_compute_float32_params(name):
  block = BLOCKS[name](dtype=jnp.bfloat16)
  x = features((1, 6, 6, C))
  params = init(block, x)
  assert {l.dtype for l in jax.tree_util.tree_leaves(params)} == {
      jnp.dtype(jnp.float32)}
  p = randomised(params)
  y = block.apply({"params": p}, x)
  assert y.dtype == jnp.float32
  y32 = BLOCKS[name]().apply({"params": p}, x)
  np.testing.assert_allclose(np.asarray(y), np.asarray(y32), atol=0.1)
  yb = block.apply({"params": p}, x.astype(jnp.bfloat16))
  assert yb.dtype == jnp.bfloat16


def test_bad_input_is_named():
  x = features((1, 4, 4, C))
  with pytest.raises(ValueError, match="heads=3"):
    init(attention.MDTA(heads=3), x)
  with pytest.raises(ValueError, match="heads=3"):
    init(attention.NonLocal(heads=3), x)  # 4 attention channels
  with pytest.raises(ValueError, match=r"\(B, H, W, C\)"):
    init(attention.MDTA(), x[0])
  with pytest.raises(ValueError, match="pool=0"):
    init(attention.NonLocal(pool=0), x)
