"""P1 condition numbers: per-frequency operators vs dense float64 Jacobians, and the paper's formula in closed forms."""
import copy
import math

import pytest
import torch
from torch import nn

from resnet_lab.metrics.conditioning import (conv_operator, kappa, paper_kappas, relative_perturbation_gain,
                                             unit_condition, unit_operators)
from resnet_lab.linalg.convsv import dense_conv_matrix
from resnet_lab.models.units import BasicUnit, BottleneckUnit


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_operator_matches_dense(stride):
    torch.manual_seed(0)
    w = torch.randn(5, 3, 3, 3, dtype=torch.float64)
    dense = torch.linalg.svdvals(dense_conv_matrix(w, 8, stride))
    fast = torch.linalg.svdvals(conv_operator(w, 8, stride)).flatten().sort(descending=True).values
    torch.testing.assert_close(fast, dense, rtol=1e-10, atol=1e-10)


def _linear_twin(unit: nn.Module) -> nn.Module:
    """Return a float64 copy with ReLUs removed and circular padding: its Jacobian is the unit's linear part."""
    twin = copy.deepcopy(unit).double().eval()
    for name, module in list(twin.branch.named_children()):
        if isinstance(module, nn.ReLU):
            twin.branch[int(name)] = nn.Identity()
    for module in twin.modules():
        if isinstance(module, nn.Conv2d):
            module.padding_mode = "circular"
    return twin


def _randomise_bn(unit: nn.Module) -> None:
    for module in unit.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)


@pytest.mark.parametrize("unit_kind, c_in, planes, stride, shortcut, use_bn", [
    ("basic", 4, 4, 1, "A", True),
    ("basic", 4, 8, 2, "A", True),
    ("basic", 4, 8, 2, "B", True),
    ("basic", 4, 4, 1, "B", False),
    ("bottleneck", 8, 2, 1, "B", True),
    ("bottleneck", 8, 4, 2, "B", True),
])
def test_unit_operator_matches_dense_jacobian(unit_kind, c_in, planes, stride, shortcut, use_bn):
    torch.manual_seed(1)
    norm = nn.BatchNorm2d if use_bn else (lambda c: nn.Identity())
    cls = BasicUnit if unit_kind == "basic" else BottleneckUnit
    unit = cls(c_in, planes, stride, shortcut, norm)
    unit.branch_scale = 0.7
    _randomise_bn(unit)
    unit.eval()
    n = 8
    twin = _linear_twin(unit)
    x0 = torch.zeros(1, c_in, n, n, dtype=torch.float64)
    f = lambda x: (twin.skip_scale * twin.shortcut(x) + twin.branch_scale * twin.branch(x)).flatten()  # noqa: E731
    jac = torch.autograd.functional.jacobian(f, x0).reshape(-1, c_in * n * n)
    dense = torch.linalg.svdvals(jac)
    ops = unit_operators(unit, n)
    fast = torch.linalg.svdvals(ops["residual"]).flatten().sort(descending=True).values
    torch.testing.assert_close(fast, dense, rtol=1e-8, atol=1e-8)
    row = unit_condition(unit, n)
    singular = dense.min() <= 1e-12 * dense.max()  # e.g. a bottleneck transition: rank ≤ c_in/2 + planes < c_out
    expected = math.inf if singular else (dense.max() / dense.min()).item()
    assert row["exact_kappa_R"] == expected or math.isclose(row["exact_kappa_R"], expected, rel_tol=1e-6)


def _one_by_one_unit(w1: torch.Tensor, w2: torch.Tensor) -> nn.Module:
    """Return a unit ``x + W2·relu(W1·x)`` with 1×1 convs: its operator is ``I + W2W1`` at every frequency."""
    unit = BasicUnit(w1.shape[1], w1.shape[0], norm=lambda c: nn.Identity())
    unit.branch = nn.Sequential(nn.Conv2d(w1.shape[1], w1.shape[0], 1, bias=False), nn.ReLU(),
                                nn.Conv2d(w2.shape[1], w2.shape[0], 1, bias=False))
    unit.branch[0].weight.data = w1[:, :, None, None].float()
    unit.branch[2].weight.data = w2[:, :, None, None].float()
    return unit


