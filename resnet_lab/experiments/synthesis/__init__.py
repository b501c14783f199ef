"""Synthesis — do the five papers agree about the same networks?

Every paper's per-unit measure on the **same** trained networks at the **same** test images: P1's κ_R of each
unit's linear part, P2's feature-norm growth, P3's unit Jacobian spectra, P5's gradient-norm ratios (P4's
g-expansivity needs a dimension-preserving network and is not measured here). The ledger asks whether forward
and backward agree (an implementation check), whether within a network P5's ratio is near 1 where P3's Jacobian has
an RMS gain near 1, whether P1's linear-part κ_R predicts the real Jacobian's spread within a network, and whether
the measures rank the networks alike. ``python -m resnet_lab run synthesis --profile small`` (nothing retrains: the
zoo pair, P5's depth-20 nets and P1's ResNet-18/34 are reloaded); notebook ``notebooks/synthesis.ipynb``.

Files: ``paper.py`` (gate, claims, measures) · ``config.py`` (profiles, control) · ``measure.py`` (the result) ·
``unit_measures.py`` (one unit at one image) ·
``readings.py`` · ``verdicts.py`` · ``tables.py`` · ``controls.py``.
"""
from __future__ import annotations

from .. import Chapter, DryRunCaps
from .config import EXPERIMENT, PROFILES
from .controls import control_result, synthetic_results
from .measure import compute_item, items, run
from .paper import CLAIMS, MEASURES, NET_GATE
from .tables import findings, rank_frame, strip_figure, units_frame
from .verdicts import claims

__all__ = ["CHAPTER", "CLAIMS", "EXPERIMENT", "MEASURES", "NET_GATE", "PROFILES", "claims", "control_result",
           "findings", "rank_frame", "run", "strip_figure", "synthetic_results", "units_frame"]


def _zoo_networks(cfg) -> tuple[str, ...]:
    return tuple(n.name for n in cfg.nets if n.source == "zoo")


CHAPTER = Chapter(EXPERIMENT, "synthesis", PROFILES, run, ledger="S", claims=claims, control=control_result,
                  fixtures=synthetic_results, networks=_zoo_networks,
                  dry_run=DryRunCaps(caps={"images": 2, "dense_max_dim": 256, "lanczos_steps": 8,
                                                 "gate_images": 32}),
                  compute_files=("config.py", "measure.py", "unit_measures.py"),
                  items=items, compute_item=compute_item,
                  title="Synthesis: do the five papers agree about the same networks?")
