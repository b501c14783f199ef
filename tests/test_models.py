import pytest
import torch

from resnet_lab.models import build_model, list_models, residual_units
from resnet_lab.models.units import BasicUnit

# He et al. (2016), Table 6
PUBLISHED = {"resnet20": 0.27e6, "resnet56": 0.85e6, "resnet110": 1.7e6}


@pytest.mark.parametrize("name", list_models())
def test_every_model_builds_and_runs(name):
    model = build_model(name).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape[0] == 2 and torch.isfinite(out).all()


@pytest.mark.parametrize("name,count", PUBLISHED.items())
def test_parameter_counts_match_he_et_al(name, count):
    n = sum(p.numel() for p in build_model(name).parameters())
    assert abs(n - count) / count < 0.03
    assert n == sum(p.numel() for p in build_model(name, use_skip=False).parameters())


def test_unknown_model_lists_valid_ones():
    with pytest.raises(KeyError, match="resnet20"):
        build_model("resnet21")
    with pytest.raises(ValueError, match="6n\\+2"):
        build_model("cifar_resnet", depth=21)


def test_units_stages_and_transitions():
    units = residual_units(build_model("resnet56"))
    assert len(units) == 27
    assert [name for name, u in units if u.is_transition] == ["stages.1.0", "stages.2.0"]


def test_unit_equations():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 6, 6)
    unit = BasicUnit(8, 8).eval()
    assert torch.allclose(unit(x), torch.relu(x + unit.branch(x)))
    unit.branch_scale, unit.skip_scale = 0.3, 2.0
    assert torch.allclose(unit(x), torch.relu(2.0 * x + 0.3 * unit.branch(x)))
    unit.use_skip = False
    assert torch.allclose(unit(x), torch.relu(unit.branch(x)))


def test_option_a_shortcut_subsamples_and_zero_pads():
    unit = BasicUnit(4, 8, stride=2, shortcut="A")
    x = torch.randn(1, 4, 6, 6)
    s = unit.shortcut(x)
    assert s.shape == (1, 8, 3, 3)
    assert torch.equal(s[:, 2:6], x[:, :, ::2, ::2]) and not s[:, :2].any() and not s[:, 6:].any()


def test_without_bn_no_batchnorm_left():
    model = build_model("resnet18", use_bn=False, width=8)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
