"""How much a G that samples (config.model.noise_input) really samples.

For each image of a source, at one σ, with the protocol's noise (ddn.protocol,
the same noisy image as ddn.evaluate's): S independent samples of G (seeds
0..S-1); prints and records

  * spread: the per-pixel standard deviation over the S samples, averaged
    over pixels (0: G ignores z), beside the MSE model's RMS error on the
    same image: a posterior sample's spread around the posterior mean is
    the MMSE error, so spread / error near 1 is the scale of a true sample;
  * PSNR of one sample and of the mean of N samples, N in --n (the
    perception-distortion curve's distortion axis for the one model; the
    realism axis needs `ddn.evaluate --realism --samples=N`);
  * the MSE model's PSNR.

  python benchmarks/sample_diversity.py --run=runs/sample25/push2_z0.1_s400 \
    --mse=gray-s25 --data=folder:runs/structure_dev --sigma=25 \
    --out=runs/sample25/push2_z0.1_diversity.json

Means carry a bootstrap 95% interval over the images (ddn.figures.stats).
"""

import argparse
import copy
import json

import numpy as np

from ddn import configs
from ddn import data as data_lib
from ddn import inference
from ddn import protocol
from ddn.figures import stats


def seeded(run, seed):
  """`run` drawing its z from `seed` (shares parameters and compiled code)."""
  view = copy.copy(run)
  view.seed = int(seed)
  return view


def per_image(run, mse, clean, noisy, n_list, samples):
  draws = np.stack([seeded(run, s)(noisy) for s in range(samples)])
  ref = mse(noisy)
  row = {"spread": float(draws.std(0).mean()),
         "mse_rmse": float(np.sqrt(np.mean((np.clip(ref, 0, 1) - clean) ** 2))),
         "psnr_mse": protocol.psnr(ref, clean)}
  for n in n_list:
    row[f"psnr_n{n}"] = protocol.psnr(draws[:n].mean(0), clean)
  return row


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--run", required=True, help="a G that samples")
  p.add_argument("--mse", default="gray-s25", help="the MSE model")
  p.add_argument("--data", required=True, help="e.g. folder:DIR")
  p.add_argument("--sigma", type=float, default=25.0)
  p.add_argument("--n", default="1,2,4,8,32",
                 help="sample counts whose mean is scored")
  p.add_argument("--max_images", type=int, default=0, help="0: all")
  p.add_argument("--out", default="")
  a = p.parse_args()
  n_list = [int(v) for v in a.n.split(",")]
  run = inference.load(a.run)
  if not run.noise_input:
    raise SystemExit(f"--run={a.run}: this model does not sample "
                     "(config.model.noise_input = 0).")
  mse = inference.load(a.mse)
  data_cfg = configs.defaults("autoencoder").data
  data_cfg.channels = run.channels
  source = data_lib.load_source(a.data, data_cfg)
  rows = []
  for i in range(min(len(source), a.max_images or len(source))):
    clean = np.asarray(source[i], np.float32)
    noisy = protocol.noisy_version(clean, a.sigma, i)
    rows.append(per_image(run, mse, clean, noisy, n_list, max(n_list)))
    print(f"image {i}: spread {rows[-1]['spread']:.4f} (MSE model's error "
          f"{rows[-1]['mse_rmse']:.4f}), one sample "
          f"{rows[-1]['psnr_n1']:.2f} dB", flush=True)
  summary = {}
  for key in rows[0]:
    mean, ci = stats.mean_ci([r[key] for r in rows])
    summary[key] = {"mean": mean, "ci": list(ci)}
  ratio = [r["spread"] / r["mse_rmse"] for r in rows]
  mean, ci = stats.mean_ci(ratio)
  summary["spread_over_error"] = {"mean": mean, "ci": list(ci)}
  for key, v in summary.items():
    print(f"{key:>18}: {v['mean']:.4f} [{v['ci'][0]:.4f}, {v['ci'][1]:.4f}]")
  if a.out:
    with open(a.out, "w") as f:
      json.dump({"run": a.run, "mse": a.mse, "data": a.data,
                 "sigma": a.sigma, "images": len(rows), "summary": summary,
                 "rows": rows}, f, indent=1)


if __name__ == "__main__":
  main()
