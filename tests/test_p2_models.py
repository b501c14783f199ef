"""P2 models: ResNet-D / ResNet-S layers against dense float64 maths and Table 5.2."""
import pytest
import torch
import torch.nn.functional as F

from resnet_lab.linalg.convsv import conv_spectral_norm, dense_conv_matrix
from resnet_lab.models import build_model
from resnet_lab.models.resnet_ds import (CircularConv2d, SymmetricBranch, circular_pad, conv_adjoint, nonneg_filters,
                                         nonneg_projection_hook, spectral_clip_hook, symmetric_filters_with_size,
                                         table52_depth)

# Table 5.2 of the paper (trainable parameters, millions): variant → n → (CIFAR-10, CIFAR-100).
TABLE_52 = {"d": {3: (0.223, 0.229), 6: (0.514, 0.520), 9: (0.805, 0.810), 12: (1.100, 1.101)},
            "s": {3: (0.124, 0.130), 6: (0.270, 0.275), 9: (0.416, 0.421), 12: (0.561, 0.567)}}


def closed_form_parameters(variant: str, n: int, classes: int, w: int = 16) -> int:
    """Count by hand: stage 1 has n residual layers, stages 2–3 a pooling layer + n−1 residual layers."""
    filters = 2 if variant == "d" else 1
    residual = lambda c: filters * 9 * c * c + 2 * c          # filters + BN₁ (γ, β); BN₂ fixed
    pooling = lambda c: 9 * c * 2 * c + 2 * 2 * c              # stride-2 filter c→2c + BN (γ, β)
    stem = 9 * 3 * w + 2 * w
    head = 4 * w * classes + classes
    return (stem + n * residual(w) + pooling(w) + (n - 1) * residual(2 * w) + pooling(2 * w)
            + (n - 1) * residual(4 * w) + head)


@pytest.mark.parametrize("variant", ["d", "s"])
@pytest.mark.parametrize("n", [3, 6, 9, 12])
def test_parameter_counts_match_table52_reading(variant, n):
    for i, classes in enumerate((10, 100)):
        model = build_model(f"resnet_{variant}", n=n, num_classes=classes)
        count = sum(p.numel() for p in model.parameters() if p.requires_grad)
        assert count == closed_form_parameters(variant, n, classes)
        assert abs(count / 1e6 - TABLE_52[variant][n][i]) / TABLE_52[variant][n][i] < 0.005
    assert table52_depth(model) == (6 * n if variant == "d" else 3 * n + 2)



@pytest.mark.parametrize("pad", [(1, 1, 1, 1), (2, 0, 1, 1), (0, 1, 2, 0), (3, 2, 1, 4)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_circular_pad_matches_torch_and_its_gradient(pad, channels_last):
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    x.requires_grad_()
    assert torch.equal(circular_pad(x, pad), F.pad(x, pad, mode="circular"))
    assert circular_pad(x, pad).is_contiguous(memory_format=torch.channels_last if channels_last else
                                              torch.contiguous_format)
    g = torch.randn_like(F.pad(x, pad, mode="circular"))
    ours, = torch.autograd.grad(circular_pad(x, pad), x, g)
    reference, = torch.autograd.grad(F.pad(x, pad, mode="circular"), x, g)
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(lambda t: circular_pad(t, pad), (x,))


@pytest.mark.parametrize("stride", [1, 2])
def test_circular_conv_equals_torch_circular_conv(stride):
    torch.manual_seed(0)
    ours = CircularConv2d(4, 6, 3, stride, padding=1, padding_mode="circular", bias=False).double()
    reference = torch.nn.Conv2d(4, 6, 3, stride, padding=1, padding_mode="circular", bias=False).double()
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64, requires_grad=True)
    g = torch.randn_like(reference(x))
    grads = [torch.autograd.grad(conv(x), (x, conv.weight), g) for conv in (ours, reference)]
    torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-12)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)

