"""A fault injected into a real adversarial run: SIGTERM, then a random
SIGKILL, then resume; the run must be the uninterrupted one, bit for bit
(a file of its own so that pytest-xdist runs it beside
tests/test_reliability.py)."""

import json
import os

import pytest

from ddn import train

from faults import (ADV, assert_same_run, experiment, kill_at_random,
                    sigterm_then)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def adv_reference(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("adv_ref"))
  train.train_and_evaluate(experiment(*ADV), workdir)
  return workdir



def test_adversarial_sigterm_then_random_kill(adv_reference, tmp_path):
  spec, over = ADV
  w = str(tmp_path / "w")
  # After the warm-ups (8 iterations): D and G both train.
  sigterm_then(spec, over, w, lambda w: kill_at_random(spec, over, w, 12, 1.5))
  assert_same_run(w, adv_reference)
  with open(os.path.join(w, "evaluation.json")) as f:
    got = json.load(f)
  with open(os.path.join(adv_reference, "evaluation.json")) as f:
    want = json.load(f)
  assert got == want  # the final evaluation of the same G and D
