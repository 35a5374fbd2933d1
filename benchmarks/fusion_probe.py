"""How ddn.fusion's SURE weight depends on its divergence probe: the probe's
size ε (a fraction of the noise's s = σ / 255) and the number of probes
averaged, against the weight the clean image would choose. Read on
development images (default: every 25th Train400 image), never a test set.

  python benchmarks/fusion_probe.py --data=../shared/data/Train400 \
      --every=25 --sigmas=25,50 --out=F.json

BM3D is not smooth (hard thresholds, block matching decisions), so a tiny
probe's finite difference can be dominated by a few coefficients crossing a
threshold; a larger probe averages over them. For each image and σ: gray-map
and BM3D once, then both on the image plus ε·b for `probes` probes b per ε;
the SURE α of one probe and of the mean of all, the oracle α, and the PSNR
of each blend. Prints, per (σ, ε, probes), the mean and worst PSNR lost
against the oracle's blend and the mean |α − oracle α|.
"""

import argparse
import glob
import json
import os

import bm3d
import numpy as np
from skimage import io

from ddn import fusion
from ddn import inference
from ddn import protocol


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--data", default="../shared/data/Train400")
  ap.add_argument("--every", type=int, default=25)
  ap.add_argument("--sigmas", default="25,50")
  ap.add_argument("--eps", default="0.01,0.1,0.3,1.0")
  ap.add_argument("--probes", type=int, default=2)
  ap.add_argument("--out", default="")
  args = ap.parse_args()
  files = sorted(glob.glob(os.path.join(args.data, "*.png")))[::args.every]
  eps_list = [float(e) for e in args.eps.split(",")]
  rows = []
  for sigma in [float(s) for s in args.sigmas.split(",")]:
    net = inference.load("gray-map").at(sigma)
    s = sigma / 255
    other = lambda y: bm3d.bm3d(y[..., 0], sigma_psd=s)[..., None]
    for index, path in enumerate(files):
      clean = io.imread(path).astype(np.float32)[..., None] / 255
      noisy = protocol.noisy_version(clean, sigma, index)
      f = np.asarray(net(noisy), np.float64)
      p = np.asarray(other(noisy), np.float64)
      g = f - p
      oracle = float(np.clip(np.sum((clean - p) * g) / np.sum(g * g), 0, 1))
      psnr = lambda a: protocol.psnr(p + a * g, clean)
      row = {"image": os.path.basename(path), "sigma": sigma,
             "oracle_alpha": oracle, "oracle_psnr": psnr(oracle),
             "ddn": psnr(1.0), "bm3d": psnr(0.0), "by_eps": {}}
      for e in eps_list:
        divs = []
        for k in range(args.probes):
          probe = np.random.default_rng([index, k, 77]).standard_normal(
              noisy.shape)
          divs.append((fusion.divergence(net, noisy, f, probe, e * s),
                       fusion.divergence(other, noisy, p, probe, e * s)))
        one = fusion.sure_alpha(noisy, f, p, *divs[0], sigma)
        mean = fusion.sure_alpha(noisy, f, p, *np.mean(divs, 0), sigma)
        row["by_eps"][str(e)] = {"alpha_one": one, "psnr_one": psnr(one),
                                 "alpha_mean": mean, "psnr_mean": psnr(mean)}
      rows.append(row)
      print(row["image"], sigma, round(oracle, 2), {
          e: (round(v["alpha_one"], 2), round(v["alpha_mean"], 2))
          for e, v in row["by_eps"].items()}, flush=True)
  print("σ | ε/s | probes | PSNR lost vs oracle: mean, worst | mean |α − oracle|")
  for sigma in sorted({r["sigma"] for r in rows}):
    rs = [r for r in rows if r["sigma"] == sigma]
    for e in eps_list:
      for kind, n in (("one", 1), ("mean", args.probes)):
        lost = [r["oracle_psnr"] - r["by_eps"][str(e)][f"psnr_{kind}"]
                for r in rs]
        da = [abs(r["by_eps"][str(e)][f"alpha_{kind}"] - r["oracle_alpha"])
              for r in rs]
        print(f"{sigma:g} | {e:g} | {n} | {np.mean(lost):.3f}, "
              f"{np.max(lost):.3f} | {np.mean(da):.3f}")
  if args.out:
    with open(args.out, "w") as fh:
      json.dump({"args": vars(args), "rows": rows}, fh, indent=1)


if __name__ == "__main__":
  main()
