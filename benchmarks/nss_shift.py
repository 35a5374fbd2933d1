"""Which natural-scene statistics move: each NSS feature of a model's
outputs (ddn.nss: BRISQUE's fits of locally normalised luminances), as the
shift of its mean from the clean images' mean in clean standard deviations;
with --family=wavelet, each feature of the wavelet judges (ddn.wavelets:
Haar subbands' log energy and log moment ratio, parent-child magnitude
correlations) instead.

  python benchmarks/nss_shift.py --data=runs/natural_dev \
      --checkpoints=gray-s25,gray-s25-adv [--sigma=25] [--every=2] \
      [--tile=48] [--family=nss|wavelet] [--out=FILE.json]

Reads every `--every`-th PNG of the folder, adds Gaussian noise of σ (one
seed for all models), denoises it with each model (a shipped name or a
workdir, or A~B@α for the network interpolation (1 - α) · A + α · B),
cuts the clean image and each output into the same
non-overlapping tiles and computes ddn.nss.features on each tile. A
positive MSCN log-variance shift: more local contrast than clean (grain in
flat regions); a negative pairwise-product mean: neighbours anti-correlated
(a texture whiter than natural texture). Descriptive, not a test: the
realism judges (ddn.evaluate --realism) are the test. Seconds per model.
"""

from __future__ import annotations

import argparse
import glob
import json
import os

import numpy as np
from PIL import Image

from ddn import inference
from ddn import nss
from ddn import wavelets


def wavelet_names() -> list[str]:
  names = []
  for level in range(1, wavelets.LEVELS + 1):
    for o in ("H", "V", "D"):
      names += [f"L{level} {o} log-energy", f"L{level} {o} log-moment-ratio"]
  for level in range(1, wavelets.LEVELS):
    names += [f"L{level}/L{level + 1} {o} parent corr." for o in "HVD"]
  return names


def feature_names() -> list[str]:
  names = []
  for scale in (1, 2):
    names += [f"s{scale} MSCN shape", f"s{scale} MSCN log-variance"]
    for o in ("H", "V", "D1", "D2"):
      names += [f"s{scale} {o} shape", f"s{scale} {o} mean",
                f"s{scale} {o} log-left-var", f"s{scale} {o} log-right-var"]
  return names


def tiles(x: np.ndarray, t: int) -> list[np.ndarray]:
  h, w = x.shape[:2]
  return [x[i:i + t, j:j + t] for i in range(0, h - t + 1, t)
          for j in range(0, w - t + 1, t)]


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--data", default="runs/natural_dev")
  p.add_argument("--checkpoints", default="gray-s25,gray-s25-adv")
  p.add_argument("--sigma", type=float, default=25.0)
  p.add_argument("--every", type=int, default=2)
  p.add_argument("--tile", type=int, default=48)
  p.add_argument("--family", default="nss", choices=("nss", "wavelet"))
  p.add_argument("--out", default="")
  a = p.parse_args()
  files = sorted(glob.glob(os.path.join(a.data, "*.png")))[::a.every]
  if not files:
    raise SystemExit(f"nss_shift: no PNGs in --data={a.data}.")
  models = {}
  for c in a.checkpoints.split(","):
    if "~" in c:  # A~B@α: the network interpolation (1 - α) · A + α · B
      pair, alpha = c.rsplit("@", 1)
      d = inference.interpolate(*map(inference.load, pair.split("~")),
                                float(alpha))
    else:
      d = inference.load(c)
    models[c] = d.at(a.sigma)
  rng = np.random.default_rng(0)
  crops = {k: [] for k in ["clean", *models]}
  for f in files:
    x = np.asarray(Image.open(f).convert("L"), np.float32)[..., None] / 255
    noisy = x + rng.normal(0, a.sigma / 255, x.shape).astype(np.float32)
    crops["clean"] += tiles(x, a.tile)
    for name, d in models.items():
      crops[name] += tiles(np.asarray(d.apply_batch(noisy[None]))[0], a.tile)
  of, names, count = ((nss.features, feature_names(), nss.FEATURES)
                      if a.family == "nss" else
                      (wavelets.features, wavelet_names(), wavelets.FEATURES))
  feats = {k: of(np.stack(v)) for k, v in crops.items()}
  mean, sd = feats["clean"].mean(0), feats["clean"].std(0) + 1e-12
  shift = {k: ((feats[k].mean(0) - mean) / sd).tolist() for k in models}
  assert len(names) == count, f"ddn's {a.family} features changed"
  print(f"{len(files)} images of {a.data}, {len(crops['clean'])} tiles of "
        f"{a.tile} px, σ = {a.sigma:g}: (model mean - clean mean) / clean sd")
  print("| feature | " + " | ".join(models) + " |")
  print("|---|" + "---|" * len(models))
  for i, n in enumerate(names):
    print(f"| {n} | " + " | ".join(f"{shift[k][i]:+.2f}" for k in models)
          + " |")
  if a.out:
    with open(a.out, "w") as f:
      json.dump(dict(data=a.data, images=len(files), tile=a.tile,
                     sigma=a.sigma, family=a.family, features=names,
                     shift=shift,
                     command="python benchmarks/nss_shift.py "
                     f"--data={a.data} --checkpoints={a.checkpoints} "
                     f"--sigma={a.sigma:g} --every={a.every} --tile={a.tile}"
                     f" --family={a.family}"),
                f, indent=1)
      f.write("\n")


if __name__ == "__main__":
  main()
