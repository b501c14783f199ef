"""P5 Procrustes projection (Eqs. 7–9, Algorithm 1) against dense float64 and scipy references."""
import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from resnet_lab.metrics.convsv import conv_singular_values, dense_conv_matrix
from resnet_lab.procrustes import (inverse_sqrt_newton_schulz, mark_for_projection, procrustes_target,
                                   project_kernel, project_matrices, project_spectrum,
                                   projection_step_hook, spectrum_deviation)

SHAPES = [(3, 8, 3, 6), (8, 4, 3, 5), (6, 6, 1, 4), (4, 12, 1, 6), (5, 7, 3, 8)]  # (c, d, k, n)


def kernel(c, d, k, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(d, c, k, k, generator=g, dtype=torch.float64) / (c * k * k) ** 0.5


@pytest.mark.parametrize("c,d,k,n", SHAPES)
def test_fft_singular_values_match_dense_circular_conv(c, d, k, n):
    """Theorem 3 (Sedghi et al.): per-frequency svdvals == svdvals of the dense circular conv matrix."""
    w = kernel(c, d, k)
    dense = torch.linalg.svdvals(dense_conv_matrix(w, n)).sort(descending=True).values
    assert dense.shape == (n * n * min(c, d),)
    torch.testing.assert_close(conv_singular_values(w, n), dense, rtol=1e-10, atol=1e-10)


def test_newton_schulz_inverse_sqrt_matches_scipy():
    """Eq. (9): Z_k → (PᴴP)^{-1/2}, compared with scipy's sqrtm on complex Hermitian matrices."""
    g = torch.Generator().manual_seed(1)
    a = torch.randn(4, 6, 6, dtype=torch.complex128, generator=g)
    gram = a.mH @ a + 0.5 * torch.eye(6, dtype=torch.complex128)
    z = inverse_sqrt_newton_schulz(gram, iters=40)
    for i in range(4):
        ref = np.linalg.inv(scipy.linalg.sqrtm(gram[i].numpy()))
        np.testing.assert_allclose(z[i].numpy(), ref, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("d,c", [(8, 3), (3, 8), (5, 5)])
def test_svd_projection_is_scaled_polar_factor(d, c):
    """The SVD reference equals target × the polar factor from scipy (closest matrix, Eq. 8)."""
    g = torch.Generator().manual_seed(2)
    p = torch.randn(d, c, dtype=torch.complex128, generator=g)
    u, _ = scipy.linalg.polar(p.numpy(), side="right")
    np.testing.assert_allclose(project_matrices(p, 1.7, "svd").numpy(), 1.7 * u, atol=1e-12)


@pytest.mark.parametrize("c,d,k,n", SHAPES)
@pytest.mark.parametrize("relu", [False, True])
def test_projection_sets_every_frequency_to_target_before_crop(c, d, k, n, relu):
    """Before the crop, each P^(u,v) has all min(d,c) singular values at √(d/min(d,c)) (×√2 with ReLU)."""
    w = kernel(c, d, k, seed=3)
    target = procrustes_target(d, c, relu)
    assert target == pytest.approx(np.sqrt((2 if relu else 1) * d / min(d, c)))
    ns = project_spectrum(w, n, target, "newton_schulz", iters=40)
    svd = project_spectrum(w, n, target, "svd")
    sv = torch.linalg.svdvals(ns)
    torch.testing.assert_close(sv, torch.full_like(sv, target), rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(ns, svd, rtol=1e-8, atol=1e-8)


def test_projected_spectrum_stays_hermitian_so_inverse_fft_is_real():
    """A real kernel's spectrum has P(−u) = conj P(u); the polar factor keeps it, so ifft2 is real."""
    w = kernel(4, 6, 3, seed=4)
    full = torch.fft.ifft2(project_spectrum(w, 8, method="svd").permute(2, 3, 0, 1))
    assert full.imag.abs().max() < 1e-12


def test_crop_is_exact_for_1x1_and_measured_for_3x3():
    """1×1 conv* (ProcResNet transitions): exact after crop. 3×3: deviation reported, checked vs dense."""
    w1 = kernel(4, 8, 1, seed=5)
    t1 = procrustes_target(8, 4)
    dev1 = spectrum_deviation(project_kernel(w1, 6, t1, "svd"), 6, t1)
    assert dev1["max_rel"] < 1e-12
    w3 = kernel(4, 8, 3, seed=5)
    p3 = project_kernel(w3, 6, t1, "svd")
    dense = torch.linalg.svdvals(dense_conv_matrix(p3, 6))
    dev3 = spectrum_deviation(p3, 6, t1)
    assert dev3["max_rel"] == pytest.approx(((dense - t1).abs() / t1).max().item(), rel=1e-9)
    assert dev3["max_rel"] > 1e-3  # the crop does move singular values: do not pretend otherwise


def test_project_kernel_changes_only_the_kxk_support_shape():
    w = kernel(3, 5, 3).float()
    out = project_kernel(w, 8)
    assert out.shape == w.shape and out.dtype == w.dtype


def test_step_hook_projects_every_k_steps():
    """The step hook rewrites tagged conv* weights on steps divisible by ``every`` only."""
    model = nn.Sequential(mark_for_projection(nn.Conv2d(4, 8, 1, bias=False), 6), nn.Conv2d(8, 8, 3))
    hook = projection_step_hook(every=2, iters=30)
    before = [p.detach().clone() for p in model.parameters()]
    hook(model, 1)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    hook(model, 2)
    assert not torch.equal(before[0], model[0].weight)
    assert torch.equal(before[1], model[1].weight)  # untagged layers untouched
    sv = conv_singular_values(model[0].weight.detach().double(), 6)
    torch.testing.assert_close(sv, torch.full_like(sv, np.sqrt(2.0)), rtol=1e-5, atol=1e-5)
