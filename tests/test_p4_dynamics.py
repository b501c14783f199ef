"""P4 constants on hand-built orbits with known values, and chunked torch vs dense float64 numpy twins."""
import itertools

import numpy as np
import pytest
import torch

from resnet_lab.metrics import dynamics as dyn


def scaled_orbits(points: np.ndarray, factor: float, blocks: int) -> torch.Tensor:
    """Return orbit 'probabilities' of φ(x) = factor·x with g = identity: ``(blocks, N, K)`` float64."""
    return torch.tensor(np.stack([points * factor ** n for n in range(blocks)]), dtype=torch.float64)


def dense_distances(probs: torch.Tensor) -> np.ndarray:
    """Return all (B, N, N) distances by broadcasting in float64: the slow twin."""
    p = probs.numpy()
    return np.sqrt(((p[:, :, None, :] - p[:, None, :, :]) ** 2).sum(-1))


def random_orbits(seed: int = 0, blocks: int = 4, n: int = 37, classes: int = 4):
    gen = torch.Generator().manual_seed(seed)
    probs = torch.softmax(3 * torch.randn(blocks, n, 10, generator=gen, dtype=torch.float64), dim=-1)
    labels = torch.randint(0, classes, (n,), generator=gen)
    labels[:classes] = torch.arange(classes)  # every class present
    return probs, labels


# --- hand-built cases with closed forms -------------------------------------------------------
@pytest.mark.parametrize("factor, expected", [(1.0, 1.0), (0.5, 1.0), (2.0, 2.0 ** 5)])
def test_expansive_two_classes_at_known_distance(factor, expected):
    """Two classes 3 apart (nearest pair): identity and contraction keep 3 at n=0; doubling gives 3·2^T."""
    points = np.array([[0.0, 0.0], [0.0, -1.0], [3.0, 0.0], [3.0, 4.0]])
    labels = torch.tensor([0, 0, 1, 1])
    minima = dyn.class_pair_minima(scaled_orbits(points, factor, 6), labels)
    value, pair, block = dyn.g_expansive_constant(minima)
    assert value == pytest.approx(3.0 * expected, rel=1e-12)
    assert sorted(pair) == [0, 2]
    assert block == (5 if factor > 1 else 0)
    assert minima.per_block[0, 1].numpy() == pytest.approx(3.0 * factor ** np.arange(6), rel=1e-12)


