"""Faults injected into real runs: kills, preemption, corrupt checkpoints,
non-finite updates, a full disk, torn metrics. Each resumed run must be the
run that would have happened: the same metrics records and the same final
state, bit for bit (README "Guarantees")."""

import glob
import os
import shutil
import signal
import subprocess

import jax
import numpy as np
import pytest

from ddn import checkpoint
from ddn import data as data_lib
from ddn import logs
from ddn import train

from conftest import ROOT
from faults import (ADV, AE, ENV, assert_same_run, command, experiment,
                    kill_at_random, run, sigterm_then)

# System tests: real runs killed, preempted, corrupted and filled up.
pytestmark = pytest.mark.slow



@pytest.fixture(scope="module")
def ae_reference(tmp_path_factory):
  """The autoencoder run, uninterrupted, in this process."""
  workdir = str(tmp_path_factory.mktemp("ae_ref"))
  train.train_and_evaluate(experiment(*AE), workdir)
  return workdir


def test_autoencoder_random_kill(ae_reference, tmp_path):
  """SIGKILL at a random moment after the first checkpoint: the same command
  resumes from the last complete checkpoint."""
  spec, over = AE
  w = str(tmp_path / "w")
  kill_at_random(spec, over, w, 13, 0.5)
  rc, out = run(command(spec, over, w))
  assert rc == 0, out[-3000:]
  assert "resumed from step" in out
  assert_same_run(w, ae_reference)


def test_classifier_sigterm_then_kill_in_checkpoint_write(ae_reference,
                                                          tmp_path):
  spec = "experiments/classifier.py:smoke"
  over = [f"--config.train.init_from={ae_reference}",
          "--config.train.total_images=128"]
  reference = str(tmp_path / "ref")
  train.train_and_evaluate(experiment(spec, over), reference)
  w = str(tmp_path / "w")

  def kill_in_save(w):
    # SIGKILL while checkpoint 24 is being written (its files written, not
    # yet renamed): the next run resumes from the step before, never from
    # the half-written one.
    rc, out = run(command(spec, over, w, fault=("kill_in_save", "24")))
    assert rc == -signal.SIGKILL, out[-3000:]
    leftovers = [n for n in os.listdir(os.path.join(w, "checkpoints"))
                 if not n.isdigit()]
    assert leftovers and all(n.startswith("24.") for n in leftovers)

  stopped, out = sigterm_then(spec, over, w, kill_in_save)
  # SIGTERM lands after the first log line; the steps are milliseconds, so
  # the step it stops at varies (before, at or after the checkpoint at 12),
  # but always before the one the kill interrupts (24).
  assert stopped < 24
  assert f"resumed from step {max(stopped, 12)}" in out
  kept = sorted({stopped, 12, 24, 32})[-3:]  # max_to_keep=3
  assert sorted(os.listdir(os.path.join(w, "checkpoints")), key=int) == [
      str(k) for k in kept]  # and the temporary directory removed
  assert_same_run(w, reference)


def _corrupt(step_dir: str, how: str) -> None:
  if how == "other_steps_arrays":  # readable, but not what was written
    arrays = os.path.join(step_dir, "default")
    shutil.rmtree(arrays)
    shutil.copytree(os.path.join(os.path.dirname(step_dir), "24", "default"),
                    arrays)  # the arrays of step 24
  elif how == "flipped_bytes":  # bit rot in the array data
    data = [f for f in glob.glob(os.path.join(step_dir, "default", "d", "*"))]
    path = max(data, key=os.path.getsize)
    with open(path, "r+b") as f:
      f.seek(os.path.getsize(path) // 2)
      b = f.read(16)
      f.seek(-16, 1)
      f.write(bytes(x ^ 0xFF for x in b))
  elif how == "truncated_metadata":
    with open(os.path.join(step_dir, "default", "_METADATA"), "r+b") as f:
      f.truncate(10)
  elif how == "missing_host_record":
    shutil.rmtree(os.path.join(step_dir, "host"))


# orbax's reader of a damaged step leaves a callback for its closed event
# loop; it is reported as an unraisable exception, harmlessly.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("how,why", [
    ("flipped_bytes", "DATA_LOSS"),
    ("truncated_metadata", "unreadable"),
    ("missing_host_record", "unreadable"),
    ("other_steps_arrays", "do not match the digest")])
def test_corrupt_checkpoint_falls_back_and_is_kept(ae_reference, tmp_path,
                                                   caplog, how, why):
  w = str(tmp_path / "w")
  shutil.copytree(ae_reference, w)
  _corrupt(os.path.join(w, "checkpoints", "48"), how)  # the latest
  with open(os.path.join(w, "metrics.jsonl"), "a") as f:
    f.write('{"step": 44, "images": 176, "train/ae/lo')  # killed mid-line
  caplog.set_level("INFO")
  train.train_and_evaluate(experiment(*AE), w)
  assert "checkpoint step 48 is corrupt" in caplog.text
  assert why in caplog.text
  assert "resumed from step 36" in caplog.text
  assert os.path.isdir(os.path.join(w, "checkpoints_corrupt", "48"))
  assert_same_run(w, ae_reference)


