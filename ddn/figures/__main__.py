"""Figures over finished runs.

  # Learning-rate sweep: training and validation curves overlaid (the
  # chapter's Figure 17.4). Labels default to each run's optim.lr.
  python -m ddn.figures lr_sweep --runs=/tmp/ddn/lr/* --out=lr_sweep.png

  # Detail crops, same image and same noise for every run (Figure 17.7);
  # runs may be shipped models, --baselines adds classical methods:
  python -m ddn.figures detail --runs=SSD=/tmp/ddn/ae_l2,L1=/tmp/ddn/ae_l1 \
      --data=embedded:eval --index=0 --sigma=25 --out=detail.png
  python -m ddn.figures detail --runs=ddn=gray-s25 --baselines=gaussian,median \
      --tune_data=folder:../shared/data/Train400 --out=smoothing.png

  # Training vs validation loss of several runs on one axis:
  python -m ddn.figures generalization --runs=a=runs/x,b=runs/y --out=g.png

  # Classifiers: validation error rates vs images seen, one colour a run
  # (overall solid, real and denoised dashed), and the final rates printed:
  python -m ddn.figures classifiers --runs=image=runs/clf,patch=runs/clf_patch \
      --out=classifier_error.png

  # Perception-distortion plane over finished adversarial runs (also
  # drawn by python -m ddn.sweep --config=experiments/adv_pd.py):
  python -m ddn.figures perception --runs=runs/pd/* --out=pd.png

  # The perception-distortion plane of ddn.evaluate --realism records (runs
  # named as recipes.perception_sweep names them; the network interpolation
  # as a curve), and the radial power spectra of outputs over clean's
  # (benchmarks/perception_distortion.sh draws both):
  python -m ddn.figures plane --records=runs/pd50/records.json --out=plane.png
  python -m ddn.figures spectra --runs=MSE=gray-s50,adv=gray-s50-adv \
      --data=folder:../shared/data/BSD68 --sigma=50 --out=spectra.png

  # Knocked-out blocks (benchmarks/knocked_out_blocks.sh): Gaussian noise
  # and 4 blocks of 24-40 px set to 0, PSNR and detail power inside them
  # with bootstrap 95% intervals; noisy | each run | clean around a block:
  python -m ddn.figures blocks --runs=MSE=runs/blocks/push0 \
      --data=folder:../shared/data/BSD68 --sigma=50 --indices=2 --out=b.png

  # Adversarial comparison (the chapter's Figure 17.5): noisy | each run |
  # clean, whole images with a magnified detail crop, same noise for all:
  python -m ddn.figures adversarial --data=embedded:eval --indices=0,1 \
      --runs="no adversary=runs/ae,big=runs/adv_big,small=runs/adv_small" \
      --out=adversarial_comparison.png

--runs is a comma-separated list of WORKDIR or LABEL=WORKDIR (a label holds
neither "=" nor ","). The figures are looked up by name in
ddn.figures.FIGURES.
"""

from __future__ import annotations

from absl import app
from absl import flags

from ddn import figures
from ddn import runtime


def define_flags():
  """Command-line flags; defined only when run as a program."""
  flags.DEFINE_list("runs", None, "WORKDIR or LABEL=WORKDIR, ...")
  flags.DEFINE_string("out", None, "Output PNG.")
  flags.DEFINE_string("data", "embedded:eval", "detail: image source.")
  flags.DEFINE_integer("index", 0, "detail: image index in --data.")
  flags.DEFINE_float("sigma", 25.0, "detail: noise σ (0-255 scale).")
  flags.DEFINE_integer("crop", 64, "detail, adversarial, blocks: magnified "
                       "crop size.")
  flags.DEFINE_list("indices", ["0"], "adversarial, blocks: image indices in "
                    "--data.")
  flags.DEFINE_list("baselines", [], "detail: classical methods to show too "
                    "(gaussian, median, nlm, bm3d).")
  flags.DEFINE_string("tune_data", "embedded:train", "detail: images the "
                      "gaussian/median widths are chosen on.")
  flags.DEFINE_string("records", None, "plane: ddn.evaluate --realism's "
                      "JSON output.")
  flags.mark_flags_as_required(["out"])


def main(argv):
  if len(argv) != 2 or argv[1] not in figures.FIGURES:
    raise app.UsageError(f"name one figure: {', '.join(figures.FIGURES)}.")
  runtime.setup()
  try:
    figures.run(argv[1], flags.FLAGS)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  print(f"wrote {flags.FLAGS.out}")


if __name__ == "__main__":
  define_flags()
  app.run(main, flags_parser=runtime.parse_flags)
