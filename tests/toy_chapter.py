"""A toy chapter for the dispatch tests (issue 42): two tiny real networks and an analysis that reloads them.

Each item's job meets the other at a file barrier (``$TOY_BARRIER``, waiting up to ``$TOY_WAIT`` s) and logs when,
where and on which ``CUDA_VISIBLE_DEVICES`` it ran, so the tests can tell parallel jobs from serial ones. The jobs
cannot import this file: the ``jobs_env`` fixture (conftest) pickles it by value and points them at a scratch root.
"""
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from resnet_lab.cache import cached
from resnet_lab.data import DataSpec, ImageData
from resnet_lab.experiments import Chapter
from resnet_lab.train import TrainConfig, named_hook, train_cached
from resnet_lab.work import network_item

TINY = dict(width=4, num_classes=2)
CONFIG = TrainConfig(epochs=2, batch_size=32, lr=0.05, augment=False, channels_last=False, max_steps_per_epoch=2)


@dataclass(frozen=True)
class ToyData(DataSpec):
    """Two classes by mean colour, 8×8 images, made on the fly: no dataset to read in a job."""

    name: str = "toy"

    def load(self, split, root=None):
        g = torch.Generator().manual_seed(0 if split == "train" else 1)
        labels = torch.arange(64) % 2
        base = torch.where(labels[:, None, None, None] == 0, 70.0, 180.0)
        images = (base + 30 * torch.randn(64, 3, 8, 8, generator=g)).clamp(0, 255).to(torch.uint8)
        return ImageData(images, labels, ("dark", "bright"), f"toy:{split}", (0.5,) * 3, (0.25,) * 3)


def _pid(model, epoch):
    if epoch >= 1:
        time.sleep(float(os.environ.get("TOY_EPOCH_S", "0")))  # room to preempt mid-training
    return {"pid": os.getpid()}


def _net(profile, seed, epochs=2):
    """Return ``train_cached``'s first arguments for a toy network: experiment, profile, model, options, data, config."""
    return ("toy", profile, "resnet20", TINY, ToyData(), replace(CONFIG, seed=seed, epochs=epochs))


def _train(profile, seed, tag, epochs=2):
    return train_cached(*_net(profile, seed, epochs), tag=tag, device="cpu", callbacks=[named_hook(_pid, "pid")],
                        progress=False)


def toy_items(profile):
    return [network_item("toy", profile, "toy", *_net(profile, s)[2:], f"net{s}", (s,)) for s in (0, 1)]


def toy_compute(item, device=None, progress=True):
    """Meet the other item at the barrier (or give up after $TOY_WAIT s), then train; log when and where."""
    torch.set_num_threads(1)
    seed, barrier = item.args[0], Path(os.environ["TOY_BARRIER"])
    log = {"cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "pid": os.getpid(), "start": time.time()}
    (barrier / f"{seed}.arrived").touch()
    until = time.time() + float(os.environ["TOY_WAIT"])
    while time.time() < until and len(list(barrier.glob("*.arrived"))) < 2:
        time.sleep(0.05)
    log["met"] = len(list(barrier.glob("*.arrived"))) == 2
    _train(item.profile, seed, f"net{seed}")
    log["end"] = time.time()
    (barrier / f"{seed}.json").write_text(json.dumps(log))


def toy_run(profile="smoke", force=False, device=None, progress=True):
    """The analysis: reload both networks (inside ``refuse_training`` a missing one is an error)."""
    def compute():
        start = time.time()
        records = [_train(profile, s, f"net{s}")[1] for s in (0, 1)]
        return {"start": start, "epochs": [r["history"][-1]["epoch"] for r in records]}
    return cached("toy", profile, compute, config={"toy": 1})


CHAPTERS = {"toy": Chapter("toy", "toy", {"smoke": None}, toy_run, items=toy_items, compute_item=toy_compute)}


def logs(tmp_path):
    return [json.loads((tmp_path / "barrier" / f"{s}.json").read_text()) for s in (0, 1)]