@pytest.mark.parametrize("factor, blocks, ratio", [(1.0, 5, 1.0), (0.5, 5, 0.5), (2.0, 5, 1.0), (2.0, 6, 2.0)])
def test_shadowing_two_points(factor, blocks, ratio):
    """Two points d = 5 apart under x ↦ factor·x: orbits alternate, δ and ε have closed forms.

    The shadow is the *other* point (an orbit's own start is excluded): it sits on the chain at odd blocks and
    d·factorⁿ away at even ones. With the start allowed, ε was the smaller of the two maxima and the contracting
    case gave Sh = 1 by construction."""
    points = np.array([[0.0, 0.0], [3.0, 4.0]])
    orbits = dyn.trace_pseudo_orbits(scaled_orbits(points, factor, blocks))
    scales = 5.0 * factor ** np.arange(blocks)
    delta = scales[1:].max()                         # jump at n: d·factor^{n+1}
    eps = scales[0::2].max()                         # the other point is off the chain at even blocks
    assert orbits.images[0].tolist() == [0, 1] * (blocks // 2) + [0] * (blocks % 2)
    assert orbits.delta.numpy() == pytest.approx([delta, delta], rel=1e-12)
    assert orbits.epsilon.numpy() == pytest.approx([eps, eps], rel=1e-12)
    assert orbits.shadow.tolist() == [1, 0]
    estimate = dyn.g_shadowing_constant(orbits)
    assert estimate.value == pytest.approx(ratio, rel=1e-12)
    assert (estimate.epsilon, estimate.delta) == pytest.approx((eps, delta), rel=1e-12)


def test_shadowing_identity_line():
    """Identity φ on points 0, 1, 3 of a line: orbits 0→1→0…, 1→0→1…, 3→1→0…; Sh = δ*(1)/1 = 1. The orbit from 3
    is shadowed by 1 (ε = 2), not by 3 itself (ε = 3)."""
    orbits = dyn.trace_pseudo_orbits(scaled_orbits(np.array([[0.0], [1.0], [3.0]]), 1.0, 4))
    assert orbits.images[2].tolist() == [2, 1, 0, 1]
    assert orbits.delta.tolist() == [1.0, 1.0, 2.0]
    assert orbits.epsilon.tolist() == [1.0, 1.0, 2.0]
    assert orbits.shadow.tolist() == [1, 0, 1]
    estimate = dyn.g_shadowing_constant(orbits)
    assert (estimate.value, estimate.epsilon, estimate.delta) == (1.0, 1.0, 1.0)
    assert estimate.curve_epsilon.tolist() == [1.0, 1.0, 2.0]


def test_shadowing_constant_waits_for_ties_and_skips_zero():
    """An observed δ is certified only when every orbit with that δ is shadowed; ε = 0 certifies nothing."""
    orbits = dyn.PseudoOrbits(images=None, jumps=None, shadow=None,
                              delta=torch.tensor([0.0, 0.2, 0.2, 0.5, 0.9], dtype=torch.float64),
                              epsilon=torch.tensor([0.0, 0.1, 0.4, 0.3, 0.5], dtype=torch.float64))
    estimate = dyn.g_shadowing_constant(orbits)
    assert estimate.curve_epsilon.tolist() == [0.0, 0.4, 0.4, 0.4, 0.5]
    assert estimate.curve_delta.tolist() == [0.0, 0.5, 0.5, 0.5, 0.9]
    assert (estimate.epsilon, estimate.delta) == (0.4, 0.5)
    assert estimate.value == pytest.approx(1.25)


# --- chunked torch vs dense float64 twins ------------------------------------------------------
@pytest.mark.parametrize("max_elements", [1, 50, 10 ** 9])
def test_class_pair_minima_match_dense(max_elements):
    probs, labels = random_orbits()
    d = dense_distances(probs)
    minima = dyn.class_pair_minima(probs, labels, max_elements=max_elements)
    y = labels.numpy()
    for a, b in itertools.permutations(range(4), 2):
        block = d[:, y == a][:, :, y == b]                     # (B, n_a, n_b)
        ia, ib = np.nonzero(y == a)[0], np.nonzero(y == b)[0]
        far = block.max(0)
        i, j = np.unravel_index(far.argmin(), far.shape)
        assert minima.separation[a, b] == pytest.approx(far.min(), rel=1e-12)
        assert minima.separation_pair[a, b].tolist() == [ia[i], ib[j]]
        assert minima.separation_block[a, b] == block[:, i, j].argmax()
        assert minima.mean[a, b] == pytest.approx(block.mean(0).min(), rel=1e-12)
        per_block = block.reshape(block.shape[0], -1)
        assert minima.per_block[a, b].numpy() == pytest.approx(per_block.min(1), rel=1e-12)
        for n, flat in enumerate(per_block.argmin(1)):
            i, j = np.unravel_index(flat, block.shape[1:])
            assert minima.per_block_pair[a, b, n].tolist() == [ia[i], ib[j]]
    assert torch.isinf(minima.separation.diagonal()).all()
    cross = y[:, None] != y[None, :]
    assert dyn.g_expansive_constant(minima)[0] == pytest.approx(d.max(0)[cross].min(), rel=1e-12)


def test_chunked_distances_equal_unchunked():
    probs, _ = random_orbits(seed=1)
    whole = torch.cdist(probs, probs, compute_mode="donot_use_mm_for_euclid_dist")
    chunks = torch.cat([d for _, d in dyn.block_distances(probs, probs, max_elements=70)], dim=1)
    assert torch.equal(chunks, whole)
    np.testing.assert_allclose(whole.numpy(), dense_distances(probs), rtol=1e-12, atol=1e-15)


def test_small_distances_keep_their_digits():
    """Probability vectors 1e-7 apart: direct differences keep the distance, the matmul shortcut would not."""
    p = torch.softmax(torch.randn(1, 30, 10, dtype=torch.float64), dim=-1)
    q = p.clone()
    q[0, 0, 0] += 1e-7
    q[0, 0, 1] -= 1e-7
    d = torch.cat([d for _, d in dyn.block_distances(q, p)], dim=1)
    assert d[0, 0, 0] == pytest.approx(np.sqrt(2) * 1e-7, rel=1e-6)


def test_pseudo_orbits_match_brute_force():
    probs, _ = random_orbits(seed=2, blocks=5, n=23)
    d = dense_distances(probs)
    orbits = dyn.trace_pseudo_orbits(probs, max_elements=40)
    n_blocks, n = d.shape[:2]
    for start in range(n):
        k = [start]
        for block in range(1, n_blocks):
            row = d[block, k[-1]].copy()
            row[k[-1]] = np.inf
            k.append(int(row.argmin()))
        jumps = [d[b + 1, k[b], k[b + 1]] for b in range(n_blocks - 1)]
        shadow_err = np.array([max(d[b, x, k[b]] for b in range(n_blocks)) for x in range(n)])
        shadow_err[start] = np.inf                   # the start image is not its own orbit's shadow
        assert orbits.images[start].tolist() == k
        assert orbits.jumps[start].numpy() == pytest.approx(jumps, rel=1e-12)
        assert float(orbits.delta[start]) == pytest.approx(max(jumps), rel=1e-12)
        assert float(orbits.epsilon[start]) == pytest.approx(shadow_err.min(), rel=1e-12)
        assert int(orbits.shadow[start]) == shadow_err.argmin()


def test_shadowing_constant_matches_definition_scan():
    """δ*(ε₀) and ε₀ from a direct scan of S(ε) = {observed δ : every orbit with δ_k ≤ δ has ε_k ≤ ε}."""
    probs, _ = random_orbits(seed=3, blocks=6, n=40)
    orbits = dyn.trace_pseudo_orbits(probs)
    delta, eps = orbits.delta.numpy(), orbits.epsilon.numpy()
    needed = {dl: eps[delta <= dl].max() for dl in delta}          # smallest ε certifying δ
    eps0 = min(v for v in needed.values() if v > 0)
    delta0 = max(dl for dl, v in needed.items() if v <= eps0)
    estimate = dyn.g_shadowing_constant(orbits)
    assert (estimate.epsilon, estimate.delta) == (eps0, delta0)
    assert estimate.value == pytest.approx(delta0 / eps0, rel=1e-12)


# --- Lipschitz constant of the head and Theorem 1 ----------------------------------------------
def test_lipschitz_of_linear_head_is_largest_singular_value():
    w = torch.randn(10, 64, generator=torch.Generator().manual_seed(4))
    sigma = np.linalg.svd(w.double().numpy(), compute_uv=False)[0]
    assert dyn.head_lipschitz(w, softmax=False) == pytest.approx(sigma, rel=1e-10)
    assert dyn.head_lipschitz(w, softmax=True) == pytest.approx(sigma / 2, rel=1e-10)


def test_softmax_lipschitz_bound_is_half_and_nearly_attained():
    """‖J_softmax‖₂ ≤ ½ on random logits, and → ½ at logits (t, t, −∞…)."""
    jac = torch.func.vmap(torch.func.jacrev(lambda z: torch.softmax(z, -1)))
    z = 5 * torch.randn(500, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    norms = torch.linalg.matrix_norm(jac(z), ord=2)
    assert float(norms.max()) <= dyn.SOFTMAX_LIPSCHITZ + 1e-12
    z = torch.tensor([[0.0, 0.0] + [-40.0] * 8], dtype=torch.float64)
    assert float(torch.linalg.matrix_norm(jac(z), ord=2)) == pytest.approx(0.5, rel=1e-12)


def test_theorem1_lower_bound_reproduces_paper_table2():
    """Table 2's last column is Sh_g / Lip(g): 2.3583 / 3.38 = 0.6977."""
    assert dyn.topological_stability_lower_bound(2.3583, 3.38) == pytest.approx(0.6977, abs=1e-4)


def test_cross_class_nearest_matches_dense_twin_and_the_constants():
    """Per image: nearest other-class image under max over blocks and min over blocks (dense float64 twin);
    their minima are the g-expansive constant and the closest approach at any block; one pass gives both."""
    probs, labels = random_orbits(seed=3, blocks=5, n=41, classes=4)
    dense = dense_distances(probs)
    other = labels.numpy()[:, None] != labels.numpy()[None, :]
    minmax, minmin = dyn.cross_class_nearest(probs, labels, max_elements=97)
    assert minmax.numpy() == pytest.approx(np.where(other, dense.max(0), np.inf).min(1), rel=1e-12)
    assert minmin.numpy() == pytest.approx(np.where(other, dense.min(0), np.inf).min(1), rel=1e-12)
    minima = dyn.class_pair_minima(probs, labels)
    assert float(minmax.min()) == pytest.approx(dyn.g_expansive_constant(minima)[0], rel=1e-12)
    assert float(minmin.min()) == pytest.approx(float(minima.per_block.min()), rel=1e-12)
    dist, index, *_ = dyn.sample_neighbours(probs, labels, max_elements=97)
    nn_dist, nn_index = dyn.nearest_neighbours(probs)
    assert torch.equal(index, nn_index) and torch.allclose(dist, nn_dist, rtol=1e-12)
