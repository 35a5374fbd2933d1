"""ddn.figures' registry: every figure is listed and found by name, an
unknown name is one clear error, and a newly registered figure runs through
the same dispatch as python -m ddn.figures."""

import ast
import os
import subprocess
import sys
import types

from absl import app
import pytest

from ddn import figures
from ddn.figures import __main__ as figures_main

NINE = {"lr_sweep", "generalization", "classifiers", "detail", "adversarial",
        "perception", "plane", "spectra", "blocks"}
PACKAGE = os.path.dirname(figures.__file__)


def _cli_functions() -> dict[str, str]:
  """{figure name: 'module:cli_NAME'} of every cli_NAME function defined in
  the package's modules, read from their source."""
  found = {}
  for f in sorted(os.listdir(PACKAGE)):
    if not f.endswith(".py") or f.startswith("__"):
      continue
    with open(os.path.join(PACKAGE, f)) as fh:
      tree = ast.parse(fh.read())
    for node in tree.body:
      if isinstance(node, ast.FunctionDef) and node.name.startswith("cli_"):
        found[node.name[4:]] = f"ddn.figures.{f[:-3]}:{node.name}"
  return found


def test_registry_lists_every_figure():
  assert set(figures.FIGURES) == NINE
  # Every command-line entry in the package is registered, under its name.
  assert figures.FIGURES == _cli_functions()
  for name in figures.FIGURES:
    draw = figures.lookup(name)
    assert callable(draw) and draw.__name__ == f"cli_{name}"


def test_unknown_figure_is_one_clear_error():
  with pytest.raises(ValueError, match="no figure 'lr-sweep'") as e:
    figures.lookup("lr-sweep")
  assert all(name in str(e.value) for name in NINE)
  with pytest.raises(ValueError, match="no figure 'nope'"):
    figures.run("nope", types.SimpleNamespace(out="x.png"))


TOY = '''
def cli_toy(f):
  with open(f.out, "w") as fh:
    fh.write("toy of " + ",".join(f.runs))
  print("toy drawn")
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
  """A figure 'toy' in a new module (as a new family would be) and its one
  line in the registry."""
  (tmp_path / "toy_figure.py").write_text(TOY)
  monkeypatch.syspath_prepend(str(tmp_path))
  monkeypatch.setitem(figures.FIGURES, "toy", "toy_figure:cli_toy")
  return tmp_path


def test_a_registered_figure_runs_by_name(toy):
  out = toy / "toy.png"
  figures.run("toy", types.SimpleNamespace(out=str(out), runs=["a", "b"]))
  assert out.read_text() == "toy of a,b"


def test_the_command_line_dispatches_by_the_registry(toy, monkeypatch,
                                                     capsys):
  out = toy / "toy.png"
  opts = types.SimpleNamespace(out=str(out), runs=["r"])
  monkeypatch.setattr(figures_main, "flags",
                      types.SimpleNamespace(FLAGS=opts))
  monkeypatch.setattr(figures_main.runtime, "setup", lambda: None)
  figures_main.main(["ddn.figures", "toy"])
  assert out.read_text() == "toy of r"
  assert capsys.readouterr().out == f"toy drawn\nwrote {out}\n"
  with pytest.raises(app.UsageError, match="name one figure: .*toy"):
    figures_main.main(["ddn.figures", "nope"])
  with pytest.raises(app.UsageError, match="name one figure"):
    figures_main.main(["ddn.figures"])


def test_the_command_line_turns_bad_input_into_a_usage_error(monkeypatch):
  opts = types.SimpleNamespace(out="x.png", runs=None, records=None)
  monkeypatch.setattr(figures_main, "flags",
                      types.SimpleNamespace(FLAGS=opts))
  monkeypatch.setattr(figures_main.runtime, "setup", lambda: None)
  with pytest.raises(app.UsageError, match="give at least one workdir"):
    figures_main.main(["ddn.figures", "lr_sweep"])
  with pytest.raises(app.UsageError, match="plane needs --records"):
    figures_main.main(["ddn.figures", "plane"])


def test_python_m_ddn_figures_help():
  r = subprocess.run([sys.executable, "-m", "ddn.figures", "--help"],
                     capture_output=True, text=True, timeout=120,
                     cwd=os.path.dirname(os.path.dirname(PACKAGE)))
  assert "python -m ddn.figures lr_sweep" in r.stdout
  for flag in ("--runs", "--out", "--records", "--indices", "--baselines"):
    assert flag in r.stdout
