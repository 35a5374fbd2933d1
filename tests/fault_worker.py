"""Runs launch.py with a fault injected (tests/test_reliability.py).

  python tests/fault_worker.py FAULT STEP -- LAUNCH_ARGS...

FAULT:
  kill_in_save  SIGKILL this process while it writes checkpoint STEP: every
                file of the step is written, but the step's temporary
                directory is not yet renamed to its final name.
  fill_disk     after checkpoint STEP is written, fill the workdir's file
                system (a file `filler` beside the workdir) until it has no
                space left; training then goes on into a full disk.
"""

import errno
import os
import runpy
import signal
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def kill_in_save(step: int) -> None:
  from orbax.checkpoint._src.path import atomicity  # pylint: disable=g-import-not-at-top
  cls = atomicity.AtomicRenameTemporaryPath
  finalize = cls.finalize

  async def killing_finalize(self, *args, **kwargs):
    if self._final_path.name == str(step):  # the step, after its items
      os.kill(os.getpid(), signal.SIGKILL)
    return await finalize(self, *args, **kwargs)

  cls.finalize = killing_finalize


def fill_disk(step: int, workdir: str) -> None:
  from ddn import checkpoint  # pylint: disable=g-import-not-at-top
  save = checkpoint.save

  def save_then_fill(mngr, at, state, host=None):
    save(mngr, at, state, host)
    if at == step:
      path = os.path.join(os.path.dirname(os.path.abspath(workdir)), "filler")
      with open(path, "wb") as f:
        try:
          while True:
            f.write(b"\0" * (1 << 16))
            f.flush()
        except OSError as e:
          assert e.errno == errno.ENOSPC, e
      print(f"fault_worker: filled the disk after step {at}", file=sys.stderr)

  checkpoint.save = save_then_fill


def main():
  fault, step, sep, *args = sys.argv[1:]
  assert sep == "--", sys.argv
  if fault == "kill_in_save":
    kill_in_save(int(step))
  elif fault == "fill_disk":
    workdir = next(a.split("=", 1)[1] for a in args
                   if a.startswith("--workdir="))
    fill_disk(int(step), workdir)
  else:
    raise SystemExit(f"unknown fault {fault!r}")
  sys.argv = [os.path.join(ROOT, "launch.py"), *args]
  sys.path.insert(0, ROOT)
  runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
  main()
