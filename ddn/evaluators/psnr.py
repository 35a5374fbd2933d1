"""PSNR and SSIM under the evaluation protocol (ddn.protocol): outputs
clipped and quantised to 8 bits, against the quantised clean image."""

from __future__ import annotations

import numpy as np

from ddn import protocol
from ddn.evaluators import base


def score(output: np.ndarray, clean: np.ndarray) -> dict[str, float]:
  """One image's protocol PSNR (dB) and SSIM."""
  est, ref = protocol.quantise(np.asarray(output)), protocol.quantise(clean)
  return {"psnr": protocol.psnr_uint8(est, ref),
          "ssim": protocol.ssim_uint8(est, ref)}


class PSNR(base.Evaluator):
  """Mean protocol PSNR and SSIM over the images, with per-image rows."""

  name = "psnr"

  def run(self, methods, images, outputs):
    out = {}
    for name in methods:
      rows = [{"name": n, **score(o, c)} for n, o, c in
              zip(images.names, outputs[name], images.clean)]
      out[name] = {"psnr": float(np.mean([r["psnr"] for r in rows])),
                   "ssim": float(np.mean([r["ssim"] for r in rows])),
                   "per_image": rows}
    return out
