"""End-to-end: a real tiny run in tmp_path, resume, NaN stop, bad config."""

import json
import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from ddn import checkpoint
from ddn import evaluate
from ddn import logs
from ddn import train

from conftest import ROOT


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """One smoke run (96 images, 24 steps of 4), shared by the tests below."""
  from ddn import configs
  workdir = str(tmp_path_factory.mktemp("run"))
  c = configs.apply_args(configs.defaults("autoencoder"), "smoke")
  state = train.train_and_evaluate(c, workdir)
  return c, workdir, state


def test_run_leaves_checkpoints_metrics_and_plots(trained):
  c, workdir, state = trained
  assert int(state.step) == 24
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["12", "24"]
  for f in ("config.json", "metrics.jsonl", "learning_curve.png"):
    assert os.path.getsize(os.path.join(workdir, f)) > 0
  assert os.listdir(os.path.join(workdir, "images"))
  assert os.listdir(os.path.join(workdir, "tensorboard"))
  records = logs.read_metrics(os.path.join(workdir, "metrics.jsonl"))
  train_steps = [r["step"] for r in records if "train/ae/loss" in r]
  assert train_steps == [4, 8, 12, 16, 20, 24]  # every 16 images of 4
  val = [r for r in records if "val/psnr" in r]
  assert [r["images"] for r in val] == [48, 96]
  assert all(np.isfinite(r["val/psnr"]) for r in val)
  # Training helps: final validation PSNR above the noisy input's.
  assert val[-1]["val/psnr"] > val[-1]["val/psnr_noisy"]
  saved = json.load(open(os.path.join(workdir, "config.json")))
  assert saved["data"]["crop"] == c.data.crop


@pytest.mark.slow
def test_rerun_resumes_and_continues(trained, caplog):
  c, workdir, state = trained
  caplog.set_level("INFO")
  again = train.train_and_evaluate(c, workdir)  # nothing left to do
  assert int(again.step) == 24
  assert "resumed from step 24" in caplog.text
  np.testing.assert_array_equal(
      jax.tree_util.tree_leaves(again.params)[0],
      jax.tree_util.tree_leaves(state.params)[0])
  longer = c.copy_and_resolve_references()
  longer.train.total_images = 128
  more = train.train_and_evaluate(longer, workdir)
  assert int(more.step) == 32
  assert "32" in os.listdir(os.path.join(workdir, "checkpoints"))


@pytest.mark.slow
def test_init_from_and_mismatch(trained, tmp_path):
  c, workdir, state = trained
  warm = c.copy_and_resolve_references()
  warm.train.init_from = workdir
  warm.train.total_images = 4
  out = train.train_and_evaluate(warm, str(tmp_path / "warm"))
  assert int(out.step) == 1  # fresh optimizer, parameters from the run
  wide = warm.copy_and_resolve_references()
  wide.model.features = (8, 32)
  with pytest.raises(ValueError, match="does not match this model's archi"):
    train.train_and_evaluate(wide, str(tmp_path / "wide"))


def _checkpoint_steps(workdir: str) -> list[int]:
  return sorted(int(p) for p in os.listdir(os.path.join(workdir, "checkpoints"))
                if p.isdigit())


def test_non_finite_loss_stops_and_keeps_checkpoint(trained, tmp_path):
  c, workdir, _ = trained
  run = str(tmp_path / "nan")
  shutil.copytree(workdir, run)  # a finished run with checkpoints
  last = _checkpoint_steps(run)[-1]
  bad = c.copy_and_resolve_references()
  bad.optim.lr = 1e30  # Adam steps ~lr: the first update overflows
  bad.train.total_images = 400
  bad.train.checkpoint_every_images = 4  # would save every step
  with pytest.raises(FloatingPointError, match=(
      rf"diverged at step {last + 1}: non-finite .*param_norm.* \(window of "
      rf"steps {last + 1}-\d+\).*Last good checkpoint: step {last}\b")):
    train.train_and_evaluate(bad, run)
  with open(os.path.join(run, train.DIVERGED_RECORD)) as f:
    record = json.load(f)
  assert record["step"] == last + 1 and "diverged at step" in record["why"]
  assert _checkpoint_steps(run)[-1] == last
  params, step = checkpoint.load_params(run)
  assert step == last
  assert all(np.all(np.isfinite(p)) for p in jax.tree_util.tree_leaves(params))


@pytest.mark.parametrize("field,value,match", [
    ("model.features", (4, 8), r"model\.features[^)]*\): .*has shape"),
    ("optim.name", "sgd", r"optim\.name[^)]*\): .*optimizer differs"),
])
def test_resume_with_changed_state_fails_and_keeps_workdir(
    trained, tmp_path, field, value, match):
  c, workdir, _ = trained
  run = str(tmp_path / "changed")
  shutil.copytree(workdir, run)
  configs_of = lambda: {n: open(os.path.join(run, n)).read()
                        for n in os.listdir(run) if n.startswith("config")}
  before = configs_of()
  ckpts = sorted(os.listdir(os.path.join(run, "checkpoints")))
  other = c.copy_and_resolve_references()
  group, leaf = field.split(".")
  other[group][leaf] = value
  other.train.total_images = 400
  with pytest.raises(ValueError, match=r"step \d+ .* does not fit this config "
                     r"\(changed since it was saved: [^)]*" + match +
                     r".*new --workdir"):
    train.train_and_evaluate(other, run)
  assert configs_of() == before  # config.json and config.prev.json as they were
  assert sorted(os.listdir(os.path.join(run, "checkpoints"))) == ckpts


