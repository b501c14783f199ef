"""``stats.seed_pair_test``: the stratified exact count of seed pairs, against scipy's exact Mann–Whitney test (one
stratum) and against the 3-vs-3 null distribution convolved by hand (two strata)."""
import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from resnet_lab.stats import seed_pair_sign, seed_pair_test

# Mann–Whitney U of 3 against 3 values, U = 0..9: how many of the 20 splits give each (the classical table)
U33 = np.array([1, 1, 2, 3, 3, 3, 3, 2, 1, 1]) / 20


@pytest.mark.parametrize("seed", range(6))
def test_one_stratum_is_scipys_exact_mann_whitney(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=3 + seed % 2), rng.normal(0.8, size=3)
    wins, pairs, p = seed_pair_test([(a, b)])
    assert pairs == len(a) * len(b) and wins == np.sum(a[:, None] > b[None, :])
    assert p == pytest.approx(mannwhitneyu(a, b, method="exact", alternative="two-sided").pvalue, rel=1e-12)


def test_three_against_three_can_never_reach_five_percent_alone():
    wins, pairs, p = seed_pair_test([([4, 5, 6], [1, 2, 3])])
    assert (wins, pairs, p) == (9, 9, pytest.approx(0.1))
    assert seed_pair_sign([([4, 5, 6], [1, 2, 3])]) == 0


@pytest.mark.parametrize("wins", [18, 17, 16, 15, 9])
def test_two_strata_match_the_hand_convolution(wins):
    """Two strata of 3 vs 3: P(U₁ + U₂ = s) is the convolution of the table with itself; two-sided about 9."""
    null = np.convolve(U33, U33)                        # s = 0..18
    s = np.arange(19)
    expected = null[np.abs(s - 9) >= abs(wins - 9)].sum()
    # stratum 1 wins all 9 pairs; stratum 2 wins wins − 9 of them (a's values slotted among b's)
    second = {9: [7, 8, 9], 8: [5, 8, 9], 7: [5, 6, 9], 6: [3, 6, 9], 0: [0.1, 0.2, 0.3]}[wins - 9]
    observed, pairs, p = seed_pair_test([([4, 5, 6], [1, 2, 3]), (second, [2.5, 4.5, 6.5])])
    assert (observed, pairs) == (wins, 18) and p == pytest.approx(expected, rel=1e-12)
    assert {18: 0.005, 17: 0.015, 16: 0.04, 15: 0.09, 9: 1.0}[wins] == pytest.approx(p)
    assert seed_pair_sign([([4, 5, 6], [1, 2, 3]), (second, [2.5, 4.5, 6.5])]) == (1 if p <= 0.05 else 0)


def test_sign_of_a_reversal_and_ties():
    assert seed_pair_sign([([1, 2, 3], [4, 5, 6]), ([1e-30, 1e-20, 1e-10], [1e-5, 1e-4, 1e-3])]) == -1
    wins, pairs, p = seed_pair_test([([1, 2, 3], [1, 2, 3]), ([1, 2, 3], [1, 2, 3])])
    assert (wins, pairs, p) == (9, 18, pytest.approx(1.0)) and seed_pair_sign([([1, 2, 3], [1, 2, 3])]) == 0


def _brute_force(strata):
    """Every relabelling of each stratum's pooled values into its two arms, enumerated: the two-sided exact p."""
    from itertools import combinations, product

    def count(a, b):
        return sum((x > y) + 0.5 * (x == y) for x in a for y in b)

    splits = []
    for a, b in strata:
        pooled = list(a) + list(b)
        splits.append([count([pooled[i] for i in s], [pooled[i] for i in range(len(pooled)) if i not in s])
                       for s in combinations(range(len(pooled)), len(a))])
    pairs = sum(len(a) * len(b) for a, b in strata)
    observed = sum(count(a, b) for a, b in strata)
    totals = [sum(c) for c in product(*splits)]
    return observed, sum(abs(t - pairs / 2) >= abs(observed - pairs / 2) - 1e-9 for t in totals) / len(totals)


@pytest.mark.parametrize("seed", range(3))
def test_two_strata_of_five_against_five_match_brute_force(seed):
    """P4's `small` design (5 seeds per network, 2 strata): the convolution against a full enumeration, ties too."""
    rng = np.random.default_rng(seed)
    strata = [(rng.normal(0.7, size=5), rng.normal(size=5)), (np.round(rng.normal(0.7, size=5), 1),
                                                              np.round(rng.normal(size=5), 1))]
    wins, pairs, p = seed_pair_test(strata)
    observed, expected = _brute_force(strata)
    assert (wins, pairs) == (observed, 50) and p == pytest.approx(expected, rel=1e-9)
