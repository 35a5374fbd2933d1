"""What non-local means knows that gray-map does not, on the structure-rich
development set (benchmarks/structure_devset.py), never a test set.

  python benchmarks/nlm_probe.py --sigmas=15,25 --out=F.json

For every image at noise σ (the protocol's noise for its position in the
folder): gray-map's output f, the non-local means n_k of the noisy image
for each filter width (ddn.nlm, as config.model.nlm computes them) and,
with --bm3d, BM3D's p; PSNR of each, and of the least-squares blends the
clean image would choose (an upper bound on what a blend can gain): f +
a (n_k − f) per image, f + Σ a_k (n_k − f), and f + a (p − f). A blend of
f with BM3D gained 0.4 dB on this set (docs/quality.md, fusion); one with
non-local means gaining far less says the network, given those channels,
has little to learn from them. Prints the means; --out writes the rows.
"""

import argparse
import glob
import json
import os

import bm3d
import numpy as np
from skimage import io

from ddn import inference
from ddn import nlm
from ddn import protocol
import fusion_screen  # best: the clean image's least-squares weights


def oracle(clean, base, terms):
  """PSNR of base + Σ a_k terms[k], the a_k least squares on clean."""
  a = fusion_screen.best(clean, base, terms)
  return protocol.psnr(base + sum(ak * t for ak, t in zip(a, terms)), clean)


def probe(path, index, sigma, denoiser, widths, radius, patch, with_bm3d):
  clean = io.imread(path).astype(np.float64) / 255
  noisy = protocol.noisy_version(clean[..., None], sigma, index)
  f = denoiser(noisy)[..., 0].astype(np.float64)
  means = np.asarray(nlm.nonlocal_means(noisy[None].astype(np.float32),
                                        sigma, widths, radius, patch))[0]
  ns = [means[..., k].astype(np.float64) for k in range(len(widths))]
  row = {"image": os.path.basename(path), "sigma": sigma,
         "ddn": protocol.psnr(f, clean)}
  for h, n in zip(widths, ns):
    row[f"nlm{h:g}"] = protocol.psnr(n, clean)
    row[f"ddn+nlm{h:g}"] = oracle(clean, f, [n - f])
  row["ddn+nlm_all"] = oracle(clean, f, [n - f for n in ns])
  if with_bm3d:
    p = bm3d.bm3d(noisy[..., 0], sigma_psd=sigma / 255).astype(np.float64)
    row["bm3d"] = protocol.psnr(p, clean)
    row["ddn+bm3d"] = oracle(clean, f, [p - f])
  return row


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--data", default="runs/structure_dev")
  p.add_argument("--sigmas", default="15,25")
  p.add_argument("--widths", default="0.4,1.0")
  p.add_argument("--radius", type=int, default=10)
  p.add_argument("--patch", type=int, default=2)
  p.add_argument("--bm3d", action="store_true")
  p.add_argument("--out")
  a = p.parse_args()
  paths = sorted(glob.glob(os.path.join(a.data, "*.png")))
  if not paths:
    raise SystemExit(f"no PNGs in {a.data}: python "
                     "benchmarks/structure_devset.py writes them")
  widths = tuple(float(w) for w in a.widths.split(","))
  rows = []
  for sigma in (float(s) for s in a.sigmas.split(",")):
    denoiser = inference.load("gray-map").at(sigma)
    for i, path in enumerate(paths):
      rows.append(probe(path, i, sigma, denoiser, widths, a.radius, a.patch,
                        a.bm3d))
    these = [r for r in rows if r["sigma"] == sigma]
    keys = [k for k in these[0] if k not in ("image", "sigma")]
    print(f"σ = {sigma:g}, {len(these)} images: " + ", ".join(
        f"{k} {np.mean([r[k] for r in these]):.3f}" for k in keys))
  if a.out:
    with open(a.out, "w") as fh:
      json.dump({"command": "python benchmarks/nlm_probe.py "
                            f"--sigmas={a.sigmas} --widths={a.widths}"
                            + (" --bm3d" if a.bm3d else ""),
                 "rows": rows}, fh, indent=1)


if __name__ == "__main__":
  main()
