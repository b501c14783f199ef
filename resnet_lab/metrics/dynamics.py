"""P4's dynamical-systems constants of a dimension-preserving ResNet, read through its head ``g``.

Notation (P4 Sec. 2): ``φⁿ`` = the first ``n`` residual units (``φ⁰`` = identity on the stem output),
``g`` = softmax ∘ linear head, ``d`` = ℓ2 distance between probability vectors. Every routine takes the
*orbit probabilities* ``probs[n, i] = g(φⁿ(x_i))`` of shape ``(B, N, K)`` — ``B = T + 1`` blocks (the stem
output and the output of each unit), ``N`` images, ``K`` classes — so the constants can be checked on
hand-built orbits as well as on a trained network.

All-pairs distances are computed block-wise in row chunks with ``torch.cdist`` (never a loop over pairs)
in the direct-difference mode: the matmul shortcut ``‖a‖² + ‖b‖² − 2a·b`` loses every digit below
~1e-4 after the square root, and P4's g-expansive constants are ~1e-5.
"""
from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

MAX_ELEMENTS = 2 ** 24  # distances held at once per chunk (128 MiB in float64)
SOFTMAX_LIPSCHITZ = 0.5  # ‖diag(p) − ppᵀ‖₂ ≤ maxᵢ 2pᵢ(1 − pᵢ) ≤ ½ (Gershgorin), approached at p = (½, ½, 0, …)


