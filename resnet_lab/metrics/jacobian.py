"""Jacobians of residual units, transitions and stages as matrix-free operators (P3 §2, Appendix A).

A residual unit ``x ↦ σ(x + F(x))`` linearised at an input ``x`` is ``J = diag(σ'(x + F(x)))(I + J_F)``
(P3 §2). We never write that formula out: ``torch.func`` differentiates whatever module we are handed
(unit, transition, stage, a whole network), so the same code serves P3 and P4. BN runs in eval mode,
so the Jacobian is that of a fixed function of one input, as in the paper.

ReLU derivative at 0: we follow PyTorch, ``σ'(0) = 0`` (its backward is ``grad · (out > 0)``); the
paper notes that the kink matters only for pre-activations that are exactly 0.

Spectra: all singular values from the dense Jacobian where that is affordable (``svdvals``), else the
top-k or bottom-k from :func:`krylov_svd` (block Krylov with Rayleigh–Ritz; a block method so that
repeated singular values, such as the many zeros of dead ReLUs at the bottom, are counted with their
multiplicity up to the block size), checked against ARPACK (:func:`arpack_svd`, the paper's tool).
``torch.lobpcg`` is not used because it needs the matrix as a tensor, not as a product.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from .hooks import eval_mode


@dataclass
class JacobianOperator:
    """The Jacobian ``J = ∂f/∂x`` of ``f`` at one input, as matrix-free ``J·v`` and ``Jᵀ·u`` (P3 Appendix A).

    Vectors are flat: ``v`` has ``n = x.numel()`` entries and ``u`` has ``m = f(x).numel()``. ``matmat``
    and ``rmatmat`` take blocks ``(n, k)`` / ``(m, k)`` and vmap over their columns (one batched pass).
    """

    f: Callable[[torch.Tensor], torch.Tensor]
    x: torch.Tensor
    output: torch.Tensor
    vjp_fn: Callable[[torch.Tensor], tuple[torch.Tensor]]

    @property
    def shape(self) -> tuple[int, int]:
        """Return ``(m, n)``: output size by input size."""
        return self.output.numel(), self.x.numel()

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """Return ``J·v``: ``(n,) → (m,)``."""
        return torch.func.jvp(self.f, (self.x,), (v.reshape(self.x.shape),))[1].reshape(-1)

    def rmatvec(self, u: torch.Tensor) -> torch.Tensor:
        """Return ``Jᵀ·u``: ``(m,) → (n,)``."""
        return self.vjp_fn(u.reshape(self.output.shape))[0].reshape(-1)

    def matmat(self, v: torch.Tensor) -> torch.Tensor:
        """Return ``J·V``: ``(n, k) → (m, k)``."""
        return torch.func.vmap(self.matvec, in_dims=1, out_dims=1)(v)

    def rmatmat(self, u: torch.Tensor) -> torch.Tensor:
        """Return ``Jᵀ·U``: ``(m, k) → (n, k)``."""
        return torch.func.vmap(self.rmatvec, in_dims=1, out_dims=1)(u)

    def dense(self, chunk_size: int = 256) -> torch.Tensor:
        """Return the dense ``(m, n)`` Jacobian, row blocks by vmapped VJPs of the standard basis."""
        m, _ = self.shape
        rows = []
        for start in range(0, m, chunk_size):
            stop = min(start + chunk_size, m)
            basis = torch.zeros(m, stop - start, dtype=self.output.dtype, device=self.output.device)
            basis[torch.arange(start, stop), torch.arange(stop - start)] = 1
            rows.append(self.rmatmat(basis).T)
        return torch.cat(rows)


def jacobian_operator(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> JacobianOperator:
    """Return the Jacobian of ``fn`` at ``x`` as a :class:`JacobianOperator` (P3 §2, Appendix A).

    Args:
        fn: a residual unit, transition, stage or any callable; a module is evaluated in eval mode
            with its parameters detached (we differentiate with respect to the input only).
        x: the input at which to linearise, with whatever batch dimension ``fn`` expects
            (usually ``(1, C, H, W)``: one image's activation map).
    """
    x = x.detach()
    f = _frozen(fn)
    output, vjp_fn = torch.func.vjp(f, x)
    # torch.func.linearize would cache the forward pass, but in torch 2.14 its traced graph gave
    # wrong products for modules with parameters (tested), so each J·v reruns the forward (jvp).
    return JacobianOperator(f=f, x=x, output=output.detach(), vjp_fn=vjp_fn)


def _frozen(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return ``fn`` as a pure function of its input: eval mode, parameters and buffers detached."""
    if not isinstance(fn, torch.nn.Module):
        return fn
    state = {k: v.detach() for k, v in [*fn.named_parameters(), *fn.named_buffers()]}

    def f(z: torch.Tensor) -> torch.Tensor:
        with eval_mode(fn):
            return torch.func.functional_call(fn, state, (z,))

    return f


def singular_values(op: JacobianOperator, chunk_size: int = 256) -> torch.Tensor:
    """Return all ``min(m, n)`` singular values of ``J``, descending, from the dense Jacobian."""
    return torch.linalg.svdvals(op.dense(chunk_size))


@dataclass
class DenseSpectrum:
    """All ``min(m, n)`` singular values of ``J`` (descending), optionally with the right singular vectors."""

    values: torch.Tensor  # (min(m, n),) in the operator's dtype
    right: torch.Tensor | None  # (n, min(m, n)) right singular vectors v_i (0 where J is wide and σ_i is round-off)


def rank_tolerance(size: int, dtype: torch.dtype) -> float:
    """Return the relative σ below which a Gram-matrix singular value is round-off: ``max(size·eps, √(size·eps₆₄))``.

    The first term is ``torch.linalg.matrix_rank``'s threshold for data of ``dtype``; the second is where
    squaring into a float64 Gram matrix loses a σ (``λ`` is exact to ``size·eps₆₄·λ_max``).
    """
    return max(size * torch.finfo(dtype).eps, math.sqrt(size * torch.finfo(torch.float64).eps))


def gram_spectrum(op: JacobianOperator, vectors: bool = False, chunk_size: int = 256) -> DenseSpectrum:
    """Return every singular value of ``J`` from ``eigvalsh`` of its smaller Gram matrix in float64.

    ``σ_i = √λ_i(JᵀJ)`` (or of ``JJᵀ`` when ``J`` is wide, ``m < n``), built and diagonalised in float64:
    2.8–3.6 s against 10.4 s for ``svdvals`` at 2,048 on our CPU, with the same plateau share. Squaring
    costs relative precision only below ``√eps₆₄ · σ_max ≈ 1.5e-8 σ_max``, far under the float32 rank
    threshold (``len · eps₃₂ · σ_max``) that :func:`spectrum_fractions` applies to the returned values
    (returned in the operator's dtype, so that threshold stays the one of the data). With ``vectors``,
    the right singular vectors: eigenvectors of ``JᵀJ``, or ``Jᵀu_i / σ_i`` from those of ``JJᵀ``. For a wide
    ``J`` a σ under the rank threshold (:func:`rank_tolerance`) is round-off, and ``Jᵀu_i / σ_i`` would not be a
    unit vector (it reached norms of 1e7), so those columns are 0: every column is a unit vector with
    ``‖J v_i‖ = σ_i``, or 0.
    """
    dense = op.dense(chunk_size).double()
    m, n = dense.shape
    wide = m < n
    gram = dense @ dense.T if wide else dense.T @ dense
    if vectors:
        lam, vec = torch.linalg.eigh(gram)
    else:
        lam, vec = torch.linalg.eigvalsh(gram), None
    lam = lam.flip(0)
    values = lam.clamp_min(0).sqrt()
    right = None
    if vectors:
        vec = vec.flip(1)
        if wide:
            live = values > rank_tolerance(len(values), op.output.dtype) * values[0]
            right = dense.T @ vec[:, live] / values[live]
            right = torch.zeros(n, len(values), dtype=dense.dtype, device=dense.device).index_copy_(
                1, live.nonzero().flatten(), right)
        else:
            right = vec
        right = right.to(op.output.dtype)
    return DenseSpectrum(values.to(op.output.dtype), right)


ORTHOGONALITY_TOL = 1e-3  # a Krylov basis further from orthonormal than this gives wrong Ritz values


@dataclass
class PartialSVD:
    """Some singular triplets ``J v_i = σ_i u_i`` (descending σ), with convergence information."""

    values: torch.Tensor  # (k,)
    right: torch.Tensor | None  # (n, k) right singular vectors v_i
    left: torch.Tensor | None  # (m, k) left singular vectors u_i
    residuals: torch.Tensor  # (k,) ‖JᵀJ v − σ² v‖ / σ_max²
    converged: bool  # every residual ≤ tol and the basis orthonormal to ``ORTHOGONALITY_TOL``
    products: int  # J·v plus Jᵀ·u products used
    orthogonality: float = 0.0  # max |QᵀQ − I| of the Krylov basis (round-off: ~1e-6 in float32)


def krylov_svd(
    op: JacobianOperator,
    k: int,
    largest: bool = True,
    block: int | None = None,
    tol: float = 1e-5,
    max_dim: int | None = None,
    seed: int = 0,
    vectors: bool = False,
) -> PartialSVD:
    """Return the top-k (or bottom-k) singular triplets of ``J`` by block Krylov iteration on ``JᵀJ``.

    Grows an orthonormal basis ``Q`` of the block Krylov space of ``JᵀJ`` from a Gaussian block,
    re-orthogonalising fully, and stops when the Rayleigh–Ritz pairs of ``QᵀJᵀJQ`` have relative
    residuals ``‖JᵀJ v − θ v‖ / θ_max ≤ tol``. Singular values are read off as ``‖J v‖`` (not
    ``√θ``) to avoid the loss of precision of squaring. Bottom-k converges much more slowly than top-k.

    Args:
        op: the Jacobian operator.
        k: how many singular values.
        largest: top-k if true, bottom-k otherwise (of the ``min(m, n)`` singular values).
        block: block size (default ``min(k, 16)``, fewest products in our benchmark); repeated singular
            values are resolved up to this multiplicity.
        tol: relative residual tolerance.
        max_dim: largest basis size (default ``min(n, k + 64 · block)``).
        seed: seed of the starting block.
        vectors: also return right and left singular vectors.
    """
    m, n = op.shape
    if not largest and n > m:
        raise ValueError(f"bottom-k of a wide ({m}×{n}) Jacobian: JᵀJ has {n - m} extra zeros; use top-k")
    dtype, device = op.output.dtype, op.output.device
    block = min(block or min(k, 16), n)
    max_dim = min(max(max_dim or k + 64 * block, k), n)
    gen = torch.Generator(device=device).manual_seed(seed)
    new = torch.linalg.qr(torch.randn(n, block, generator=gen, dtype=dtype, device=device)).Q
    basis, images, grams = [], [], []  # Q, JQ, JᵀJQ, one block each
    h = torch.zeros(0, 0, dtype=dtype, device=device)  # QᵀJᵀJQ, grown a block at a time
    products, converged, checked = 0, False, 0
    while True:
        jq = op.matmat(new)
        basis.append(new), images.append(jq), grams.append(op.rmatmat(jq))
        products += 2 * new.shape[1]
        q, gq = torch.cat(basis, 1), torch.cat(grams, 1)
        cross = q.T @ grams[-1]
        h = torch.cat([torch.cat([h, cross[:-new.shape[1]]], 1), cross.T], 0)
        dim = q.shape[1]
        if dim >= min(checked + k, max_dim):  # the residual check costs O(n·dim·k): do it once per k new vectors
            checked = dim
            theta, s = torch.linalg.eigh((h + h.T) / 2)  # ascending
            pick = torch.arange(dim - k, dim, device=device) if largest else torch.arange(k, device=device)
            sk, tk = s[:, pick], theta[pick]
            residuals = torch.linalg.vector_norm(gq @ sk - (q @ sk) * tk, dim=0) / theta[-1].clamp_min(1e-30)
            converged = bool((residuals <= tol).all())
        if converged or dim >= max_dim:
            break
        grow = gq[:, -new.shape[1]:]
        scale = float(torch.linalg.vector_norm(grow, dim=0).max())
        for _ in range(2):  # twice is enough (Giraud et al., "twice is enough")
            grow = grow - q @ (q.T @ grow)
        new = _orthonormal_columns(grow, min(block, max_dim - dim), q, gen, scale)
    orthogonality = orthogonality_loss(q)
    converged = converged and orthogonality <= ORTHOGONALITY_TOL
    values = torch.linalg.vector_norm(torch.cat(images, 1) @ sk, dim=0)
    order = values.argsort(descending=True)
    values, sk, residuals = values[order], sk[:, order], residuals[order]
    right = left = None
    if vectors:
        right = q @ sk
        left = (torch.cat(images, 1) @ sk) / values.clamp_min(1e-30)
    return PartialSVD(values, right, left, residuals, converged, products, orthogonality)


def _orthonormal_columns(w: torch.Tensor, width: int, q: torch.Tensor, gen: torch.Generator,
                         scale: float) -> torch.Tensor:
    """Return ``width`` orthonormal columns ⟂ ``q`` spanning ``w`` (already ⟂ ``q``), topped up at random.

    A column of ``w`` is round-off, not a new direction, when its part left after the previous
    columns is at most ``√eps · scale``, with ``scale`` the norm of the block *before* it was
    projected off ``q`` (the global scale of ``JᵀJ Q``). Judging it against its own block's largest
    column instead lets a block of pure noise pass once the Krylov space is invariant (ReLU units of
    low rank). Round-off columns are replaced by random directions ⟂ ``q``; the normalised block is
    then re-orthogonalised against ``q`` and itself (twice), so ``[q, new]`` stays orthonormal.
    """
    rtol = torch.finfo(w.dtype).eps ** 0.5
    new, r = torch.linalg.qr(w[:, :width])
    weak = r.diagonal().abs() <= rtol * max(scale, 1e-30)
    if weak.any():  # an (almost) invariant subspace was found: continue from random directions ⟂ q
        new[:, weak] = torch.randn(new.shape[0], int(weak.sum()), generator=gen, dtype=new.dtype, device=new.device)
    for _ in range(2):  # normalising amplified what was left of q in small columns: project it out again
        new = new - q @ (q.T @ new)
        new = torch.linalg.qr(new).Q
    return new


def orthogonality_loss(q: torch.Tensor) -> float:
    """Return ``max |QᵀQ − I|``: how far the columns of ``q`` are from orthonormal."""
    return float((q.T @ q - torch.eye(q.shape[1], dtype=q.dtype, device=q.device)).abs().max())


def arpack_svd(op: JacobianOperator, k: int, which: str = "LM", vectors: bool = False, tol: float = 0.0) -> PartialSVD:
    """Return the top-k (``"LM"``) or bottom-k (``"SM"``) singular triplets by ``scipy.sparse.linalg.svds``.

    The paper's tool (ARPACK through a ``LinearOperator``); the reference for :func:`krylov_svd`.
    Products run in the operator's dtype and device; ARPACK itself runs in float64 on the CPU.
    """
    from scipy.sparse.linalg import LinearOperator, svds

    m, n = op.shape
    dtype, device = op.output.dtype, op.output.device
    count = {"products": 0}

    def wrap(f: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[np.ndarray], np.ndarray]:
        def apply(a: np.ndarray) -> np.ndarray:
            count["products"] += 1 if a.ndim == 1 else a.shape[1]
            t = torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)
            return f(t).double().cpu().numpy()

        return apply

    lin = LinearOperator(
        (m, n), matvec=wrap(op.matvec), rmatvec=wrap(op.rmatvec),
        matmat=wrap(op.matmat), rmatmat=wrap(op.rmatmat), dtype=np.float64,
    )
    found = svds(lin, k=k, which=which, tol=tol, solver="arpack", random_state=0, return_singular_vectors=vectors)
    u, s, vt = found if vectors else (None, found, None)
    order = np.argsort(s)[::-1].copy()
    values = torch.as_tensor(s[order].copy(), dtype=dtype, device=device)
    right = left = None
    if vectors:
        right = torch.as_tensor(vt[order].T.copy(), dtype=dtype, device=device)
        left = torch.as_tensor(u[:, order].copy(), dtype=dtype, device=device)
    return PartialSVD(values, right, left, torch.full_like(values, float("nan")), True, count["products"])


