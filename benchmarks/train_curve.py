"""An adversarial run's training curve, as a record: every --every-th logged
row of each run's metrics.jsonl (images seen, G's training PSNR, D's accuracy
on real and on G's outputs, λ), printed as a table and written to --out.

For a run that is stopped early because D wins outright (its accuracy near
1, G's PSNR falling): the curve is the evidence, no judging needed.

  python benchmarks/train_curve.py runs/lr25/push2_lr4e-4 \
    runs/pushlen25/push2 --until=7000 --out=docs/records/lr4e-4_s25_curve.json
"""

import argparse
import json
import os

FIELDS = {"g_psnr": "train/g/psnr", "d_acc_real": "train/d/acc_real",
          "d_acc_fake": "train/d/acc_fake", "lambda": "train/g/adv_weight"}


def curve(run: str, every: int, until: int) -> list[dict]:
  rows = []
  with open(os.path.join(run, "metrics.jsonl")) as f:
    for line in f:
      r = json.loads(line)
      if "train/g/psnr" in r and r["images"] <= until:
        rows.append({"images": r["images"],
                     **{k: round(r.get(v, 0.0), 4) for k, v in FIELDS.items()}})
  return rows[every - 1::every]


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("runs", nargs="+", help="workdirs")
  p.add_argument("--every", type=int, default=2, help="keep every N-th row")
  p.add_argument("--until", type=int, default=10**9, help="images, at most")
  p.add_argument("--out", default="", help="JSON record")
  a = p.parse_args()
  record = {"command": "python benchmarks/train_curve.py " + " ".join(
      a.runs) + f" --every={a.every} --until={a.until}", "runs": {}}
  for run in a.runs:
    rows = curve(run, a.every, a.until)
    with open(os.path.join(run, "config.json")) as f:
      c = json.load(f)
    record["runs"][run] = {"g_lr": c["optim"]["lr"],
                           "push": c["adv"]["weight"], "curve": rows}
    print(f"\n{run} (G lr {c['optim']['lr']:g}, push {c['adv']['weight']:g})")
    print("images  G PSNR  D acc real  D acc fake  lambda")
    for r in rows:
      print(f"{r['images']:6d}  {r['g_psnr']:6.2f}  {r['d_acc_real']:10.2f}"
            f"  {r['d_acc_fake']:10.2f}  {r['lambda']:.5f}")
  if a.out:
    with open(a.out, "w") as f:
      json.dump(record, f, indent=1)


if __name__ == "__main__":
  main()
