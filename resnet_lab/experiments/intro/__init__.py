"""Introduction chapter: train a CIFAR ResNet with the book's trainer and show its learning curve.

At ``small`` it shows the zoo's full-width ResNet-20 (``resnet_lab.zoo``), the network P3 analyses at small;
at ``standard`` and ``paper`` it trains a ResNet-56 (P3 trains its own option-B ResNet-56/110 there).
``python -m resnet_lab run intro --profile small``; notebook ``notebooks/00_reproducibility.ipynb``.
"""
from __future__ import annotations

from .. import Chapter
from .config import EXPERIMENT, PROFILES, IntroConfig
from .measure import compute_item, items, run, trained_model

__all__ = ["CHAPTER", "EXPERIMENT", "PROFILES", "IntroConfig", "run", "trained_model"]

CHAPTER = Chapter(EXPERIMENT, "00_reproducibility", PROFILES, run, networks=lambda cfg: (cfg.zoo,) if cfg.zoo else (),
                  compute_files=("config.py", "measure.py"), items=items, compute_item=compute_item)
