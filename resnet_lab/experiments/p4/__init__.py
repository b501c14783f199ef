"""P4 — A qualitative theory of dynamical systems for assessing stability in ResNets (anonymous, under review).

``python -m resnet_lab run p4 --profile small`` trains the paper's dimension-preserving ResNet-18/50 on MNIST and
CIFAR-10 and reads each as a discrete dynamical system observed through its head ``g``. The chapter tests the
paper's Table 1 (the networks classify as well as reported), Table 2's two orderings of the g-expansive constant
(P4.2: depth, P4.2-datasets), the hard class pairs of Figs. 2–3, Table 3's close digit-2 pairs and Tables 4–5's
traced orbits (P4.1–P4.5); P4.3–P4.5 compare each network with itself before training.

Files: ``paper`` (numbers, gates, claims), ``config`` (config, profiles), ``measure`` (train, measure, ``run``),
``readings`` (result → estimates), ``verdicts`` (ledger rows), ``tables`` (notebook frames), ``controls``.
"""
from __future__ import annotations

from .. import Chapter, DryRunCaps
from .config import EXPERIMENT, PROFILES
from .controls import control_result, synthetic_results
from .measure import closest_pairs, compute_item, items, run
from .paper import CLAIMS, PAPER_TABLE2
from .readings import networks
from ...plotting import show_images  # noqa: F401  (the notebook's p4.show_images)
from .tables import (expansive_frame, figure_images, finding, findings_orbits, findings_pairs, findings_table1,
                     findings_table2, findings_table3, pair_frame, paper_table3_frame, ranking_frame, sensitivity_frame,
                     table1_frame, table2_frame)
from .verdicts import claims

CHAPTER = Chapter("p4", "p4_dynamical_stability", PROFILES, run, ledger="P4", claims=claims, control=control_result,
                  fixtures=synthetic_results, grid_fields=("datasets", "depths", "seeds"),
                  dry_run=DryRunCaps(caps={"train_per_class": 8, "test_per_class": 4, "sample_per_class": 4,
                                           "small_sample_per_class": 4, "width": 8}, shorten={"seeds": 2}),
                  compute_files=("config.py", "measure.py", "arrays.py"), items=items, compute_item=compute_item,
                  title="A qualitative theory of dynamical systems for assessing stability in ResNets", cite="p4_qualitative")
