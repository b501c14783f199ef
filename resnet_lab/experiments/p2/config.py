"""P2's configuration: the config dataclass, its profiles, the control config, and the paper's numbers that the
measurement reads (Table 5.2's counts go into the result beside ours; Table 5.4's D-18 row sets the noise levels).

Every value here can change a result, so this file is one of P2's compute files (see ``CHAPTER``); the paper's
other numbers, read only by the claims and tables, are in ``paper.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ... import zoo
from ...data import DataSpec
from ...train import TrainConfig

EXPERIMENT = "p2"

# Table 5.2 (trainable parameters, millions, CIFAR-10 / CIFAR-100) and depths, keyed by variant and n (layers in
# the first stage): stored in the result beside our counts.
PAPER_PARAMS = {"d": {3: (0.223, 0.229), 6: (0.514, 0.520), 9: (0.805, 0.810), 12: (1.100, 1.101)},
                "s": {3: (0.124, 0.130), 6: (0.270, 0.275), 9: (0.416, 0.421), 12: (0.561, 0.567)}}
PAPER_DEPTH = {"d": {3: 18, 6: 36, 9: 54, 12: 72}, "s": {3: 11, 6: 20, 9: 29, 12: 38}}
# Table 5.4, CIFAR-10: clean, unstructured (two levels), structured (two levels); levels lost from our copy.
# Its D-18 row sets the noise levels we measure at (``paper_drop_fractions``).
PAPER_NOISE = {"d": {3: (88.02, 83.52, 50.55, 83.40, 41.24), 6: (90.74, 85.48, 56.70, 84.54, 35.18),
                     9: (91.16, 86.78, 63.77, 85.78, 32.07), 12: (91.79, 86.95, 61.73, 86.95, 40.25)},
               "s": {3: (87.73, 82.43, 52.44, 82.24, 33.66), 6: (88.29, 83.22, 56.51, 82.94, 34.93),
                     9: (88.05, 83.68, 55.82, 83.50, 36.80), 12: (89.00, 85.67, 59.86, 83.58, 34.13)}}
FIGURE_CLASSES = ("bird", "dog", "horse")  # the three test images of Figs. 5.3/5.4
FIGURE_SIGMAS = (0.02, 0.05)               # Fig. 5.4's σ (§5.2): the figure nets are read there too (P2.4)
NOISE_KINDS = ("gaussian", "structured")
CHANCE = 0.1                               # ten classes
# The test accuracy a pilot must reach before the rest of its group trains (``P2Config.pilots``): the measurement
# reads it, so it is declared here; paper.py's SP_GATE and PROBE_GATE, the gates of these nets, are built from it.
PILOT_GATES = {"sp": 0.80, "probes": 0.80}


def paper_drop_fractions(variant: str = "d", n: int = 3) -> dict[str, list[float]]:
    """Return, per noise kind, the fraction of above-chance accuracy the paper's row loses at its two levels."""
    clean, *noisy = PAPER_NOISE[variant][n]
    frac = [(clean - a) / (clean - 100 * CHANCE) for a in noisy]
    return {"gaussian": frac[:2], "structured": frac[2:]}


