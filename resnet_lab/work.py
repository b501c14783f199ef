"""Work items: the networks (and other heavy pieces) a chapter computes one by one, so a scheduler can (issue 42).

A chapter declares its items for a profile (``Chapter.items``) and computes one of them by the very call its
``run()`` makes, hooks included (``Chapter.compute_item``); ``run()`` then only reloads and analyses. An item's
name is its artifact's path under the artifact root without suffix (``p2/small/resnet_d3-seed0-b13d24a9c487``),
so it is unique in the book and says where its files are; it is done once those files exist.
"""
from __future__ import annotations

from dataclasses import dataclass

from .artifacts import artifact_root
from .data import DataSpec
from .train import TrainConfig, network_stem


@dataclass(frozen=True)
class WorkItem:
    """One unit of work that runs as one job: usually one network to train."""

    chapter: str                       # whose ``compute_item`` computes it: an experiment, or "zoo"
    profile: str
    name: str                          # a network's artifact stem under the root: <experiment>/<profile>/<tag>-<hash>
    args: tuple = ()                   # what ``compute_item`` needs to find the item again (plain values)
    files: tuple[str, ...] = ()        # paths under the root that exist once it is done (default: name.pt, name.json)
    model: str = ""                    # a network's registry name, options and input shape, and the images its
    options: tuple = ()                # training sees (``images_seen``): what ``costs.py`` prices an item by
    input_shape: tuple = ()
    images: int = 0

    def done(self) -> bool:
        """Return whether every file of the item exists (a network: its weights and its training record)."""
        files = self.files or (f"{self.name}.pt", f"{self.name}.json")
        return all((artifact_root() / f).exists() for f in files)

    @property
    def checkpoint(self):
        """Return the path of the item's training checkpoint (present while it is in progress)."""
        return artifact_root() / f"{self.name}.ckpt"


def network_item(chapter: str, profile: str, experiment: str, model_name: str, model_options: dict,
                 data: DataSpec, config: TrainConfig, tag: str, args: tuple = ()) -> WorkItem:
    """Return the item of the network ``train_cached(experiment, profile, model_name, …, tag=tag)`` trains."""
    stem = network_stem(experiment, profile, model_name, model_options, data, config, tag)
    return WorkItem(chapter, profile, stem.relative_to(artifact_root()).as_posix(), args, model=model_name,
                    options=tuple(sorted(model_options.items())), input_shape=data.input_shape,
                    images=images_seen(data.train_images, config))


def images_seen(train_images: int, config: TrainConfig) -> int:
    """Return the training images a recipe shows a network: epochs × images per epoch, an epoch capped at
    ``max_steps_per_epoch`` batches (the cost model of ``costs.py`` and the runner's estimate)."""
    per_epoch = train_images
    if config.max_steps_per_epoch:
        per_epoch = min(per_epoch, config.max_steps_per_epoch * config.batch_size)
    return per_epoch * config.epochs
