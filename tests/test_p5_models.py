"""P5 models: pre-activation bottleneck ResNet, ProcResNet (Fig. 1(d)) and the plain twin (Fig. 1(e))."""
import pytest
import torch

from resnet_lab.linalg.convsv import conv_singular_values
from resnet_lab.models import build_model, residual_units
from resnet_lab.linalg.procrustes import projected_convs


@pytest.mark.parametrize("name,params", [("preact_resnet", 1.703258e6), ("procresnet", 1.715018e6)])
def test_depth_164_parameter_counts_match_table_2(name, params):
    """Table 2: ResNet-164 1.71M, ProcResNet-166 1.72M (ours: 1.703M and 1.715M, +0.7%)."""
    model = build_model(name, depth=164)
    assert sum(p.numel() for p in model.parameters()) == int(params)
    assert model.depth == (166 if name == "procresnet" else 164)
    units = residual_units(model)
    assert len(units) == 54 and sum(u.is_transition for _, u in units) == 3


@pytest.mark.parametrize("name", ["preact_resnet", "procresnet", "preact_plain"])
def test_forward_shapes(name):
    model = build_model(name, depth=20, width=0.25, num_classes=7)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)


def test_procresnet_conv_star_layers_start_projected():
    """The three conv* layers: 3×3 stem at 32×32, 1×1 stride-2 at 16×16 and 8×8."""
    model = build_model("procresnet", depth=20, width=0.5)
    layers = projected_convs(model)
    assert [(c.kernel_size[0], c.procrustes_size) for _, c in layers] == [(3, 32), (1, 16), (1, 8)]
    for _, conv in layers[1:]:  # 1×1: the crop is exact, so the operator is exactly flat
        sv = conv_singular_values(conv.weight.detach().double(), conv.procrustes_size)
        torch.testing.assert_close(sv, torch.full_like(sv, conv.procrustes_target), rtol=1e-5, atol=1e-5)
    assert projected_convs(build_model("procresnet", depth=20, project=False)) == []


def test_plain_twin_unit_is_its_branch_and_resnet_adds_shortcut():
    torch.manual_seed(0)
    plain = build_model("preact_plain", depth=20, width=0.25).eval()
    resnet = build_model("preact_resnet", depth=20, width=0.25).eval()
    resnet.load_state_dict(plain.state_dict())
    x = torch.randn(2, 16, 16, 16)
    _, pu = residual_units(plain)[1]
    _, ru = residual_units(resnet)[1]
    torch.testing.assert_close(pu(x), pu.branch(x))
    torch.testing.assert_close(ru(x), ru.branch(x) + x)
