"""Experiment recipes the experiments share (experiments/*.py): settings
over a task's defaults (ddn.configs.defaults) that name what a study
measured, e.g. the adversarial fine-tune of the shipped MSE models and the
perception-distortion sweep."""

from __future__ import annotations

import ml_collections

from ddn import configs


def adversarial_finetune(sigma: int = 50, data_root: str = ""
                         ) -> ml_collections.ConfigDict:
  """The adversarial recipe (experiments/adv.py, adv_s50.py, adv_s25.py):
  the shipped MSE model `gray-s{sigma}` fine-tuned at σ = `sigma` against a
  patch discriminator; with `data_root` (a folder laid out as
  ../shared/data), on its Train400, evaluated on 4 of its Set12 images.

  D: every 33x33 patch (three levels of two 3x3 convs on the image and its
  detail channel, as the realism judges see it), no spectral norm, Adam
  1e-3 (b1 = 0.5), 1,600 images of warm-up, then two D steps per G step.
  G: Pred + λ · the non-saturating term, λ set adaptively (VQGAN):
  `adv.weight` is the adversarial gradient's size relative to
  reconstruction's at G's last layer (logged as g/grad_ratio). Adam 1e-4,
  constant; EMA of G (0.99), which is what is evaluated and exported.

  Chosen by measurement (adv_s50.py, 6,400 images, BSD68 σ = 50, realism
  AUC of fresh judges): a D with spectral norm at 2e-4 and one step sat at
  log 2 through the adversarial phase, and its G was caught *more* often
  than gray-s50; this D wins (held-out error 0.16-0.42), and relative push
  0.3 → AUC 0.898, push 1.0 → 0.858 (gray-s50: 0.930), docs/adversarial.md.
  """
  c = configs.defaults("adversarial")
  c.noise.gaussian.sigma = float(sigma)
  c.train.init_from = f"gray-s{sigma}"
  c.train.total_images = 6_400
  c.optim.lr = 1e-4
  c.optim.warmup_images = 0
  c.optim.schedule = "constant"
  c.disc_optim.lr = 1e-3
  c.disc.kind = "patch"
  c.disc.padding = "VALID"
  c.disc.features = (32, 64, 64)
  c.disc.blocks = 2
  c.disc.dense = ()
  c.disc.detail = True
  c.disc.spectral_norm = False
  c.adv.g_loss = "nonsaturating"
  c.adv.adaptive = True
  c.adv.weight = 1.0
  c.adv.n_d = 2
  c.adv.d_warmup_images = 1_600
  c.adv.ema_decay = 0.99
  c.eval.every_images = 3_200
  return on_train400(c, data_root) if data_root else c


def on_train400(c: ml_collections.ConfigDict, data_root: str
                ) -> ml_collections.ConfigDict:
  """Trains on `data_root`/Train400 and evaluates on 4 of its Set12 images
  (`data_root` laid out as ../shared/data)."""
  c.data.train = f"folder:{data_root}/Train400"
  c.data.eval = f"folder:{data_root}/Set12"
  c.eval.max_images = 4
  return c


def knocked_out_blocks(c: ml_collections.ConfigDict
                       ) -> ml_collections.ConfigDict:
  """The knocked-out-blocks experiments' data (experiments/ae_blocks.py,
  adv_blocks.py): 64 px crops, σ = 50 Gaussian noise, then one square of
  16-40 px per crop set to 0."""
  c.data.crop = 64
  c.noise.kinds = "gaussian,blocks"
  c.noise.gaussian.sigma = 50.0
  c.noise.blocks.update(dict(count=1, size_min=16, size_max=40, fill="zero"))
  return c


# The big adversary of the perception-distortion sweep: a whole-image D.
BIG_DISC = {"disc.kind": "image", "disc.padding": "SAME",
            "disc.features": (16, 32, 64, 128), "disc.blocks": 1,
            "disc.dense": (64,)}


def perception_sweep() -> list[dict]:
  """The perception-distortion plane's runs over adversarial_finetune
  (experiments/adv_s50.py, adv_s25.py; benchmarks/perception_distortion.sh):
  the relative push λ over 1.5 decades for the small (33 px patch)
  adversary, two pushes for the big (whole-image) one, λ = 0 (D trains, G
  ignores it) and the frozen classifier (D trained for 3,200 images against
  the start model, then frozen while G trains 3,200 images against it). Run
  names hold no comma, so ddn.evaluate --checkpoint can list their workdirs,
  and name their family for ddn.figures plane ('FAMILY-pushW', 'pushW')."""
  runs = [{"_name": "push0", "adv.weight": 0.0}]
  for w in (0.3, 1.0, 3.0, 10.0):
    runs.append({"_name": f"small-push{w:g}", "adv.weight": w})
  for w in (1.0, 3.0):
    runs.append({"_name": f"big-push{w:g}", "adv.weight": w, **BIG_DISC})
  runs.append({"_name": "frozen-push1", "adv.weight": 1.0,
               "adv.freeze_disc": True, "adv.d_warmup_images": 3_200})
  return runs
