"""A structure-rich development set: building photographs, 8-bit gray.

  python benchmarks/structure_devset.py [--mirror=GIT_DIR] \
      [--out=runs/structure_dev] \
      [--manifest=docs/records/structure_dev_manifest.json] [--crop=512]

Writes 35 gray PNGs, each the centre crop (at most --crop square) of a
photograph with repeated structure (windows, bricks, panels, columns,
stripes), into --out, and a manifest (source repository, commit, path,
original size, crop box, licence, photographer, the PNG's SHA-256) to
--manifest. The images are not in ddn's repository: --mirror is a local
git directory (bare or not) of the public repository
michaeltuszynski/ai-architectural-search, which holds 51 Pexels photographs
of buildings (downsized by Pexels to about 940x627, JPEG) with their
metadata (images/pexels_metadata.json) under the Pexels License (free to
use and modify, no attribution required; credited in the manifest all the
same). The files are read at the pinned COMMIT with `git show`.

This set is for development (design decisions on structure-rich images);
Urban100, Kodak24, McMaster, Set12 and BSD68 stay test sets. The selection
(SELECTED; the other 16 and why, in LEFT_OUT) was made by looking at the
photographs before any denoiser ran on them: photographs whose centre crop
shows repeated structure are in; portraits, landscapes, interiors, a car,
a crane, near-flat walls and one duplicate are out. Gray is PIL's 'L'
(ITU-R 601-2 luma) of the decoded JPEG.

Then, e.g.:
  python -m ddn.evaluate --data=folder:runs/structure_dev --sigmas=25 \
      --baselines=bm3d --out=runs/structure_dev_s25.json
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys

from PIL import Image

REPO = "michaeltuszynski/ai-architectural-search"
COMMIT = "65a469a8e1554d0c8c33945a3e80e6409b97c4b0"
DEFAULT_MIRROR = "/work/.mirror/michaeltuszynski+ai-architectural-search/repo"
METADATA = "images/pexels_metadata.json"
LICENCE = ("Pexels License (https://www.pexels.com/license/): free to use "
           "and modify, attribution not required; as stated in the "
           "repository's images/ATTRIBUTIONS.md and " + METADATA)
FOLDERS = {"brick": "brick_buildings", "glass": "glass_steel",
           "mixed": "mixed_materials", "stone": "stone_facades"}
SELECTED = (
    "brick_buildings_01", "brick_buildings_02", "brick_buildings_03",
    "brick_buildings_04", "brick_buildings_06", "brick_buildings_07",
    "brick_buildings_09", "brick_buildings_10", "brick_buildings_11",
    "brick_buildings_12",
    "glass_steel_01", "glass_steel_02", "glass_steel_03", "glass_steel_04",
    "glass_steel_09", "glass_steel_10", "glass_steel_12",
    "mixed_materials_01", "mixed_materials_02", "mixed_materials_04",
    "mixed_materials_06", "mixed_materials_09", "mixed_materials_10",
    "mixed_materials_11", "mixed_materials_12", "mixed_materials_13",
    "mixed_materials_15",
    "stone_facades_01", "stone_facades_02", "stone_facades_03",
    "stone_facades_05", "stone_facades_08", "stone_facades_09",
    "stone_facades_10", "stone_facades_11",
)
LEFT_OUT = {
    "brick_buildings_05": "a clock tower among trees, mostly foliage",
    "brick_buildings_08": "a castle far off under a cloudy sky",
    "glass_steel_05": "portrait", "glass_steel_06": "portrait",
    "glass_steel_07": "portrait", "glass_steel_08": "portrait",
    "glass_steel_11": "a train in a station",
    "mixed_materials_03": "a crane against the sky",
    "mixed_materials_05": "an interior",
    "mixed_materials_07": "the same photograph as glass_steel_09",
    "mixed_materials_08": "a near-flat dark wall",
    "mixed_materials_14": "a near-flat white wall",
    "stone_facades_04": "a car",
    "stone_facades_06": "portrait",
    "stone_facades_07": "a city landscape with trees",
    "stone_facades_12": "portrait",
}


def path_of(name: str) -> str:
  return f"images/{FOLDERS[name.split('_')[0]]}/{name}.jpg"


def git_show(mirror: str, path: str) -> bytes:
  """The bytes of `path` at COMMIT in the git directory `mirror`."""
  return git_blob(mirror, f"{COMMIT}:{path}", "structure_devset",
                  f"pass --mirror, the git directory of a copy of {REPO} "
                  "that holds that commit")


def git_blob(mirror: str, obj: str, tool: str, fix: str) -> bytes:
  """The bytes of the git blob `obj` (an id, or COMMIT:PATH) in the git
  directory `mirror`; exits naming `tool` and `fix` when it cannot be read.
  Also natural_devset.py's."""
  cmd = ["git", f"--git-dir={mirror}", "cat-file", "blob", obj]
  res = subprocess.run(cmd, capture_output=True, check=False)
  if res.returncode:
    sys.exit(f"{tool}: cannot read {obj} from {mirror} "
             f"({res.stderr.decode().strip()}); {fix}.")
  return res.stdout


