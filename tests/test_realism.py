"""The realism test (ddn.realism): its statistics against hand-computed
values, and its calibration on a small case."""

import numpy as np
import pytest
from scipy import ndimage

from ddn import configs
from ddn import nss
from ddn import realism


def test_auc_against_hand_computed_values():
  assert realism.auc([0, 1], [2, 3]) == 1.0
  assert realism.auc([2, 3], [0, 1]) == 0.0
  # fake 1 against real 0, 1, 2: above 0, tied with 1, below 2.
  assert realism.auc([0, 1, 2], [1]) == pytest.approx((1 + 0.5) / 3)
  # real 0, 3 against fake 1, 4: pairs (1>0, 1<3, 4>0, 4>3) -> 3 of 4.
  assert realism.auc([0, 3], [1, 4]) == 0.75


def test_auc_is_mann_whitney_u_over_the_pairs():
  from scipy import stats  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  for n_r, n_f in ((1, 1), (7, 3), (40, 65)):
    real = rng.integers(0, 6, n_r).astype(float)  # many ties
    fake = rng.integers(0, 6, n_f).astype(float) + 0.5 * rng.integers(0, 2, n_f)
    u = stats.mannwhitneyu(fake, real).statistic
    assert realism.auc(real, fake) == pytest.approx(u / (n_r * n_f), abs=1e-12)
  assert np.isnan(realism.auc([0, 1, 2], [np.nan, 0.5]))  # as rankdata's
  assert np.isnan(realism.auc([np.nan], [np.nan]))


def test_auc_interval_against_hand_computed_bootstrap():
  # Two images, resampled with their real and denoised scores together:
  # {0, 0} or {1, 1} separate perfectly (AUC 1); {0, 1} in either order
  # gives real {0, 3} vs fake {1, 4}: 0.75. Half of the resamples each way:
  # the 95% interval is [0.75, 1].
  lo, hi = realism.auc_ci([np.array([0.]), np.array([3.])],
                          [np.array([1.]), np.array([4.])], reps=2000)
  assert (lo, hi) == (0.75, 1.0)
  # Crops as the unit: perfectly separated scores stay at 1.
  lo, hi = realism.auc_ci([np.array([0., 1.])], [np.array([2., 3.])],
                          reps=100, unit="crop")
  assert (lo, hi) == (1.0, 1.0)


def test_balanced_error():
  # real: 1 of 4 called denoised (u > 0); denoised: 1 of 2 called real.
  assert realism.balanced_error([-1, -1, -1, 2], [3, 0]) == pytest.approx(
      0.5 * (0.25 + 0.5))


