"""P5 — Norm-preservation (Zaeemzadeh et al.): gradient-norm ratios of residual units, Procrustes ResNets.

Run: ``python -m resnet_lab run p5 --profile small`` (notebook ``notebooks/p5_norm_preservation.ipynb``).

Parts: (P5.1) deep linear residual nets fitted to a random map R, Theorem 2; (P5.2) the Procrustes
projection vs an exact SVD, and Fig. 2's c×d grid of Conv-ReLU gradient-norm ratios; (P5.3) Fig. 3's
per-unit ratios over training for Plain/ResNet/ProcResNet; (P5.4–5.5) generalisation gap and test
error, ResNet vs ProcResNet and the transition/projection ablation; (P5.6) projection overhead.

Files: ``paper`` (the paper's numbers, gates, claims), ``config`` (configs, profiles, the control),
``measure`` with ``linear`` and ``timing`` (train, measure, ``run``), ``readings`` (result → estimates),
``verdicts`` (one function per ledger row), ``tables`` (the notebook's tables), ``controls`` (control, fixtures).
"""
from __future__ import annotations

from .. import Chapter, DryRunCaps
from .config import ARCHS, EXPERIMENT, PROFILES, OverheadConfig, procresnet_conv_sizes  # ARCHS on: for benchmarks/
from .controls import control_result, synthetic_results
from .measure import compute_item, items, run, trained_net  # trained_net: the synthesis reads P5's nets
from .paper import GRID_GATE, PAPER_OVERHEAD, PAPER_TABLE1, PAPER_TABLE2, PAPER_TABLE3
from .tables import (findings_fig3, findings_gate, findings_grid, findings_linear, findings_overhead,
                     findings_projection, findings_tables, profile_note, tables)
from .timing import step_overhead  # for benchmarks/procrustes_speed.py
from .verdicts import claims

CHAPTER = Chapter("p5", "p5_norm_preservation", PROFILES, run, ledger="P5", claims=claims, control=control_result,
                  fixtures=synthetic_results, grid_fields=("archs", "channels", "depths", "extra_depths", "seeds"),
                  dry_run=DryRunCaps(caps={"gradnorm_batch": 8, "batch": 16, "batch_size": 8, "steps": 5,
                                           "repeats": 1, "projection_repeats": 1,
                                           "agreement_width": 0.25,  # the NS-vs-SVD check on conv* sizes
                                           "width": 8},
                                     shorten={"seeds": 2, "plain_seeds": 2, "channels": 2, "extra_depths": 1}),
                  compute_files=("config.py", "measure.py", "linear.py", "timing.py"), items=items,
                  compute_item=compute_item,
                  title="Norm-preservation: why residual networks can become extremely deep?", cite="p5_norm_preservation")