def test_orthogonal_weights_closed_form():
    # W1 = rotation by θ (2×2 blocks), W2 = I: paper gives κ_R = κ_B = 1, but I + W2W1 has σ = 2|cos(θ/2)|.
    thetas = torch.tensor([0.3, 1.2, 2.5], dtype=torch.float64)
    w1 = torch.block_diag(*[torch.tensor([[t.cos(), -t.sin()], [t.sin(), t.cos()]]) for t in thetas])
    row = unit_condition(_one_by_one_unit(w1, torch.eye(6, dtype=torch.float64)), 2)
    assert math.isclose(row["paper_kappa_R"], 1.0, rel_tol=1e-6) and math.isclose(row["paper_kappa_B"], 1.0, rel_tol=1e-6)
    sv = 2 * torch.cos(thetas / 2).abs()
    assert math.isclose(row["exact_kappa_R"], (sv.max() / sv.min()).item(), rel_tol=1e-5)
    assert math.isclose(row["exact_kappa_B"], 1.0, rel_tol=1e-5)


@pytest.mark.parametrize("aligned", [True, False])
def test_diagonal_weights_closed_form(aligned):
    d1 = torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=torch.float64)
    d2 = d1 if aligned else d1.flip(0)
    row = unit_condition(_one_by_one_unit(torch.diag(d1), torch.diag(d2)), 2)
    prod = d1 * d2
    assert math.isclose(row["exact_kappa_R"], ((1 + prod.max()) / (1 + prod.min())).item(), rel_tol=1e-5)
    assert math.isclose(row["exact_kappa_B"], (prod.max() / prod.min()).item(), rel_tol=1e-5)
    assert math.isclose(row["paper_kappa_R"], (1 + 16) / (1 + 0.25), rel_tol=1e-5)
    assert math.isclose(row["paper_kappa_B"], 16 / 0.25, rel_tol=1e-5)
    # The formula is exact only when the largest (smallest) singular directions of W1 and W2 line up.
    assert math.isclose(row["paper_kappa_R"], row["exact_kappa_R"], rel_tol=1e-5) == aligned


def test_paper_kappas_formula():
    out = paper_kappas([(3.0, 0.5), (2.0, 0.25)])
    assert out == {"norm_R": 7.0, "smin_R": 1.125, "kappa_R": 7.0 / 1.125, "kappa_B": 6.0 / 0.125}


def test_kappa_singular_is_inf():
    op = torch.zeros(1, 1, 2, 2, dtype=torch.complex128)
    op[..., 0, 0] = 1.0
    assert kappa(op)[2] == math.inf


def test_perturbation_gain_linear_within_kappa():
    torch.manual_seed(2)
    a = torch.randn(6, 6, dtype=torch.float64)
    sv = torch.linalg.svdvals(a)
    k = (sv.max() / sv.min()).item()
    x = torch.randn(500, 6, dtype=torch.float64)
    gain = relative_perturbation_gain(lambda t: t @ a.T, x, eps=0.1, generator=torch.Generator().manual_seed(0))
    assert gain.min().item() >= 1 / k - 1e-12 and gain.max().item() <= k + 1e-12
    ones = relative_perturbation_gain(lambda t: 3.0 * t, x, eps=0.1, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ones, torch.ones_like(ones))


# ---- zero padding, pre-activation units, worst-case directions (issues 12 and 14) ------------------------