def save_png(img: Image.Image, path: str) -> str:
  """Writes `img` to `path` as PNG; returns the file's SHA-256 (hex). Also
  natural_devset.py's."""
  img.save(path)
  with open(path, "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


def centre_crop(img: Image.Image, size: int):
  """The centre crop of at most size x size and its box (l, t, r, b)."""
  w, h = img.size
  cw, ch = min(size, w), min(size, h)
  left, top = (w - cw) // 2, (h - ch) // 2
  box = (left, top, left + cw, top + ch)
  return img.crop(box), box


def credits(mirror: str) -> dict:
  """filename -> the repository's metadata entry for that photograph."""
  meta = json.loads(git_show(mirror, METADATA))
  return {e["filename"]: e for entries in meta["categories"].values()
          for e in entries}


def build(mirror: str, out: str, crop: int) -> list[dict]:
  """Writes the PNGs into `out`; returns the manifest's image entries."""
  if crop < 256:
    sys.exit(f"structure_devset: --crop={crop}: the set's images are at "
             "least 256 pixels a side; pass --crop >= 256.")
  os.makedirs(out, exist_ok=True)
  meta, entries = credits(mirror), []
  for name in SELECTED:
    path = path_of(name)
    img = Image.open(io.BytesIO(git_show(mirror, path)))
    size = img.size
    gray, box = centre_crop(img.convert("L"), crop)
    if min(gray.size) < 256:
      sys.exit(f"structure_devset: {path} is {size[0]}x{size[1]}, too small "
               "for a 256x256 crop.")
    digest = save_png(gray, os.path.join(out, f"{name}.png"))
    m = meta.get(f"{name}.jpg", {})
    entries.append(dict(
        name=f"{name}.png", repo=REPO, commit=COMMIT, path=path,
        original_size=list(size), crop_box=list(box),
        gray="PIL convert('L')", sha256=digest, licence=LICENCE,
        photographer=m.get("photographer"), pexels_id=m.get("pexels_id"),
        photo_url=m.get("photo_url")))
  return entries


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--mirror", default=DEFAULT_MIRROR,
                 help=f"git directory of a copy of {REPO}")
  p.add_argument("--out", default="runs/structure_dev",
                 help="folder for the PNGs (keep it out of git)")
  p.add_argument("--manifest",
                 default="docs/records/structure_dev_manifest.json")
  p.add_argument("--crop", type=int, default=512,
                 help="centre crops of at most crop x crop pixels")
  a = p.parse_args()
  entries = build(a.mirror, a.out, a.crop)
  manifest = dict(
      description=("ddn's structure-rich development set: centre crops of "
                   "building photographs with repeated structure, 8-bit "
                   "gray; made by benchmarks/structure_devset.py"),
      source=dict(repo=REPO, commit=COMMIT, licence=LICENCE),
      crop=a.crop, images=entries, left_out=LEFT_OUT)
  write_manifest(manifest, a.manifest, a.out, "structure_devset")


def write_manifest(manifest: dict, path: str, out: str, tool: str) -> None:
  """Writes a development set's manifest (JSON) and prints the set's size;
  also natural_devset.py's."""
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  with open(path, "w") as f:
    json.dump(manifest, f, indent=1, ensure_ascii=False)
    f.write("\n")
  entries = manifest["images"]
  pixels = sum((e["crop_box"][2] - e["crop_box"][0])
               * (e["crop_box"][3] - e["crop_box"][1]) for e in entries)
  print(f"{tool}: {len(entries)} gray PNGs in {out} "
        f"({pixels / 1e6:.1f} MP), manifest {path}")


if __name__ == "__main__":
  main()
