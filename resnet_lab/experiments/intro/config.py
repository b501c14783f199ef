"""The intro chapter's config and profiles: which network it shows, trained how."""
from __future__ import annotations

from dataclasses import dataclass, field

from ... import zoo
from ...data import DataSpec
from ...train import TrainConfig

EXPERIMENT = "intro"


@dataclass(frozen=True)
class IntroConfig:
    model: str = "resnet20"
    model_options: dict = field(default_factory=dict)
    data: DataSpec = DataSpec("cifar10")
    train: TrainConfig = TrainConfig()
    paper_test_acc: float | None = None  # He et al. (2016), Table 6, for the same depth
    zoo: str | None = None               # show this shared zoo network instead of training one here


PROFILES = {
    # Seconds on a CPU: 1,000 training images, a narrow ResNet-20.
    "smoke": IntroConfig(model_options={"width": 8}, data=DataSpec("cifar10", train_per_class=100, test_per_class=50),
                         train=TrainConfig(epochs=2, batch_size=50, lr=0.05, schedule="onecycle")),
    # The zoo's ResNet-20 on all of CIFAR-10, shared with P3 (trained once, see the README's table of units).
    "small": IntroConfig(zoo="resnet20-cifar10", data=zoo.ZOO["resnet20-cifar10"].data,
                         train=zoo.ZOO["resnet20-cifar10"].train, paper_test_acc=0.9125),
    # One GPU: ResNet-56 on He et al.'s published recipe (below), compiled. Gate evidence: that recipe is the
    # one their Table 6 reports for ResNet-56; a short one-cycle schedule has no such evidence (the zoo's 27-epoch
    # one-cycle ResNet-20 stayed well under He et al.'s number: see the README's table of units).
    "standard": IntroConfig(model="resnet56", train=TrainConfig(epochs=164, batch_size=128, lr=0.1, weight_decay=1e-4,
                                                                milestones=(0.5, 0.75), compile=True),
                            paper_test_acc=0.9303),
    # He et al. (2016): 64k steps at batch 128 (164 epochs), lr 0.1 ÷10 at 32k and 48k, wd 1e-4.
    "paper": IntroConfig(model="resnet56", train=TrainConfig(epochs=164, batch_size=128, lr=0.1, weight_decay=1e-4,
                                                             milestones=(0.5, 0.75)),
                         paper_test_acc=0.9303),
}