def _zero_padded_jacobian(unit: nn.Module, c_in: int, n: int, plain: bool = False) -> torch.Tensor:
    """Return the dense float64 Jacobian of the unit's linear part with the zero padding the net uses (reference)."""
    twin = copy.deepcopy(unit).double().eval()
    for name, module in list(twin.branch.named_children()):
        if isinstance(module, nn.ReLU):
            twin.branch[int(name)] = nn.Identity()
    if plain:
        f = lambda x: twin.branch(x).flatten()  # noqa: E731
    else:
        f = lambda x: (twin.skip_scale * twin.shortcut(x) + twin.branch_scale * twin.branch(x)).flatten()  # noqa: E731
    x0 = torch.zeros(1, c_in, n, n, dtype=torch.float64)
    return torch.autograd.functional.jacobian(f, x0).reshape(-1, c_in * n * n)


@pytest.mark.parametrize("c_in, planes, stride, use_bn", [(4, 4, 1, True), (3, 3, 1, False), (4, 8, 2, True)])
def test_zero_padded_kappa_matches_dense_jacobian(c_in, planes, stride, use_bn):
    from resnet_lab.metrics.zero_padded import zero_padded_condition

    torch.manual_seed(3)
    norm = nn.BatchNorm2d if use_bn else (lambda c: nn.Identity())
    unit = BasicUnit(c_in, planes, stride, "B", norm).eval()
    _randomise_bn(unit)
    n = 6
    row = zero_padded_condition(unit, c_in, n)
    for key, plain in (("zero_kappa_R", False), ("zero_kappa_B", True)):
        sv = torch.linalg.svdvals(_zero_padded_jacobian(unit, c_in, n, plain))
        assert math.isclose(row[key], (sv.max() / sv.min()).item(), rel_tol=1e-8)
    sv = torch.linalg.svdvals(_zero_padded_jacobian(unit, c_in, n))
    assert math.isclose(row["zero_smin_R"], sv.min().item(), rel_tol=1e-8)
    # The circular operator is a different one: its κ differs from the zero-padded κ.
    assert not math.isclose(unit_condition(unit, n)["exact_kappa_R"], row["zero_kappa_R"], rel_tol=1e-3)


def test_zero_padded_kappa_skips_large_units():
    from resnet_lab.metrics.zero_padded import zero_padded_condition

    row = zero_padded_condition(BasicUnit(4, 4), 4, 32, max_dim=2048)  # no matrix-free budget: NaN, not dense
    assert all(math.isnan(v) for k, v in row.items() if k != "zero_matrix_free") and not row["zero_matrix_free"]


def test_unit_condition_refuses_preactivation_units():
    from resnet_lab.models.preact import PreActBottleneck

    for unit in (PreActBottleneck(16, 4), PreActBottleneck(16, 8, stride=2)):
        with pytest.raises(NotImplementedError):
            unit_condition(unit, 8)


def test_worst_case_gain_matches_dense_jacobian():
    from resnet_lab.metrics.conditioning import preactivation, worst_case_gains

    torch.manual_seed(4)
    unit = BasicUnit(2, 2).double().eval()
    _randomise_bn(unit)
    x = torch.relu(torch.randn(3, 2, 4, 4, dtype=torch.float64)) + 0.1
    fn = preactivation(unit)
    out = worst_case_gains(fn, x, eps=1e-7, iters=32)
    for i in range(x.shape[0]):
        jac = torch.autograd.functional.jacobian(lambda t: fn(t[None])[0].flatten(), x[i]).reshape(32, 32)
        sv = torch.linalg.svdvals(jac)
        assert math.isclose(out["sigma_top"][i].item(), sv.max().item(), rel_tol=1e-6)
        assert math.isclose(out["sigma_bottom"][i].item(), sv.min().item(), rel_tol=1e-4)
        worst = (out["gain_top"][i] / out["gain_bottom"][i]).item()
        assert math.isclose(worst, (sv.max() / sv.min()).item(), rel_tol=1e-4)
        # Random directions stay strictly inside the extremes.
        rand = relative_perturbation_gain(fn, x[i:i + 1], 1e-7, torch.Generator().manual_seed(i))
        assert out["gain_bottom"][i] <= rand.item() <= out["gain_top"][i]