@pytest.mark.slow
def test_batch_not_divisible_by_devices(tmp_path):
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
  r = subprocess.run(
      [sys.executable, "launch.py", "--config=experiments/ae.py:smoke",
       f"--workdir={tmp_path}/w", "--config.data.batch_size=3"],
      capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
  assert r.returncode != 0
  assert ("batch_size=3 (the global batch) is not divisible by the 2 "
          "devices; use a multiple of 2, e.g. --config.data.batch_size=4"
          in r.stderr)


def test_evaluate_contract(trained, gray_folder, tmp_path):
  _, workdir, _ = trained
  out = str(tmp_path / "eval.json")
  records = evaluate.run(workdir, [f"folder:{gray_folder}"], [15, 50], out)
  saved = json.load(open(out))
  assert saved == json.loads(json.dumps(records))
  assert [r["sigma"] for r in saved] == [15, 50]
  for r in saved:
    assert {"data", "sigma", "method", "images", "psnr", "ssim",
            "seconds_per_image", "per_image"} <= set(r)
    assert r["images"] == 3 and len(r["per_image"]) == 3
    assert r["psnr"] == pytest.approx(np.mean([p["psnr"] for p in
                                               r["per_image"]]))
  assert saved[0]["psnr"] > saved[1]["psnr"]  # less noise, better output
  assert "| gray (3) | ddn |" in open(str(tmp_path / "eval.md")).read()


@pytest.mark.slow
def test_evaluate_command_line_errors(tmp_path):
  r = subprocess.run(
      [sys.executable, "-m", "ddn.evaluate", f"--checkpoint={tmp_path}",
       "--data=embedded:eval", f"--out={tmp_path}/e.json"],
      capture_output=True, text=True, cwd=ROOT, timeout=120)
  assert r.returncode != 0 and "not a ddn workdir" in r.stderr
  assert "flags:" not in r.stderr  # one clear line, not the usage text


def test_figures_over_finished_runs(trained, tmp_path):
  from ddn.figures import curves
  from ddn.figures import denoised
  from ddn.figures import runs as runs_lib
  _, workdir, _ = trained
  runs = runs_lib.parse_runs([f"a={workdir}", f"b={workdir}"])
  out = str(tmp_path / "lr.png")
  curves.lr_sweep(runs, out)
  assert os.path.getsize(out) > 10_000
  psnr = denoised.detail(runs, "embedded:eval", 0, 25.0,
                         str(tmp_path / "detail.png"), crop=32)
  assert set(psnr) == {"noisy", "a", "b"}
  assert psnr["a"] == psnr["b"] > psnr["noisy"]
  with pytest.raises(ValueError, match="not a finished ddn run"):
    runs_lib.parse_runs([str(tmp_path)])


def test_parse_runs_sweep_names_globs_and_labels(tmp_path):
  from ddn.figures import runs as runs_lib
  for name in ("lr=0.01", "lr=0.001"):
    os.makedirs(tmp_path / name)
    (tmp_path / name / "metrics.jsonl").write_text("")
  (tmp_path / "lr_sweep.png").write_text("")  # a glob skips plain files
  one = str(tmp_path / "lr=0.01")
  assert runs_lib.parse_runs([one]) == {"lr=0.01": one}  # a path, not LABEL=
  assert runs_lib.parse_runs([f"fast={one}"]) == {"fast": one}
  both = runs_lib.parse_runs([str(tmp_path / "*")])
  assert sorted(both.values()) == sorted(
      str(tmp_path / n) for n in ("lr=0.001", "lr=0.01"))
  # A run of two overrides, as absl's list flag splits it.
  two = tmp_path / "sweep2" / "lr=0.01,weight=0.003"
  os.makedirs(two)
  (two / "metrics.jsonl").write_text("")
  assert runs_lib.parse_runs(str(two).split(",")) == {two.name: str(two)}
  with pytest.raises(ValueError, match="at least one"):
    runs_lib.parse_runs([])


@pytest.mark.slow
def test_sweep_dry_run_lists_runs(tmp_path):
  r = subprocess.run(
      [sys.executable, "-m", "ddn.sweep", "--config=experiments/ae.py:smoke",
       f"--workdir={tmp_path}", "--dry_run"],
      capture_output=True, text=True, cwd=ROOT, timeout=120)
  assert r.returncode == 0, r.stderr
  names = [os.path.basename(line) for line in r.stdout.split()]
  assert names == ["lr=0.5", "lr=0.05", "lr=0.005", "lr=0.001", "lr=0.0001",
                   "lr=1e-05"]
