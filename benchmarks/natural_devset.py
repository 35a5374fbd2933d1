"""A natural-texture development set: photographs of foliage, grass, rock,
water, fur and feathers, 8-bit gray.

  python benchmarks/natural_devset.py [--out=runs/natural_dev] \
      [--manifest=docs/records/natural_dev_manifest.json] [--short=384]

Writes 40 gray PNGs, each a photograph resized (Lanczos) so its short side
is --short pixels, then centre-cropped to at most 1.5 x --short on the long
side (576 x 384 by default: whole scenes at about BSD68's scale), into
--out, and a manifest (source repository, commit, blob, path, original
size, licence as the source states it, the PNG's SHA-256) to --manifest.
The images are not in ddn's repository: they are read by blob id from local
git directories of two public repositories of desktop backgrounds (bring
them with the project's fetch tool, or `git clone --mirror`):

  elementary/wallpapers          per-photograph licences in the history of
                                 debian/copyright (deb-packaging branch):
                                 CC0 and the Unsplash, Pexels and Pixabay
                                 licences, CC BY 2.0
  BuddiesOfBudgie/budgie-backgrounds   CC0-1.0 (its LICENSE and README)

The set is for development: design decisions where the judges look at
natural texture (the NSS judges catch outputs on BSD68 that they do not
catch on the building photographs of benchmarks/structure_devset.py). BSD68,
Set12, the embedded photographs, Urban100, Kodak24 and McMaster stay test
sets. The selection (IMAGES; the 12 others and why, in LEFT_OUT) was made
by looking at a contact sheet of the 52 natural photographs of the two
repositories before any denoiser ran on them: near-flat skies, sunsets,
fog and dunes, a night shot and an edited composite are out. Gray is PIL's
'L' (ITU-R 601-2 luma) of the decoded JPEG; the downsizing (7-16x) leaves
little of the JPEG's blocks or the camera's noise.

Then, e.g.:
  python -m ddn.evaluate --checkpoint=gray-s25,gray-s25-adv \
      --data=folder:runs/natural_dev --sigmas=25 --realism
"""

from __future__ import annotations

import argparse
import io
import os
import sys

from PIL import Image

import structure_devset  # git_blob, save_png, write_manifest (this folder)

