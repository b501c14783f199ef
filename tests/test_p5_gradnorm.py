"""P5 gradient-norm ratios ‖∂E/∂x_l‖/‖∂E/∂x_{l+1}‖ from hooks vs a hand-computed backward pass."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_lab.metrics.gradnorm import gradient_norm_ratios, gradnorm_callback, ratio_table


class LinearUnit(nn.Module):
    """x ↦ x + Wx (Eq. 2), or x ↦ Ax when ``transition`` (changes width)."""

    def __init__(self, w: torch.Tensor, transition: bool):
        super().__init__()
        self.w, self.is_transition = nn.Parameter(w), transition

    def forward(self, x):
        return x @ self.w.T if self.is_transition else x + x @ self.w.T


def test_ratios_match_hand_backward_pass():
    g = torch.Generator().manual_seed(0)
    w1, a, w3 = (torch.randn(4, 4, generator=g, dtype=torch.float64) * 0.3,
                 torch.randn(6, 4, generator=g, dtype=torch.float64),
                 torch.randn(6, 6, generator=g, dtype=torch.float64) * 0.3)
    head = torch.randn(3, 6, generator=g, dtype=torch.float64)
    model = nn.Sequential(LinearUnit(w1, False), LinearUnit(a, True), LinearUnit(w3, False),
                          nn.Linear(6, 3, bias=False, dtype=torch.float64))
    model[3].weight.data = head
    x = torch.randn(5, 4, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 1, 0])
    # Hand backward: dE/dlogits = (softmax − onehot)/B, then multiply by each unit's Jacobian.
    x1 = x
    x2 = x1 + x1 @ w1.T
    x3 = x2 @ a.T
    x4 = x3 + x3 @ w3.T
    g4 = ((x4 @ head.T).softmax(1) - F.one_hot(y, 3).double()) / 5 @ head
    g3 = g4 + g4 @ w3
    g2 = g3 @ a
    g1 = g2 + g2 @ w1
    expected = [g1.norm() / g2.norm(), g2.norm() / g3.norm(), g3.norm() / g4.norm()]
    rows = gradient_norm_ratios(model, x, y)
    assert [r["transition"] for r in rows] == [False, True, False]
    for row, ratio in zip(rows, expected):
        assert row["ratio"] == pytest.approx(ratio.item(), rel=1e-12)
    assert rows[-1]["grad_out"] == pytest.approx(g4.norm().item(), rel=1e-12)
    assert all(p.grad is None for p in model.parameters())


def test_batchnorm_buffers_and_mode_are_restored():
    unit = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3))
    unit.is_transition = False
    model = nn.Sequential(unit, nn.Flatten(), nn.Linear(3 * 4 * 4, 2)).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cb = gradnorm_callback((torch.randn(4, 3, 4, 4), torch.tensor([0, 1, 0, 1])))
    record = cb(model, 3)
    assert not model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    table = ratio_table([{"epoch": 3, **record}])
    assert table[0]["epoch"] == 3 and table[0]["unit"] == "0" and table[0]["ratio"] > 0
