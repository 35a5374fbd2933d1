"""Knocked-out blocks (benchmarks/knocked_out_blocks.sh): Gaussian noise and
BLOCKS set to 0, PSNR and detail power inside them with bootstrap 95%
intervals; noisy | each run | clean around a block."""

from __future__ import annotations

import json
import os

import jax
import numpy as np
from scipy import ndimage

from ddn import methods
from ddn import noise
from ddn import plots
from ddn import protocol
from ddn.figures import runs as runs_lib
from ddn.figures import stats

# Knocked-out blocks of the blocks figure: 4 squares of 24-40 px per test
# image, set to 0 after the Gaussian noise (experiments/adv_blocks.py trains
# on one 16-40 px block per 64 px crop).
BLOCKS = dict(block_count=4, block_size_min=24, block_size_max=40)
_KEYS = ("psnr", "psnr_blocks", "psnr_rest", "detail_blocks")


def knocked_out(clean: np.ndarray, sigma: float, index: int
                ) -> tuple[np.ndarray, np.ndarray]:
  """(noisy, mask): test image `index` with ddn.evaluate's Gaussian noise at
  σ, then BLOCKS knocked out (set to 0) where mask (H, W) is True; the same
  blocks for every run."""
  spec = noise.NoiseSpec(kinds=("blocks",), block_fill="zero", **BLOCKS)
  mask = np.asarray(noise.block_mask((1,) + clean.shape,
                                     jax.random.PRNGKey(index), spec))[0]
  noisy = protocol.noisy_version(clean, sigma, index)
  return np.where(mask, 0.0, noisy).astype(np.float32), mask[..., 0]


def blocks(runs: dict[str, str], data_spec: str, sigma: float, out: str,
           indices: list[int], crop: int = 96) -> dict[str, dict]:
  """Knocked-out blocks: every image of `data_spec` with Gaussian noise at σ
  and BLOCKS knocked out, denoised by each run; noisy | each run | clean
  on the images `indices`, each with a box around its largest block
  magnified.

  Returns:
    {label: {'psnr', 'psnr_blocks', 'psnr_rest' (dB, over the whole image,
     inside the blocks, outside them; means over the images),
     'detail_blocks' (the outputs' detail power inside the blocks, 2 px in
     from their edges, over clean's, pooled over the images: 1 = as much
     fine structure as clean, 0 = flat), each with '<key>_ci95', a bootstrap
     95% interval over the images}}.
  """
  denoisers, channels = runs_lib.load_runs(runs)
  if channels != 1:
    raise ValueError("blocks compares gray models.")
  source = methods.load_eval_source(data_spec, channels)
  runs_lib.check_indices(indices, source, data_spec)
  labels = ["noisy"] + list(denoisers)
  scores = {k: {key: [] for key in _KEYS} for k in labels}
  shown = {}  # index -> ({label: image}, its box)
  detail_clean = []
  for i in range(len(source)):
    clean = np.asarray(source[i], np.float32)
    noisy, mask = knocked_out(clean, sigma, i)
    outputs = {"noisy": noisy}
    outputs.update({k: d.at(sigma)(noisy) for k, d in denoisers.items()})
    inner = ndimage.binary_erosion(mask, iterations=2)  # blur stays inside
    detail_clean.append(stats.detail_energy(clean)[inner].sum())
    for k, v in outputs.items():
      _score(scores[k], v, clean, mask, inner)
    if i in indices:
      shown[i] = ({**outputs, "clean": clean}, _block_window(mask, crop))
  summary = {}
  for k, s in scores.items():
    summary[k] = {}
    for key, values in s.items():
      over = detail_clean if key == "detail_blocks" else None
      summary[k][key], summary[k][f"{key}_ci95"] = stats.mean_ci(values, over)
  columns = [(k, [shown[i][0][k] for i in indices])
             for k in labels + ["clean"]]
  notes = {k: [f"{scores[k]['psnr_blocks'][i]:.1f} dB in blocks"
               for i in indices] for k in labels}
  windows = [shown[i][1] for i in indices]
  plots.comparison(columns, out, crop=crop, notes=notes, windows=windows,
                   title=f"{data_spec} {indices}, σ={sigma:g}, "
                   f"{BLOCKS['block_count']} blocks of "
                   f"{BLOCKS['block_size_min']}-{BLOCKS['block_size_max']} px "
                   "knocked out")
  with open(os.path.splitext(out)[0] + ".json", "w") as fh:
    json.dump({"data": data_spec, "sigma": sigma, "blocks": BLOCKS,
               "runs": runs, "summary": summary}, fh, indent=1)
  return summary


def _score(scores: dict[str, list], output: np.ndarray, clean: np.ndarray,
           mask: np.ndarray, inner: np.ndarray) -> None:
  """Appends one image's scores (_KEYS) of `output` to `scores`."""
  q, ref = protocol.quantise(output), protocol.quantise(clean)
  scores["psnr"].append(protocol.psnr_uint8(q, ref))
  scores["psnr_blocks"].append(protocol.psnr_uint8(q[mask], ref[mask]))
  scores["psnr_rest"].append(protocol.psnr_uint8(q[~mask], ref[~mask]))
  scores["detail_blocks"].append(
      stats.detail_energy(np.clip(output, 0, 1))[inner].sum())


def _block_window(mask: np.ndarray, crop: int) -> tuple[int, int]:
  """Top-left (y, x) of a crop x crop box centred on the mask's largest
  knocked-out square (the one with the most pixels around its centre)."""
  h, w = mask.shape
  depth = ndimage.distance_transform_edt(mask)
  cy, cx = np.unravel_index(np.argmax(depth), mask.shape)
  y = int(np.clip(cy - crop // 2, 0, max(h - crop, 0)))
  x = int(np.clip(cx - crop // 2, 0, max(w - crop, 0)))
  return y, x


def cli_blocks(f) -> None:
  """python -m ddn.figures blocks: prints each run's PSNR and detail power
  in the blocks."""
  summary = blocks(runs_lib.parse_runs(f.runs or []), f.data, f.sigma, f.out,
                   [int(i) for i in f.indices], f.crop)
  for label, r in summary.items():
    lo, hi = r["detail_blocks_ci95"]
    print(f"{label}: PSNR {r['psnr']:.2f} dB, in the blocks "
          f"{r['psnr_blocks']:.2f} dB (outside {r['psnr_rest']:.2f}), "
          f"detail in the blocks ×{r['detail_blocks']:.2f} of clean's "
          f"[{lo:.2f}, {hi:.2f}]")
