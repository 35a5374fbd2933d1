"""The network fused with a classical denoiser, weighted by SURE
(ddn.fusion): the weight is the one the clean image would choose, the
divergence probe is right, and the option reaches ddn.evaluate and
ddn.denoise."""

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from ddn import denoise
from ddn import evaluate
from ddn import fusion
from ddn import inference
from ddn import protocol

SIGMA = 25.0


def _textured(h=96, w=96, seed=0):
  """Stripes, a disc and fine texture: where a light and a heavy smoother
  disagree, so the best blend of the two is inside (0, 1). Its texture is
  drawn apart from the protocol's noise streams (default_rng(int))."""
  rng = np.random.default_rng([seed, 7])
  y, x = np.mgrid[0:h, 0:w].astype(np.float64)
  img = 0.5 + 0.2 * np.sin(x / 2.5) * (y < h / 2) + 0.1 * np.cos(y / 9)
  img[(y - 0.6 * h) ** 2 + (x - 0.4 * w) ** 2 < (0.2 * h) ** 2] = 0.8
  img += 0.02 * ndimage.gaussian_filter(rng.standard_normal((h, w)), 1)
  return np.clip(img, 0, 1).astype(np.float32)[:, :, None]


def _smoother(width):
  return lambda x: ndimage.gaussian_filter(
      np.asarray(x, np.float64), (width, width, 0)).astype(np.float32)


def _oracle_alpha(clean, f, p):
  g = (f - p).astype(np.float64)
  return float(np.clip(np.sum((clean - p) * g) / np.sum(g * g), 0, 1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sure_chooses_the_blend_the_clean_image_would(seed):
  clean = _textured(seed=seed)
  noisy = protocol.noisy_version(clean, SIGMA, seed)
  light, heavy = _smoother(0.6), _smoother(1.6)
  out, alpha = fusion.fuse(light, noisy, SIGMA, heavy, seed=seed)
  f, p = light(noisy), heavy(noisy)
  best = _oracle_alpha(clean, f, p)
  assert 0.05 < best < 0.95  # a case where the blend matters
  assert abs(alpha - best) < 0.1
  np.testing.assert_allclose(out, alpha * f + (1 - alpha) * p, atol=1e-6)
  mse = lambda z: float(np.mean((z - clean) ** 2))
  assert mse(out) < min(mse(f), mse(p))
  # Without the divergence term the fit to the noisy image picks the light
  # smoother (it keeps the noise): the term is what makes SURE unbiased.
  naive = fusion.sure_alpha(noisy, f, p, 0.0, 0.0, SIGMA)
  assert naive - best > 0.2


def test_divergence_probe_of_linear_maps():
  rng = np.random.default_rng(0)
  x = rng.random((64, 64, 1)).astype(np.float32)
  probe = rng.standard_normal(x.shape)
  n = x.size
  for scale in (1.0, 2.0):
    fn = lambda v, s=scale: s * v
    d = fusion.divergence(fn, x, fn(x).astype(np.float64), probe, 1e-3)
    assert abs(d / (scale * n) - 1) < 0.05
  const = lambda v: np.full_like(v, 0.3)
  assert fusion.divergence(const, x, const(x).astype(np.float64), probe,
                           1e-3) == 0.0


def test_a_fused_denoiser_blends_network_and_bm3d():
  clean = _textured(48, 48)
  noisy = protocol.noisy_version(clean, SIGMA, 0)
  d = inference.load("gray-map", fuse="bm3d").at(SIGMA)
  out, alpha = d.fused(noisy)
  assert 0.0 <= alpha <= 1.0
  net = inference.load("gray-map").at(SIGMA)(noisy)
  bm3d = fusion.partner("bm3d", SIGMA)(noisy)
  np.testing.assert_allclose(out, alpha * net + (1 - alpha) * bm3d,
                             atol=1e-5)
  # Reproducible to the bit (BM3D's threads would jitter α between runs).
  np.testing.assert_array_equal(d(noisy), out)
  with pytest.raises(ValueError, match="fuse='nlm'.*bm3d"):
    inference.load("gray-map", fuse="nlm")
  for bad in (0.0, -5.0, float("nan")):
    with pytest.raises(ValueError, match="σ > 0"):
      fusion.fuse(lambda v: v, noisy, bad)


def test_evaluate_and_denoise_take_fuse(tmp_path):
  folder = tmp_path / "images"
  folder.mkdir()
  for i in range(2):
    Image.fromarray(protocol.quantise(_textured(40, 48, seed=i))[:, :, 0]
                    ).save(folder / f"{i}.png")
  records = evaluate.run("gray-map", [f"folder:{folder}"], [SIGMA],
                         str(tmp_path / "r.json"), baselines=["bm3d"],
                         fuse="bm3d")
  fused = next(r for r in records if r["method"] == "ddn + bm3d")
  assert fused["fuse"] == "bm3d" and fused["images"] == 2
  assert all(0.0 <= x["fusion_alpha"] <= 1.0 for x in fused["per_image"])
  plain = next(r for r in records if r["method"] == "bm3d")
  assert "fusion_alpha" not in plain["per_image"][0]
  pairs = denoise.collect([str(folder / "0.png")], str(tmp_path / "out"))
  models = denoise.Models("gray-map", fuse="bm3d")
  rows = denoise.denoise_files(pairs, models, add_noise=SIGMA,
                               progress=False)
  assert rows[0]["models"] == ["gray-map + bm3d"]
  assert np.isfinite(rows[0]["psnr"])
  # A colour photograph: each opponent channel fused at its own σ.
  rgb = np.concatenate([_textured(40, 48, seed=s) for s in range(3)], -1)
  denoise.write(str(folder / "c.png"), rgb, 8)
  pairs = denoise.collect([str(folder / "c.png")], str(tmp_path / "out"))
  rows = denoise.denoise_files(pairs, models, add_noise=SIGMA,
                               progress=False)
  assert rows[0]["colour"] == "opponent" and rows[0]["psnr"] > 25