def test_sigterm_at_any_step_resumes_exactly(ae_reference, tmp_path,
                                             monkeypatch):
  """SIGTERM inside steps 6 and 17 (mid log window, mid checkpoint
  interval): each stops after its step with a checkpoint; the run resumed
  twice equals the uninterrupted one."""
  from ddn.tasks import autoencoder  # pylint: disable=g-import-not-at-top
  make_step = autoencoder.AutoencoderTask.make_step

  def signalling_make_step(self, shardings):
    step_fn = make_step(self, shardings)

    def step(state, batch, rng):
      if int(state.step) + 1 in (6, 17):  # the step this call makes
        os.kill(os.getpid(), signal.SIGTERM)
      return step_fn(state, batch, rng)
    return step

  monkeypatch.setattr(autoencoder.AutoencoderTask, "make_step",
                      signalling_make_step)
  w = str(tmp_path / "w")
  for stop in (6, 17):
    with pytest.raises(train.Preempted, match=rf"stopped by SIGTERM after "
                       rf"step {stop} \({4 * stop} images\); checkpoint saved"):
      train.train_and_evaluate(experiment(*AE), w)
  assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored
  train.train_and_evaluate(experiment(*AE), w)
  assert_same_run(w, ae_reference)


def test_every_checkpoint_corrupt_is_one_error(ae_reference, tmp_path):
  w = str(tmp_path / "w")
  shutil.copytree(ae_reference, w)
  for s in ("24", "36", "48"):
    _corrupt(os.path.join(w, "checkpoints", s), "truncated_metadata")
  with pytest.raises(ValueError, match=r"no intact checkpoint in .*step\(s\) "
                     r"48, 36, 24 are corrupt \(moved to .*checkpoints_corrupt"
                     r"\)\. Rerun to start this run from scratch"):
    train.train_and_evaluate(experiment(*AE), w)
  assert sorted(os.listdir(os.path.join(w, "checkpoints_corrupt"))) == [
      "24", "36", "48"]


def test_metrics_are_appended_and_read_once_per_step(tmp_path):
  path = str(tmp_path / "metrics.jsonl")
  w = logs.Writer(str(tmp_path), tensorboard=False)
  for s in (4, 8, 12, 16):
    w.scalars(s, 4 * s, {"train/loss": float(s)})
  w.close()
  with open(path, "a") as f:
    f.write('{"step": 20, "images"')  # torn by a kill
  before = open(path).read()
  w = logs.Writer(str(tmp_path), tensorboard=False, start=(8, 32))  # resumed
  for s in (12, 16, 20):
    w.scalars(s, 4 * s, {"train/loss": 100.0 + s})
  w.close()
  after = open(path).read()
  assert after.startswith(before)  # appended, never truncated
  recs = logs.read_metrics(path)
  assert [(r["step"], r["train/loss"]) for r in recs] == [
      (4, 4.0), (8, 8.0), (12, 112.0), (16, 116.0), (20, 120.0)]


def test_checkpoint_refuses_non_finite_state(tmp_path):
  mngr = checkpoint.manager(str(tmp_path))
  state = {"w": jax.numpy.array([1.0, np.nan]), "step": jax.numpy.array(3)}
  with pytest.raises(checkpoint.NonFinite, match="non-finite values in"):
    checkpoint.save(mngr, 3, state)
  mngr.close()
  assert not [n for n in os.listdir(tmp_path / "checkpoints")]


def nan_images(monkeypatch, every: int):
  """Makes every `every`-th training image all NaN."""
  load = data_lib.load_source

  def loaded(spec, cfg):
    src = load(spec, cfg)
    if spec != cfg.train:
      return src
    images = [np.full_like(a, np.nan) if i % every == 0 else a
              for i, a in enumerate(src)]
    return data_lib.Source(src.name, images, src.names)

  monkeypatch.setattr(data_lib, "load_source", loaded)


@pytest.mark.parametrize("task", ["autoencoder", "classifier", "adversarial"])
def test_non_finite_updates_skipped_and_counted(ae_reference, monkeypatch,
                                                tmp_path, task):
  spec, over = {"autoencoder": AE, "adversarial": ADV,
                "classifier": ("experiments/classifier.py:smoke",
                               [f"--config.train.init_from={ae_reference}"])
                }[task]
  c = experiment(spec, over)
  c.train.skip_nonfinite = 3
  c.data.batch_size = 2
  c.train.total_images = 48  # the adversarial run: 8 iterations after warm-ups
  nan_images(monkeypatch, 8)  # one image of 8: never 4 steps in a row
  if "final" in c.eval:
    c.eval.final = False  # the adversarial run's realism test: not needed
  w = str(tmp_path / "skip")
  state = train.train_and_evaluate(c, w)
  recs = [r for r in logs.read_metrics(os.path.join(w, "metrics.jsonl"))
          if "train/skipped_total" in r]
  assert 0 < recs[-1]["train/skipped_total"] < 24
  flags = {k for r in recs for k in r if k.endswith("skipped")}
  assert flags == ({"train/skipped", "train/d/skipped"}
                   if task == "adversarial" else {"train/skipped"})
  assert all(np.isfinite(v) for r in recs for v in r.values())
  assert all(np.all(np.isfinite(x)) for x in jax.tree_util.tree_leaves(state))
  if task != "autoencoder":
    return
  # The same data without skipping: stops at the first NaN step.
  c.train.skip_nonfinite = 0
  with pytest.raises(train.Diverged, match=r"diverged at step \d+: non-finite"
                     r".*ae/loss.*window of steps"):
    train.train_and_evaluate(c, str(tmp_path / "stop"))