MIRRORS = {
    "elementary": ("elementary/wallpapers",
                   "/work/.mirror/elementary+wallpapers/repo"),
    "budgie": ("BuddiesOfBudgie/budgie-backgrounds",
               "/work/.mirror/BuddiesOfBudgie+budgie-backgrounds/repo"),
}
# (name, source, blob, a commit that holds it, its path there, licence)
IMAGES = (
    ('a_moment_to_breathe', 'elementary', '2088aca0b8c3f141456b4592efe25ee5f118cc30', 'ab6e0eea1f5b4b084138b6334a004e5e420cf38f', 'backgrounds/A Moment to Breathe.jpg', 'Unsplash License (Luigi Manga, unsplash.com/photos/0TND2_18n-s)'),
    ('a_wooden_walkway_leading_to_a_body_of_water', 'elementary', 'f7df77d648d19591c2c571251f87357c0286b8c8', '73a1fc2eb01249dde8262300ac77ee6e6d147762', 'backgrounds/A Wooden Walkway Leading To A Body of Water.jpg', 'Unsplash License (Peter Thomas; copyright lists "A Large Body of Water Surrounded By Mountains" by Peter Thomas, unsplash.com/photos/Dxod5pdRtsk)'),
    ('ashim_dsilva', 'elementary', '2f0b0aee0973eaa3dcb92141696e12dcb760fd1d', 'f28b86144ba01d788ac61ad198ca16fa9477913f', 'backgrounds/Ashim DSilva.jpg', 'CC0 (Unsplash pre-2017; unsplash.com/photos/WeYamle9fDM)'),
    ('broto', 'elementary', '95c88da97aeb83cdc51353bff2692c31af234a12', '91655c60ea182efbbce4001a33b681a82a9d27b7', 'Broto.JPG', 'Unsplash "public domain" (Eduardo Garbin; one of 4 Garbin Unsplash URLs)'),
    ('carmine_de_fazio', 'elementary', '57df4608ac8825cbbcfa5e6f2d982eb9597642ee', 'e9de543b5baf50877cb272949066c58e7b854dab', 'backgrounds/Carmine De Fazio.jpg', 'Unsplash "public domain" (unsplash.com/photos/3ytjETpQMNY)'),
    ('disco_sea_eye_ferns', 'elementary', 'efa48de5e787334e5d028130fed209b696452c2f', 'e042400eb696671ea30da059bfff6dfd5e4f4043', 'Disco Sea Eye Ferns.jpg', 'Unsplash "public domain" (Nick Cooper; unsplash.com/photos/ythz8-5p6OA)'),
    ('edoardo_brogiolo_vieste_coast', 'elementary', 'cf80052b52d0634468c65c074a94f0d259e492c1', '1d88437c9476541fbafaf80544016d46f4eee7ef', 'Edoardo Brogiolo - Vieste Coast.jpg', 'CC BY 2.0 (Edoardo Brogiolo)'),
    ('jade_droplet', 'elementary', '1696d19e5f7cb397355d99db812db5c9c141db8c', '5bce698e85f6470be39664c92e5ced1ebfca589f', 'Jade Droplet.jpg', 'Unsplash "public domain" (Cassidy James Blaede; unsplash.com/photos/FuvLG2qjn4Y)'),
    ('jairo_alzate', 'elementary', 'c5f07ad8ff7b244500ebf97d786a8e1cd9160e0e', '4f9eb344d64646b1df75f5626808ef67b9a2c216', 'Jairo Alzate.jpg', 'Unsplash "public domain" (unsplash.com/photos/YArLzup-P8I)'),
    ('jay_ruzesky', 'elementary', '199596cf56e8d94eef988a3617f6aa6ed5f48593', '04b6e2121b83c388018a72593a561d2afbef3edb', 'Jay Ruzesky.jpg', 'Unsplash "public domain" (unsplash.com/photos/h13Y8vyIXNU)'),
    ('jonas_nilsson_lee', 'elementary', '421240863507895926d825b2fd2af779a72177e4', '4e65210469917e447298c94fbb1e712215171d6d', 'backgrounds/Jonas Nilsson Lee.jpg', 'CC0 (Unsplash pre-2017)'),
    ('living_stones', 'elementary', '38fc6860c6d607231487cf2a4c30535819cbb089', '4165fe0ab02afbfe05a01b5dce7aef8bd58feffc', 'Living Stones.jpg', 'CC BY 2.0 (Andesine, flickr.com/photos/andesine/5560436312)'),
    ('lizard', 'elementary', 'a29f010201112707889fed40d005cef2439438a3', 'fc2a33cebd9ec53f1b7bd116613c22edfb3e50c6', 'Lizard.jpg', 'Unsplash "public domain" (Michele Galimberti; unsplash.com/photos/5ju8BqowO-0)'),
    ('martin_adams', 'elementary', '99365376a2bafd1adc98b58f9a925b5c347c13d8', 'f28b86144ba01d788ac61ad198ca16fa9477913f', 'backgrounds/Martin Adams.jpg', 'Unsplash License (unsplash.com/photos/MpTdvXlAsVE)'),
    ('morskie_oko', 'elementary', '0832b455d1d8a79532ad8504c218518482431d93', 'f28b86144ba01d788ac61ad198ca16fa9477913f', 'backgrounds/Morskie Oko.jpg', 'Unsplash License (Nick Cooper; unsplash.com/photos/_1UF_3TlKcQ)'),
    ('pablo_garcia_saldana', 'elementary', '4f6cfa4b6452eaab9d1b4b135e95dad59ebd7f46', '58f43b8083c6384e15b4625febb5ab5c78f1bd3f', 'backgrounds/Pablo Garcia Saldana.jpg', 'Unsplash "public domain" (unsplash.com/photos/15d_4S2tJsQ)'),
    ('rob_bye', 'elementary', '16e4845a89fa528e88a860b087172fa64cc39dd7', '25bd0b102fb1ef2ba3341a0f318e1599db1bded1', 'backgrounds/Rob Bye.jpg', 'CC0 (Unsplash pre-2017; unsplash.com/photos/Kc7xqFTtcc4)'),
    ('ryan_schroeder', 'elementary', '7a0323177d618e648c3899fc3f37fe335b40451e', 'd35939109fb60ea1aaf56f85738834077d0bbd58', 'backgrounds/Ryan Schroeder.jpg', 'Unsplash "public domain" (unsplash.com/photos/Gg7uKdHFb_c)'),
    ('sam_henderson', 'elementary', '9145a6297a70227e45a115de5f20098f40cf85ac', '8bff4bc2b8d45060a5afdbad6b19fda10d88ecb8', 'Sam Henderson.jpg', 'Unsplash "public domain" (unsplash.com/photos/PlIuU6YoWpc)'),
    ('snow_capped_mountain', 'elementary', '4a15df0e0d3806fc5667cbea43a949a11693482c', 'f28b86144ba01d788ac61ad198ca16fa9477913f', 'backgrounds/Snow-Capped Mountain.jpg', 'Pexels License (Ian Beckley; pexels 2440024)'),
    ('suluh_kalba', 'elementary', '8df0e2369d475cf1a342eb04474b057c787e1ef0', '37b9fb78ff986d747a08dd5e62d7ced53a77b524', 'Suluh Kalba.jpeg', 'Unsplash "public domain" (Firman Taruna Nugraha; unsplash.com/photos/VG962MMCjjM)'),
    ('tj_holowaychuk', 'elementary', '015f10e5063cdf42ef29a45a6d88c39bc9905111', 'f28b86144ba01d788ac61ad198ca16fa9477913f', 'backgrounds/Tj Holowaychuk.jpg', 'Unsplash License (unsplash.com/photos/iGrsa9rL11o)'),
    ('tomasz_smal', 'elementary', '42a06bacd4edd3284ccd64a2b5e682f9bd28e0df', '84665e7fe5f0de9d488c238294eeb75293f4dae8', 'backgrounds/Tomasz Smal.jpg', 'Unsplash "public domain" (unsplash.com/photos/vT_JAucWU00)'),
    ('vale_nevado_verao_2', 'elementary', 'ed2a08bcf9e7c36951c6bb807bd7992a6767425a', '91655c60ea182efbbce4001a33b681a82a9d27b7', 'Vale_Nevado_verao_2.JPG', 'Unsplash "public domain" (Eduardo Garbin)'),
    ('vina_del_mar', 'elementary', '54ee0c9eabe436bfb36aa93d476de9f47bcf5109', '91655c60ea182efbbce4001a33b681a82a9d27b7', 'Vina_del_mar.JPG', 'Unsplash "public domain" (Eduardo Garbin)'),
    ('alexandr_block_1379724_unsplash', 'elementary', 'ee5be2021430d167eb97ebf46f73a4678b5fbe55', '13a4ca1b167b434cbd2fac050590815dec3c604f', 'alexandr-block-1379724-unsplash.jpg', 'Unsplash "public domain" (Alexander Block; unsplash.com/photos/MJRwqjiyEqY)'),
    ('bamboo_forest_france', 'elementary', '753d6a527cfcb6eec56fff87746914b232629eb7', '5c2d3b382df7e242d991f058683e893b55e6432e', 'backgrounds/bamboo_forest_france.jpg', 'Unsplash License (Nicolas Jovanovic; unsplash.com/photos/O3crIMnLJ8w)'),
    ('victor_svistunov_233897_kb', 'elementary', '249e37642b4c7fa4a55c5c464cc5ee682db6349b', '65091515b908eff03adaeb4a1945bd7270cbc54d', 'victor-svistunov-233897-KB.jpg', 'Unsplash "public domain" (unsplash.com/photos/PjI5mKgRZ6c)'),
    ('water_lily', 'elementary', 'b2833502079f5205726d15a645992243e635541a', 'fc2a33cebd9ec53f1b7bd116613c22edfb3e50c6', 'Water Lily.jpg', 'CC BY 2.0 (TANAKA Juuyoh, flickr 4462929191)'),
    ('blue_periwinkle', 'budgie', 'a22195a5dd5e8fda0b021a4b8285c812d4c375bb', '82067426f1dde366e9c9038fdbe457c2527525dd', 'backgrounds/blue-periwinkle.jpg', 'CC0-1.0 (repo LICENSE + README)'),
    ('budgie_branch', 'budgie', '9af68c1b51782f9d9a259b8c1d98b312d27e8869', 'fcb382c85ea7c4b191f216b3db4c0f51a2dee2d2', 'backgrounds/budgie-branch.jpg', 'CC0-1.0 (repo LICENSE + README)'),
    ('canyon_wren', 'budgie', 'c9b77dd7fd97c3d596092f5549f65b9d7e9cad00', '82067426f1dde366e9c9038fdbe457c2527525dd', 'backgrounds/canyon-wren.jpg', 'CC0-1.0 (repo LICENSE + README)'),
    ('dragonfly_on_lavender', 'budgie', '65c6e90e19c4a31fe21f5c25e47b002a8d7b339e', 'd71f028a822f78064227b4b15a8590d98bfea8ec', 'backgrounds/dragonfly-on-lavender.jpg', 'CC0-1.0 (repo LICENSE + README)'),
    ('fragrant_chamomile', 'budgie', '4306bd5f7fb984efa9fd6b3928097af3c67692d7', '8a5ac073f2a012def5cc88e1b2dc22104ebcd472', 'backgrounds/fragrant-chamomile.jpg', 'CC0-1.0 (repo LICENSE + README)'),
    ('kitten_on_lawn', 'budgie', 'c6a34678106408c97b07420c95ef491501978be9', 'd71f028a822f78064227b4b15a8590d98bfea8ec', 'backgrounds/kitten-on-lawn.jpg', 'CC0-1.0 (repo LICENSE + README)'),
    ('lake_sherburne', 'budgie', '34a280eb816874ae3c46dd4f59617f503d058d53', '82067426f1dde366e9c9038fdbe457c2527525dd', 'backgrounds/lake-sherburne.jpg', 'CC0-1.0 (repo LICENSE + README)'),
    ('oakland_zoo_otters', 'budgie', '0a8f1dc4d60b302473a2817cb26f1a8661891d86', '82067426f1dde366e9c9038fdbe457c2527525dd', 'backgrounds/oakland-zoo-otters.jpg', 'CC0-1.0 (repo LICENSE + README)'),
    ('perched_osprey', 'budgie', 'cfa488eaa4155b45561b077089a43b902f7db823', '82067426f1dde366e9c9038fdbe457c2527525dd', 'backgrounds/perched-osprey.jpg', 'CC0-1.0 (repo LICENSE + README)'),
    ('solaris_grapes', 'budgie', 'be91d01f8018a0569cdc0504184fa2ec1a9ec6ea', 'd71f028a822f78064227b4b15a8590d98bfea8ec', 'backgrounds/solaris-grapes.jpg', 'CC0-1.0 (repo LICENSE + README)'),
    ('tea_gardens', 'budgie', 'd34ba3f6a085e7e6f10a258aed0468a9f8fcc189', '82067426f1dde366e9c9038fdbe457c2527525dd', 'backgrounds/tea-gardens.jpg', 'CC0-1.0 (repo LICENSE + README)'),
)
LEFT_OUT = {
    'chuttersnap_white_clouds': 'near-flat sky',
    'julia_craice': 'mostly flat sky',
    'mountains_and_forest': 'heavily edited, hazy',
    'northern_lights': 'a night shot (noise of its own)',
    'scott_riley': 'a jellyfish on flat black',
    'sunset_tree': 'near-flat sunset',
    'sunset_by_the_pier': 'near-flat sunset, a pier',
    'ice_mountains': 'mostly flat fog',
    'cave_opening': 'mostly flat black',
    'extreme_desert_hike': 'near-flat dunes',
    'serene': 'near-flat hills',
    'sunset_beach': 'a dark, near-flat sunset',
}

