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


def test_fig2_and_fig5_measure_every_image_and_noise_draw() -> None:
    """Issue 40: P3.2 reads every interior unit with a band over images, and P3.6 more than one image and draw."""
    from resnet_lab.metrics.perturb import unit_activations

    torch.manual_seed(0)
    model = build_model("resnet20", width=1).eval()
    units = [u for _, u in residual_units(model)]
    layout = unit_spectra.stage_layout(model)
    x = torch.randn(3, 3, 32, 32)
    acts = unit_activations(model, units, x)
    cfg = P3Config(dense_max_dim=256, fig2_images=2, fig5_images=2, fig5_draws=2, alphas=(1.0, 2.0), ts=(0.0, 0.5, 1.0))
    seen: dict = {}
    rows = unit_spectra.measure_fig2(units, layout, acts, cfg, seen)
    dense = [r for r in rows if r["dense"]]
    assert dense and all(len(r["image_fractions"]) == 2 for r in dense)
    assert all(abs(r["fractions"]["zero"] - sum(f["zero"] for f in r["image_fractions"]) / 2) < 1e-12 for r in dense)
    k = layout[-1][1]
    f5 = unit_spectra.measure_fig5(units[k], acts[k][0], cfg, seen[k], {})
    assert f5["images"] == 2 and f5["draws"] == 2 and len(f5["share_at_alpha_images"]) == 2
    assert [len(d) for d in f5["t_plateau_draws"]] == [4, 4, 2]  # t = 0 and 0.5: 2 images × 2 draws; t = 1: 2 images
