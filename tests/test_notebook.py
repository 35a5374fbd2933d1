"""The Colab notebook (notebooks/ddn_colab.ipynb) executed top to bottom on
this CPU at smoke sizes, its accelerator check stubbed (a file of its own,
so that pytest-xdist runs it beside tests/test_scale.py)."""

import json
import os

import pytest

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_colab_notebook_runs_and_shows_the_plots(tmp_path):
  import nbclient  # pylint: disable=g-import-not-at-top
  import nbformat  # pylint: disable=g-import-not-at-top
  path = os.path.join(ROOT, "notebooks", "ddn_colab.ipynb")
  nb = nbformat.read(path, as_version=4)
  # The accelerator check stubbed: this machine's CPU is what it expects.
  env = dict(DDN_NOTEBOOK_SMOKE="1", DDN_EXPECT="cpu",
             DDN_NOTEBOOK_WORKDIR=str(tmp_path / "adv"))
  os.environ.update(env)
  try:
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": ROOT}}).execute()
  finally:
    for k in env:
      os.environ.pop(k, None)
  images = [o for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
  assert len(images) == 4  # two curves, the comparison grid, the photograph
  text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                 for o in c.get("outputs", []))
  assert "final G: PSNR" in text and "found backend 'cpu'" in text
  assert "astronaut_sigma25.png -> " in text and "gray-map" in text
  with open(tmp_path / "adv" / "evaluation.json") as f:
    ev = json.load(f)  # experiments/adv.py's smoke run, to the end
  assert set(ev["calibration"]) == {"clean", "noisy", "gaussian"}
  assert 0 <= ev["g"]["realism_auc"] <= 1 and ev["g"]["psnr"] > 0
  assert (tmp_path / "adv" / "photos" / "astronaut_sigma25_denoised.png"
          ).exists()