@torch.no_grad()
def orbit_probabilities(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Return ``g(φⁿ(x))`` for every block: ``(N, C, H, W) → (T + 1, N, K)`` float64 softmax probabilities.

    The features come from ``model.trajectory`` (stem output, then each unit); the head runs in float64 so
    that probabilities a few 1e-7 apart stay distinct.
    """
    head = copy.deepcopy(model.head).double()
    return torch.stack([torch.softmax(head(s.double()), dim=-1) for s in model.trajectory(x)])


def block_distances(a: torch.Tensor, b: torch.Tensor,
                    max_elements: int = MAX_ELEMENTS) -> Iterator[tuple[slice, torch.Tensor]]:
    """Yield ``(rows, D)`` with ``D[n, i, j] = ‖a[n, rows][i] − b[n, j]‖₂``, chunked over the rows of ``a``.

    ``a: (B, Na, K)``, ``b: (B, Nb, K)`` → ``D: (B, len(rows), Nb)``; at most ``max_elements`` per chunk.
    """
    step = max(1, max_elements // (a.shape[0] * b.shape[1]))
    for start in range(0, a.shape[1], step):
        rows = slice(start, min(start + step, a.shape[1]))
        yield rows, torch.cdist(a[:, rows], b, compute_mode="donot_use_mm_for_euclid_dist")


def _keep_smaller(best: torch.Tensor, best_at: torch.Tensor, value: torch.Tensor, at: torch.Tensor):
    """Return the element-wise running minimum and the indices that attain it (first one on ties)."""
    smaller = value < best
    return torch.where(smaller, value, best), torch.where(smaller.unsqueeze(-1), at, best_at)


@dataclass
class ClassPairMinima:
    """Per class pair ``(a, b)``: the closest cross-class image pairs under three readings of P4's distances.

    Index tensors hold positions in the ``N`` images (row from class ``a``, column from class ``b``);
    entries are symmetric and the diagonal is ``inf``.
    """

    separation: torch.Tensor        # (K, K) min over pairs of maxₙ d(gφⁿx, gφⁿx') — Def. 1 per class pair
    separation_pair: torch.Tensor   # (K, K, 2) the pair attaining it
    separation_block: torch.Tensor  # (K, K) the block n where that pair is farthest apart
    mean: torch.Tensor              # (K, K) min over pairs of meanₙ d — Fig. 2 ("on average of all blocks")
    mean_pair: torch.Tensor         # (K, K, 2)
    per_block: torch.Tensor         # (K, K, B) min over pairs of d at block n — Fig. 3 / Table 3
    per_block_pair: torch.Tensor    # (K, K, B, 2)


def _closest_pairs(pa: torch.Tensor, pb: torch.Tensor, ia: torch.Tensor, ib: torch.Tensor,
                   max_elements: int) -> tuple[torch.Tensor, ...]:
    """Return one class pair's minima: (sep, sep_pair, sep_block, mean, mean_pair, per_block, per_block_pair)."""
    n_blocks, width = pa.shape[0], pb.shape[1]
    inf = torch.full((), float("inf"), dtype=pa.dtype, device=pa.device)
    none = torch.full((2,), -1, dtype=torch.long, device=pa.device)
    s_v, s_at, s_blk, m_v, m_at = inf, none, none[0], inf, none
    p_v, p_at = inf.expand(n_blocks), none.expand(n_blocks, 2)
    for rows, d in block_distances(pa, pb, max_elements):
        rows_ia = ia[rows]
        v, flat = d.amax(dim=0).flatten().min(dim=0)          # Def. 1's maxₙ per pair, then min over pairs
        s_blk = torch.where(v < s_v, d[:, flat // width, flat % width].argmax(), s_blk)
        s_v, s_at = _keep_smaller(s_v, s_at, v, torch.stack([rows_ia[flat // width], ib[flat % width]]))
        v, flat = d.mean(dim=0).flatten().min(dim=0)
        m_v, m_at = _keep_smaller(m_v, m_at, v, torch.stack([rows_ia[flat // width], ib[flat % width]]))
        v, flat = d.flatten(1).min(dim=1)                     # (B,): closest pair at each block
        p_v, p_at = _keep_smaller(p_v, p_at, v, torch.stack([rows_ia[flat // width], ib[flat % width]], dim=-1))
    return s_v, s_at, s_blk, m_v, m_at, p_v, p_at


def class_pair_minima(probs: torch.Tensor, labels: torch.Tensor,
                      max_elements: int = MAX_ELEMENTS) -> ClassPairMinima:
    """Return the closest cross-class pairs for every class pair (P4 Def. 1, Figs. 2–3, Table 3).

    ``probs: (B, N, K)`` orbit probabilities, ``labels: (N,)`` classes ``0..C−1``. Loops over class pairs and
    row chunks only; each chunk's ``(B, rows, N_b)`` distances are reduced on the device.
    """
    n_blocks, device, dtype = probs.shape[0], probs.device, probs.dtype
    labels = labels.to(device)
    c = int(labels.max()) + 1
    out = ClassPairMinima(
        torch.full((c, c), float("inf"), dtype=dtype, device=device),
        torch.full((c, c, 2), -1, dtype=torch.long, device=device),
        torch.full((c, c), -1, dtype=torch.long, device=device),
        torch.full((c, c), float("inf"), dtype=dtype, device=device),
        torch.full((c, c, 2), -1, dtype=torch.long, device=device),
        torch.full((c, c, n_blocks), float("inf"), dtype=dtype, device=device),
        torch.full((c, c, n_blocks, 2), -1, dtype=torch.long, device=device),
    )
    members = [torch.nonzero(labels == k).flatten() for k in range(c)]
    for a in range(c):
        for b in range(a + 1, c):
            ia, ib = members[a], members[b]
            s_v, s_at, s_blk, m_v, m_at, p_v, p_at = _closest_pairs(probs[:, ia], probs[:, ib], ia, ib, max_elements)
            for i, j, flip in ((a, b, False), (b, a, True)):
                out.separation[i, j], out.separation_block[i, j] = s_v, s_blk
                out.mean[i, j], out.per_block[i, j] = m_v, p_v
                out.separation_pair[i, j] = s_at.flip(-1) if flip else s_at
                out.mean_pair[i, j] = m_at.flip(-1) if flip else m_at
                out.per_block_pair[i, j] = p_at.flip(-1) if flip else p_at
    return out


def cross_class_nearest(probs: torch.Tensor, labels: torch.Tensor,
                        max_elements: int = MAX_ELEMENTS) -> tuple[torch.Tensor, torch.Tensor]:
    """Return, per image, the distance to its nearest image of another class under both readings: ``(N,)`` each.

    ``minmax[i] = min_{j: y_j ≠ y_i} maxₙ d(gφⁿx_i, gφⁿx_j)`` (Def. 1) and ``minmin[i] = min_j minₙ d(·)`` (the
    closest approach at any block). Their minima over ``i`` are the sample's two constants; per-image values
    let a bootstrap over images put a band on them.
    """
    return sample_neighbours(probs, labels, max_elements)[2:]


def sample_neighbours(probs: torch.Tensor, labels: torch.Tensor,
                      max_elements: int = MAX_ELEMENTS) -> tuple[torch.Tensor, ...]:
    """Return ``nearest_neighbours(probs)`` and ``cross_class_nearest(probs, labels)`` from one pass over the
    all-pairs distances: ``(nn_dist (B, N), nn_index (B, N), minmax (N,), minmin (N,))``."""
    labels = labels.to(probs.device)
    n_blocks, n = probs.shape[:2]
    dist = torch.empty((n_blocks, n), dtype=probs.dtype, device=probs.device)
    index = torch.empty((n_blocks, n), dtype=torch.long, device=probs.device)
    minmax = torch.empty(n, dtype=probs.dtype, device=probs.device)
    minmin = torch.empty_like(minmax)
    for rows, d in block_distances(probs, probs, max_elements):
        same = labels[rows, None] == labels[None, :]
        minmax[rows] = d.amax(dim=0).masked_fill(same, float("inf")).min(dim=1).values
        minmin[rows] = d.amin(dim=0).masked_fill(same, float("inf")).min(dim=1).values
        local = torch.arange(d.shape[1], device=probs.device)
        d[:, local, local + rows.start] = float("inf")  # an image is not its own neighbour
        dist[:, rows], index[:, rows] = d.min(dim=2)
    return dist, index, minmax, minmin


def g_expansive_constant(minima: ClassPairMinima) -> tuple[float, tuple[int, int], int]:
    """Return P4 Def. 1's g-expansive constant ``min_{y≠y'} maxₙ d(gφⁿx, gφⁿx')``, its pair and block."""
    flat = int(torch.argmin(minima.separation))
    a, b = divmod(flat, minima.separation.shape[1])
    i, j = minima.separation_pair[a, b].tolist()
    return float(minima.separation[a, b]), (i, j), int(minima.separation_block[a, b])


def nearest_neighbours(probs: torch.Tensor, max_elements: int = MAX_ELEMENTS) -> tuple[torch.Tensor, torch.Tensor]:
    """Return, at every block, each image's distance to and index of its nearest *other* image: ``(B, N)`` each."""
    dist = torch.empty(probs.shape[:2], dtype=probs.dtype, device=probs.device)
    index = torch.empty(probs.shape[:2], dtype=torch.long, device=probs.device)
    for rows, d in block_distances(probs, probs, max_elements):
        local = torch.arange(d.shape[1], device=probs.device)
        d[:, local, local + rows.start] = float("inf")  # an image is not its own neighbour
        dist[:, rows], index[:, rows] = d.min(dim=2)
    return dist, index


@dataclass
class PseudoOrbits:
    """One traced δ-pseudo-orbit per start image (P4 Sec. 2.3 and Sec. 3's "most similar image")."""

    images: torch.Tensor   # (N, B) k_n: the image whose features at block n are the orbit's n-th point
    jumps: torch.Tensor    # (N, B−1) d(g φ^{n+1}(k_n), g φ^{n+1}(k_{n+1}))
    delta: torch.Tensor    # (N,) maxₙ jumps: the orbit is a δ-pseudo-orbit for this δ
    epsilon: torch.Tensor  # (N,) min over shadows x of maxₙ d(gφⁿ(x), gφⁿ(k_n)): it is ε-shadowed
    shadow: torch.Tensor   # (N,) the image x attaining ε


def follow_neighbours(nn_dist: torch.Tensor, nn_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the pseudo-orbit of every start image ``(images (N, B), jumps (N, B−1))`` from the neighbour tables.

    ``k_0`` is the start and ``k_{n+1} = nn_index[n+1, k_n]``, the nearest other image to ``φ^{n+1}(k_n)`` at block
    ``n+1``; the jump is that distance. ``nn_dist, nn_index``: ``nearest_neighbours(probs)``, ``(B, N)`` each.
    """
    images, jumps = [torch.arange(nn_index.shape[1], device=nn_index.device)], []
    for block in range(1, nn_index.shape[0]):
        jumps.append(nn_dist[block, images[-1]])
        images.append(nn_index[block, images[-1]])
    return torch.stack(images, dim=1), torch.stack(jumps, dim=1)


def trace_pseudo_orbits(probs: torch.Tensor, max_elements: int = MAX_ELEMENTS,
                        neighbours: tuple[torch.Tensor, torch.Tensor] | None = None) -> PseudoOrbits:
    """Return the pseudo-orbits that start at each image and jump, after each unit, to the most similar other image.

    ``x_n = φⁿ(k_n)`` (``follow_neighbours``). Shadows are sought among the same ``N`` images, so ε is an upper
    bound on the best shadow in all of X, and never the orbit's own start image: its true orbit coincides with the
    pseudo-orbit at block 0 and wherever the chain returns to it, and elsewhere on a two-cycle ``k_0, k_1, k_0, …``
    it is one of the chain's own jumps away, so it shadows with ε ≤ δ and δ/ε ≥ 1 by construction (Sh_g = 1
    exactly when the largest jump lands on such a block) — not a *slightly perturbed image* that follows the orbit
    (Sec. 4). ``neighbours``: ``nearest_neighbours(probs)`` if already computed (``sample_neighbours`` gives it
    with the cross-class distances in one pass).
    """
    nn_dist, nn_index = neighbours if neighbours is not None else nearest_neighbours(probs, max_elements)
    n_blocks, n = probs.shape[:2]
    images, jumps = follow_neighbours(nn_dist, nn_index)
    orbit = probs[torch.arange(n_blocks, device=probs.device)[:, None], images.T]  # (B, N, K): g(x_n)
    epsilon = torch.empty(n, dtype=probs.dtype, device=probs.device)
    shadow = torch.empty(n, dtype=torch.long, device=probs.device)
    for rows, d in block_distances(orbit, probs, max_elements):
        worst = d.max(dim=0).values                     # (rows, N): maxₙ d(gφⁿ(x), g(x_n)) for every shadow x
        local = torch.arange(worst.shape[0], device=probs.device)
        worst[local, local + rows.start] = float("inf")  # orbit r starts at image r: not its own shadow
        epsilon[rows], shadow[rows] = worst.min(dim=1)
    return PseudoOrbits(images, jumps, jumps.max(dim=1).values, epsilon, shadow)


@dataclass
class ShadowingEstimate:
    """The sample's g-shadowing constant ``sup S(ε)/ε`` at its smallest certified ``ε`` (P4 Sec. 2.3)."""

    value: float             # Sh_g ≈ δ*(ε₀)/ε₀
    epsilon: float           # ε₀
    delta: float             # δ*(ε₀)
    orbit: int               # the start image of the orbit whose δ is δ*(ε₀)
    curve_epsilon: torch.Tensor  # (M,) ε at which each observed δ becomes certified, ascending
    curve_delta: torch.Tensor    # (M,) δ*(curve_epsilon): the largest observed δ certified at that ε


def g_shadowing_constant(orbits: PseudoOrbits) -> ShadowingEstimate:
    """Return the finite-sample g-shadowing constant from traced pseudo-orbits (P4 Sec. 2.3, Table 2).

    ``S(ε)`` holds the δ for which *every* δ-pseudo-orbit is ε-shadowed. On the traced orbits, sorted by δ,
    an observed δ lies in ``S(ε)`` once every orbit with δ_k ≤ δ has ε_k ≤ ε, i.e. from
    ``ε = max{ε_k : δ_k ≤ δ}``. The lim inf as ε → 0 is read at the smallest positive such ε (ε₀), with
    ``δ*(ε₀)`` the largest observed δ certified there — the paper's "maximum value of δ with the minimal value
    of ε". Below ε₀ the sample certifies nothing.
    """
    order = torch.argsort(orbits.delta, stable=True)
    delta, eps = orbits.delta[order], orbits.epsilon[order]
    last_tie = torch.searchsorted(delta, delta, right=True) - 1  # δ ties are certified together
    needed = torch.cummax(eps, dim=0).values[last_tie]
    eps0 = needed[needed > 0].min() if bool((needed > 0).any()) else needed.max()
    certified = torch.nonzero(needed <= eps0).flatten()[-1]
    value = float(delta[certified] / eps0) if eps0 > 0 else float("nan")
    reach = delta[torch.searchsorted(needed, needed, right=True) - 1]  # δ*(ε) at each ε where a δ becomes certified
    return ShadowingEstimate(value, float(eps0), float(delta[certified]), int(order[certified]), needed, reach)


def head_lipschitz(weight: torch.Tensor, softmax: bool = True) -> float:
    """Return Lip(g) in ℓ2 for ``g = softmax ∘ (W·+b)`` (``softmax=True``) or ``g = W·+b``.

    The linear part is exact: ``‖W‖₂``, the largest singular value (the paper bounds it with LipSDP).
    With the softmax the value is ``½‖W‖₂``, an upper bound: softmax is exactly ½-Lipschitz.
    """
    norm = float(torch.linalg.matrix_norm(weight.detach().double(), ord=2))
    return norm * SOFTMAX_LIPSCHITZ if softmax else norm


def topological_stability_lower_bound(shadowing: float, lipschitz: float) -> float:
    """Return Theorem 1's lower bound on the topological g-stable constant: ``T_g ≥ Sh_g / Lip(g)``."""
    return shadowing / lipschitz
