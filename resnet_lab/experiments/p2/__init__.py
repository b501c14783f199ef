"""P2 — Zhang & Schaeffer, "Forward Stability of ResNet and Its Variants": ResNet-D and ResNet-S.

Run: ``python -m resnet_lab run p2 --profile small`` (notebook ``notebooks/p2_forward_stability.ipynb``).

Trains both variants at several depths and seeds (Table 5.3), counts their parameters (Table 5.2),
evaluates them under unstructured and structured noise at levels calibrated to the paper's accuracy
drops (Table 5.4, Figs. 5.3/5.4), checks the discrete stability bounds against the trained weights
(Thms. 4.1/4.2), tests Theorem 4.2 on a BN-free ResNet-S whose filters meet its hypothesis
``h‖A‖₂² ≤ 2``, and measures the feature-norm growth of a standard ResNet with and without BN (§3.1), per element
and within stages.

Files: ``paper`` (the paper's numbers, gates, claims) · ``config`` (profiles) · ``measure`` (train, reload,
orchestrate) with ``robustness`` (noise) and ``stability`` (bounds, feature growth) · ``readings`` (result →
estimates) · ``verdicts`` (one function per ledger row) · ``tables`` (the notebook's frames) · ``controls``.
"""
from .. import Chapter, DryRunCaps
from .config import EXPERIMENT, NOISE_KINDS, PROFILES, paper_drop_fractions
from .controls import control_result, synthetic_results
from .measure import compute_item, items, model_name, model_options, run, step_hooks  # the builders: also benchmarks/nets_cpu.py's
from .paper import ACC_GATE, PAPER_PROBS, VARIANT_NAMES
from .card import findings_nets, profile_note
from .tables import (accuracy_summary, bn_growth_frame, calibration_frame, figure_frame, findings_accuracy,
                     findings_growth, findings_noise, findings_probs, findings_stability, findings_table52,
                     growth_summary, layer_frame, noise_summary, p_true_frame, paper_table53, paper_table54,
                     sensitivity_frame, stability_summary, table52_frame)
from .verdicts import claims

__all__ = ["ACC_GATE", "CHAPTER", "EXPERIMENT", "NOISE_KINDS", "PAPER_PROBS", "PROFILES", "VARIANT_NAMES",
           "accuracy_summary", "bn_growth_frame", "calibration_frame", "claims", "control_result", "figure_frame",
           "growth_summary", "layer_frame", "model_name", "model_options", "noise_summary", "p_true_frame", "paper_drop_fractions",
           "paper_table53", "paper_table54", "run", "sensitivity_frame", "stability_summary", "step_hooks",
           "synthetic_results", "table52_frame"]

CHAPTER = Chapter("p2", "p2_forward_stability", PROFILES, run, ledger="P2", claims=claims, control=control_result,
                  fixtures=synthetic_results, networks=lambda cfg: tuple(cfg.bn_probe_zoo or ()),
                  grid_fields=("depths", "seeds", "variants"),
                  dry_run=DryRunCaps(caps={"noise_test_per_class": 4, "bn_probe_images": 8, "stability_images": 8,
                                           "average_last_epochs": 1},  # one epoch is all there is
                                     # no pilots: capped nets cannot reach a gate, and the dry run checks the
                                     # whole grid's code path (tests/test_p2_pilots.py checks the pilots')
                                     shorten={"seeds": 2, "bn_probe_seeds": 2, "pilots": 0}),
                  compute_files=("config.py", "measure.py", "robustness.py", "stability.py"),
                  items=items, compute_item=compute_item,
                  title="Forward stability of ResNet and its variants", cite="p2_forward")
