"""Extreme singular values of a linear operator known only by its products with vectors (matrix-free).

σ_max comes from Lanczos on ``AᵀA`` (ARPACK through ``scipy.sparse.linalg.eigsh``); σ_min from shift-invert
Lanczos on ``AᵀA`` at 0 when a solve with ``A`` is supplied, else from LOBPCG (``scipy.sparse.linalg.lobpcg``),
preconditioned when an approximate inverse of ``AᵀA`` is supplied. Plain Krylov iterations from the bottom need
~1/√(relative gap) products, far too many for a trained unit's σ_min (``benchmarks/zero_padded_kappa.py``), so the
solve is what makes σ_min reachable. For a conv operator with zero padding the solve is exact and cheap: the
operator equals a circulant one (the same layers with circular padding, block-diagonal in the 2-D DFT) except on
the output rows of a border ring, ``A = C + U·K`` with ``U`` selecting the ring, and Woodbury gives
``A⁻¹ = C⁻¹ − C⁻¹U·S⁻¹·K·C⁻¹`` with ``S = UᵀA·C⁻¹U``, one dense LU of the ring's size (``border_solver``).

Every value is certified, never trusted: for unit vectors ``u, v`` and ``σ̂ = uᵀAv`` some singular value of ``A``
lies within ``‖[Av − σ̂u; Aᵀu − σ̂v]‖/√2`` of ``σ̂`` (the eigen-residual of ``[[0, A], [Aᵀ, 0]]`` at ``[u; v]/√2``),
and an end counts as converged when that residual is ≤ ``tol``·``σ̂``; otherwise its σ is NaN and ``converged`` is
False. Certified means close to *a* singular value: like every Krylov method this trusts the iteration to have
found the extreme one (shift-invert at 0 finds the one nearest 0). Whatever the convergence, ``‖Av‖`` of a unit
``v`` bounds σ_max from below and σ_min from above, so ``kappa_lower`` is a lower bound on κ: it can prove an
operator nearly singular without converging.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse.linalg as sla
import torch

Map = Callable[[torch.Tensor], torch.Tensor]  # (k, *in_shape) → (k, *out_shape), batched over k vectors


@dataclass(frozen=True)
class Operator:
    """A linear map on tensors of ``shape`` (square: same shape out), with its adjoint and optional solves."""

    shape: tuple[int, ...]
    apply: Map
    adjoint: Map
    solve: Map | None = None           # x ↦ A⁻¹x, for shift-invert at σ = 0
    solve_adjoint: Map | None = None   # x ↦ A⁻ᵀx
    precondition: Map | None = None    # x ↦ ≈(AᵀA)⁻¹x, for LOBPCG when there is no exact solve
    dtype: torch.dtype = torch.float64
    device: torch.device | str = "cpu"

    @property
    def dim(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Extremes:
    """σ_max and σ_min of an operator (NaN where not certified) with bounds that hold whatever the convergence."""

    sigma_max: float
    sigma_min: float
    sigma_max_lower: float     # ‖Av‖ of a unit v: ≤ σ_max
    sigma_min_upper: float     # ‖Av‖ of a unit v: ≥ σ_min
    residual_max: float        # each end's certificate over σ̂ (``_certify``): converged when ≤ tol
    residual_min: float
    converged: bool
    products: int              # vectors through AᵀA, (AᵀA)⁻¹ or the preconditioner, plus the polishing solves

    @property
    def kappa(self) -> float:
        """Return σ_max/σ_min, NaN unless both ends converged."""
        return self.sigma_max / self.sigma_min if self.converged else math.nan

    @property
    def kappa_lower(self) -> float:
        """Return a lower bound on κ that needs no convergence: σ_max-bound / σ_min-bound."""
        return self.sigma_max_lower / self.sigma_min_upper if self.sigma_min_upper > 0 else math.inf


def extremes(op: Operator, tol: float = 1e-6, max_products: int = 2_000, refine: int = 3, seed: int = 0) -> Extremes:
    """Return the certified σ_max and σ_min of ``op`` (``Extremes``), relative residual tolerance ``tol``.

    ARPACK stops at ``tol``/100 (relative, on the eigenvalues of ``AᵀA`` or of its inverse): the certificate, not
    ARPACK's estimate, decides. ``max_products`` caps each end's iteration (ARPACK's ``maxiter`` counts restarts,
    so it is scaled to it). With solves, the shift-invert vector is polished by ``refine`` alternating steps
    ``u ∝ A⁻ᵀv, v ∝ A⁻¹u``: a vector of ``(AᵀA)⁻¹`` alone carries errors of relative size ε·κ², too large to
    certify at κ ≳ 10⁵, while the pair from single solves reaches ε·κ.
    """
    count = [0]

    def torch_of(x: np.ndarray) -> torch.Tensor:
        block = np.asarray(x).reshape(op.dim, -1).T
        count[0] += block.shape[0]
        return torch.as_tensor(np.ascontiguousarray(block)).to(op.device, op.dtype).reshape(-1, *op.shape)

    def numpy_op(fn: Map) -> sla.LinearOperator:
        def numpy_fn(x: np.ndarray) -> np.ndarray:
            t = torch_of(x)
            return fn(t).reshape(t.shape[0], -1).T.cpu().double().numpy().reshape(np.shape(x))
        return sla.LinearOperator((op.dim, op.dim), matvec=numpy_fn, matmat=numpy_fn, dtype=np.float64)

    gram = numpy_op(lambda t: op.adjoint(op.apply(t)))
    rng = np.random.default_rng(seed)
    ncv = min(op.dim - 1, 24)

    def lanczos(**kw) -> np.ndarray | None:
        try:
            return sla.eigsh(gram, k=1, ncv=ncv, tol=tol / 100, maxiter=max(1, max_products // ncv),
                             v0=rng.standard_normal(op.dim), **kw)[1][:, 0]
        except sla.ArpackNoConvergence as err:
            return err.eigenvectors[:, 0] if err.eigenvectors.shape[1] else None

    top, bottom, left = lanczos(which="LA"), None, None
    if op.solve is not None and op.solve_adjoint is not None:
        bottom = lanczos(sigma=0.0, which="LM", OPinv=numpy_op(lambda t: op.solve(op.solve_adjoint(t))))
        if bottom is not None:
            v = torch_of(bottom)
            for _ in range(refine):
                left = _unit(op.solve_adjoint(v))
                v = _unit(op.solve(left))
            bottom, count[0] = v, count[0] + 2 * refine
    if bottom is None:  # no solve: LOBPCG from the bottom within the budget; its last iterate still bounds σ_min
        # a preconditioned step costs two ring solves, each several applications of A: 1/100 of the budget in steps
        budget = max_products if op.precondition is None else max(1, max_products // 100)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "not reaching the requested tolerance": the certificate below decides
            bottom = sla.lobpcg(gram, rng.standard_normal((op.dim, 1)), tol=tol / 100, maxiter=budget, largest=False,
                                M=None if op.precondition is None else numpy_op(op.precondition))[1][:, 0]
    (s_max, b_max, r_max), (s_min, b_min, r_min) = _certify(op, top), _certify(op, bottom, left)
    ok_max, ok_min = r_max <= tol, r_min <= tol
    return Extremes(s_max if ok_max else math.nan, s_min if ok_min else math.nan, b_max, b_min, r_max, r_min,
                    bool(ok_max and ok_min), count[0])


def _unit(t: torch.Tensor) -> torch.Tensor:
    return t / t.norm()


def _certify(op: Operator, v, u: torch.Tensor | None = None) -> tuple[float, float, float]:
    """Return ``(σ̂, ‖Av‖, residual / σ̂)`` of the pair ``(u, v)`` (``u = Av/‖Av‖`` when not given), ``v`` made unit.

    ``σ̂ = uᵀAv``; ``residual = ‖[Av − σ̂u; Aᵀu − σ̂v]‖/√2``, the eigen-residual of ``[[0, A], [Aᵀ, 0]]`` at
    ``[u; v]/√2``: some singular value of ``A`` lies within it of ``σ̂``. ``(NaN, NaN, inf)`` without a ``v``.
    """
    if v is None:
        return math.nan, math.nan, math.inf
    with torch.no_grad():
        v = _unit(torch.as_tensor(v).to(op.device, op.dtype).reshape(1, *op.shape))
        av = op.apply(v)
        bound = av.norm().item()
        if bound == 0:
            return 0.0, 0.0, math.inf
        u = _unit(av) if u is None else _unit(u.reshape(av.shape))
        sigma = (u * av).sum().item()
        residual = torch.cat([(av - sigma * u).flatten(), (op.adjoint(u) - sigma * v).flatten()]).norm().item()
    return sigma, bound, residual / math.sqrt(2) / abs(sigma) if sigma else math.inf


def circulant_symbol(apply: Map, channels: int, size: int, dtype=torch.float64, device="cpu") -> torch.Tensor:
    """Return the per-frequency matrices ``(n, n, c_out, c_in)`` of a circularly shift-equivariant map on ``(c, n, n)``.

    Read off its responses ``h_j`` to an impulse at pixel (0, 0) of each input channel: the map is ``x ↦ Σ_j h_j ⊛ x_j``
    (circular convolution), so at DFT frequency ``f`` it multiplies by ``[fft2(h_j)(f)]_{out, j}``.
    """
    with torch.no_grad():
        responses = apply(_impulses(channels, size, dtype, device))     # (c_in, c_out, n, n)
    return torch.fft.fft2(responses).permute(2, 3, 1, 0)


def circulant_apply(symbol: torch.Tensor, x: torch.Tensor, adjoint: bool = False) -> torch.Tensor:
    """Return ``C x`` (``Cᵀx`` if ``adjoint``) for the circulant map of ``symbol`` on a batch ``(k, c, n, n)``;
    the symbol of ``C⁻¹`` is ``torch.linalg.inv(symbol)``, that of ``Cᵀ`` its conjugate transpose per frequency."""
    freq = torch.fft.fft2(x).permute(2, 3, 1, 0)                        # (n, n, c, k)
    out = (symbol.mH if adjoint else symbol) @ freq
    return torch.fft.ifft2(out.permute(3, 2, 0, 1)).real


def border_solver(apply: Map, adjoint: Map, symbol: torch.Tensor, ring: torch.Tensor, shift: float = 0.0,
                  refine: int = 2, chunk: int = 256, max_error: float = 1e-10) -> tuple[Map, Map] | None:
    """Return ``(b ↦ (A + shift·I)⁻¹b, b ↦ (A + shift·I)⁻ᵀb)`` by Woodbury, or None when it cannot be trusted.

    ``A`` (``apply``, ``adjoint``, on ``(k, c, n, n)``) must equal the circulant map of ``symbol`` on every output
    outside the boolean mask ``ring`` (``(c, n, n)``; checked on a random vector). With ``C`` that map (plus the
    shift), ``A = C + U·K``, ``K = Uᵀ(A − C)``: ``A⁻¹b = C⁻¹(b − U·S⁻¹·Uᵀ(A·C⁻¹b − b))`` and ``A⁻ᵀb = C⁻ᵀ(b − Aᵀw) + w``
    with ``w = U·S⁻ᵀ·UᵀC⁻ᵀb``, where ``S = UᵀA·C⁻¹U`` (ring size squared, built ``chunk`` columns at a time from
    ``c`` circulant solves, since ``C⁻¹`` of an impulse is the rolled response to the impulse at the origin).
    Each solve takes ``refine`` steps of iterative refinement against ``A`` itself: Woodbury through ``C⁻¹`` is not
    backward stable. None when ``C`` is numerically singular at some frequency or the solve leaves a residual
    above ``max_error`` on a random vector.
    """
    c, n = symbol.shape[-1], symbol.shape[0]
    eye = torch.eye(c, dtype=symbol.dtype, device=symbol.device)
    symbol = symbol + shift * eye
    svals = torch.linalg.svdvals(symbol)
    if (svals.min() <= 1e-12 * svals.max()).item():
        return None
    inverse = torch.linalg.inv(symbol)
    shifted = (lambda x: apply(x) + shift * x), (lambda x: adjoint(x) + shift * x)
    x = torch.randn(1, c, n, n, dtype=torch.float64, device=symbol.device)
    with torch.no_grad():
        outside = (shifted[0](x) - circulant_apply(symbol, x))[:, ~ring]
        if outside.numel() and outside.abs().max() > 1e-10 * shifted[0](x).abs().max():
            raise ValueError("the operator differs from its circulant part outside the ring")
        index = ring.flatten().nonzero().flatten()
        channel, row, col = index // (n * n), index // n % n, index % n
        base = circulant_apply(inverse, _impulses(c, n, x.dtype, x.device))  # C⁻¹ of each channel's impulse at (0, 0)
        grid = torch.arange(n, device=x.device)
        cap = torch.empty(len(index), len(index), dtype=x.dtype, device=x.device)
        for start in range(0, len(index), chunk):
            j, r, q = (t[start:start + chunk, None] for t in (channel, row, col))
            rolled = base[j[:, :, None, None], torch.arange(c, device=x.device)[None, :, None, None],
                          ((grid[None, :] - r) % n)[:, None, :, None], ((grid[None, :] - q) % n)[:, None, None, :]]
            cap[:, start:start + len(j)] = shifted[0](rolled).flatten(1)[:, index].T
        lu = torch.linalg.lu_factor(cap) if len(index) else None

    def woodbury(b: torch.Tensor, transpose: bool) -> torch.Tensor:
        if lu is None:                                                  # no ring: A is the circulant map
            return circulant_apply(inverse, b, adjoint=transpose)
        if not transpose:
            z = circulant_apply(inverse, b)
            w = torch.linalg.lu_solve(*lu, (shifted[0](z) - b).flatten(1)[:, index].T).T
            return z - circulant_apply(inverse, _scatter(w, index, b))
        z = circulant_apply(inverse, b, adjoint=True)
        w = _scatter(torch.linalg.lu_solve(*lu, z.flatten(1)[:, index].T, adjoint=True).T, index, b)
        return circulant_apply(inverse, b - shifted[1](w), adjoint=True) + w

    def solver(transpose: bool) -> Map:
        forward = shifted[transpose]

        def solve(b: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                x = woodbury(b, transpose)
                for _ in range(refine):
                    x = x + woodbury(b - forward(x), transpose)
            return x
        return solve

    solves = solver(False), solver(True)
    with torch.no_grad():
        b = torch.randn(2, c, n, n, dtype=x.dtype, device=x.device)
        error = max(((shifted[t](solves[t](b)) - b).norm() / b.norm()).item() for t in (0, 1))
    return solves if error <= max_error else None


def _impulses(channels: int, size: int, dtype, device) -> torch.Tensor:
    """Return ``(c, c, n, n)``: image ``j`` is an impulse at pixel (0, 0) of channel ``j``."""
    impulses = torch.zeros(channels, channels, size, size, dtype=dtype, device=device)
    impulses[torch.arange(channels), torch.arange(channels), 0, 0] = 1.0
    return impulses


def _scatter(values: torch.Tensor, index: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Return ``U·values``: zeros shaped like ``like`` with ``values`` (k, r) at the flat coordinates ``index``."""
    return torch.zeros_like(like).flatten(1).index_copy(1, index, values).view_as(like)
