"""P3's config and profiles: which network is linearised, how many images, and where spectra stop being full.

``python -m resnet_lab run p3 --profile small``. At ``small`` the zoo's full-width ResNet-20 with option-A
(zero-padding) shortcuts, shared with the intro chapter; at ``standard`` and ``paper`` the paper's option-B
(1×1 conv + BN projection) ResNet-110 and, for Fig. 1, ResNet-56.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ... import zoo
from ...data import DataSpec
from ...train import TrainConfig

EXPERIMENT = "p3"


@dataclass(frozen=True)
class P3Config:
    model: str = "resnet20"
    model_options: dict = field(default_factory=dict)  # e.g. {"shortcut": "B"}: 1×1 conv + BN projections
    zoo: str | None = None            # analyse this shared zoo network (resnet_lab.zoo) instead of training one
    data: DataSpec = DataSpec("cifar10")
    train: TrainConfig = TrainConfig()
    companion: str | None = None      # also measure Fig. 1 on this depth (same options and recipe): ResNet-56
    images: int = 5                   # test images whose spectra are overlaid (Fig. 1)
    perturb_images: int = 10          # test images whose perturbations are propagated (Fig. 3, 4)
    fig2_images: int = 1              # images at which every unit's full spectrum is taken (Fig. 2; P3.2's band)
    fig5_images: int = 1              # images at which Fig. 5's probe unit is scaled and interpolated
    fig5_draws: int = 1               # Gaussian weight draws of Eq. (3) per image and t
    dense_max_dim: int = 8192         # largest Gram side min(m, n) for a full spectrum; beyond it, top-k only
    stage_dense_max_dim: int | None = None  # the same for whole-stage Jacobians (None: dense_max_dim)
    top_k: int = 16                   # singular values from block Krylov where the spectrum is not full
    topk_images: int | None = None    # images for top-k-only panels of Fig. 1 (None: ``images``)
    energy_k: int = 16                # top right singular vectors whose share of ‖δ‖² Fig. 4 measures
    probe_stage: int = 3              # stage (1-based) whose interior unit gets the Jacobian test and Fig. 5
    eps_grid: tuple[float, ...] = tuple(float(e) for e in np.geomspace(1e-3, 0.5, 28))  # FGSM steps (normalised input)
    alphas: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0)   # skip scales α (Fig. 5 left)
    ts: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)  # weight interpolation t (Eq. 3, Fig. 5 right)
    jacobian_eps: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)
    seed: int = 0


_ZOO20 = zoo.ZOO["resnet20-cifar10"]
# He et al. (2016): 64k steps at batch 128 (164 epochs), lr 0.1 ÷10 at 32k and 48k, wd 1e-4.
_PAPER_RECIPE = TrainConfig(epochs=164, batch_size=128, lr=0.1, weight_decay=1e-4, milestones=(0.5, 0.75))
# One GPU: the same published recipe, compiled. Gate evidence for the standard gate (ResNet-56/110 at the paper's
# depths): this is the recipe He et al.'s Table 6 reports for ResNet-56 and -110; a short one-cycle schedule has no
# such evidence (the zoo's 27-epoch one-cycle ResNet-20 stayed well under He et al.'s number).
_GPU_RECIPE = replace(_PAPER_RECIPE, compile=True)

PROFILES = {
    # Seconds on a CPU: a width-2 ResNet-20 after 30 SGD steps on 1,000 images; stage 1 (2,048) by top-8 only.
    "smoke": P3Config(model_options={"width": 2}, data=DataSpec("cifar10", train_per_class=100, test_per_class=20),
                      train=TrainConfig(epochs=1, batch_size=32, lr=0.05, schedule="onecycle", max_steps_per_epoch=30),
                      images=3, perturb_images=4, dense_max_dim=1024, top_k=8, energy_k=4, alphas=(0.5, 1.0, 2.0),
                      fig2_images=2, fig5_images=2, fig5_draws=2,
                      ts=(0.0, 0.5, 1.0), eps_grid=tuple(float(e) for e in np.geomspace(1e-3, 2.0, 12))),
    # One CPU thread of a shared machine: the zoo's full-width ResNet-20 (16/32/64, option A; the intro's
    # network). Full spectra (eigvalsh of the Gram matrix in float64) for stage-3 units only: 4,096 is their
    # Gram side (64 × 8 × 8), while stages 1–2 (16,384 and 8,192) are too costly to decompose densely on a CPU.
    # Full: Fig. 1 six (3 images), Fig. 2 one (reused by Fig. 4), Fig. 5 three (α = 1 and t = 1 are Fig. 1's).
    # Stages 1–2 and stage Jacobians by top-4 on the first image; Fig. 4's alignment by top-8 Krylov on the
    # last stage's 3 units at every perturbed image. Fig. 2's full spectra (the stage-3 units) at the 3 images,
    # so P3.2 has a band over units and images; Fig. 5 at 3 images × 3 noise draws (about 5 s a spectrum).
    "small": P3Config(zoo="resnet20-cifar10", data=_ZOO20.data, train=_ZOO20.train, images=3, dense_max_dim=4096,
                      stage_dense_max_dim=0, top_k=4, topk_images=1, energy_k=8, alphas=(0.5, 1.0, 2.0),
                      ts=(0.0, 0.5, 1.0), fig2_images=3, fig5_images=3, fig5_draws=3),
    # One GPU: the paper's networks, option-B ResNet-110 (all figures) and ResNet-56 (Fig. 1), every spectrum
    # full (Gram side ≤ 16,384).
    # Fig. 2 at 2 images: 54 units × 2 full spectra (Gram side up to 16,384) is the profile's largest cost.
    "standard": P3Config(model="resnet110", model_options={"shortcut": "B"}, train=_GPU_RECIPE, companion="resnet56",
                         dense_max_dim=16384, top_k=64, energy_k=64, fig2_images=2, fig5_images=3, fig5_draws=3),
    "paper": P3Config(model="resnet110", model_options={"shortcut": "B"}, train=_PAPER_RECIPE, companion="resnet56",
                      dense_max_dim=16384, top_k=64, energy_k=64, fig2_images=2, fig5_images=3, fig5_draws=3),
}

# The negative control measures this profile's config at initialisation instead of trained: the cheapest
# network on which no claim about trained networks may hold (read at call time, as a dry run may cap it).
CONTROL_PROFILE = "smoke"
