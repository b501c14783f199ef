"""P3 — ResNets as nonlinear systems: Jacobian spectra of units and stages, propagated perturbations.

Rothauge, Hu, Yao & Mahoney (2019). A trained CIFAR ResNet is linearised unit by unit
(``resnet_lab.metrics.jacobian``); perturbations of test images are propagated through it
(``resnet_lab.metrics.perturb``). ``python -m resnet_lab run p3 --profile small``; notebook
``notebooks/p3_linearization.ipynb``. The chapter tests whether most singular values of a unit's Jacobian
are 1 (Fig. 1–2), whether adversarial perturbations jump late where random ones decay (Fig. 3), whether
Eq. (1) predicts that growth (Fig. 4) and whether skip scaling and weight interpolation move the plateau
(Fig. 5). The claims are declared once in ``paper.CLAIMS``; every verdict in :func:`claims` is computed
from the numbers of :func:`run`.

Files: ``paper.py`` (gate, claims) · ``config.py`` (``P3Config``, profiles) · ``measure.py`` and
``unit_spectra.py`` (the result) · ``readings.py`` · ``verdicts.py`` · ``tables.py`` · ``controls.py``.
"""
from __future__ import annotations

from .. import Chapter, DryRunCaps
from .config import EXPERIMENT, PROFILES
from .controls import control_result, synthetic_results
from .measure import compute_item, items, run
from .paper import CLAIMS, GATE, gate_for
from .tables import (findings_activity, findings_alignment, findings_fig5, findings_jacobian_test, findings_propagation,
                     findings_spectra, spectra)
from .verdicts import claims

__all__ = ["CHAPTER", "CLAIMS", "EXPERIMENT", "GATE", "PROFILES", "claims", "control_result", "gate_for", "run",
           "spectra", "synthetic_results"]

CHAPTER = Chapter("p3", "p3_linearization", PROFILES, run, ledger="P3", claims=claims, control=control_result,
                  fixtures=synthetic_results, networks=lambda cfg: (cfg.zoo,) if cfg.zoo else (),
                  dry_run=DryRunCaps(caps={"images": 2, "perturb_images": 2, "dense_max_dim": 256, "top_k": 4,
                                           "energy_k": 4, "fig2_images": 2, "fig5_images": 2, "fig5_draws": 2},
                                     thin={"eps_grid": 4}),
                  compute_files=("config.py", "measure.py", "unit_spectra.py"), items=items,
                  compute_item=compute_item,
                  title="Residual networks as nonlinear systems: stability analysis using linearization",
                  cite="p3_linearization")