def resize_and_crop(img: Image.Image, short: int, zoom: float = 1.0):
  """`img` resized so its short side is `short` x `zoom`, then centre-cropped
  to at most short x 1.5 short (short side by long); (image, crop box in
  resized pixels)."""
  w, h = img.size
  scale = short * zoom / min(w, h)
  img = img.resize((max(short, round(w * scale)), max(short, round(h * scale))),
                   Image.LANCZOS)
  w, h = img.size
  long = short * 3 // 2
  cw, ch = (min(w, long), min(h, short)) if w >= h else (min(w, short),
                                                         min(h, long))
  left, top = (w - cw) // 2, (h - ch) // 2
  box = (left, top, left + cw, top + ch)
  return img.crop(box), box


def build(mirrors: dict, out: str, short: int, zoom: float = 1.0
          ) -> list[dict]:
  """Writes the PNGs into `out`; returns the manifest's image entries."""
  if short < 256 or zoom < 1:
    sys.exit(f"natural_devset: --short={short}, --zoom={zoom}: pass --short "
             ">= 256 and --zoom >= 1 (below 1 the crop would not fit).")
  os.makedirs(out, exist_ok=True)
  entries = []
  for name, source, blob, commit, path, licence in IMAGES:
    img = Image.open(io.BytesIO(structure_devset.git_blob(
        mirrors[source], blob, f"natural_devset ({path})", f"pass --{source}, "
        f"the git directory of a full copy of {MIRRORS[source][0]}")))
    size = img.size
    gray, box = resize_and_crop(img.convert("L"), short, zoom)
    digest = structure_devset.save_png(gray, os.path.join(out, f"{name}.png"))
    entries.append(dict(
        name=f"{name}.png", repo=MIRRORS[source][0], commit=commit, blob=blob,
        path=path, original_size=list(size),
        resized_short_side=round(short * zoom),
        crop_box=list(box), gray="PIL convert('L')", sha256=digest,
        licence=licence))
  return entries


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  for key, (repo, default) in MIRRORS.items():
    p.add_argument(f"--{key}", default=default,
                   help=f"git directory of a copy of {repo}")
  p.add_argument("--out", default="runs/natural_dev",
                 help="folder for the PNGs (keep it out of git)")
  p.add_argument("--manifest", default="docs/records/natural_dev_manifest.json")
  p.add_argument("--short", type=int, default=384,
                 help="the crop's short side, pixels")
  p.add_argument("--zoom", type=float, default=1.0,
                 help="resize the short side to short x zoom before the "
                 "centre crop (2: half the downsizing, the scene's centre)")
  a = p.parse_args()
  entries = build({k: getattr(a, k) for k in MIRRORS}, a.out, a.short,
                  a.zoom)
  manifest = dict(
      description=("ddn's natural-texture development set: downsized "
                   "photographs of foliage, grass, rock, water, fur and "
                   "feathers, 8-bit gray; made by "
                   "benchmarks/natural_devset.py"),
      sources={k: v[0] for k, v in MIRRORS.items()}, short_side=a.short,
      zoom=a.zoom,
      images=entries, left_out=LEFT_OUT)
  structure_devset.write_manifest(manifest, a.manifest, a.out,
                                  "natural_devset")

if __name__ == "__main__":
  main()
