"""Condition numbers of a residual unit's true linear part, with the zero padding the network applies (P1 eqs. 1–2).

``conditioning`` takes a unit's linear part ``α_S·S + α_F·B`` (ReLUs as identity, BN in eval mode) with circular
padding, which the 2-D DFT block-diagonalises; the network pads with zeros, which breaks that structure at the
border. Here the zero-padded operator itself: as a dense float64 matrix for small units (``dense_unit_operators``),
and matrix-free for larger ones (``matrix_free_unit_operators``, solved by ``linalg.operator_sv``). The branch ``B``
alone is the plain twin's operator, whose κ is P1's κ_B.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import nn

from ..linalg.operator_sv import Operator, border_solver, circulant_symbol, extremes
from .conditioning import kappa


def linear_twin(unit: nn.Module) -> nn.Module:
    """Return a float64 eval-mode copy of ``unit`` whose ReLUs are identities (zero padding kept, as in the net)."""
    twin = copy.deepcopy(unit).to(torch.float64).eval()
    for parent in twin.modules():
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(parent, name, nn.Identity())
    return twin


def dense_unit_operators(unit: nn.Module, channels: int, size: int) -> dict[str, torch.Tensor]:
    """Return the dense float64 matrices of a unit's linear part with the zero padding the network uses.

    ``residual``: ``α_S·S + α_F·B``, ``branch``: ``B`` (the plain twin), each ``(c_out·m², c_in·n²)``,
    built by applying the maps of ``_linear_parts`` (the linear twin with its image of 0 subtracted) to the
    ``c_in·n²`` basis images. Small units only: the matrix is dense.
    """
    parts = _linear_parts(unit, channels, size)
    device = next(unit.parameters()).device
    basis = torch.eye(channels * size * size, dtype=torch.float64, device=device).reshape(-1, channels, size, size)
    with torch.no_grad():
        return {key: part(basis).flatten(1).T for key, part in parts.items()}


def _linear_parts(unit: nn.Module, channels: int, size: int, circular: bool = False) -> dict[str, Callable]:
    """Return ``{"residual", "branch"}``: batched maps ``x ↦ L(x) − L(0)`` of the linear twin (biases removed)."""
    twin = linear_twin(unit).requires_grad_(False)
    if circular:
        for module in twin.modules():
            if isinstance(module, nn.Conv2d):
                module.padding_mode = "circular"
    parts = {"branch": twin.branch,
             "residual": lambda x: twin.skip_scale * twin.shortcut(x) + twin.branch_scale * twin.branch(x)}
    zero = torch.zeros(1, channels, size, size, dtype=torch.float64, device=next(twin.parameters()).device)
    with torch.no_grad():
        at_zero = {k: f(zero) for k, f in parts.items()}
    return {k: (lambda x, f=f, z=at_zero[k]: f(x) - z) for k, f in parts.items()}


def matrix_free_unit_operators(unit: nn.Module, channels: int, size: int,
                               circular: bool = False) -> dict[str, Operator]:
    """Return the zero-padded ``residual`` and ``branch`` of ``dense_unit_operators`` as ``operator_sv.Operator``s
    (``circular``: those of the circular-padded operator ``unit_operators`` block-diagonalises, for tests).

    ``Aᵀ`` by reverse mode through the linear twin; an exact solve (``border_solver``) where the same layers with
    circular padding are invertible: they agree with the zero-padded ones outside a border ring as wide as the
    convs' radii together. Where they are not (a dead channel), a solve of ``A + μI`` preconditions LOBPCG instead.
    """
    operators, circulant = (_linear_parts(unit, channels, size, circular=c) for c in (circular, True))
    device = next(unit.parameters()).device
    radius = 0 if circular else sum(m.dilation[0] * (m.kernel_size[0] // 2) for m in unit.modules()
                                    if isinstance(m, nn.Conv2d))
    ring = torch.ones(channels, size, size, dtype=torch.bool, device=device)
    ring[:, radius:size - radius, radius:size - radius] = False
    ops = {}
    for key, fn in operators.items():
        def adjoint(y: torch.Tensor, fn=fn) -> torch.Tensor:
            with torch.enable_grad():
                x = torch.zeros_like(y, requires_grad=True)
                return torch.autograd.grad(fn(x), x, y)[0]
        symbol = circulant_symbol(circulant[key], channels, size, device=device)
        exact = border_solver(fn, adjoint, symbol, ring)
        if exact is not None:
            ops[key] = Operator((channels, size, size), fn, adjoint, *exact, device=device)
            continue
        # C (nearly) singular, a dead channel: the solve of A + μI, μ far below σ_max, preconditions LOBPCG (an
        # approximate inverse only speeds it up; the certificate judges what it finds)
        near = border_solver(fn, adjoint, symbol, ring, shift=1e-7 * torch.linalg.matrix_norm(symbol, 2).max().item(),
                             refine=0, max_error=1e-3)
        ops[key] = Operator((channels, size, size), fn, adjoint, device=device,
                            precondition=None if near is None else (lambda b, s=near: s[0](s[1](b))))
    return ops


ZERO_KEYS = ("zero_norm_R", "zero_smin_R", "zero_kappa_R", "zero_kappa_B", "zero_kappa_R_lower", "zero_kappa_B_lower")


def zero_padded_condition(unit: nn.Module, channels: int, size: int, max_dim: int = 2048,
                          matrix_free_max_dim: int = 0, tol: float = 1e-6) -> dict[str, float | bool]:
    """Return ``zero_norm_R, zero_smin_R, zero_kappa_R, zero_kappa_B`` of the true (zero-padded) operator.

    Input dimension ``channels·size²`` up to ``max_dim``: exact singular values of ``dense_unit_operators`` (a
    dense SVD: n³, seconds at 2,048 on one CPU thread, minutes at 8,192). Above it, up to
    ``matrix_free_max_dim``: ``operator_sv.extremes`` of ``matrix_free_unit_operators``, each σ certified to a
    relative residual ``tol`` and NaN where it is not. ``zero_kappa_R_lower`` and ``zero_kappa_B_lower`` are lower
    bounds on the κ that hold without convergence (equal to κ when dense); ``zero_matrix_free`` says which path
    ran. Larger units: NaN for all.
    """
    dim = channels * size * size
    if dim <= max_dim:
        ops = dense_unit_operators(unit, channels, size)
        norm, smin, k_res = kappa(ops["residual"])
        k_branch = kappa(ops["branch"])[2]
        return dict(zip(ZERO_KEYS, (norm, smin, k_res, k_branch, k_res, k_branch)), zero_matrix_free=False)
    if dim > matrix_free_max_dim:
        return {**dict.fromkeys(ZERO_KEYS, math.nan), "zero_matrix_free": False}
    ops = matrix_free_unit_operators(unit, channels, size)
    res, branch = extremes(ops["residual"], tol), extremes(ops["branch"], tol)
    return dict(zip(ZERO_KEYS, (res.sigma_max, res.sigma_min, res.kappa, branch.kappa, res.kappa_lower,
                                branch.kappa_lower)), zero_matrix_free=True)
