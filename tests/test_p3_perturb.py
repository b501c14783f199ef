"""P3: perturbations, their propagation, Eq. (1), skip scaling and weight interpolation."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from resnet_lab.metrics.jacobian import jacobian_operator, singular_values
from resnet_lab.metrics.perturb import (
    fgsm,
    interpolate_weights,
    minimal_fgsm,
    pgd,
    predicted_norm,
    projections,
    propagated_perturbations,
    scaled_skip,
    uniform_like,
)


class LinearToy(nn.Module):
    """``x ↦ skip_scale·x + B x`` with ``B`` a 1×1 conv of channel rank 1: ``J = αI + B``, rank(B) = N²."""

    def __init__(self, c: int = 4) -> None:
        super().__init__()
        self.skip_scale = 1.0
        self.branch = nn.Conv2d(c, c, 1, bias=False, dtype=torch.float64)
        g = torch.Generator().manual_seed(0)
        rank_one = torch.randn(c, 1, generator=g, dtype=torch.float64) @ torch.randn(1, c, generator=g, dtype=torch.float64)
        self.branch.weight.data = rank_one.reshape(c, c, 1, 1)  # built in float64: rounding would break rank 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip_scale * x + self.branch(x)


def _classifier(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 16, 10)).double()


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_skip_scale_moves_plateau_to_alpha(alpha: float) -> None:
    """σ(J) of αI + B: at least n − 2·rank(B) singular values equal α exactly (P3 §3.4.1)."""
    c, n = 4, 3
    unit = LinearToy(c)
    x = torch.randn(1, c, n, n, dtype=torch.float64)
    values = singular_values(jacobian_operator(scaled_skip(unit, alpha), x))
    at_alpha = int(((values - alpha).abs() < 1e-10).sum())
    assert at_alpha >= c * n * n - 2 * n * n
    assert unit.skip_scale == 1.0  # the original is untouched


def test_fgsm_raises_loss_and_pgd_stays_in_ball() -> None:
    model = _classifier().eval()
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(6, 3, 4, 4, generator=gen, dtype=torch.float64), torch.randint(0, 10, (6,), generator=gen)
    loss = lambda z: F.cross_entropy(model(z), y, reduction="none")  # noqa: E731
    delta = fgsm(model, x, y, 0.05)
    assert delta.abs().max().item() == pytest.approx(0.05)
    assert (loss(x + delta) > loss(x)).all()
    big = pgd(model, x, y, 0.05, steps=5)
    assert big.abs().max().item() <= 0.05 + 1e-12
    assert loss(x + big).sum() >= loss(x + delta).sum()


def test_minimal_fgsm_picks_the_first_flipping_step() -> None:
    model = _classifier().eval()
    x = torch.randn(5, 3, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y = model(x).argmax(1)  # all "correct" to begin with
    grid = [0.01 * 2**i for i in range(10)]
    delta, eps, fooled = minimal_fgsm(model, x, y, grid)
    for i in range(5):
        flips = [bool(model(x[i:i + 1] + e * fgsm(model, x[i:i + 1], y[i:i + 1], 1.0)).argmax(1) != y[i]) for e in grid]
        assert fooled[i] == any(flips)
        if fooled[i]:
            assert eps[i].item() == grid[flips.index(True)]


def test_uniform_like_matches_norms() -> None:
    delta = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    noise = uniform_like(delta, torch.Generator().manual_seed(0))
    assert torch.allclose(noise.flatten(1).norm(dim=1), delta.flatten(1).norm(dim=1))


def test_propagation_and_equation_1() -> None:
    """Propagated norms equal a manual unit-by-unit forward; Eq. (1) with all triplets equals ‖Jδ‖."""
    torch.manual_seed(4)
    units = [nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.Tanh()).double() for _ in range(3)]
    model = nn.Sequential(*units)
    x = torch.randn(2, 2, 4, 4, dtype=torch.float64)
    dx = 1e-3 * torch.randn_like(x)
    got = propagated_perturbations(model, units, x, x + dx)
    a, b = x, x + dx
    for k, unit in enumerate(units):
        a, b = unit(a), unit(b)
        assert torch.allclose(got[k], (b - a).flatten(1).norm(dim=1) / 32**0.5)
    op = jacobian_operator(units[0], x[:1])
    u, s, vh = torch.linalg.svd(op.dense())
    delta = dx[:1].flatten()
    alpha = projections(vh.T, delta)
    assert predicted_norm(s, alpha).item() == pytest.approx(op.matvec(delta).norm().item(), rel=1e-10)


def test_interpolation_endpoints() -> None:
    unit = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3))
    same = interpolate_weights(unit, 1.0)
    noise = interpolate_weights(unit, 0.0, seed=1)
    assert torch.equal(same[0].weight, unit[0].weight)
    assert noise[0].weight.norm().item() == pytest.approx(unit[0].weight.norm().item(), rel=1e-6)
    assert not torch.allclose(noise[0].weight, unit[0].weight)
    assert torch.equal(noise[1].weight, unit[1].weight)  # BN untouched


def test_minimal_fgsm_restores_train_mode() -> None:
    """Issue 12 §4: ``minimal_fgsm`` used to leave a model in training mode in eval mode."""
    model = _classifier().train()
    x = torch.randn(3, 3, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    minimal_fgsm(model, x, model.eval()(x).argmax(1), [0.1, 1.0])  # labels from eval mode; mode set back below
    model.train()
    minimal_fgsm(model, x, torch.zeros(3, dtype=torch.long), [0.1, 1.0])
    assert model.training and all(m.training for m in model.modules())