def test_too_many_skipped_updates_in_a_row_stop(monkeypatch, tmp_path):
  c = experiment(*AE)
  c.train.skip_nonfinite = 2
  nan_images(monkeypatch, 1)
  w = str(tmp_path / "w")
  with pytest.raises(train.Diverged, match=r"3 updates in a row had "
                     r"non-finite values and were skipped, the last at step 3"
                     r".*skip_nonfinite=2.*No checkpoint was written yet"):
    train.train_and_evaluate(c, w)
  assert not os.path.exists(os.path.join(w, "checkpoints", "1"))


def _can_mount_tmpfs() -> bool:
  if not shutil.which("unshare"):
    return False
  r = subprocess.run(["unshare", "-rm", "sh", "-c",
                      "mount -t tmpfs -o size=1m tmpfs /mnt"],
                     capture_output=True, timeout=30)
  return r.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs `unshare -rm` to "
                    "mount a small tmpfs (a disk that can fill up)")
def test_disk_full_mid_run_is_one_error_and_resumes(ae_reference, tmp_path):
  """A 64 MB tmpfs (in a private mount namespace) as the workdir's disk; the
  disk fills after checkpoint 24. The run stops with one message, keeps
  checkpoint 24, and, space freed, the same command finishes the run."""
  spec, over = AE
  mnt = tmp_path / "disk"
  mnt.mkdir()
  out = tmp_path / "out"
  w = f"{mnt}/w"
  full = " ".join(command(spec, over, w, fault=("fill_disk", "24")))
  again = " ".join(command(spec, over, w))
  script = (f"mount -t tmpfs -o size=64m tmpfs {mnt} && "
            f"{{ {full}; echo \"rc1=$?\"; ls {w}/checkpoints; "
            f"rm {mnt}/filler; {again}; echo \"rc2=$?\"; }} > {out}/log 2>&1;"
            f" cp -r {w} {out}/w")
  out.mkdir()
  subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=ROOT, env=ENV,
                 timeout=600, check=True)
  log = (out / "log").read_text()
  assert "rc1=1" in log, log[-3000:]
  msg = [ln for ln in log.splitlines() if ln.startswith("ddn: ")]
  assert len(msg) == 1 and "cannot write to the workdir" in msg[0], log[-3000:]
  assert "No space left on device" in msg[0]
  assert "Last good checkpoint: step 24" in msg[0]
  assert "rc2=0" in log and "resumed from step 24" in log, log[-3000:]
  assert_same_run(str(out / "w"), ae_reference)


def test_unwritable_workdir_fails_before_training(tmp_path):
  ro = tmp_path / "ro"
  ro.mkdir()
  (ro / "w").write_text("a file where the workdir should be")
  rc, out = run(command(*AE, str(ro / "w")))
  assert rc == 1
  assert "ddn: workdir" in out and "is not writable" in out
  assert "Traceback" not in out


def test_disk_too_small_for_a_checkpoint_fails_before_training(
    monkeypatch, tmp_path, caplog):
  usage = shutil.disk_usage(tmp_path)
  w = str(tmp_path / "w")
  monkeypatch.setattr(train.shutil, "disk_usage",
                      lambda p: usage._replace(free=1000))
  with pytest.raises(ValueError, match=r"has 0\.0 MB free, less than one "
                     r"checkpoint \(0\.\d MB\)"):
    train.train_and_evaluate(experiment(*AE), w)
  assert not os.path.exists(os.path.join(w, "metrics.jsonl"))
  assert not os.listdir(os.path.join(w, "checkpoints"))


def test_init_from_a_run_with_a_corrupt_latest_step(ae_reference, tmp_path,
                                                    caplog):
  """init_from reads another run without changing it: a corrupt latest step
  is skipped with a warning (not moved), and an in-flight temporary
  directory (that run may still be training) is left alone."""
  src = str(tmp_path / "src")
  shutil.copytree(ae_reference, src)
  _corrupt(os.path.join(src, "checkpoints", "48"), "truncated_metadata")
  in_flight = os.path.join(src, "checkpoints", "60.orbax-checkpoint-tmp-1")
  os.makedirs(in_flight)
  c = experiment(*AE)
  c.train.init_from = src
  c.train.total_images = 4
  caplog.set_level("INFO")
  train.train_and_evaluate(c, str(tmp_path / "w"))
  assert "checkpoint step 48 is corrupt" in caplog.text
  assert f"initialised from {src} step 36" in caplog.text
  assert os.path.isdir(in_flight)
  assert os.path.isdir(os.path.join(src, "checkpoints", "48"))
  assert not os.path.exists(os.path.join(src, checkpoint.CORRUPT_DIR))
