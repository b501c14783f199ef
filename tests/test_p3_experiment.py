"""P3 experiment: stage layout, spectrum routing, and verdicts computed from the numbers handed in."""
from __future__ import annotations

import torch

from resnet_lab.experiments import p3
from resnet_lab.metrics.jacobian import jacobian_operator
from resnet_lab.models import build_model, residual_units


def test_stage_layout_of_resnet20() -> None:
    model = build_model("resnet20", width=2)
    assert p3.stage_layout(model) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    units = [u for _, u in residual_units(model)]
    assert [units[k].is_transition for k in (0, 3, 6)] == [False, True, True]


def test_spectrum_dense_and_topk_agree() -> None:
    """Above ``dense_max_dim`` the top-k come from block Krylov; they match the dense spectrum's head."""
    torch.manual_seed(0)
    model = build_model("resnet20", width=1).eval()
    unit = model.stages[2][1]  # 4 × 8 × 8: J is 256 × 256
    x = torch.randn(1, 4, 8, 8)
    dense = p3._spectrum(unit, x, p3.P3Config(dense_max_dim=256))
    top = p3._spectrum(unit, x, p3.P3Config(dense_max_dim=128, top_k=6))
    assert dense["dense"] and not top["dense"] and len(dense["values"]) == 256
    assert torch.allclose(top["values"], dense["values"][:6], rtol=1e-3)
    assert torch.allclose(dense["values"], torch.linalg.svdvals(jacobian_operator(unit, x).dense()))


def _result(adv_jump: float, rnd_jump: float, slope: float) -> dict:
    """A minimal result: stages [0], [1], [2, 3]; perturbations jump by the given factors across the last stage."""
    eps = [1e-1, 1e-2, 1e-3, 1e-4]
    per_unit = lambda jump: [[1.0] * 4, [1.0] * 4, [1.0] * 4, [jump] * 4]  # noqa: E731 - (units, images)
    return {"provenance": {"profile": "test"}, "layout": [[0], [1], [2, 3]],
            "fig3": {"adversarial": per_unit(adv_jump), "random": per_unit(rnd_jump), "fooled": [True] * 4},
            "jacobian_test": {name: {"eps": eps, "zeroth": eps, "first": [e ** slope for e in eps]}
                              for name in ("relu", "softplus")}}


def test_verdicts_follow_the_numbers() -> None:
    good = _result(adv_jump=3.0, rnd_jump=0.5, slope=2.0)
    assert p3._claim_propagation(good).verdict == "holds"
    assert p3._claim_jacobian_test(good).verdict == "holds"
    flat = _result(adv_jump=1.0, rnd_jump=1.0, slope=1.0)
    assert p3._claim_propagation(flat).verdict == "partly"  # random does not grow, but FGSM does not jump
    assert p3._claim_jacobian_test(flat).verdict == "fails"
    assert p3._claim_propagation(_result(1.0, 2.0, 2.0)).verdict == "fails"
