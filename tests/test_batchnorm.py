"""BatchNorm statistics (``metrics/batchnorm.py``) against hand-computed per-channel statistics."""
import pytest
import torch
from torch import nn

from resnet_lab.metrics.batchnorm import bn_affine, bn_inputs, bn_layers, calibrate_bn, center_bn, train_mode_bn
from resnet_lab.models import build_model


def _randomised(bn: nn.BatchNorm2d, seed: int = 0) -> nn.BatchNorm2d:
    g = torch.Generator().manual_seed(seed)
    c = bn.num_features
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(c, generator=g))
        bn.running_var.copy_(torch.rand(c, generator=g) + 0.5)
        if bn.affine:
            bn.weight.copy_(torch.randn(c, generator=g))
            bn.bias.copy_(torch.randn(c, generator=g))
    return bn.eval()


class _TwoBranches(nn.Module):
    """conv → BN, and a second BN the forward pass never calls (like a plain twin's unused shortcut)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.unused = nn.BatchNorm2d(3)

    def forward(self, x):
        return self.bn(self.conv(x))


def test_bn_layers_and_inputs_list_every_bn_and_skip_the_uncalled_one():
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2), nn.Sequential(nn.BatchNorm1d(4)))
    assert list(bn_layers(model)) == ["1", "2.0"]
    two = _TwoBranches()
    x = torch.randn(5, 2, 6, 6)
    inputs = bn_inputs(two, x)
    assert list(inputs) == ["bn"] and torch.allclose(inputs["bn"], two.conv(x))


@pytest.mark.parametrize("affine, dtype", [(True, None), (False, None), (True, torch.float64)])
def test_bn_affine_is_eval_bn_as_a_per_channel_affine_map(affine, dtype):
    bn = _randomised(nn.BatchNorm2d(4, affine=affine, eps=1e-3))
    x = torch.randn(3, 4, 5, 5)
    d, c = bn_affine(bn, dtype)
    assert d.dtype == (dtype or torch.float32)
    var, mean = bn.running_var.double(), bn.running_mean.double()
    gamma = bn.weight.double() if affine else torch.ones(4, dtype=torch.float64)
    beta = bn.bias.double() if affine else torch.zeros(4, dtype=torch.float64)
    assert torch.allclose(d.double(), gamma / (var + 1e-3).sqrt(), rtol=1e-6)  # closed form γ/√(σ² + ε)
    assert torch.allclose(c.double(), beta - gamma * mean / (var + 1e-3).sqrt(), rtol=1e-6, atol=1e-7)
    assert torch.allclose(d.float()[:, None, None] * x + c.float()[:, None, None], bn(x), atol=1e-5)


def test_train_mode_bn_uses_batch_statistics_and_leaves_running_ones():
    bn = _randomised(nn.BatchNorm2d(3, eps=1e-5))
    before = (bn.running_mean.clone(), bn.running_var.clone())
    x = torch.randn(8, 3, 4, 4) * 3 + 2
    mu, var = x.mean((0, 2, 3), keepdim=True), x.var((0, 2, 3), unbiased=False, keepdim=True)  # biased, as in training
    expected = bn.weight[:, None, None] * (x - mu) / (var + 1e-5).sqrt() + bn.bias[:, None, None]
    assert torch.allclose(train_mode_bn(bn)(x), expected, atol=1e-5)
    assert torch.equal(bn.running_mean, before[0]) and torch.equal(bn.running_var, before[1])


def test_center_bn_sets_the_inputs_mean_and_unit_variance():
    torch.manual_seed(0)
    model = _TwoBranches().eval()
    _randomised(model.unused, 1)
    unused = model.unused.running_mean.clone()
    x = torch.randn(6, 2, 5, 5) + 1.5
    center_bn(model, x)
    with torch.no_grad():
        assert torch.allclose(model.bn.running_mean, model.conv(x).mean((0, 2, 3)), atol=1e-6)
    assert torch.equal(model.bn.running_var, torch.ones(3))
    assert torch.equal(model.unused.running_mean, unused)       # never called: kept
    with torch.no_grad():  # eval BN now subtracts the inputs' own mean: its outputs average β per channel
        assert torch.allclose(model(x).mean((0, 2, 3)), model.bn.bias, atol=1e-5)


def test_calibrate_bn_sets_batch_statistics():
    torch.manual_seed(0)
    model = build_model("resnet_s", n=1)
    x = torch.randn(16, 3, 32, 32) * 2 + 1
    calibrate_bn(model, x)
    bn = model.stem[1]
    pre = model.stem[0](x)
    assert torch.allclose(bn.running_mean, pre.mean((0, 2, 3)), atol=1e-5)
    assert torch.allclose(bn.running_var, pre.var((0, 2, 3), unbiased=True), rtol=1e-4)
    assert not model.training
    single = nn.Sequential(_randomised(nn.BatchNorm2d(3)))
    y = torch.randn(10, 3, 4, 4) * 2 - 1
    mu, var = y.mean((0, 2, 3), keepdim=True), y.var((0, 2, 3), unbiased=True, keepdim=True)  # running var: unbiased
    bn = single[0]
    with torch.no_grad():
        expected = bn.weight[:, None, None] * (y - mu) / (var + bn.eps).sqrt() + bn.bias[:, None, None]
        assert torch.allclose(calibrate_bn(single, y)(y), expected, atol=1e-5)
