"""Introduction chapter: train a CIFAR ResNet with the book's trainer and show its learning curve.

At ``small`` it shows the zoo's full-width ResNet-20 (``resnet_lab.zoo``), the network P3 analyses at small;
at ``standard`` and ``paper`` it trains a ResNet-56 (P3 trains its own option-B ResNet-56/110 there).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .. import zoo
from ..artifacts import cached
from ..data import DataSpec
from ..profiles import select
from ..train import TrainConfig, train_cached


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
    # The zoo's ResNet-20: all of CIFAR-10, 27 epochs one-cycle (54 min on 2 CPU threads), shared with P3.
    "small": IntroConfig(zoo="resnet20-cifar10", data=zoo.ZOO["resnet20-cifar10"].data,
                         train=zoo.ZOO["resnet20-cifar10"].train, paper_test_acc=0.9125),
    # One GPU, a few minutes: ResNet-56, 64 epochs at batch 256, one-cycle, compiled.
    "standard": IntroConfig(model="resnet56", train=TrainConfig(epochs=64, batch_size=256, lr=0.2, nesterov=True,
                                                                schedule="onecycle", compile=True),
                            paper_test_acc=0.9303),
    # He et al. (2016): 64k steps at batch 128 (164 epochs), lr 0.1 ÷10 at 32k and 48k, wd 1e-4.
    "paper": IntroConfig(model="resnet56", train=TrainConfig(epochs=164, batch_size=128, lr=0.1, weight_decay=1e-4,
                                                             milestones=(0.5, 0.75)),
                         paper_test_acc=0.9303),
}


def trained_model(profile: str = "smoke", force: bool = False, device=None, progress: bool = True):
    """Return (model, training record) of this chapter's network at ``profile`` (trained once, then reloaded)."""
    cfg = select(PROFILES, profile)
    if cfg.zoo is not None:  # a shared network: `force` recomputes this chapter, never retrains the zoo's
        return zoo.load(cfg.zoo, device=device, progress=progress)
    return train_cached("intro", profile, cfg.model, cfg.model_options, cfg.data, cfg.train,
                        force=force, device=device, progress=progress)


def run(profile: str = "smoke", force: bool = False, device=None, progress: bool = True) -> dict:
    """Train (or reload) the intro network and return its history, accuracy and provenance."""
    cfg = select(PROFILES, profile)

    def compute() -> dict:
        model, record = trained_model(profile, force, device, progress)
        return {"config": asdict(cfg), "parameters": sum(p.numel() for p in model.parameters()),
                "history": record["history"], "diverged": record["diverged"],
                "diverged_step": record["diverged_step"], "train_wall_time_s": record["wall_time_s"],
                "train_device": record["provenance"]["device"], "data_source": record["provenance"]["data_source"]}

    return cached("intro", profile, compute, force)