def test_literal_layout_exceeds_table52():
    model = build_model("resnet_s", n=3, pool_counts_as_layer=False)
    assert sum(p.numel() for p in model.parameters()) / 1e6 > 0.124 * 1.1


@pytest.mark.parametrize("c_in,c_out,n", [(2, 3, 5), (4, 4, 6)])
def test_adjoint_is_exact_transpose(c_in, c_out, n):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(c_out, c_in, 3, 3, generator=g, dtype=torch.float64)
    x = torch.randn(2, c_in, n, n, generator=g, dtype=torch.float64)
    y = torch.randn(2, c_out, n, n, generator=g, dtype=torch.float64)
    ax = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), w)
    aty = conv_adjoint(y, w)
    assert torch.allclose((ax * y).sum(), (x * aty).sum(), rtol=1e-12)
    dense = dense_conv_matrix(w, n)
    assert torch.allclose(aty.reshape(2, -1), y.reshape(2, -1) @ dense, atol=1e-12)


def _residual_map(a: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """g(x) = x − Aᵀσ(Ax + b) on row vectors (Lemma A.1)."""
    return x - torch.relu(x @ a.T + b) @ a


@pytest.mark.parametrize("sq_norm,expands", [(2.0, False), (1.0, False), (8.0, True)])
def test_lemma_a1_dense(sq_norm, expands):
    g = torch.Generator().manual_seed(1)
    a = torch.randn(30, 20, generator=g, dtype=torch.float64)
    a *= sq_norm ** 0.5 / torch.linalg.matrix_norm(a, ord=2)
    b = torch.randn(30, generator=g, dtype=torch.float64)
    x, y = torch.randn(2, 4000, 20, generator=g, dtype=torch.float64)
    ratio = (_residual_map(a, b, x) - _residual_map(a, b, y)).norm(dim=1) / (x - y).norm(dim=1)
    if not expands:
        assert (ratio <= 1 + 1e-12).all()
    else:
        # All pre-activations positive (large b): g is linear, I − AᵀA, and stretches the top singular
        # direction by |1 − ‖A‖²| = 7.
        v = torch.linalg.svd(a).Vh[0]
        big = torch.full_like(b, 1e3)
        gap = _residual_map(a, big, v[None]) - _residual_map(a, big, torch.zeros_like(v)[None])
        assert gap.norm() == pytest.approx(sq_norm - 1, rel=1e-9)


@pytest.mark.parametrize("sq_norm", [2.0, 8.0])
def test_lemma_a1_convolution(sq_norm):
    g = torch.Generator().manual_seed(2)
    w = torch.randn(4, 4, 3, 3, generator=g, dtype=torch.float64)
    w *= sq_norm ** 0.5 / conv_spectral_norm(w, 8)
    b = torch.randn(1, 4, 1, 1, generator=g, dtype=torch.float64)
    gmap = lambda x: x - conv_adjoint(torch.relu(F.conv2d(F.pad(x, (1,) * 4, mode="circular"), w) + b), w)
    x, y = torch.randn(2, 256, 4, 8, 8, generator=g, dtype=torch.float64)
    ratio = (gmap(x) - gmap(y)).flatten(1).norm(dim=1) / (x - y).flatten(1).norm(dim=1)
    if sq_norm <= 2:
        assert (ratio <= 1 + 1e-12).all()
    else:
        # Small perturbations of an input in the all-active region see the linear map I − AᵀA.
        x = x + 50.0
        bias = b + 1e3
        gmap = lambda x: x - conv_adjoint(torch.relu(F.conv2d(F.pad(x, (1,) * 4, mode="circular"), w) + bias), w)
        ratio = (gmap(x) - gmap(y * 1e-3 + x)).flatten(1).norm(dim=1) / (1e-3 * y).flatten(1).norm(dim=1)
        assert ratio.max() > 1.5


def _train_steps(model, hooks, steps=3):
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    g = torch.Generator().manual_seed(3)
    for step in range(1, steps + 1):
        x = torch.randn(8, 3, 32, 32, generator=g)
        y = torch.randint(0, 10, (8,), generator=g)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        for hook in hooks:
            hook(model, step)


def test_resnet_d_keeps_a2_nonnegative():
    torch.manual_seed(0)
    model = build_model("resnet_d", n=1)
    assert all((c.weight >= 0).all() for c in nonneg_filters(model))
    _train_steps(model, [nonneg_projection_hook])
    assert all((c.weight >= 0).all() for c in nonneg_filters(model))
    torch.manual_seed(0)
    free = build_model("resnet_d", n=1)
    _train_steps(free, [])
    assert any((c.weight < 0).any() for c in nonneg_filters(free))  # the hook is what keeps the sign


def test_spectral_clip_hook_enforces_eq_4_11():
    torch.manual_seed(0)
    model = build_model("resnet_s", n=2)
    before = [float(conv_spectral_norm(c.weight.detach(), n)) ** 2 for c, n in symmetric_filters_with_size(model)]
    assert max(before) > 2  # He initialisation breaks ‖A‖₂² ≤ 2 …
    _train_steps(model, [spectral_clip_hook(2.0)], steps=1)
    after = [float(conv_spectral_norm(c.weight.detach(), n)) ** 2 for c, n in symmetric_filters_with_size(model)]
    assert max(after) <= 2 * (1 + 1e-5)  # … and the hook restores it


def test_filter_penalty_adds_lambda_w_to_gradients():
    torch.manual_seed(0)
    plain = build_model("resnet_s", n=1)
    torch.manual_seed(0)
    penalised = build_model("resnet_s", n=1, filter_penalty=0.1)
    x = torch.randn(4, 3, 32, 32)
    for m in (plain, penalised):
        m(x).sum().backward()
    w0, w1 = plain.stem[0].weight, penalised.stem[0].weight
    assert torch.allclose(w1.grad - w0.grad, 0.1 * w1.detach(), atol=1e-6)
    assert torch.equal(plain.stem[1].weight.grad, penalised.stem[1].weight.grad)  # BN not penalised


def _dense_sq_norm(weight: torch.Tensor, size: int) -> float:
    """‖A‖₂² of the circular conv from its dense float64 matrix (independent of the FFT route)."""
    return float(torch.linalg.matrix_norm(dense_conv_matrix(weight.detach().double(), size), ord=2)) ** 2


def test_spectral_projection_meets_hypothesis_against_dense_operator():
    """After the step hook every ResNet-S filter satisfies ‖A‖₂² ≤ 2 on its feature map, in dense float64."""
    torch.manual_seed(0)
    model = build_model("resnet_s", n=2, width=4)
    with torch.no_grad():
        for conv, _ in symmetric_filters_with_size(model, 16):
            conv.weight.mul_(3.0)   # far outside the ball
    before = [_dense_sq_norm(c.weight, n) for c, n in symmetric_filters_with_size(model, 16)]
    assert min(before) > 2
    spectral_clip_hook(2.0, input_size=16)(model, 0)
    after = [_dense_sq_norm(c.weight, n) for c, n in symmetric_filters_with_size(model, 16)]
    assert max(after) <= 2.0
    assert min(after) > 2.0 * (1 - 1e-4)   # rescaled onto the boundary, not shrunk further


def test_bn_free_resnet_s_starts_and_stays_feasible():
    torch.manual_seed(0)
    model = build_model("resnet_s", n=1, branch_bn=False)
    branches = [m for m in model.modules() if isinstance(m, SymmetricBranch)]
    assert branches and not any(b.use_bn for b in branches)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for b in branches for m in b.modules())
    norms = lambda: [float(conv_spectral_norm(c.weight.detach().double(), n)) ** 2
                     for c, n in symmetric_filters_with_size(model)]
    assert max(norms()) <= 2.0            # He initialisation projected at construction
    _train_steps(model, [spectral_clip_hook(2.0)], steps=2)
    assert max(norms()) <= 2.0
    with pytest.raises(ValueError):
        build_model("resnet_d", n=1, branch_bn=False)
