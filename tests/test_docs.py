"""Every relative link in the READMEs and docs/ leads somewhere.

Markdown links and images, `[text](path)` and `![alt](path)`, outside code
(fenced blocks and inline code spans are skipped), are resolved relative to
the file that holds them; http(s) and mailto links are not followed. A link
with an `#anchor` into a .md file (or within the same file) must name one of
its headings, slugged as GitHub does: the heading's rendered text lowercased,
punctuation other than `-` and `_` dropped, spaces turned into `-`, and a
repeated slug suffixed `-1`, `-2`, ...
"""

import glob
import os
import re
import urllib.parse

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.S)
LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^)\s>]*)>?"
                  r"(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$", re.M)
EXTERNAL = ("http://", "https://", "mailto:")


def markdown_files() -> list[str]:
  """README.md, benchmarks/README.md and every .md file under docs/."""
  files = ["README.md", os.path.join("benchmarks", "README.md")] + sorted(
      glob.glob(os.path.join("docs", "**", "*.md"), root_dir=ROOT,
                recursive=True))
  return [f for f in files if os.path.isfile(os.path.join(ROOT, f))]


def prose(text: str) -> str:
  """The text without fenced code blocks and inline code spans.

  Lines are kept (a block becomes blank lines) so positions stay countable.
  """
  text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)
  return CODE_SPAN.sub(lambda m: " " * len(m.group(0).split("\n")[0]) +
                       "\n" * m.group(0).count("\n"), text)


def links(text: str) -> list[tuple[int, str]]:
  """(line number, target) of every markdown link or image in `text`."""
  body = prose(text)
  return [(body.count("\n", 0, m.start()) + 1, m.group(2))
          for m in LINK.finditer(body)]


def slug(heading: str) -> str:
  """GitHub's anchor for a heading's markdown text."""
  text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: text
  text = text.replace("`", "").lower()
  text = re.sub(r"[^\w\- ]", "", text)  # \w is Unicode: σ stays
  return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
  """Every heading anchor of a markdown file, duplicates numbered."""
  seen: dict[str, int] = {}
  out = set()
  for m in HEADING.finditer(FENCE.sub("", text)):
    base = slug(m.group(1))
    n = seen.get(base, 0)
    seen[base] = n + 1
    out.add(base if n == 0 else f"{base}-{n}")
  return out


def broken_links(path: str, root: str = ROOT) -> list[str]:
  """One line per link of `path` (relative to `root`) that leads nowhere."""
  with open(os.path.join(root, path), encoding="utf-8") as f:
    text = f.read()
  out = []
  for line, target in links(text):
    if not target or target.lower().startswith(EXTERNAL):
      continue
    file_part, _, anchor = target.partition("#")
    file_part = urllib.parse.unquote(file_part)
    dest = os.path.normpath(os.path.join(
        os.path.dirname(os.path.join(root, path)), file_part)) if file_part \
        else os.path.join(root, path)
    where = f"{path}:{line}: ({target})"
    if not os.path.exists(dest):
      out.append(f"{where} no such file {os.path.relpath(dest, root)}")
    elif anchor and dest.endswith(".md"):
      with open(dest, encoding="utf-8") as f:
        if urllib.parse.unquote(anchor) not in anchors(f.read()):
          out.append(f"{where} no heading with anchor #{anchor} in "
                     f"{os.path.relpath(dest, root)}")
  return out


@pytest.mark.parametrize("path", markdown_files())
def test_relative_links_resolve(path):
  broken = broken_links(path)
  assert not broken, "broken links (fix the path or the heading):\n" + \
      "\n".join(broken)


def test_docs_are_found():
  files = markdown_files()
  assert "README.md" in files
  assert os.path.join("docs", "training.md") in files
  assert len(files) > 10  # guides and the records' tables


def test_checker_catches_broken_links(tmp_path):
  (tmp_path / "docs" / "figures").mkdir(parents=True)
  (tmp_path / "docs" / "figures" / "a.png").write_bytes(b"")
  (tmp_path / "docs" / "guide.md").write_text(
      "# The plane, σ = 25: `gray-s50` (big)\n\n## Again\n## Again\n")
  (tmp_path / "README.md").write_text(
      "![a](docs/figures/a.png) "
      "[ok](docs/guide.md#the-plane-σ--25-gray-s50-big)\n"
      "[dup](docs/guide.md#again-1) [web](https://example.com/x.md)\n"
      "`[in code](missing.md)`\n```\n[in a block](missing.md)\n```\n"
      "![gone](docs/a.png)\n[bad anchor](docs/guide.md#plane)\n"
      "[self](#nowhere) [multi\nline](docs/nothing.md)\n")
  found = broken_links("README.md", root=str(tmp_path))
  assert [f.split(": (")[0] for f in found] == [
      "README.md:7", "README.md:8", "README.md:9", "README.md:9"], found
  assert "no such file docs/a.png" in found[0]
  assert "#plane" in found[1] and "#nowhere" in found[2]
  assert "docs/nothing.md" in found[3]
