"""The synthesis chapter's config and profiles: which trained networks, which test images, how far spectra go.

``python -m resnet_lab run synthesis --profile small``. Every paper's per-unit quantity is measured on the same
networks and the same test images: at ``small`` the zoo's ResNet-20 pair (with and without BN), P5's four
depth-20 nets and P1's ResNet-18 pair and ResNet-34 (the nets P1's κ_R is defined on: post-activation units, read at
test images of the two classes they were trained on), all reloaded from committed weights (nothing trains); at
``smoke`` tiny twins trained here in seconds. ``measure.py`` reads only this file of the chapter, so a change here
makes a saved result stale.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ...data import DataSpec
from ...train import TrainConfig

EXPERIMENT = "synthesis"


@dataclass(frozen=True)
class NetSpec:
    """One network of the comparison and where its weights come from.

    ``source``: ``"zoo"`` (``zoo.load(name)``), ``"p5"`` (P5's net ``name`` at P5's profile ``p5_profile``,
    reloaded by the same ``train_cached`` call P5 makes), ``"p1"`` (P1's run tagged ``name`` at ``p1_profile``, by
    P1's own call; its test images are those of the classes it was trained on) or ``"train"`` (built from
    ``model``/``options`` and trained here with the config's ``train`` recipe; smoke and controls only).
    """

    label: str                       # the name the tables and figures use
    source: str
    name: str = ""                   # zoo entry, P5 arch ("Plain", "ResNet", ...) or P1 run tag ("resnet18", ...)
    model: str = ""                  # source "train": registry name
    options: tuple = ()              # source "train": model options as (key, value) pairs


@dataclass(frozen=True)
class SynthesisConfig:
    nets: tuple[NetSpec, ...] = ()
    p5_profile: str = "small"         # the P5 profile whose depth-20 nets are reloaded
    p5_depth: int = 20
    p1_profile: str = "small"         # the P1 profile whose runs are reloaded
    test_data: DataSpec = DataSpec("cifar10", test_per_class=10)  # the test images every measure reads
    data: DataSpec = DataSpec("cifar10", train_per_class=20, test_per_class=10)  # source "train" only
    train: TrainConfig = TrainConfig(epochs=2, batch_size=50, lr=0.05, schedule="onecycle")
    images: int = 2                   # test images at which every unit is linearised and back-propagated
    lanczos_steps: int = 48           # Lanczos steps per (unit, image): σ_max and the quantiles of the spectrum
    hutchinson_probes: int = 8        # ±1 probes for ‖J‖_F² (the RMS singular value)
    dense_max_dim: int = 1024         # largest Gram side min(m, n) with a full spectrum (S.1's range bounds)
    dense_units: int = 1000           # ... on at most the last this many units of a network with such a side
    dense_images: int = 1             # ... at the first this many images only
    gate_images: int = 1000           # test images for each network's accuracy (the gate)
    shuffle_units: bool = False       # control: every per-unit measure but the spectra dealt to random units
    seed: int = 0


_ZOO_PAIR = (NetSpec("ResNet-20", "zoo", "resnet20-cifar10"), NetSpec("ResNet-20 no BN", "zoo", "resnet20-nobn-cifar10"))
_P5 = tuple(NetSpec(f"P5 {a}", "p5", a) for a in ("Plain", "ResNet", "ProcResNet", "ProcResNet (no projection)"))
# P1's nets with skips on its main pair (Figs. 2-3): post-activation basic units, option-B transitions, so κ_R applies
# to each of their units. Base18 has no skip (no κ_R); the ResNet-34s on other tasks would add time, not a new form.
_P1 = tuple(NetSpec(f"P1 {label}", "p1", tag) for label, tag in
            (("ResNet-18", "resnet18"), ("ResNet-18 no BN", "resnet18-nobn"), ("ResNet-34", "resnet34")))
# The same six shapes, tiny: post-activation ResNet-20 at width 4 (with and without BN) and P5's pre-activation
# bottleneck nets at depth 20, width 1/4, as P5's smoke profile builds them.
_TINY = (NetSpec("ResNet-20", "train", model="resnet20", options=(("width", 4),)),
         NetSpec("ResNet-20 no BN", "train", model="resnet20", options=(("width", 4), ("use_bn", False))),
         NetSpec("P5 Plain", "train", model="preact_plain", options=(("depth", 20), ("width", 0.25))),
         NetSpec("P5 ResNet", "train", model="preact_resnet", options=(("depth", 20), ("width", 0.25))),
         NetSpec("P5 ProcResNet (no projection)", "train", model="procresnet",
                 options=(("depth", 20), ("width", 0.25), ("project", False))))

PROFILES = {
    # Seconds on a CPU: five tiny nets, 2 epochs on 200 images; full spectra (range bounds) of the 16×8×8 =
    # 1,024-dim units (the post-activation nets' stage 3) at the first image; 2 test images.
    "smoke": SynthesisConfig(nets=_TINY, gate_images=100, lanczos_steps=32),
    # One CPU thread, minutes, nothing trained: the zoo pair, P5's four depth-20 nets and P1's three (74 units, 49 of
    # them not transitions, 37 of those with P1's form) on 3 test images, every spectrum by Lanczos quadrature. Full
    # spectra (S.1's lower bound) of the last two units of each net with a Gram side ≤ 4,096 at the first image:
    # ResNet-20's stage 3 (4,096: under a minute each), P1's stage 4 (2,048) and the ProcResNets' first unit, which
    # reads the 3-channel image (3,072; its 65,536 × 3,072 Jacobian takes minutes to build); P5's other units are out
    # of reach (P5's stage 3 has a Gram side of 16,384).
    "small": SynthesisConfig(nets=_ZOO_PAIR + _P5 + _P1, images=3, dense_max_dim=4096, dense_units=2,
                             test_data=DataSpec("cifar10")),
    # One GPU: the same networks (P5's and P1's standard nets), full spectra up to a Gram side of 4,096, 10 images.
    "standard": SynthesisConfig(nets=_ZOO_PAIR + _P5 + _P1, p5_profile="standard", p1_profile="standard", images=10,
                                dense_max_dim=4096, lanczos_steps=96, test_data=DataSpec("cifar10")),
}
PROFILES["paper"] = replace(PROFILES["standard"], p5_profile="paper", p1_profile="paper")

# The negative control: the smoke nets at initialisation (no training step), every per-unit measure but the spectra
# dealt to random units across networks, so no cross-paper relation may survive.
CONTROL = replace(PROFILES["smoke"], train=replace(PROFILES["smoke"].train, epochs=0, schedule="constant"),
                  shuffle_units=True)
