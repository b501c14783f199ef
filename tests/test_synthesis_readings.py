"""Synthesis maths against independent references: the unit spectrum's bounds against a dense float64 Jacobian,
the gradient-norm ratio inside them, Kendall's W against pairwise Spearman, its permutation null against exact
enumeration, and the two-level bootstrap's band against simulation."""
from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from resnet_lab.experiments.synthesis import readings
from resnet_lab.experiments.synthesis.config import SynthesisConfig
from resnet_lab.experiments.synthesis.measure import measure_network, unit_spectrum
from resnet_lab.metrics.gradnorm import tagged_units
from resnet_lab.metrics.hooks import capture_io
from resnet_lab.models import build_model


def _dense_jacobian(unit, x: torch.Tensor) -> torch.Tensor:
    unit = copy.deepcopy(unit).double().eval()
    x = x.double()
    return torch.autograd.functional.jacobian(unit, x).reshape(unit(x).numel(), x.numel())


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = build_model("resnet20", width=2, num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32)
    return model, x, torch.tensor([1, 7])


def test_unit_spectrum_matches_a_dense_float64_svd(tiny) -> None:
    model, x, _ = tiny
    cfg = SynthesisConfig(dense_max_dim=1024)
    units = [u for _, u in tagged_units(model)]
    for k in (3, 6, 8):  # a stage-2 interior unit (2,048 → top-1), the stage-3 transition and interior unit (dense)
        inp = capture_io(model, units, x[:1])[k][0]
        sp = unit_spectrum(units[k], inp, cfg)
        ref = torch.linalg.svdvals(_dense_jacobian(units[k], inp))
        assert sp["sigma_max"] == pytest.approx(float(ref[0]), rel=1e-4)
        if sp["dense"]:
            m, n = ref.shape[0], _dense_jacobian(units[k], inp).shape[1]
            nonzero = ref[ref > len(ref) * torch.finfo(torch.float32).eps * ref[0]]
            assert sp["spread"] == pytest.approx(float(torch.log10(nonzero[0] / nonzero[-1])), rel=1e-3)
            plateau = float(((ref >= 0.99) & (ref <= 1.01)).double().mean())
            assert sp["plateau"] == pytest.approx(plateau, abs=2 / len(ref))
            assert sp["sigma_floor"] == (pytest.approx(float(ref[-1]), abs=1e-4) if m <= n else 0.0)


def test_every_gradient_norm_ratio_lies_inside_its_dense_singular_values(tiny) -> None:
    """‖Jᵀg‖/‖g‖ ∈ [σ_min, σ_max] of the same unit at the same image, J from float64 autograd."""
    model, x, y = tiny
    rows = measure_network(model, x, y, SynthesisConfig(dense_max_dim=0))
    units = [u for _, u in tagged_units(model)]
    for i in range(len(x)):
        io = capture_io(model, units, x[i:i + 1])
        for row, unit, (inp, _) in zip(rows, units, io):
            ref = torch.linalg.svdvals(_dense_jacobian(unit, inp)) if inp.numel() <= 4096 else None
            if ref is None:
                continue
            assert row["ratio"][i] <= float(ref[0]) * (1 + 1e-4)
            assert row["ratio"][i] >= float(ref[-1]) * (1 - 1e-4) - 1e-6


def test_kendall_w_against_mean_pairwise_spearman() -> None:
    """Without ties, mean pairwise Spearman ρ̄ = (mW − 1)/(m − 1): an independent route to W."""
    rng = np.random.default_rng(0)
    for m, n in ((3, 6), (5, 4), (4, 8)):
        ranks = np.array([rng.permutation(n) + 1 for _ in range(m)], dtype=float)
        rhos = [spearmanr(a, b).statistic for a, b in itertools.combinations(ranks, 2)]
        assert readings.kendall_w(ranks) == pytest.approx((np.mean(rhos) * (m - 1) + 1) / m, abs=1e-12)
    same = np.tile(np.arange(1.0, 7.0), (4, 1))
    assert readings.kendall_w(same) == pytest.approx(1.0)
    assert readings.kendall_w(np.array([[1.0, 2, 3, 4], [4, 3, 2, 1]])) == pytest.approx(0.0)


def test_w_null_matches_exact_enumeration() -> None:
    """For 3 raters of 4 items the null over all (4!)² relative orders is exact; sampled quantiles agree."""
    base = np.arange(1.0, 5.0)
    exact = np.array([readings.kendall_w(np.array([base, p, q]))
                      for p in itertools.permutations(base) for q in itertools.permutations(base)])
    null = readings.w_null(np.array([base, base, base]), perms=4000, seed=1)
    assert np.mean(null) == pytest.approx(exact.mean(), abs=0.01)
    assert np.mean(null >= 0.7) == pytest.approx(np.mean(exact >= 0.7), abs=0.02)


def test_two_level_bootstrap_band_covers_the_sampling_spread() -> None:
    """Simulate units and image noise many times: the bootstrap s.e. is within ~40% of the true spread of ρ."""
    from resnet_lab.experiments.synthesis.controls import fake_result

    levels = {"A": (0.02, 0.6, 0.4, 0.2), "B": (0.02, 0.6, 0.4, 0.2)}
    rhos, ses = [], []
    for seed in range(40):
        est = readings.unit_correlation(fake_result(levels, plateau_slope=-0.3, noise=0.04, units=8, seed=seed),
                                        "plateau", "abs_log_ratio", n_boot=200, seed=seed)
        rhos.append(est.value), ses.append(est.se)
    assert 0.6 < np.median(ses) / np.std(rhos, ddof=1) < 1.8
    assert not math.isnan(np.mean(rhos))
