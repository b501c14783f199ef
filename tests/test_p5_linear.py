"""P5.1 (Theorem 2): deep linear residual nets fitted to R become more norm-preserving as L grows."""
import math

import numpy as np
import torch

from resnet_lab.experiments.p5.config import LinearConfig
from resnet_lab.experiments.p5.linear import fit_linear_residual, linear_experiment, random_target_map


def test_target_map_has_positive_determinant_and_given_spread():
    r = random_target_map(6, math.log(2.0), seed=3)
    sv = torch.linalg.svdvals(r)
    assert torch.linalg.det(r) > 0
    assert sv.max() <= 2.0 + 1e-12 and sv.min() >= 0.5 - 1e-12


def test_fit_reaches_the_target_product():
    r = random_target_map(4, math.log(1.5), seed=1)
    model = fit_linear_residual(r, depth=6, steps=300, lr=0.5)
    product = model(torch.eye(4, dtype=torch.float64)).T
    # The product Π(I+W_l), computed here independently of the module's forward order.
    manual = torch.eye(4, dtype=torch.float64)
    for unit in model:
        manual = (torch.eye(4, dtype=torch.float64) + unit.weight) @ manual
    torch.testing.assert_close(product, manual)
    assert (product - r).norm() / r.norm() < 1e-6


def test_ratio_tends_to_one_with_depth_at_smoke_size():
    out = linear_experiment(LinearConfig(dim=6, depths=(2, 4, 8, 16), steps=300))
    deltas = [row["delta"] for row in out["rows"]]
    measured = [row["max_abs_ratio_minus_1"] for row in out["rows"]]
    assert all(b < a for a, b in zip(deltas, deltas[1:]))
    assert all(b < a for a, b in zip(measured, measured[1:]))
    # Lemma 1: the measured deviation never exceeds σ_max(W_l).
    assert all(m <= d + 1e-12 for m, d in zip(measured, deltas))
    assert -1.3 < out["loglog_slope"] < -0.7
    assert np.isclose(out["c"], 2 * (math.sqrt(math.pi) + math.sqrt(3 * out["gamma"])) ** 2)