def _photo(seed, size=64):
  """A piecewise-smooth test image with sharp edges and fine texture, of
  size x size or size = (h, w)."""
  rng = np.random.default_rng(seed)
  h_im, w_im = (size, size) if np.isscalar(size) else size
  im = np.full((h_im, w_im), rng.uniform(0.3, 0.7))
  for _ in range(12):
    y, x = rng.integers(0, min(h_im, w_im), 2)
    h, w = rng.integers(4, min(h_im, w_im) // 2, 2)
    im[y:y + h, x:x + w] = rng.uniform(0, 1)
  im += 0.03 * rng.standard_normal((h_im, w_im))
  return np.clip(im, 0, 1).astype(np.float32)[:, :, None]


def test_training_free_statistics_see_blur_and_noise():
  clean = [_photo(i) for i in range(4)]
  blur = [ndimage.gaussian_filter(c, (1.5, 1.5, 0)) for c in clean]
  rng = np.random.default_rng(0)
  noisy = [c + 0.2 * rng.standard_normal(c.shape).astype(np.float32)
           for c in clean]
  assert realism.spectrum_hf_ratio(clean, clean) == pytest.approx(1.0)
  assert realism.spectrum_hf_ratio(blur, clean) < 0.2
  assert realism.spectrum_hf_ratio(noisy, clean) > 2
  assert realism.grad_hist_distance(clean, clean) == 0.0
  assert realism.grad_hist_distance(blur, clean) > 0.005


def test_test_tiles_are_a_checkerboard():
  """Real tiles are the white squares, denoised ones the black squares of
  each image's grid of tiles: no tile is scored both ways."""
  im = np.arange(64 * 96, dtype=np.float32).reshape(64, 96, 1)
  corner = lambda tiles: sorted(float(t[0, 0, 0]) for t in tiles)
  every = realism.fixed_crops([im], 6, 32, seed=1)[0]  # all 2 x 3 tiles
  white = realism.fixed_crops([im], 6, 32, seed=1, parity=0)[0]
  black = realism.fixed_crops([im], 6, 32, seed=1, parity=1)[0]
  assert corner(every) == sorted(
      float(im[y, x, 0]) for y in (0, 32) for x in (0, 32, 64))
  assert corner(white) == sorted(float(im[y, x, 0]) for y, x in
                                 ((0, 0), (0, 64), (32, 32)))
  assert not set(corner(white)) & set(corner(black))
  assert sorted(corner(white) + corner(black)) == corner(every)
  # One parity per image: the meter swaps the colours from image to image.
  both = realism.fixed_crops([im, im], 6, 32, seed=1, parity=[0, 1])
  assert corner(both[0]) == corner(white) and corner(both[1]) == corner(black)
  # Up to per_image, chosen from the size alone (the same for any content).
  a = realism.fixed_crops([im], 2, 32, seed=3)[0]
  b = realism.fixed_crops([-im], 2, 32, seed=3)[0]
  np.testing.assert_array_equal(a, -b)


def _meter(steps=150, test_images=12, small=None, **kw):
  """A meter over 16 tuning and `test_images` held-out 64 px photographs
  (held-out of size `small`, (h, w), when given)."""
  size = small or 64
  cfg = configs.realism()
  cfg.update(dict(judges=("patch",), seeds=1, crop=32, test_crop=32,
                  steps=steps,
                  batch_size=16, test_crops=4, tune_images=16,
                  bootstrap=200))
  cfg.update(kw)
  rng = np.random.default_rng(0)
  noise = lambda c: c + (50 / 255) * rng.standard_normal(c.shape).astype(
      np.float32)
  tune = [_photo(i) for i in range(16)]
  test = [_photo(100 + i, size) for i in range(test_images)]
  data = realism.Data(tune, [noise(c) for c in tune], test,
                      [noise(c) for c in test])
  return realism.Meter(data, cfg, seed=0)


@pytest.fixture(scope="module")
def calibration():
  return _meter().calibrate(gaussian_width=1.5)


@pytest.mark.slow
def test_calibration_clean_vs_clean_is_chance(calibration):
  r = calibration["clean"]
  lo, hi = r["auc_ci95"]
  assert lo <= 0.5 <= hi and r["ci_unit"] == "images"
  assert abs(r["auc"] - 0.5) < 0.2
  for family in (r["nss"], r["wavelet"]):  # the statistics families, alike
    assert family["auc_ci95"][0] <= 0.5 <= family["auc_ci95"][1], family
    assert abs(family["auc"] - 0.5) < 0.2


@pytest.mark.slow
@pytest.mark.parametrize("fake", ["noisy", "gaussian"])
def test_calibration_catches_noisy_and_smoothed(calibration, fake):
  r = calibration[fake]
  for family in (r, r["nss"], r["wavelet"]):
    assert family["auc"] > 0.9 and family["auc_ci95"][0] > 0.75, family
    assert family["error"] < 0.25


def test_judges_train_on_disjoint_images_and_the_same_test_crops():
  meter = _meter(steps=2)
  seen = []

  def denoise(x):
    seen.append(x)
    return x

  meter.judge_fn(denoise)
  d = meter.data
  tune_odd = d.tune_noisy[1::2]
  # The method sees only the odd tuning images (the "denoised" half) and
  # the test images; the judges' real crops are the even tuning images.
  assert len(seen) == len(tune_odd) + len(d.test_noisy)
  for x, y in zip(seen, tune_odd + d.test_noisy):
    assert x is y
  assert len(meter.real) == len(d.tune_clean[0::2])
  assert meter.real_parity == [i % 2 for i in range(len(d.test_clean))]
  for a, b in zip(meter.real, d.tune_clean[0::2]):
    np.testing.assert_array_equal(a, realism._as_image(b))  # pylint: disable=protected-access
  # Deterministic: the same method twice gives the same record.
  assert meter.judge_fn(lambda x: x) == meter.judge_fn(lambda x: x)


def test_tiled_tuning_parts_are_disjoint_and_cover_every_image():
  """tune_tile: every tuning image gives parts to both sides on a
  checkerboard; no pixel is on both; the method runs on every image."""
  ims = [np.arange(h * w, dtype=np.float32).reshape(h, w, 1) + 1e5 * i
         for i, (h, w) in enumerate([(96, 128), (64, 96), (24, 40)])]
  real, fake = realism.tune_parts(ims, 32)
  assert len(real) + len(fake) == 12 + 6 + 1
  values = lambda parts: set(np.concatenate([p.ravel() for p in parts]))
  assert not values(real) & values(fake)
  for i in range(2):  # both large images are on both sides
    assert any(p.min() // 1e5 == i for p in real)
    assert any(p.min() // 1e5 == i for p in fake)
  # The checkerboard: image 0's first tile is real, its right neighbour
  # and image 1's first tile are denoised; the small image 2 is one part.
  np.testing.assert_array_equal(real[0], ims[0][:32, :32])
  np.testing.assert_array_equal(fake[0], ims[0][:32, 32:64])
  assert any(np.array_equal(p, ims[1][:32, :32]) for p in fake)
  assert any(p is ims[2] for p in real)
  # 0: whole images, even real and odd denoised.
  real, fake = realism.tune_parts(ims, 0)
  assert real[0] is ims[0] and fake[0] is ims[1] and real[1] is ims[2]

  meter = _meter(steps=2, tune_tile=32)
  seen = []
  meter.judge_fn(lambda x: seen.append(x) or x)
  assert len(seen) == len(meter.data.tune_noisy) + len(meter.data.test_noisy)
  with pytest.raises(ValueError, match="tune_tile=16: tiles must be >= "
                     "the judges' crop 32"):
    _meter(tune_tile=16)


def test_the_architecture_is_chosen_on_held_out_tuning_images():
  """With two architectures, every fourth tuning image of each half trains
  no judge; the reported architecture is the best on those, not on the
  test tiles."""
  meter = _meter(steps=2, judges=("image", "patch"))
  even = [realism._as_image(b) for b in meter.data.tune_clean[0::2]]  # pylint: disable=protected-access
  assert len(meter.real) == 6 and len(meter.select_real) == 2
  for a, b in zip(meter.real, [im for i, im in enumerate(even) if i % 4 != 3]):
    np.testing.assert_array_equal(a, b)
  r = meter.judge_fn(lambda x: x)
  assert set(r["selection_auc"]) == {"image", "patch"}
  assert r["judge"] == max(r["selection_auc"], key=r["selection_auc"].get)
  assert realism.record_fields(r)["realism_selection_auc"] == r["selection_auc"]


def test_bad_settings_are_one_clear_error():
  cfg = configs.realism()
  cfg.judges = ("image", "vit")
  with pytest.raises(ValueError, match=r"config.eval.realism.judges.*"
                     "valid judges are image, patch"):
    realism.validate(cfg)
  with pytest.raises(ValueError, match="smaller than the judges' crop 128"):
    _meter(crop=128, test_crop=128)


def test_small_held_out_images_give_tiles_of_both_colours():
  """Held-out images under two test tiles on each side (180 x 180, tiles of
  96) used to leave the denoised colour empty and crash after training;
  they get two tiles a colour flush with their corners, no tile on both
  sides. Images that cannot hold two tiles are refused before any judge
  trains, with the setting to lower."""
  im = np.arange(180 * 180, dtype=np.float32).reshape(180, 180, 1)
  white = realism.fixed_crops([im], 16, 96, seed=0, parity=0)[0]
  black = realism.fixed_crops([im], 16, 96, seed=0, parity=1)[0]
  corners = lambda tiles: sorted(float(t[0, 0, 0]) for t in tiles)
  assert corners(white) == [im[0, 0, 0], im[84, 84, 0]]
  assert corners(black) == [im[0, 84, 0], im[84, 0, 0]]
  assert realism.tile_grid((100, 180), 96, 0, corners=True) == [(0, 0)]
  assert realism.tile_grid((100, 180), 96, 1, corners=True) == [(0, 84)]
  # Tuning parts (which train judges) never overlap: an image of one tile
  # is one part, on one side.
  one = np.arange(40 * 56, dtype=np.float32).reshape(40, 56, 1)
  real, fake = realism.tune_parts([one], 32)
  assert len(real) == 1 and not fake
  np.testing.assert_array_equal(real[0], one[:32, :32])
  meter = _meter(steps=2, test_crop=96, test_crops=16, small=(180, 180))
  r = meter.judge_fn(lambda x: x)
  assert r["crops"] == 4 * 12 and 0 <= r["auc"] <= 1
  with pytest.raises(ValueError, match=r"held-out image of 120x120 holds one "
                     r"96 px tile.*lower config.eval.realism.test_crop to at "
                     "most 80"):
    _meter(steps=2, test_crop=96, small=(120, 120))


def test_the_interval_resamples_the_judges_too():
  """Two judges, one image with one real and one denoised tile: judge A
  ranks them right, judge B wrong. Their mean ties (AUC 0.5); resampling
  the judges gives {A, A} (AUC 1) and {B, B} (AUC 0) a quarter of the time
  each, so the 95% interval is [0, 1]. The ensemble's scores alone, with
  the judges fixed, give [0.5, 0.5]."""
  real, fake = [np.array([[0.], [1.]])], [np.array([[1.], [0.]])]
  assert realism.auc_ci(real, fake, reps=2000) == (0.0, 1.0)
  assert realism.auc_ci([r.mean(0) for r in real], [f.mean(0) for f in fake],
                        reps=2000) == (0.5, 0.5)
  assert realism.auc_ci(real, fake, reps=2000, unit="crop") == (0.0, 1.0)


def test_records_and_tables_say_what_the_interval_is_over():
  from ddn import report
  meter = _meter(steps=2, seeds=2)
  r = meter.judge_fn(lambda x: x)
  assert r["ci_unit"] == "images+seeds" and r["ci_images"] == 12
  assert r["seed_aucs"] == r["judges"]["patch"] and len(r["seed_aucs"]) == 2
  for name in ("nss", "wavelet"):
    assert r[name]["ci_unit"] == "images+seeds"
    assert len(r[name]["seed_aucs"]) == 2
  assert "95% intervals over images+seeds" in realism.describe(r)
  assert "WARNING" not in realism.describe(r)
  few = _meter(steps=2, test_images=3).judge_fn(lambda x: x)
  assert few["ci_unit"] == "tiles" and few["ci_images"] == 3
  assert "over tiles of 3 images (WARNING: fewer than 10" in (
      realism.describe(few))
  fields = realism.record_fields(few)
  assert fields["realism_nss"] == few["nss"]
  assert fields["realism_wavelet"] == few["wavelet"]
  rec = {"data": "folder:x/Set3", "sigma": 50.0, "method": "ddn",
         "psnr": 25.0, "ssim": 0.7, "seconds_per_image": 0.1, "images": 3,
         **fields}
  table = report.realism_table([rec])
  nss, wav = few["nss"], few["wavelet"]
  assert (f"| {nss['auc']:.3f} [{nss['auc_ci95'][0]:.3f}, "
          f"{nss['auc_ci95'][1]:.3f}] | {wav['auc']:.3f} "
          f"[{wav['auc_ci95'][0]:.3f}, {wav['auc_ci95'][1]:.3f}] | tiles |"
          ) in table
  assert "Set3: intervals over tiles of 3 images (WARNING" in table
  old = {k: v for k, v in rec.items()
         if k not in ("realism_nss", "realism_wavelet", "realism_ci_images")}
  old["realism_ci_unit"] = "image"  # a record from before: still drawn
  assert "| – | – | images |" in report.realism_table([old])


def test_nss_features_fit_known_distributions_and_tell_blur():

  rng = np.random.default_rng(0)
  shape, var = nss.ggd_fit(np.stack([rng.standard_normal(20_000),
                                     rng.laplace(size=20_000)])).T
  np.testing.assert_allclose(shape, [2.0, 1.0], atol=0.1)
  np.testing.assert_allclose(var, [1.0, 2.0], rtol=0.05)
  # Symmetric samples: equal left and right variances, mean near 0.
  a = nss.aggd_fit(rng.standard_normal((1, 20_000)))[0]
  assert abs(a[0] - 2) < 0.15 and abs(a[1]) < 0.05
  assert a[2] == pytest.approx(a[3], rel=0.05)
  clean = np.stack([_photo(i) for i in range(40)])
  assert nss.features(clean).shape == (40, nss.FEATURES)
  blur = ndimage.gaussian_filter(clean, (0, 1.5, 1.5, 0))
  clf = nss.fit(nss.features(clean[:20]), nss.features(blur[:20]))
  held_out = clf.score(nss.features(clean[20:])), clf.score(
      nss.features(blur[20:]))
  assert realism.auc(*held_out) > 0.95
  tiles = nss.tile_features(clean[:3, :64, :64], 32)  # 2 x 2 sub-tiles
  assert tiles.shape == (4, 3, nss.FEATURES)
  np.testing.assert_allclose(tiles[0], nss.features(clean[:3, :32, :32]))


def test_wavelet_features_know_white_grain_from_edges():
  """ddn.wavelets: the orthonormal Haar transform keeps energy; white
  Gaussian noise gives Gaussian subbands (moment ratio π/2) of equal variance at
  every level and no parent-child correlation; images with edges give
  sparse subbands and correlated magnitudes; a logistic regression on the
  features tells held-out blurred and grainy crops from clean ones."""
  from ddn import wavelets
  rng = np.random.default_rng(0)
  x = rng.standard_normal((2, 64, 64))
  a, bands = wavelets.haar(x)
  np.testing.assert_allclose(
      np.sum(a ** 2) + sum(np.sum(b ** 2) for b in bands), np.sum(x ** 2))
  noise = 0.5 + 0.1 * rng.standard_normal((8, 256, 256, 1))
  f = wavelets.features(noise)
  assert f.shape == (8, wavelets.FEATURES)
  logvar, ratio = f[:, 0:18:2], f[:, 1:18:2]
  np.testing.assert_allclose(logvar, np.log(0.01), atol=0.25)
  np.testing.assert_allclose(ratio.mean(axis=0), np.log(np.pi / 2),
                             atol=0.03)
  assert np.abs(f[:, 18:]).max() < 0.2
  clean = np.stack([_photo(i) for i in range(40)])
  fc = wavelets.features(clean)
  assert np.median(fc[:, 18:]) > 0.3  # edges persist across scales
  assert np.median(fc[:, 1]) > np.log(2)  # the finest subband sparse
  grain = np.clip(clean + 0.05 * rng.standard_normal(clean.shape), 0, 1)
  for fake in (ndimage.gaussian_filter(clean, (0, 1.5, 1.5, 0)), grain):
    clf = nss.fit(wavelets.features(clean[:20]), wavelets.features(fake[:20]))
    held_out = clf.score(wavelets.features(clean[20:])), clf.score(
        wavelets.features(fake[20:]))
    assert realism.auc(*held_out) > 0.95
  with pytest.raises(ValueError, match="at least 8 x 8"):
    wavelets.features(clean[:, :4, :4])


def test_each_statistics_family_judges_on_its_own_features(monkeypatch):
  """The meter's wavelet judges see ddn.wavelets' features of the judges'
  crops (crop x crop, training and test sides alike), the NSS judges
  ddn.nss's: a family wired to the other's features would fail here."""
  from ddn import wavelets
  assert realism.STATS_FAMILIES["nss"][0] is nss.features
  assert realism.STATS_FAMILIES["wavelet"][0] is wavelets.features
  seen = {"nss": [], "wavelet": []}
  for name, module in (("nss", nss), ("wavelet", wavelets)):
    real = module.features

    def spy(crops, name=name, real=real):
      seen[name].append(crops.shape[1:3])
      return real(crops)
    monkeypatch.setitem(realism.STATS_FAMILIES, name,
                        (spy, realism.STATS_FAMILIES[name][1]))
  monkeypatch.setattr(realism, "STATS_CROPS", 64)
  meter = _meter(steps=2)
  r = meter.judge_fn(lambda x: x)
  # Per family: its real and denoised training crops, and the two sides'
  # test tiles, each at the judges' crop.
  for name in seen:
    assert len(seen[name]) == 4 and set(seen[name]) == {(32, 32)}, seen
    assert r[name]["auc"] == 1.0  # the noisy inputs, caught
