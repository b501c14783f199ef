"""Matrix-free extreme singular values (``linalg.operator_sv``) against dense float64 SVDs of the same operators.

The units are small (c·n² ≤ 256) so that ``dense_unit_operators`` builds the matrices; the matrix-free side never
forms them. Stated bounds: a converged σ lies within its certificate (relative residual ≤ tol = 1e-6) of the dense
one; an unconverged σ is NaN, and the bounds ``sigma_max_lower ≤ σ_max``, ``sigma_min_upper ≥ σ_min`` and
``kappa_lower ≤ κ`` hold whatever the convergence.
"""
import math

import pytest
import torch
from torch import nn

from resnet_lab.linalg.operator_sv import Operator, extremes
from resnet_lab.metrics.conditioning import kappa, unit_operators
from resnet_lab.metrics.zero_padded import dense_unit_operators, matrix_free_unit_operators, zero_padded_condition
from resnet_lab.models.units import BasicUnit, BottleneckUnit

TOL = 1e-6


def _unit(kind: str, seed: int, dead: bool = False) -> nn.Module:
    """Return an eval-mode non-transition unit with random BN statistics; ``dead``: BN₁'s first channel zeroed, so
    the branch (and its circulant part) is singular: the plain branch of a trained net with a dead channel."""
    torch.manual_seed(seed)
    unit = BasicUnit(4, 4) if kind == "basic" else BottleneckUnit(8, 2)
    unit.branch_scale = 0.8
    for module in unit.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_var.uniform_(0.5, 2.0)
            module.running_mean.uniform_(-0.5, 0.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    if dead:
        unit.branch[1].weight.data[0] = 0.0
    return unit.eval()


UNITS = [("basic", 0, False), ("basic", 1, False), ("basic", 2, True), ("bottleneck", 3, False)]


def _dense_sv(unit: nn.Module, channels: int, size: int) -> dict[str, torch.Tensor]:
    return {k: torch.linalg.svdvals(m) for k, m in dense_unit_operators(unit, channels, size).items()}


@pytest.mark.parametrize("kind, seed, dead", UNITS)
def test_adjoint_and_solves_are_those_of_the_dense_matrix(kind, seed, dead):
    unit, (c, n) = _unit(kind, seed, dead), ((4, 6) if kind == "basic" else (8, 5))
    dense = dense_unit_operators(unit, c, n)
    torch.manual_seed(10)
    x, y = torch.randn(2, 3, c, n, n, dtype=torch.float64)
    for key, op in matrix_free_unit_operators(unit, c, n).items():
        a = dense[key]
        torch.testing.assert_close(op.apply(x).flatten(1), x.flatten(1) @ a.T, rtol=1e-12, atol=1e-12)
        # ⟨Ax, y⟩ = ⟨x, Aᵀy⟩
        torch.testing.assert_close((op.apply(x) * y).sum((1, 2, 3)), (x * op.adjoint(y)).sum((1, 2, 3)),
                                   rtol=1e-12, atol=1e-12)
        if op.solve is not None:  # Woodbury with iterative refinement against float64 LU of the dense matrix
            norm, kappa = torch.linalg.matrix_norm(a, 2).item(), torch.linalg.cond(a).item()
            for solve, matrix in ((op.solve, a), (op.solve_adjoint, a.T)):
                got, want = solve(y).flatten(1), torch.linalg.solve(matrix, y.flatten(1).T).T
                # normwise backward error at rounding level, hence a forward error of ~κ·ε (allowed: κ·1e-13)
                backward = (got @ matrix.T - y.flatten(1)).norm() / (norm * got.norm() + y.norm())
                assert backward.item() <= 1e-14
                assert ((got - want).norm() / want.norm()).item() <= 1e-13 * kappa
        else:
            # no exact solve only for a singular branch: a dead channel, or a bottleneck's 4× narrower middle
            assert key == "branch" and torch.linalg.cond(a).item() > 1e8


@pytest.mark.parametrize("kind, seed, dead", UNITS)
@pytest.mark.parametrize("circular", [False, True])
def test_extremes_match_dense_svd(kind, seed, dead, circular):
    unit, (c, n) = _unit(kind, seed, dead), ((4, 8) if kind == "basic" else (8, 5))
    if circular:  # the circular-padded operator: its exact singular values come from the per-frequency blocks
        reference = {k: kappa(op)[:2] for k, op in unit_operators(unit, n).items() if k != "layers"}
    else:
        reference = {k: (sv[0].item(), sv[-1].item()) for k, sv in _dense_sv(unit, c, n).items()}
    for key, op in matrix_free_unit_operators(unit, c, n, circular=circular).items():
        got = extremes(op, TOL)
        top, bottom = reference[key]
        # bounds that need no convergence
        assert got.sigma_max_lower <= top * (1 + 1e-12) and got.sigma_min_upper >= bottom * (1 - 1e-12)
        assert got.kappa_lower <= top / bottom * (1 + 1e-9) if bottom > 0 else True
        assert got.residual_max <= TOL and math.isclose(got.sigma_max, top, rel_tol=max(got.residual_max, 1e-12))
        if key == "branch" and (dead or kind == "bottleneck"):  # singular: no number, but a bound proving it
            assert math.isnan(got.sigma_min) and math.isnan(got.kappa) and not got.converged
            assert got.kappa_lower > 1e3
            continue
        assert got.converged and got.residual_min <= TOL
        assert math.isclose(got.sigma_min, bottom, rel_tol=max(got.residual_min, 1e-12))
        assert math.isclose(got.kappa, top / bottom, rel_tol=2 * TOL)


def test_an_unconverged_end_is_nan_never_a_wrong_number():
    # no solve and a budget of a few products: σ_min cannot be certified, only bounded
    unit = _unit("basic", 4)
    full = matrix_free_unit_operators(unit, 4, 8)["residual"]
    bare = Operator(full.shape, full.apply, full.adjoint)
    got = extremes(bare, TOL, max_products=3)
    bottom = _dense_sv(unit, 4, 8)["residual"][-1].item()
    assert math.isnan(got.sigma_min) and math.isnan(got.kappa) and not got.converged
    assert got.residual_min > TOL and got.sigma_min_upper >= bottom


def test_zero_padded_condition_matrix_free_path_equals_dense_path():
    unit = _unit("basic", 5)
    dense = zero_padded_condition(unit, 4, 8, max_dim=256)
    free = zero_padded_condition(unit, 4, 8, max_dim=0, matrix_free_max_dim=256)
    assert not dense["zero_matrix_free"] and free["zero_matrix_free"]
    for key in ("zero_norm_R", "zero_smin_R", "zero_kappa_R", "zero_kappa_B"):
        assert math.isclose(free[key], dense[key], rel_tol=2 * TOL), key
    assert all(math.isnan(v) for k, v in zero_padded_condition(unit, 4, 8, max_dim=0, matrix_free_max_dim=255).items()
               if k != "zero_matrix_free")


def test_zero_padded_condition_singular_branch_reports_a_bound():
    unit = _unit("basic", 2, dead=True)
    free = zero_padded_condition(unit, 4, 8, max_dim=0, matrix_free_max_dim=256)
    sv = _dense_sv(unit, 4, 8)["branch"]
    assert math.isnan(free["zero_kappa_B"]) and 1e3 < free["zero_kappa_B_lower"] <= (sv[0] / sv[-1]).item()
    assert math.isclose(free["zero_kappa_R"], zero_padded_condition(unit, 4, 8)["zero_kappa_R"], rel_tol=2 * TOL)
