"""P4's dimension-preserving ResNets: shapes, patching, per-patch groups, parameter counts."""
import pytest
import torch

from resnet_lab.models import build_model, residual_units
from resnet_lab.models.dimpreserve import Patchify


def expected_parameters(units: int, width: int, patches: int, classes: int = 10) -> int:
    """Count the parameters by hand: stem conv + BN, grouped bottlenecks with BN, linear head on 4096·(w/64) dims."""
    c, g = width * patches ** 2, patches ** 2
    mid = c // 4
    unit = c * mid // g + 2 * mid + 9 * mid * mid // g + 2 * mid + mid * c // g + 2 * c
    side = 8 // patches
    return 3 * width * 49 + 2 * width + units * unit + c * side * side * classes + classes


@pytest.mark.parametrize("name, units", [("dimpreserve_resnet18", 8), ("dimpreserve_resnet50", 16)])
@pytest.mark.parametrize("width", [8, 64])
def test_builds_preserves_dimension_and_counts_parameters(name, units, width):
    model = build_model(name, num_classes=10, width=width).eval()
    x = torch.randn(2, 3, 32, 32)
    states = model.trajectory(x)
    assert len(states) == units + 1 and len(residual_units(model)) == units
    assert all(s.shape == (2, 4 * width, 4, 4) for s in states)
    assert torch.allclose(model(x), model.head(states[-1]), atol=1e-6)
    assert sum(p.numel() for p in model.parameters()) == expected_parameters(units, width, 2)


def test_patchify_stacks_spatial_patches_on_channels():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    y = Patchify(2)(x)
    patches = [x[:, :, :4, :4], x[:, :, :4, 4:], x[:, :, 4:, :4], x[:, :, 4:, 4:]]
    assert torch.equal(y, torch.cat(patches, dim=1))


def test_units_never_mix_patches():
    """Group convolution: changing one patch's input leaves the other patches' features unchanged."""
    model = build_model("dimpreserve_resnet18", width=8).eval()
    stem = torch.randn(1, 32, 4, 4)
    bumped = stem.clone()
    bumped[:, 8:16] += 1.0  # patch 1 only
    out, out_bumped = model.stages[0](stem), model.stages[0](bumped)
    changed = (out - out_bumped).abs().amax(dim=(0, 2, 3)).reshape(4, 8).amax(dim=1)
    assert changed[1] > 0 and torch.all(changed[[0, 2, 3]] == 0)


def test_orbit_probabilities_end_with_the_models_prediction():
    from resnet_lab.metrics.dynamics import orbit_probabilities

    model = build_model("dimpreserve_resnet50", width=8).eval()
    x = torch.randn(6, 3, 32, 32)
    probs = orbit_probabilities(model, x)
    assert probs.shape == (17, 6, 10) and probs.dtype == torch.float64
    assert torch.allclose(probs.sum(-1), torch.ones(17, 6, dtype=torch.float64))
    with torch.no_grad():
        assert torch.allclose(probs[-1], torch.softmax(model(x).double(), -1), atol=1e-6)
