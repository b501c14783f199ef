"""P3: Jacobian operators of residual units against dense float64 matrices, ARPACK and closed forms."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from resnet_lab.linalg.convsv import dense_conv_matrix
from resnet_lab.metrics.jacobian import (
    SmoothActivation,
    arpack_svd,
    decay_order,
    gram_spectrum,
    jacobian_operator,
    jacobian_test,
    krylov_svd,
    singular_values,
    spectrum_fractions,
)

C, N = 3, 5  # channels, map side: J is 75 × 75


class BasicUnit(nn.Module):
    """P3 Appendix A BasicBlock ``σ(x + B2 C2 σ(B1 C1 x))`` with circular convs (so ``dense_conv_matrix`` applies)."""

    def __init__(self, c: int = C) -> None:
        super().__init__()
        conv = lambda: nn.Conv2d(c, c, 3, padding=1, bias=False, padding_mode="circular")  # noqa: E731
        self.c1, self.b1, self.c2, self.b2 = conv(), nn.BatchNorm2d(c), conv(), nn.BatchNorm2d(c)
        self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.shortcut(x) + self.b2(self.c2(F.relu(self.b1(self.c1(x))))))


def _unit(seed: int = 0) -> BasicUnit:
    torch.manual_seed(seed)
    unit = BasicUnit().double()
    for bn in (unit.b1, unit.b2):  # non-trivial running statistics: eval-mode BN is an affine map
        bn.running_mean.uniform_(-0.5, 0.5), bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5), bn.bias.data.uniform_(-0.2, 0.2)
    return unit.eval()


def _appendix_a_jacobian(unit: BasicUnit, x: torch.Tensor) -> torch.Tensor:
    """Return ``diag(σ'(x+R))(I + J_B2 C2 diag(σ'(B1 C1 x)) J_B1 C1)`` written out densely (P3 Appendix A)."""
    bn_gain = lambda bn: torch.diag((bn.weight / (bn.running_var + bn.eps).sqrt()).repeat_interleave(N * N))  # noqa: E731
    c1, c2 = dense_conv_matrix(unit.c1.weight.detach(), N), dense_conv_matrix(unit.c2.weight.detach(), N)
    with torch.no_grad():
        inner = unit.b1(unit.c1(x))
        outer = x + unit.b2(unit.c2(F.relu(inner)))
    d_inner, d_outer = torch.diag((inner > 0).double().flatten()), torch.diag((outer > 0).double().flatten())
    j_r = bn_gain(unit.b2) @ c2 @ d_inner @ bn_gain(unit.b1) @ c1
    return (d_outer @ (torch.eye(C * N * N, dtype=torch.float64) + j_r)).detach()


@pytest.fixture
def setup() -> tuple[BasicUnit, torch.Tensor, torch.Tensor]:
    unit = _unit()
    x = torch.randn(1, C, N, N, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    return unit, x, _appendix_a_jacobian(unit, x)


def test_products_equal_appendix_a_matrix(setup) -> None:
    unit, x, dense = setup
    op = jacobian_operator(unit, x)
    v = torch.randn(op.shape[1], 4, dtype=torch.float64)
    assert torch.allclose(op.matmat(v), dense @ v, atol=1e-12)
    assert torch.allclose(op.rmatmat(v), dense.T @ v, atol=1e-12)
    assert torch.allclose(op.dense(chunk_size=16), dense, atol=1e-12)


def test_adjoint_identity(setup) -> None:
    unit, x, _ = setup
    op = jacobian_operator(unit, x)
    gen = torch.Generator().manual_seed(2)
    v, u = torch.randn(op.shape[1], generator=gen, dtype=torch.float64), torch.randn(op.shape[0], generator=gen, dtype=torch.float64)
    assert torch.dot(op.matvec(v), u).item() == pytest.approx(torch.dot(v, op.rmatvec(u)).item(), rel=1e-12)


def test_operator_on_wide_transition() -> None:
    """A strided (down-sampling) map: J is m × n with m < n; products match autograd's dense Jacobian."""
    torch.manual_seed(3)
    unit = nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1, bias=False), nn.ReLU()).double()
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64)
    op = jacobian_operator(unit, x)
    dense = torch.autograd.functional.jacobian(unit, x).reshape(op.shape)
    assert op.shape == (36, 72)
    assert torch.allclose(op.dense(), dense, atol=1e-12)
    top = krylov_svd(op, 5)
    assert torch.allclose(top.values, torch.linalg.svdvals(dense)[:5], rtol=1e-8)


