"""P2 bound constants: fast (FFT, polyphase, BN folding) vs dense float64, and bounds vs observed ratios."""
import pytest
import torch

from resnet_lab.linalg.convsv import conv_spectral_norm, dense_conv_matrix
from resnet_lab.metrics.batchnorm import bn_affine
from resnet_lab.metrics.forward import (feature_layout, feature_norms, layer_bounds,
                                        layer_responses, network_constant, probe_layers,
                                        strided_conv_spectral_norm, within_stage_weights)
from resnet_lab.models import build_model
from resnet_lab.models.resnet_ds import SymmetricBranch, symmetric_filters_with_size


@pytest.mark.parametrize("c_in,c_out,n", [(2, 4, 8), (3, 6, 6)])
def test_strided_norm_matches_dense_svd(c_in, c_out, n):
    w = torch.randn(c_out, c_in, 3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    dense = dense_conv_matrix(w, n, stride=2)
    assert dense.shape == (c_out * (n // 2) ** 2, c_in * n * n)
    exact = torch.linalg.matrix_norm(dense, ord=2)
    assert strided_conv_spectral_norm(w, n, 2).item() == pytest.approx(exact.item(), rel=1e-10)


def test_bn_affine_matches_eval_bn():
    bn = torch.nn.BatchNorm2d(5)
    bn.train()
    bn(torch.randn(16, 5, 4, 4) * 3 + 1)
    bn.weight.data.uniform_(-1, 2)
    bn.eval()
    x = torch.randn(2, 5, 4, 4)
    d, c = bn_affine(bn)
    assert torch.allclose(bn(x), d[:, None, None] * x + c[:, None, None], atol=1e-6)


def _warmed(name, **options):
    """A model whose BN running statistics come from a few train-mode passes (non-trivial scales)."""
    torch.manual_seed(0)
    model = build_model(name, **options).double()
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(16, 3, 32, 32, dtype=torch.float64) * 2)
    return model.eval()


@pytest.mark.parametrize("name", ["resnet_d", "resnet_s"])
def test_observed_ratios_within_layer_bounds(name):
    model = _warmed(name, n=2)
    bounds = {r["name"]: r for r in layer_bounds(model)}
    g = torch.Generator().manual_seed(1)
    x = torch.rand(32, 3, 32, 32, generator=g, dtype=torch.float64)
    y = x + 0.05 * torch.randn(x.shape, generator=g, dtype=torch.float64)
    responses = layer_responses(model, x, y)
    assert list(responses) == list(bounds)
    for layer, r in responses.items():
        b = bounds[layer]
        assert (r["out_diff"] <= b["lipschitz"] * r["in_diff"] * (1 + 1e-9)).all(), layer
        assert (r["out_norm"] <= b["growth_mult"] * r["in_norm"] + b["growth_add"] + 1e-9).all(), layer
    ratio = (model(x) - model(y)).flatten(1).norm(dim=1) / (x - y).flatten(1).norm(dim=1)
    assert (ratio <= network_constant(layer_bounds(model))).all()


def test_s_layer_lemma_bound_used_when_folded_hypothesis_holds():
    model = _warmed("resnet_s", n=2, step_size=1e-3)  # tiny h: h‖B‖² ≤ 2 surely holds
    branches = [m for m in model.modules() if isinstance(m, SymmetricBranch)]
    rows = [r for r in layer_bounds(model) if r["kind"] == "S"]
    assert all(r["folded_hypothesis"] for r in rows)
    for row, branch, (_, size) in zip(rows, branches, symmetric_filters_with_size(model)):
        w, (d1, _), (d2, _) = branch.conv.weight.detach(), bn_affine(branch.bn1), bn_affine(branch.bn2)
        d1, d2 = d1.detach(), d2.detach()
        generic = 1 + 1e-3 * float(conv_spectral_norm(w * d2[None, :, None, None], size)
                                   * conv_spectral_norm(w * d1[:, None, None, None], size))
        # Lemma A.1 after folding gives √(max d₂ / min d₂); the layer takes the smaller of it and the generic bound.
        lemma = float((d2.max() / d2.min()).sqrt())
        assert row["lipschitz"] == pytest.approx(min(generic, lemma), rel=1e-9)


def test_s_layer_generic_bound_when_folded_hypothesis_fails():
    model = _warmed("resnet_s", n=1, step_size=50.0)  # huge h: h‖B‖² ≤ 2 fails
    for row in (r for r in layer_bounds(model) if r["kind"] == "S"):
        assert not row["folded_hypothesis"]
        assert row["lipschitz"] > 2


def test_bn_free_s_layer_is_non_expansive():
    """Lemma A.1 on the BN-free ResNet-S: with ‖A‖₂² ≤ 2 the bound is 1 and observed ratios stay below it."""
    torch.manual_seed(0)
    model = build_model("resnet_s", n=2, branch_bn=False).double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") and p.ndim == 1:
                p.uniform_(-0.5, 0.5)
    model.train()
    with torch.no_grad():
        model(torch.rand(16, 3, 32, 32, dtype=torch.float64))
    model.eval()
    rows = {r["name"]: r for r in layer_bounds(model)}
    s_rows = [r for r in rows.values() if r["kind"] == "S"]
    assert s_rows and all(r["raw_sq_norm"] <= 2 and r["lipschitz"] == 1.0 for r in s_rows)
    g = torch.Generator().manual_seed(4)
    x = torch.rand(16, 3, 32, 32, generator=g, dtype=torch.float64)
    y = x + 0.05 * torch.randn(x.shape, generator=g, dtype=torch.float64)
    for name, r in layer_responses(model, x, y).items():
        if rows[name]["kind"] == "S":
            assert (r["out_diff"] <= r["in_diff"] * (1 + 1e-12)).all(), name


def test_feature_norms_match_manual_pass():
    model = _warmed("resnet20")
    x = torch.rand(4, 3, 32, 32, dtype=torch.float64)
    norms = feature_norms(model, x)
    assert list(norms) == [name for name, _ in probe_layers(model)]
    with torch.no_grad():
        h = model.stem(x)
        assert torch.allclose(norms["stem"], h.flatten(1).norm(dim=1))
        first = model.stages[0][0](h)
    assert torch.allclose(norms[probe_layers(model)[1][0]], first.flatten(1).norm(dim=1))


def test_within_stage_weights_match_dense_least_squares():
    """The slope Σ w_k y_k equals a dense float64 least-squares fit of y on the layer index plus one dummy per stage."""
    starts = [True, False, False, False, True, False, False, True, False, False]
    y = torch.randn(10, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    stage = torch.cumsum(torch.tensor(starts), 0)
    design = torch.cat([torch.arange(10, dtype=torch.float64)[:, None],
                        torch.nn.functional.one_hot(stage - 1).double()], 1)
    slope = torch.linalg.lstsq(design, y[:, None]).solution[0, 0]
    assert float(within_stage_weights(starts) @ y) == pytest.approx(float(slope), abs=1e-12)
    with pytest.raises(ValueError, match="non-transition"):
        within_stage_weights([True] * 3)


def test_feature_layout_counts_elements_and_marks_stage_starts():
    """ResNet-20: the stem and three units at 16×32×32, then each stage's transition starts it at half the elements."""
    model = _warmed("resnet20")
    layout = feature_layout(model, torch.rand(2, 3, 32, 32, dtype=torch.float64))
    assert [r["numel"] for r in layout] == [16 * 32 * 32] * 4 + [32 * 16 * 16] * 3 + [64 * 8 * 8] * 3
    assert [i for i, r in enumerate(layout) if r["starts_stage"]] == [0, 4, 7]
