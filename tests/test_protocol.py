"""The evaluation protocol's pieces against hand computations."""

import numpy as np

from ddn import protocol


def test_noise_is_seeded_per_image_and_unclipped():
  clean = np.full((64, 64, 1), 0.99, np.float32)
  a = protocol.noisy_version(clean, 25, index=3)
  b = protocol.noisy_version(clean, 25, index=3)
  c = protocol.noisy_version(clean, 25, index=4)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  expected = clean + (np.random.default_rng(3).standard_normal(clean.shape)
                      * 25 / 255).astype(np.float32)
  np.testing.assert_allclose(a, expected, atol=1e-6)
  assert a.max() > 1.0
  assert abs(np.std(a - clean) * 255 - 25) < 1.0


def test_psnr_of_quantised_output():
  ref = np.full((10, 10, 1), 100, np.uint8)
  est = ref.copy()
  est[0, 0, 0] = 110  # MSE = 100 / 100 = 1
  assert protocol.psnr_uint8(est, ref) == np.float64(10 * np.log10(255 ** 2))
  q = protocol.quantise(np.array([-0.5, 0.5 / 255, 1.5 / 255, 2.0]))
  # round half to even (numpy): 0.5 -> 0, 1.5 -> 2
  np.testing.assert_array_equal(q, [0, 0, 2, 255])


def test_ssim_identical_is_one():
  rng = np.random.default_rng(0)
  a = rng.integers(0, 256, (32, 32, 1), dtype=np.uint8)
  assert protocol.ssim_uint8(a, a) == 1.0
  assert protocol.ssim_uint8(a, 255 - a) < 0.5


def test_report_table():
  from ddn import report
  recs = [{"method": "ddn", "data": "folder:x/Set12", "sigma": s,
           "psnr": p, "ssim": 0.8, "seconds_per_image": 0.1, "images": 12}
          for s, p in ((15, 32.0), (25, 29.5))]
  recs += [{**recs[0], "method": "bm3d", "megapixels_per_second": 0.03}]
  text = report.table(recs)
  assert ("| Set12 (12) | ddn | 32.00 / 0.8000 / 0.100 | 29.50 / 0.8000 / "
          "0.100 | – |") in text
  assert "| Set12 (12) | bm3d | 32.00 / 0.8000 / 0.100 | – | 0.03 |" in text
  assert text.index("| ddn |") < text.index("| bm3d |")  # ddn rows first


def test_moving_average_trailing_and_capped():
  from ddn import plots
  y = np.arange(1.0, 41.0)  # 40 points: window 10 is allowed
  m = plots.moving_average(y, 10)
  assert m[0] == 1.0 and m[1] == 1.5  # shorter windows at the start
  np.testing.assert_allclose(m[9:], [np.mean(y[i - 9:i + 1])
                                     for i in range(9, 40)])
  # 12 points: the window is capped at 3, so point 11 averages 10, 11, 12.
  short = plots.moving_average(np.arange(1.0, 13.0), 10)
  assert short[-1] == 11.0
  assert plots.moving_average(np.array([]), 10).shape == (0,)