@dataclass(frozen=True)
class P2Config:
    """One profile of the P2 chapter."""

    depths: tuple[int, ...] = (3, 6, 9, 12)    # n: residual layers in the first stage (Table 5.2)
    seeds: tuple[int, ...] = (0, 1, 2)
    variants: tuple[str, ...] = ("d", "s", "sp")  # sp: BN-free ResNet-S with ‖A‖₂² ≤ 2 (Theorem 4.2's hypothesis)
    data: DataSpec = DataSpec("cifar10")
    train: dict = field(default_factory=lambda: {v: TrainConfig() for v in ("d", "s", "sp")})
    filter_penalty: float = 1e-4               # λ of Table 4.1 (value lost from our copy; TFLearn's default)
    spectral_clip: bool = False                # also enforce ‖A‖₂² ≤ 2 (Eq. 4.11) on the BN ResNet-S filters
    average_last_epochs: int = 1               # Table 5.3 averages the last 5K of 70K steps
    noise_test_per_class: int | None = None    # test images per class for Table 5.4 (None: all)
    sigma_sweep: tuple[float, ...] = (0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.13, 0.17, 0.22, 0.3, 0.4)  # Eq. (5.1a)
    eps_sweep: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.3, 1.7, 2.2)           # Eq. (5.1b)
    pattern_class: str = "frog"                # z of Eq. (5.1b): the first test image of this class (our choice)
    figure_depth: dict = field(default_factory=lambda: {"d": 6, "s": 6})  # Figs. 5.3/5.4: D-36, S-20
    confident: float = 0.5                     # figure probes: correctly classified with p(true) ≥ this
    stability_images: int = 64                 # probe images (every class) for the Theorem 4.1/4.2 checks
    stability_sigma: float = 0.02              # y = x + σ·η for the sensitivity ratio
    bn_probe_model: str = "resnet56"           # P2.6: a standard ResNet with / without BN
    bn_probe_images: int = 64
    bn_probe_train: TrainConfig | None = None  # also train the probe nets (else: at initialisation only)
    bn_probe_zoo: tuple[str, str] | None = None  # or reuse trained zoo nets (with BN, without BN) of bn_probe_model
    bn_probe_seeds: tuple[int, ...] = (0,)     # trained probes per arm: BN against no BN needs a band over seeds
    # Groups whose first net is a pilot, trained first; the rest train only once it meets its gate (PILOT_GATES):
    # "sp" (pilot: smallest n, first seed) and "probes" (the BN-free probe of the first seed). See measure.py.
    pilots: tuple[str, ...] = ()
    eval_batch_size: int = 500


def _ds(epochs: int, **kw) -> dict:
    return {v: TrainConfig(epochs=epochs, **kw) for v in ("d", "s", "sp")}


