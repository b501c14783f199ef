"""P1 — *Understanding ResNet from a discrete dynamical system perspective*: unit condition numbers (Lemma 1,
Remark 1), perturbation bounds (Lemmas 2–3) and median principal angles (Definition 1, Figs. 2–5).

``python -m resnet_lab run p1 --profile small``; notebook ``notebooks/p1_dynamical_system.ipynb``. The chapter
tests whether a trained residual unit is better conditioned than its plain twin (κ_R < κ_B), whether its relative
perturbation gains stay within [1/κ_R, κ_R], whether BN never raises a relative perturbation, and whether the
inter − intra MPA gap behaves as Figs. 2–5 show (BN vs no BN, depth, other tasks, through the stages).
``config`` → ``measure`` compute the result; ``paper``, ``readings``, ``verdicts`` and ``tables`` only read it.
"""
from __future__ import annotations

from .. import Chapter, DryRunCaps
from .config import DEEP, EXPERIMENT, FIG2, OTHER, PROFILES
from .controls import control_result, synthetic_results
from .measure import compute_item, items, run
from .paper import CLAIMS, TRAINED
from .readings import final_accuracy, seed_tags
from .unit_readings import unit_frame
from .tables import (findings_conditioning, findings_fig2, findings_lemma2, findings_lemma3, findings_other_tasks,
                     findings_stages, gap_frame, gap_table, plot_gaps, plot_mpa, profile_frame, stage_frame, timing)
from .verdicts import claims

__all__ = ["CHAPTER", "CLAIMS", "DEEP", "EXPERIMENT", "FIG2", "OTHER", "PROFILES", "TRAINED", "claims",
           "control_result", "final_accuracy", "gap_frame", "gap_table", "plot_gaps", "plot_mpa", "profile_frame",
           "run", "stage_frame", "synthetic_results", "timing", "unit_frame"]

CHAPTER = Chapter("p1", "p1_dynamical_system", PROFILES, run, ledger="P1", claims=claims, control=control_result,
                  fixtures=synthetic_results, grid_fields=("deep_models", "depth_seeds"),
                  dry_run=DryRunCaps(caps={"dense_max_dim": 256, "matrix_free_max_dim": 8192, "mpa_per_class": 4,
                                           "probe_images": 8,
                                           # base channels: at 64, P1's per-unit κ (batched SVDs over every
                                           # frequency) alone takes minutes per network on a CPU
                                           "width": 8},
                                     # no pilot: capped nets cannot reach a gate, and the dry run checks every
                                     # deep net's code path (tests/test_p1_pilots.py checks the pilot's)
                                     shorten={"deep_pilot": 0, "depth_seeds": 2}),
                  compute_files=("config.py", "measure.py"), items=items, compute_item=compute_item,
                  title="Understanding ResNet from a discrete dynamical system perspective", cite="p1_dynamical")
