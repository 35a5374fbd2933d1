"""The package's shape: no import cycle, no overlong function.

Imports are read from the source (every `import` and `from ... import`,
at module level or inside a function). Importing `ddn.a.b` runs `ddn.a`'s
`__init__` first, so it counts as importing `ddn.a` too: a cycle through a
package's `__init__` is caught.
"""

import ast
import os

import pytest

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "ddn")
MAX_FUNCTION_LINES = 80


def modules(root: str = PKG) -> dict[str, str]:
  """{dotted module name: path} of every .py file of the package."""
  out = {}
  top = os.path.dirname(root)
  for dirpath, _, files in os.walk(root):
    for f in files:
      if f.endswith(".py"):
        path = os.path.join(dirpath, f)
        name = os.path.relpath(path, top)[:-3].replace(os.sep, ".")
        out[name.removesuffix(".__init__")] = path
  return out


def imports(name: str, path: str, known: dict[str, str]) -> set[str]:
  """The package modules `name` imports, with the packages above each."""
  is_pkg = path.endswith("__init__.py")
  here = name if is_pkg else name.rpartition(".")[0]
  found = set()
  for node in ast.walk(ast.parse(open(path).read())):
    if isinstance(node, ast.Import):
      found.update(a.name for a in node.names)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        parts = here.split(".")[:len(here.split(".")) - node.level + 1]
        base = ".".join(parts + ([base] if base else []))
      found.add(base)
      found.update(f"{base}.{a.name}" for a in node.names)
  out = set()
  for mod in found:
    parts = mod.split(".")
    out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
  # A module is not its own dependency, nor the packages that contain it.
  return {m for m in out & set(known)
          if m != name and not name.startswith(m + ".")}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
  """The strongly connected components with more than one module."""
  index, low, stack, on, found = {}, {}, [], set(), []

  def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    for w in graph[v]:
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      comp = []
      while True:
        w = stack.pop()
        on.discard(w)
        comp.append(w)
        if w == v:
          break
      if len(comp) > 1:
        found.append(sorted(comp))

  for v in sorted(graph):
    if v not in index:
      visit(v)
  return found


def test_no_import_cycle_in_ddn():
  known = modules()
  graph = {m: imports(m, p, known) for m, p in known.items()}
  assert {"ddn.tasks", "ddn.tasks.base", "ddn.train"} <= set(graph)
  assert "ddn.tasks.base" in graph["ddn.tasks.adversarial"]
  assert cycles(graph) == []


def test_the_cycle_check_finds_cycles(tmp_path):
  pkg = tmp_path / "ddn"
  (pkg / "sub").mkdir(parents=True)
  (pkg / "__init__.py").write_text("")
  (pkg / "a.py").write_text("def f():\n  from ddn.sub import leaf\n")
  (pkg / "sub" / "__init__.py").write_text("from ddn.sub import mid\n")
  (pkg / "sub" / "mid.py").write_text("from .. import a\n")
  (pkg / "sub" / "leaf.py").write_text("")
  known = modules(str(pkg))
  graph = {m: imports(m, p, known) for m, p in known.items()}
  # a -> ddn.sub (the package of leaf) -> mid -> a
  assert cycles(graph) == [["ddn.a", "ddn.sub", "ddn.sub.mid"]]


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_function_over_80_lines(name):
  path = modules()[name]
  long = [f"{path}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
          for n in ast.walk(ast.parse(open(path).read()))
          if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
          and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES]
  assert not long