def test_iterative_topk_and_bottomk_match_dense(setup) -> None:
    unit, x, dense = setup
    op = jacobian_operator(unit, x)
    exact = torch.linalg.svdvals(dense)
    assert torch.allclose(singular_values(op), exact, atol=1e-12)
    top = krylov_svd(op, 6, tol=1e-10, vectors=True)
    assert top.converged
    assert torch.allclose(top.values, exact[:6], rtol=1e-8)
    # Singular triplets: J v = σ u.
    assert torch.allclose(dense @ top.right, top.left * top.values, atol=1e-8)
    ref = arpack_svd(op, 6)
    assert torch.allclose(ref.values, exact[:6], rtol=1e-8)
    # Bottom-k with a block wide enough to resolve the repeated zeros of dead ReLUs.
    bottom = krylov_svd(op, 4, largest=False, block=25, max_dim=75, tol=1e-10)
    assert torch.allclose(bottom.values, exact[-4:], atol=1e-8)


def test_fractions_count_bands() -> None:
    values = torch.tensor([3.0, 1.5, 1.005, 1.0, 0.995, 0.5, 0.0, 1e-20])
    frac = spectrum_fractions(values)
    assert frac == {"above": 2 / 8, "plateau": 3 / 8, "below": 1 / 8, "zero": 2 / 8}


def test_jacobian_test_second_order_on_smooth_unit(setup) -> None:
    unit, x, _ = setup
    with SmoothActivation(F.softplus):
        result = jacobian_test(unit, x, eps=(1e-1, 1e-2, 1e-3, 1e-4))
    assert decay_order(result["eps"], result["zeroth"]) == pytest.approx(1.0, abs=0.05)
    assert decay_order(result["eps"], result["first"]) == pytest.approx(2.0, abs=0.1)


def test_smooth_activation_replaces_every_relu_form() -> None:
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    with SmoothActivation(F.softplus):
        outs = [F.relu(x), torch.relu(x), x.relu(), nn.ReLU(inplace=True)(x.clone())]
    for out in outs:
        assert torch.allclose(out, F.softplus(x))


def test_relu_derivative_at_zero_is_zero() -> None:
    """Our convention is PyTorch's: σ'(0) = 0."""
    op = jacobian_operator(F.relu, torch.zeros(3, dtype=torch.float64))
    assert torch.equal(op.matvec(torch.ones(3, dtype=torch.float64)), torch.zeros(3, dtype=torch.float64))


def test_unbatched_input_uses_vmap_products() -> None:
    """Without a batch dimension the block products vmap over columns; J of tanh is diag(1 − tanh²)."""
    x = torch.linspace(-1, 1, 6, dtype=torch.float64)
    op = jacobian_operator(torch.tanh, x)
    v = torch.randn(6, 3, dtype=torch.float64)
    assert torch.allclose(op.matmat(v), torch.diag(1 - torch.tanh(x) ** 2) @ v, atol=1e-14)


