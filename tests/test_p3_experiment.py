"""P3 experiment: stage layout and spectrum routing (full spectra vs top-k). Claim logic: test_p3_claims.py."""
from __future__ import annotations

import torch

from resnet_lab.experiments.p3 import unit_spectra
from resnet_lab.experiments.p3.config import P3Config
from resnet_lab.metrics.jacobian import jacobian_operator
from resnet_lab.models import build_model, residual_units


def test_stage_layout_of_resnet20() -> None:
    model = build_model("resnet20", width=2)
    assert unit_spectra.stage_layout(model) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    units = [u for _, u in residual_units(model)]
    assert [units[k].is_transition for k in (0, 3, 6)] == [False, True, True]


def test_spectrum_dense_and_topk_agree() -> None:
    """Above ``dense_max_dim`` the top-k come from block Krylov; they match the dense spectrum's head."""
    torch.manual_seed(0)
    model = build_model("resnet20", width=1).eval()
    unit = model.stages[2][1]  # 4 × 8 × 8: J is 256 × 256
    x = torch.randn(1, 4, 8, 8)
    dense = unit_spectra.spectrum(unit, x, P3Config(dense_max_dim=256))
    top = unit_spectra.spectrum(unit, x, P3Config(dense_max_dim=128, top_k=6))
    assert dense["dense"] and not top["dense"] and len(dense["values"]) == 256
    assert torch.allclose(top["values"], dense["values"][:6], rtol=1e-3)
    exact = torch.linalg.svdvals(jacobian_operator(unit, x).dense().double())
    assert torch.allclose(dense["values"].double(), exact, atol=1e-5 * exact[0].item())  # Gram eigvalsh, float64