def spectrum_fractions(values: torch.Tensor, band: float = 0.01, zero_rtol: float | None = None) -> dict[str, float]:
    """Return the fractions of singular values ``> 1+band``, in ``[1−band, 1+band]``, in ``(0, 1−band)`` and ``= 0`` (P3 Fig. 2).

    "Zero" means ``σ ≤ zero_rtol · σ_max`` with ``zero_rtol`` by default ``len(values) · eps`` of the dtype
    (the rank threshold of ``torch.linalg.matrix_rank``).
    """
    v = values.detach().double()
    if zero_rtol is None:
        zero_rtol = len(v) * torch.finfo(values.dtype).eps
    zero = v <= zero_rtol * v.max()
    above, plateau = v > 1 + band, (v >= 1 - band) & (v <= 1 + band)
    below = ~zero & (v < 1 - band)
    n = len(v)
    return {
        "above": float(above.sum()) / n,
        "plateau": float(plateau.sum()) / n,
        "below": float(below.sum()) / n,
        "zero": float(zero.sum()) / n,
    }


class SmoothActivation(TorchFunctionMode):
    """Within this mode every ReLU (module, functional or tensor method) is replaced by a smooth ``act``.

    For the Jacobian test of P3 Appendix A: with ReLU the map is only piecewise linear, so the
    second-order decay of the linearisation error is checked on the smooth twin of the same unit.
    """

    _RELUS = {F.relu, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_}

    def __init__(self, act: Callable[[torch.Tensor], torch.Tensor] = F.softplus) -> None:
        super().__init__()
        self.act = act

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 - torch protocol
        kwargs = kwargs or {}
        if func in self._RELUS:
            return self.act(args[0])
        return func(*args, **kwargs)