PROFILES = {
    # Whole notebook in about a minute on a CPU: 200 training images, one epoch, n = 1, 2, one seed.
    "smoke": P2Config(depths=(1, 2), seeds=(0,), data=DataSpec("cifar10", train_per_class=20, test_per_class=20),
                      train=_ds(1, batch_size=50, lr=0.05, schedule="onecycle", weight_decay=0),
                      noise_test_per_class=10, figure_depth={"d": 2, "s": 2}, stability_images=10,
                      bn_probe_images=10, sigma_sweep=(0.05, 0.2), eps_sweep=(0.3, 1.0)),
    # A 2-core CPU: n = 3 and 6 (D-18/S-11 and D-36/S-20, two of the paper's four depths) on all of CIFAR-10, three
    # seeds, trained with the zoo's CPU recipe lengthened to 34 epochs (one-cycle to lr 0.1, batch 64, Nesterov,
    # weight decay 5e-4, label smoothing 0.1; the paper regularises with the filter penalty alone, which left shorter
    # runs of ours underfitting): long enough for all twelve nets to clear the accuracy gate (README's units table).
    # n = 2 nets (D-12, S-8) would sit below n = 3, at or under the gate. P2.2 and P2.3 compare depths over seeds:
    # three seeds give a t band with two degrees of freedom per depth (t quantile 4.3; two seeds' 12.7 let only a
    # step far beyond the seed spread decide), joined with the test images' part; the paper's four depths (one run
    # each in the paper), three seeds, are `standard`.
    # Figs. 5.3/5.4 (P2.4) read the paper's own figure nets, D-36 and S-20 (n = 6, the default), first seed.
    # Table 5.4 and the figures read the whole test set, as the paper's: until session 31 `small` read 50 images a
    # class to save CPU time, and P2.3 stood inconclusive with its bands set mostly by those 500 images' part (the
    # seeds' part was smaller). So P2.3, P2.4 and the calibrated levels are read a second time on the whole set.
    # The BN-free ResNet-S (sp) trains 100 steps only: with the exact spectral clip after every step an epoch is
    # several times dearer and it learns far more slowly, so its gate is out of a CPU's reach.
    # The §3.1 probes: ResNet-20 with and without BN (every BN an identity, He init, no biases), two seeds per arm,
    # trained here with the zoo's CPU recipe at weight decay 1e-4, the TFLearn ResNet's that §3.1 ran (the zoo's pair
    # trains at 5e-4, and §3.1 expects regularisation to control growth). The BN-free net of the first seed is a
    # pilot that met its gate before the other three trained (README's units table). Two nets per arm give
    # P2.6-BN a band over seeds; `standard` trains three ResNet-56s per arm.
    "small": P2Config(depths=(3, 6), seeds=(0, 1, 2), data=DataSpec("cifar10"),
                      train={**{v: replace(zoo.CPU_RECIPE, epochs=34) for v in ("d", "s")},
                             "sp": TrainConfig(epochs=1, batch_size=64, lr=0.1, nesterov=True, schedule="onecycle",
                                               weight_decay=0, augment=False, max_steps_per_epoch=100)},
                      stability_images=40,
                      bn_probe_model="resnet20", bn_probe_train=replace(zoo.CPU_RECIPE, weight_decay=1e-4),
                      bn_probe_seeds=(0, 1), pilots=("probes",)),
    # One GPU: the paper's four depths, three seeds, 36 nets, each trained with the zoo's CPU recipe at twice its
    # batch and lr for 40 epochs. Gate evidence (82%): on a CPU, 30 epochs of that recipe without label smoothing
    # brought D-18 and S-11 to the gate and 8 epochs fell short of it; `small`'s D-18 and S-11 cleared it with 34
    # epochs of the recipe itself (batch 64; README's units table); deeper nets reach higher accuracy in Table 5.3.
    # The BN-free ResNet-S (sp) has no such evidence: `small` trains it 100 steps, far under its 80% gate, and no
    # longer run exists. So its grid is piloted (``pilots``, enforced by measure.py): the sp net of n = 3, seed 0
    # trains first, and the other eleven train only if it reaches its gate; else the result records the miss. The
    # paper trains 180 (D) / 240 (S).
    # Not yet timed on a GPU: time D-72, the slowest net, first.
    # §3.1's probes: ResNet-56 with and without BN, three seeds each (the BN comparison takes its band over seeds),
    # the zoo's CPU recipe for 64 epochs at weight decay 1e-4, TFLearn's `residual_block` default (the code §3.1
    # ran), so growth is measured under regularisation no stronger than the paper's. Gate evidence (80%): the zoo's
    # BN-free ResNet-20 cleared its 80% gate with this recipe in 27 epochs (at 5e-4; its learning curve was far
    # under the gate after 8, the figure this profile had) and the recipe's warm-up is what lets a BN-free net
    # train at all (zoo.py); the zoo's BN ResNet-56 trains with it for 64 epochs toward a 91% gate. No BN-free
    # ResNet-56 has been piloted, so the probes are too: the BN-free seed 0 trains first, the other five only if it
    # reaches its gate. `run` trains a pilot before its group; `compute_item` (runner, Slurm) refuses a group's net
    # until its pilot is trained and met its gate, naming it and the accuracy it reached.
    "standard": P2Config(train={v: replace(zoo.CPU_RECIPE, epochs=40, batch_size=128, lr=0.2)
                                for v in ("d", "s", "sp")},
                         bn_probe_train=replace(zoo.CPU_RECIPE, epochs=64, weight_decay=1e-4), bn_probe_seeds=(0, 1, 2),
                         pilots=("sp", "probes")),
    # §5: batch 128, lr 0.1 ÷10 every 24K (D) / 32K (S) steps, 70K / 93.5K steps (Table 5.1), 391 steps/epoch.
    "paper": P2Config(train={"d": TrainConfig(epochs=180, batch_size=128, lr=0.1, weight_decay=0,
                                              milestones=(24 / 70, 48 / 70)),
                             **{v: TrainConfig(epochs=240, batch_size=128, lr=0.1, weight_decay=0,
                                               milestones=(32 / 93.5, 64 / 93.5)) for v in ("s", "sp")}},
                      average_last_epochs=13,
                      bn_probe_train=TrainConfig(epochs=164, batch_size=128, lr=0.1, weight_decay=1e-4),
                      pilots=("sp", "probes")),   # BN-free nets untried at this recipe too: piloted as at `standard`
}

# The negative control: smoke on nets at initialisation (``controls.control_result``); no BN probe is trained.
# Three seeds, as `small`: with one the comparisons between depths stop at "one seed" and never reach the bands
# (over seeds, then images) that the verdicts rest on.
CONTROL = replace(PROFILES["smoke"], bn_probe_train=None, seeds=(0, 1, 2))