@pytest.mark.parametrize("seed", range(6))
def test_krylov_on_low_rank_operator_stays_orthonormal(seed: int) -> None:
    """Issue 12 §4: once the Krylov space of a rank-6 JᵀJ is invariant, a block of round-off must not pass.

    Before the fix (weak columns judged against their own block, no re-orthogonalisation) this gave
    |VᵀV − I| ≈ 60 and values off by ≈ 600% for seeds 3–5 with k = 12, block = 4.
    """
    n, r = 400, 6
    g = torch.Generator().manual_seed(seed)
    a = (torch.randn(n, r, generator=g) @ torch.randn(r, n, generator=g)) / n ** 0.5
    op = jacobian_operator(lambda x: a @ x, torch.randn(n, generator=g))
    exact = torch.linalg.svdvals(a.double())
    part = krylov_svd(op, 12, block=4, tol=1e-5, vectors=True)
    v = part.right.double()
    assert (v.T @ v - torch.eye(12, dtype=torch.float64)).abs().max() < 1e-4
    assert part.orthogonality < 1e-4
    assert torch.allclose(part.values.double(), exact[:12], atol=1e-4 * exact[0].item())


def test_unconverged_krylov_is_reported() -> None:
    """A basis capped below what the tolerance needs says ``converged=False``."""
    torch.manual_seed(5)
    a = torch.randn(300, 300, dtype=torch.float64)
    op = jacobian_operator(lambda x: a @ x, torch.randn(300, dtype=torch.float64))
    part = krylov_svd(op, 8, block=8, tol=1e-12, max_dim=16)
    assert not part.converged


@pytest.mark.parametrize("shape", [(75, 75), (36, 72), (72, 36)])
def test_gram_spectrum_matches_svd(shape: tuple[int, int]) -> None:
    """eigvalsh of the smaller Gram matrix (float64) gives svdvals; its right vectors satisfy JᵀJ v = σ² v."""
    m, n = shape
    g = torch.Generator().manual_seed(7)
    a = torch.randn(m, n, generator=g)
    a[: m // 3] = 0  # dead rows, as dead ReLUs make: zeros counted with their multiplicity
    op = jacobian_operator(lambda x: a @ x, torch.randn(n, generator=g))
    spec = gram_spectrum(op, vectors=True)
    exact = torch.linalg.svdvals(a.double())
    assert spec.values.dtype == torch.float32 and len(spec.values) == min(m, n)
    assert torch.allclose(spec.values.double(), exact, atol=1e-5 * exact[0].item())
    assert spectrum_fractions(spec.values)["zero"] == spectrum_fractions(exact.float())["zero"]
    v, s = spec.right.double(), spec.values.double()
    live = s > 1e-3 * s[0]
    a64 = a.double()
    assert torch.allclose(a64.T @ (a64 @ v[:, live]), v[:, live] * s[live] ** 2, atol=1e-3 * s[0].item() ** 2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gram_spectrum_right_vectors_are_unit_or_zero_on_a_wide_low_rank_jacobian(dtype: torch.dtype) -> None:
    """A wide J whose rank is below m has σ_i that are round-off, not 0: ``Jᵀu_i/σ_i`` then blows up (Fig. 4's
    projections reached |α| ≈ 9e6). Every returned right vector must be a unit vector with ‖J v_i‖ = σ_i, or 0
    (σ_i under the rank threshold), against a dense float64 reference."""
    g = torch.Generator().manual_seed(3)
    m, n, r = 60, 120, 20
    a = (torch.randn(m, r, generator=g, dtype=torch.float64) @ torch.randn(r, n, generator=g, dtype=torch.float64))
    op = jacobian_operator(lambda x: a.to(dtype) @ x, torch.randn(n, generator=g, dtype=dtype))
    spec = gram_spectrum(op, vectors=True)
    v, s = spec.right.double(), spec.values.double()
    norms = v.norm(dim=0)
    assert torch.all(((norms - 1).abs() < 1e-3) | (norms == 0)), norms
    exact = torch.linalg.svdvals(a)
    live = norms > 0
    assert live.sum() == r  # the rank of J: every nonzero σ has its vector, no round-off σ has one
    assert torch.allclose((a @ v[:, live]).norm(dim=0), s[live], rtol=1e-3)
    assert torch.allclose(s[live], exact[:r], rtol=1e-3)
    assert torch.all(s[~live] <= 1e-3 * s[0])