def jacobian_test(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    eps: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5),
    seed: int = 0,
) -> dict[str, list[float]]:
    """Return the residuals of the Jacobian test of P3 Appendix A for decreasing step sizes ε.

    ``zeroth[i] = ‖f(x+εδ) − f(x)‖`` (first order in ε) and ``first[i] = ‖f(x+εδ) − f(x) − εJδ‖``
    (second order for a smooth ``f``), with ``δ`` a unit-norm Gaussian direction. Run it in float64.
    Wrap the call in :class:`SmoothActivation` to test the smooth twin of a ReLU unit.
    """
    gen = torch.Generator(device=x.device).manual_seed(seed)
    direction = torch.randn(x.shape, generator=gen, dtype=x.dtype, device=x.device)
    direction = direction / torch.linalg.vector_norm(direction)
    with eval_mode(fn), torch.no_grad():
        op = jacobian_operator(fn, x)
        jd = op.matvec(direction.reshape(-1)).reshape(op.output.shape)
        zeroth, first = [], []
        for e in eps:
            diff = fn(x + e * direction) - op.output
            zeroth.append(float(torch.linalg.vector_norm(diff)))
            first.append(float(torch.linalg.vector_norm(diff - e * jd)))
    return {"eps": list(eps), "zeroth": zeroth, "first": first}


def decay_order(eps: list[float], residuals: list[float]) -> float:
    """Return the fitted slope of ``log residual`` against ``log ε`` (1: first order, 2: second order)."""
    e, r = np.log10(np.asarray(eps)), np.log10(np.maximum(np.asarray(residuals), 1e-300))
    return float(np.polyfit(e, r, 1)[0])
