"""Colour photographs with gray denoisers, and the noise level of an image.

A gray model denoises an RGB image in one of two ways (MODES):

  opponent     the image in an opponent colour space (BM3D's colour
               transform, as bm3d_rgb): luminance (R + G + B) / 3 and two
               colour differences (R - B) / 2 and (R - 2G + B) / 4, shifted
               into [0, 1]. The three rows are orthogonal, so white RGB noise
               of σ stays white and independent in each channel, at σ times
               the row's norm (0.58, 0.71 and 0.61); each channel is denoised
               by the model for its own σ, then the image turned back.
  per_channel  R, G and B each denoised on its own, all at σ.

`estimate_sigma` gives σ when the user does not: Donoho's wavelet median
estimator (the finest diagonal db2 details, as scikit-image's
`restoration.estimate_sigma`), with two corrections measured on
scikit-image's photographs with Gaussian noise of σ 10, 25 and 50:
  * clipped pixels (exactly 0 or 1) are left out, with, when there are
    some, the details whose local mean lies within 2σ of black or white
    (the noise there is cut short). A photograph brightened until 23% of
    its pixels clip, σ = 25: 19.4 -> 24.8 (camera).
  * a colour image that carries JPEG's 8 x 8 DCT quantisation (`jpeg_steps`)
    is measured on its luma Y = 0.299 R + 0.587 G + 0.114 B, divided by the
    row's norm: JPEG keeps luma noise but removes most colour noise, which
    makes R, G and B alike. σ = 25, JPEG quality 90: 15.7 -> 30.4
    (astronaut), 17.1 -> 31.4 (coffee); the gray-map output 27.07 -> 30.89
    dB on a 256 px crop of astronaut (30.74 dB told σ = 25).
`inspect_noise` adds what still makes the estimate unreliable, each as a
warning with its fix (give σ): JPEG compression, clipping, and noise that
grows with brightness (camera noise: one σ fits it poorly).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

MODES = ("opponent", "per_channel")
OPPONENT = np.array([[1 / 3, 1 / 3, 1 / 3],
                     [1 / 2, 0.0, -1 / 2],
                     [1 / 4, -1 / 2, 1 / 4]])
OFFSET = np.array([0.0, 0.5, 0.5])  # colour differences centred in [0, 1]
GAIN = np.linalg.norm(OPPONENT, axis=1)  # noise σ per channel, relative
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # JPEG's (JFIF) luma Y
# db2 analysis filters (pywt.Wavelet("db2")): high pass and low pass.
_HI = np.array([-0.48296291314453416, 0.8365163037378079,
                -0.2241438680420134, -0.12940952255126037], np.float32)
_LO = np.array([-0.12940952255126037, 0.2241438680420134,
                0.8365163037378079, 0.48296291314453416], np.float32)
_ONES = np.ones(4, np.float32)
_MAD = 0.6744897501960817  # the normal distribution's 75th percentile
# Low-frequency 8 x 8 DCT positions (row * 8 + column) that jpeg_steps
# examines; (0, 4) and (4, 0) are left out: integer pixels alone put them on
# a lattice.
_DCT_POSITIONS = (1, 8, 9, 2, 16, 10, 17, 3, 24, 11, 18, 25)
JPEG_MIN_STEPS = 3  # quantised positions that make an image JPEG's
CLIPPED_WARN = 0.10  # fraction of clipped pixels that gets a warning


def to_opponent(rgb: np.ndarray) -> np.ndarray:
  return (rgb @ OPPONENT.T + OFFSET).astype(np.float32)


def from_opponent(opp: np.ndarray) -> np.ndarray:
  return ((opp - OFFSET) @ np.linalg.inv(OPPONENT).T).astype(np.float32)


def denoise_rgb(denoiser_for: Callable[[float], Callable], rgb: np.ndarray,
                sigma: float, mode: str = "opponent") -> np.ndarray:
  """An (H, W, 3) image denoised with gray models: `denoiser_for(s)` is the
  gray denoiser ((H, W, 1) -> (H, W, 1)) to use at noise σ = s (0-255)."""
  if mode not in MODES:
    raise ValueError(f"colour mode {mode!r}: valid modes are "
                     f"{', '.join(MODES)}.")
  if rgb.ndim != 3 or rgb.shape[-1] != 3:
    raise ValueError(f"expected an (H, W, 3) image, got shape {rgb.shape}.")
  if mode == "per_channel":
    d = denoiser_for(sigma)
    return np.concatenate([d(rgb[:, :, c:c + 1]) for c in range(3)], axis=-1)
  opp = to_opponent(rgb)
  out = np.concatenate([denoiser_for(sigma * GAIN[c])(opp[:, :, c:c + 1])
                        for c in range(3)], axis=-1)
  return from_opponent(out)


# ----------------------------------------------------------------------------
# The noise level.


def _filter2(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
  """One level of a separable 2-D wavelet analysis, 'valid' (no border
  extension), keeping every second coefficient each way."""
  n = len(rows)
  h, w = (x.shape[0] - n) // 2 + 1, (x.shape[1] - n) // 2 + 1
  x = sum(rows[k] * x[k:k + 2 * h - 1:2] for k in range(n))
  return sum(cols[k] * x[:, k:k + 2 * w - 1:2] for k in range(n))


def _clipped(image: np.ndarray) -> np.ndarray:
  """(H, W) bool: a channel sits exactly at black or white."""
  out = np.zeros(image.shape[:2], bool)
  for c in range(image.shape[-1]):
    out |= (image[:, :, c] == 0) | (image[:, :, c] == 1)
  return out


def _touched(clipped: np.ndarray) -> np.ndarray:
  """Which level-1 db2 coefficients (_filter2's grid) see a clipped pixel."""
  return _filter2(clipped.astype(np.float32), _ONES, _ONES) > 0


def _details(plane: np.ndarray):
  """The finest diagonal db2 details of an (H, W) plane and the local means
  at the same places."""
  mean = _filter2(plane, _LO, _LO) / 2  # the low pass has gain 2 in 2-D
  return _filter2(plane, _HI, _HI), mean


def _robust_sigma(detail: np.ndarray, keep: np.ndarray) -> float | None:
  d = np.abs(detail[keep])
  d = d[d > 0]  # exactly flat places (e.g. a clipped sky) say nothing
  return float(np.median(d) / _MAD) if d.size else None


def _plane_sigma(plane: np.ndarray, touched: np.ndarray) -> float:
  """σ (0-1 scale) of one (H, W) plane, details touching clipped pixels
  (`touched`) left out."""
  detail, mean = _details(plane)
  s = _robust_sigma(detail, ~touched)
  if s is None:
    s = _robust_sigma(detail, np.ones_like(touched))
  if s is None:  # (nearly) no detail anywhere: a flat image
    return 0.0
  if not touched.any():
    return s
  inside = ~touched & (mean > 2 * s) & (mean < 1 - 2 * s)
  better = _robust_sigma(detail, inside) if inside.sum() >= 100 else None
  return better if better is not None else s


def _luma(image: np.ndarray) -> np.ndarray:
  return image @ LUMA if image.shape[-1] == 3 else image[:, :, 0]


def jpeg_steps(image: np.ndarray, clipped: np.ndarray | None = None) -> int:
  """How many of 12 low-frequency 8 x 8 DCT coefficients of the luma are
  quantised (their values cluster on multiples of a step >= 2): the
  signature JPEG leaves. >= JPEG_MIN_STEPS: JPEG-compressed. Measured on
  scikit-image's 13 photographs with Gaussian noise of σ 0, 5, 25 and 50:
  PNG 0 (but 12 for two noiseless ones that come from JPEGs, coins and
  page), JPEG quality 98: 0, 95: 4, 90 and 75: 7-12. The grid is the
  image's own (a JPEG cropped off its 8-pixel grid is not recognised).
  `clipped`: _clipped(image), if known."""
  image = np.asarray(image, np.float32)
  y = _luma(image) * 255
  h, w = y.shape[0] // 8 * 8, y.shape[1] // 8 * 8
  if h * w == 0:
    return 0
  from scipy import fft  # pylint: disable=g-import-not-at-top
  tile = lambda a: a[:h, :w].reshape(h // 8, 8, w // 8, 8).swapaxes(1, 2)
  # Clipping moves coefficients off the steps: blocks without a clipped
  # pixel, or with one when fewer than 200 have none.
  clipped = _clipped(image) if clipped is None else clipped
  count = tile(clipped).sum(axis=(2, 3)).ravel()
  ok = count <= (0 if (count == 0).sum() >= 200 else 1)
  blocks = tile(y).reshape(-1, 8, 8)[ok][:20000]
  coeffs = fft.dctn(blocks, axes=(1, 2), norm="ortho").reshape(-1, 64)
  found = 0
  for p in _DCT_POSITIONS:
    f = coeffs[:, p]
    for step in range(2, 41):
      nonzero = f[np.abs(f) > step / 2]
      if nonzero.size < 50:
        break
      # On multiples of the step: cos(2π f / step) near 1, where values
      # spread evenly average 0 ± 0.7 / sqrt(n) (a tail of values just past
      # step / 2 gives -1, not a false alarm).
      if np.cos(2 * np.pi * nonzero / step).mean() > max(
          0.3, 3 / np.sqrt(nonzero.size)):
        found += 1
        break
  return found


def estimate_sigma(image: np.ndarray) -> float:
  """The noise σ (0-255) of an (H, W, C) image in [0, 1]: the mean over
  channels of the wavelet median estimate with clipped pixels left out; a
  JPEG-compressed colour image is measured on its luma (module docstring)."""
  return _estimate(np.asarray(image, np.float32))[0]


def _estimate(x: np.ndarray):
  """(σ 0-255, JPEG-compressed (colour images only; gray: None), the
  clipped pixels) of a float32 image."""
  if x.ndim != 3:
    raise ValueError(f"expected one (H, W, C) image, got shape {x.shape}.")
  clipped = _clipped(x)
  jpeg = (jpeg_steps(x, clipped) >= JPEG_MIN_STEPS if x.shape[-1] == 3
          else None)
  planes = ([(_luma(x), np.linalg.norm(LUMA))] if jpeg else
            [(x[:, :, c], 1.0) for c in range(x.shape[-1])])
  touched = _touched(clipped) if min(x.shape[:2]) >= 8 else None
  sigmas = []
  for plane, gain in planes:
    if touched is not None:
      s = _plane_sigma(plane, touched)
    elif np.ptp(plane) == 0:
      s = 0.0
    else:  # too small for the masked estimate: scikit-image's
      from skimage import restoration  # pylint: disable=g-import-not-at-top
      s = float(restoration.estimate_sigma(plane))
    sigmas.append(s / gain)
  return 255.0 * float(np.mean(sigmas)), jpeg, clipped


@dataclasses.dataclass
class NoiseCheck:
  """What `inspect_noise` found: the estimate and what may make it wrong.

  Attributes:
    sigma: the estimated σ (0-255), as estimate_sigma.
    jpeg: the image carries JPEG's DCT quantisation (jpeg_steps).
    clipped: the fraction of pixels at black or white.
    growth: (σ in the darkest, σ in the brightest usable parts) when the
      noise grows with brightness, else None.
  """
  sigma: float
  jpeg: bool = False
  clipped: float = 0.0
  growth: tuple[float, float] | None = None

  def warnings(self, fix: str = "pass --sigma") -> list[str]:
    """One sentence per problem, each ending with `fix`."""
    out = []
    if self.jpeg:
      out.append(f"it looks JPEG-compressed (8x8 DCT quantisation), which "
                 f"removes part of the noise: σ {self.sigma:.1f} is a "
                 f"guess; if you know the noise level, {fix}")
    if self.clipped >= CLIPPED_WARN:
      out.append(f"{100 * self.clipped:.0f}% of its pixels are clipped at "
                 f"black or white, so σ {self.sigma:.1f} may be low; if you "
                 f"know the noise level, {fix}")
    if self.growth:
      lo, hi = self.growth
      out.append(f"its noise grows with brightness (σ ~{lo:.0f} in dark "
                 f"parts, ~{hi:.0f} in bright ones: camera noise?), so one "
                 f"σ ({self.sigma:.1f}) fits it poorly; to choose, {fix}")
    return out


def noise_growth(image: np.ndarray, sigma: float,
                 clipped: np.ndarray | None = None
                 ) -> tuple[float, float] | None:
  """(σ dark, σ bright) (0-255) when the noise grows with brightness, else
  None. The luma is cut into 16 x 16 pixel patches; in six brightness bins
  (patches at least 2σ from black and white) the 20th percentile of the
  patches' detail energy is the bin's noise (texture only adds); a slope of
  log σ on log brightness >= 0.3 with σ differing by >= 30% across a
  brightness range of >= 2x is growth. Measured on scikit-image's
  photographs: Gaussian noise σ 10-50: slope -0.4..0.2; noise of variance
  ∝ brightness (σ 10-25 at mid gray): 0.35..0.65 where the photograph spans
  2x in brightness."""
  x = np.asarray(image, np.float32)
  clipped = _clipped(x) if clipped is None else clipped
  if min(x.shape[:2]) < 8:
    return None
  (detail, mean), touched = _details(_luma(x)), _touched(clipped)
  p = 8
  h, w = detail.shape[0] // p * p, detail.shape[1] // p * p
  tile = lambda a: a[:h, :w].reshape(h // p, p, w // p, p).swapaxes(
      1, 2).reshape(-1, p * p)
  d, m, good = tile(detail), tile(mean), ~tile(touched)
  count = good.sum(axis=1)
  energy = np.sqrt((d ** 2 * good).sum(axis=1) / np.maximum(count, 1)) * 255
  level = m.mean(axis=1) * 255
  use = (count >= 0.75 * p * p) & (level > 2 * sigma) & (
      level < 255 - 2 * sigma)
  energy, level = energy[use], level[use]
  if level.size < 60:
    return None
  edges = np.linspace(level.min(), level.max(), 7)
  points = []
  for a, b in zip(edges[:-1], edges[1:]):
    inside = (level >= a) & (level <= b)
    if inside.sum() >= 10:
      points.append(((a + b) / 2, np.percentile(energy[inside], 20)))
  if len(points) < 3:
    return None
  lv, sg = np.array(points).T
  slope = np.polyfit(np.log(lv), np.log(sg), 1)[0]
  if lv.max() >= 2 * lv.min() and slope >= 0.3 and sg.max() >= 1.3 * sg.min():
    return float(sg[0]), float(sg[-1])
  return None


def inspect_noise(image: np.ndarray) -> NoiseCheck:
  """estimate_sigma's σ of an (H, W, C) image in [0, 1], and the known
  reasons it may be wrong (NoiseCheck.warnings says them)."""
  x = np.asarray(image, np.float32)
  sigma, jpeg, clipped = _estimate(x)
  if jpeg is None:  # gray: not needed for σ, examined now
    jpeg = jpeg_steps(x, clipped) >= JPEG_MIN_STEPS
  return NoiseCheck(sigma=sigma, jpeg=bool(jpeg),
                    clipped=float(clipped.mean()),
                    growth=noise_growth(x, sigma, clipped))
