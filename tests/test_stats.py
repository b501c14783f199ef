"""Noise bands: standard errors against closed forms, comparisons that refuse differences inside the band."""
import math

import numpy as np
import pytest

from resnet_lab.ledger import tally_every, tally_family, tally_tests
from resnet_lab.stats import (Estimate, binomial, bootstrap, bootstrap_joint, difference, exact, greater, holm_keep,
                              holm_signs, over_seeds, p_value, paired_bootstrap, sign)
from resnet_lab.two_level import joined, two_level_bootstrap, two_level_difference


def test_binomial_and_seed_errors_match_closed_forms():
    assert binomial(0.9, 10_000).se == pytest.approx(math.sqrt(0.09 / 10_000))
    e = over_seeds([1.0, 2.0, 3.0])
    assert e.value == 2.0 and e.se == pytest.approx(1 / math.sqrt(3)) and e.method == "seeds"
    one = over_seeds([0.5])
    assert math.isnan(one.se) and one.method == "single" and "± ?" in str(one)
    with pytest.raises(ValueError):
        binomial(0.5, 0)


def test_bootstrap_se_of_a_mean_is_close_to_sigma_over_root_n():
    x = np.random.default_rng(1).normal(size=400)
    e = bootstrap(x, n_boot=2000)
    assert e.se == pytest.approx(x.std(ddof=1) / 20, rel=0.1)


def test_paired_bootstrap_removes_the_shared_item_noise():
    rng = np.random.default_rng(2)
    item = rng.normal(scale=10, size=300)           # large per-item effect shared by both conditions
    a, b = item + 0.5 + rng.normal(scale=0.1, size=300), item + rng.normal(scale=0.1, size=300)
    d = paired_bootstrap(a, b)
    assert d.value == pytest.approx(0.5, abs=0.05) and d.se < 0.02
    assert sign(d) == 1
    unpaired = difference(bootstrap(a), bootstrap(b, seed=1))
    assert sign(unpaired) == 0                       # the same difference is invisible without pairing


def test_sign_and_greater_respect_the_band_and_unknown_errors():
    assert sign(Estimate(0.3, 0.1, 5, "seeds")) == 1
    assert sign(Estimate(-0.3, 0.1, 5, "seeds")) == -1
    assert sign(Estimate(0.15, 0.1, 5, "seeds")) == 0
    assert sign(Estimate(0.3, math.nan, 1, "single")) is None
    assert greater(binomial(0.92, 10_000), binomial(0.90, 10_000)) is True
    assert greater(binomial(0.905, 1_000), binomial(0.90, 1_000)) is False
    assert greater(over_seeds([0.9]), 0.5) is None
    assert greater(exact(2.0), 1.0) is True



def test_bootstrap_joint_pairs_components_on_the_same_resamples():
    """Against an independent resampling: the same index draws (seed 0) give every component its value and error."""
    x = np.random.default_rng(3).normal(size=(30, 2))
    v = np.stack([x[:, 0], x[:, 0] + 0.3 * x[:, 1]], 1)          # two correlated measurements of the same items
    stat = lambda s: (s[:, 0].mean(), s[:, 1].mean(), s[:, 0].mean() - s[:, 1].mean())
    rng = np.random.default_rng(0)
    draws = np.array([stat(v[rng.integers(0, 30, 30)]) for _ in range(1000)])
    joint = bootstrap_joint(v, stat)
    assert [e.value for e in joint] == pytest.approx(stat(v))
    assert [e.se for e in joint] == pytest.approx(draws.std(axis=0, ddof=1).tolist(), rel=1e-12)
    assert joint[2].se < math.hypot(joint[0].se, joint[1].se)   # correlated: pairing narrows the band
    assert bootstrap(v, lambda s: s[:, 0].mean()).se == pytest.approx(joint[0].se, rel=1e-12)


# --- mean ± s.e. over items, two-level noise, accuracy bands, comparisons -------------------------------
from resnet_lab.stats import (accuracy_estimate, compare, mean_se, over_seeds_log10,  # noqa: E402
                              permutation_test)


def test_mean_se_is_the_sample_mean_with_s_over_root_n():
    d = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0]   # 5 ones in 8: s² = (5·(3/8)² + 3·(5/8)²)/7 = 15/56
    e = mean_se(d, "paired")
    assert e.value == 5 / 8 and e.se == pytest.approx(math.sqrt(15 / 56 / 8), rel=1e-12)
    assert (e.n, e.method) == (8, "paired")
    one = mean_se([0.3], "images")
    assert one.value == 0.3 and math.isnan(one.se) and one.method == "images"
    assert mean_se([0.3]).method == "single"                   # one seed: the error is unknown
    none = mean_se([], "images")
    assert math.isnan(none.value) and none.n == 0


def test_mean_se_skips_missing_items_only_when_asked():
    e = mean_se([1.0, None, 3.0, float("nan"), float("inf")], "images", skip_missing=True)
    assert (e.value, e.n) == (2.0, 2) and e.se == pytest.approx(1.0)   # s = √2, s/√2 = 1
    assert math.isnan(mean_se([1.0, float("nan")]).value)                # kept: NaN propagates
    assert over_seeds([1.0, 2.0, 3.0]) == mean_se([1.0, 2.0, 3.0], "seeds")
    with pytest.raises(ValueError):
        over_seeds([])


def test_t_quantiles_welch_df_and_the_band_in_the_values_units():
    e = over_seeds([1.0, 2.0, 3.0])
    assert e.df == 2 and e.k == pytest.approx(4.302653, rel=1e-6) and e.band() == pytest.approx(4.302653 / math.sqrt(3))
    assert binomial(0.9, 100).k == pytest.approx(1.959964, rel=1e-6)
    d = difference(over_seeds([1.0, 2.0, 3.0]), over_seeds([1.0, 1.0, 1.0, 1.0]))
    assert d.df == pytest.approx(2.0)                   # one side exact: Welch's df is the other side's
    d = difference(over_seeds([1.0, 2.0, 3.0]), over_seeds([2.0, 3.0, 4.0]))
    assert d.df == pytest.approx(4.0)                   # equal variances and sizes: n_a + n_b − 2
    text = binomial(0.9743, 10_000).format(".2%")
    assert text.startswith("97.43% ± 0.31%") and "95% normal" in text and "binomial" in text
    assert "t2" in over_seeds([1.0, 2.0, 3.0]).format()
    assert Estimate.from_dict(over_seeds([1.0, 2.0, 3.0]).to_dict()) == over_seeds([1.0, 2.0, 3.0])


def test_log10_estimate_is_the_geometric_mean():
    e = over_seeds_log10([1e-5, 1e-15, 1e-30])
    assert e.value == pytest.approx(-50 / 3) and e.df == 2 and "log10" in e.method
    with pytest.raises(ValueError):
        over_seeds_log10([1.0, 0.0])


def test_permutation_test_is_exact():
    assert permutation_test([1, 2, 3], [4, 5, 6]) == pytest.approx(0.1)   # 2 of 20 splits as extreme
    assert permutation_test([1, 2], [1, 2]) == pytest.approx(1.0)


def test_accuracy_estimate_over_seeds_else_binomial():
    assert accuracy_estimate([0.9, 0.92, 0.94], 10_000) == over_seeds([0.9, 0.92, 0.94])
    one = accuracy_estimate([0.9], 10_000)
    assert one.method == "binomial" and one.se == pytest.approx(math.sqrt(0.09 / 10_000))


def test_sign_with_a_minimum_effect_and_missing_estimates():
    d = Estimate(0.4, 0.01, 100, "bootstrap")         # far outside 2 s.e., but below a 1.0 effect that matters
    assert sign(d) == 1 and sign(d, min_effect=1.0) == 0 and sign(Estimate(-1.5, 0.01, 9, "x"), min_effect=1.0) == -1
    assert sign(Estimate(1.5, 1.0, 9, "x"), min_effect=1.0) == 0   # beyond the effect, inside the band
    assert sign(None) is None and sign(Estimate(5.0, math.nan, 1, "single"), min_effect=1.0) is None


def test_compare_returns_the_sign_and_the_difference():
    s, d = compare(binomial(0.92, 10_000), binomial(0.90, 10_000))
    assert s == 1 and d.value == pytest.approx(0.02) and d.se == pytest.approx(math.hypot(
        math.sqrt(0.92 * 0.08 / 10_000), math.sqrt(0.09 / 10_000)))
    assert compare(None, exact(1.0)) == (None, None) and compare(exact(1.0), None) == (None, None)
    assert compare(exact(1.0), exact(1.0))[0] == 0


def test_estimate_round_trips_through_its_stored_dict():
    e = Estimate(0.5, math.nan, 1, "single")
    back = Estimate.from_dict({**e.to_dict(), "se": "nan"})   # a saved result writes NaN as text
    assert (back.value, back.n, back.method) == (0.5, 1, "single") and math.isnan(back.se)
    assert Estimate.from_dict(binomial(0.9, 100).to_dict()) == binomial(0.9, 100)


def at_p(p: float, value_sign: int = 1) -> Estimate:
    """Return a normal estimate whose two-sided p-value is ``p``."""
    from scipy import stats as st
    return Estimate(value_sign * float(st.norm.isf(p / 2)), 1.0, 100, "test")


def test_p_value_matches_the_normal_and_t_tails():
    assert p_value(Estimate(1.959964, 1.0, 100, "x")) == pytest.approx(0.05, abs=1e-6)
    assert p_value(Estimate(12.706205, 1.0, 2, "x", 1)) == pytest.approx(0.05, abs=1e-6)
    assert p_value(exact(0.0)) == 1.0 and p_value(exact(0.3)) == 0.0 and math.isnan(p_value(over_seeds([1.0])))


def test_holm_steps_down_until_the_first_p_over_its_threshold():
    """k = 3: thresholds 0.05/3, 0.05/2, 0.05 in order of p."""
    assert holm_signs([at_p(0.001), at_p(0.02, -1), at_p(0.04)]) == [1, -1, 1]
    assert holm_signs([at_p(0.01), at_p(0.04), at_p(0.03)]) == [1, 0, 0]
    assert holm_signs([at_p(0.03), at_p(0.04)]) == [0, 0]          # each beyond its own band, neither after Holm
    assert holm_signs([at_p(0.001), None, over_seeds([1.0])]) == [1, None, None]   # undecidable: out of the family


def test_a_family_verdict_needs_holm_for_partly_and_every_band_for_holds():
    assert tally_family([at_p(0.001), at_p(0.01), at_p(0.02)]) == "holds"
    assert tally_family([at_p(0.001), at_p(0.5), at_p(0.9)]) == "partly"
    assert tally_family([at_p(0.02), at_p(0.5), at_p(0.9)]) == "inconclusive"     # one call of three, not after Holm
    assert tally_family([at_p(0.001), at_p(0.01, -1), at_p(0.9)]) == "inconclusive"  # beyond both ways
    assert tally_family([at_p(0.001, -1), at_p(0.5), at_p(0.9)]) == "fails"


def test_a_family_of_parts_lets_a_part_for_stand_beside_a_part_against():
    """P1.5: each shallow net the paper names is its own part; ResNet-34 better than both deep nets, ResNet-18
    worse than both, is partly (the parts the paper names hold for one net), never inconclusive."""
    mixed = [at_p(0.001), at_p(0.001), at_p(0.001, -1), at_p(0.001, -1)]
    assert tally_family(mixed) == "inconclusive" and tally_family(mixed, parts=True) == "partly"
    assert tally_family([at_p(0.03), at_p(0.001, -1), at_p(0.9)], parts=True) == "inconclusive"  # for: before Holm only
    assert tally_family([at_p(0.5), at_p(0.001, -1)], parts=True) == "fails"


def test_a_family_counts_only_differences_over_the_smallest_that_matters():
    """``min_effect`` as in ``sign``: a difference beyond its band but under the bar counts neither way; ``None``
    (a pair not compared) keeps holds away and stays out of Holm's family."""
    small = Estimate(0.5, 0.01, 100, "x", math.inf)
    assert tally_family([small, at_p(0.001)]) == "holds"
    assert tally_family([small, at_p(0.001)], min_effect=1.0) == "partly"     # the small one counts neither way
    assert tally_family([Estimate(-0.5, 0.01, 100, "x", math.inf)], min_effect=1.0) == "inconclusive"
    assert tally_family([Estimate(2.0, 0.01, 100, "x", math.inf), None]) == "partly"


def test_tests_given_as_direction_and_p_follow_the_family_rule():
    """P3.3: three rank-correlation tests; each as (direction, p) reads as ``tally_family`` reads estimates."""
    assert tally_tests([(1, 0.001), (1, 0.01), (1, 0.04)]) == "holds"
    assert tally_tests([(1, 0.01), (1, 0.5), (-1, 0.9)]) == "partly"
    assert tally_tests([(1, 0.04), (1, 0.5), (-1, 0.9)]) == "inconclusive"          # alone, not after Holm
    assert tally_tests([(1, 0.001), (-1, 0.04), None]) == "inconclusive"            # beyond both ways
    assert tally_tests([(-1, 0.01), (1, 0.5), None]) == "fails"
    assert tally_tests([(1, 0.02), (1, 0.5)], level=0.9) == "partly"                # Holm at 0.1 / 2
    for fam in ([(1, 0.01), (1, 0.5), (-1, 0.04)], [(1, 0.03), (-1, 0.02)]):        # same rule as tally_family
        assert tally_tests(fam) == tally_family([at_p(p, d) for d, p in fam])


def test_a_p_value_at_the_level_itself_is_not_beyond_it_in_holm_or_the_tests_count():
    """1 − 0.95 is 0.05000000000000004 in floating point: Holm's step-down and ``tally_tests`` both read p = 0.05 as
    not beyond (as ``sign`` reads a difference equal to its band)."""
    assert holm_keep([0.05]) == [False] and holm_keep([0.0499]) == [True]
    assert holm_keep([0.025, 0.03]) == [False, False] and holm_keep([0.0249, 0.03]) == [True, True]
    assert tally_tests([(1, 0.05)]) == "inconclusive" and tally_tests([(1, 0.0499)]) == "holds"


def test_an_every_claim_needs_every_band_to_hold_and_holm_to_fail():
    """P5's rows made at every depth: one reversal refutes, but only one that survives Holm over the k."""
    assert tally_every([at_p(0.001), at_p(0.04)]) == "holds"                   # each its own band: no adjustment
    assert tally_every([at_p(0.001), at_p(0.5)]) == "inconclusive"
    assert tally_every([at_p(0.04, -1), at_p(0.5)]) == "inconclusive"          # reversed, but not after Holm
    assert tally_every([at_p(0.04, -1)]) == "fails"                             # one comparison: Holm is the band
    assert tally_every([at_p(0.001), at_p(0.001, -1)]) == "fails"              # one reversal refutes "every"
    assert tally_every([at_p(0.001), None]) == "inconclusive" and tally_every([]) == "inconclusive"
    assert tally_every([exact(math.inf)]) == "holds"                            # P5.3: a diverged Plain net


def test_undefined_values_are_undecided_not_called():
    assert sign(Estimate(math.nan, 0.0, 2, "x")) is None
    bits = [np.ones(4), np.array([1.0, math.nan, 0.0, 1.0])]
    assert sign(two_level_difference(bits, [np.zeros(4), np.zeros(4)])) is None
    assert sign(two_level_bootstrap(bits, shared_inner=True)) is None
    with pytest.raises(ValueError):
        joined([(math.nan, 1)])
    with pytest.raises(ValueError):
        joined([(1.0, 0)])
    with pytest.raises(ValueError, match="same images"):
        two_level_difference([np.ones(3), np.ones(4)], [np.zeros(3), np.zeros(3)])
    assert joined([(1.0, 1e10)]) == (1.0, math.inf)


def test_a_joined_band_reads_each_part_at_its_own_quantile_at_every_level():
    """A joined estimate keeps its parts: at 95% its band is k·se (``df`` is fitted there), at a Holm level it joins
    each part's own quantile, and its p-value is one minus the level whose band ends at the value (a t at the 95%
    df would call a seed-limited difference at a Holm level that the parts do not)."""
    from scipy import stats as sps

    from resnet_lab.stats import p_value, quantile
    parts = ((0.00285 ** 2, 2.32), (0.00208 ** 2, 9999.0))   # two seeds' part on few df, the images' on many
    se, df = joined(parts)
    joint, fitted = Estimate(0.0276, se, 3, "two-level", df, parts), Estimate(0.0276, se, 3, "two-level", df)
    assert joint.band() == pytest.approx(fitted.band(), rel=1e-9)
    holm = 1 - 0.05 / 8
    direct = math.sqrt(sum(quantile(d, holm) ** 2 * v for v, d in parts))
    assert joint.band(holm) == pytest.approx(direct, rel=1e-12) and joint.band(holm) > fitted.band(holm)
    p = p_value(joint)
    assert joint.band(1 - p) == pytest.approx(0.0276, rel=1e-9)
    assert p > 0.05 / 8 > p_value(fitted) == pytest.approx(2 * sps.t.sf(0.0276 / se, df))
    at_95 = Estimate(joint.band(), se, 3, "two-level", df, parts)
    assert p_value(at_95) == pytest.approx(0.05, abs=1e-9)   # the same call as the 95% band's
    assert Estimate.from_dict(joint.to_dict()) == joint and "parts" not in fitted.to_dict()
    with pytest.raises(ValueError, match="parts must add up"):
        Estimate(2.76, 100 * se, 3, "two-level, in percent", df, parts)   # scaled without its parts


def test_two_level_estimates_keep_their_parts():
    rng = np.random.default_rng(0)
    a = [rng.normal(0.5 + 0.01 * s, 0.1, 200) for s in range(3)]
    b = [rng.normal(0.4 + 0.01 * s, 0.1, 200) for s in range(3)]
    for est in (two_level_difference(a, b), two_level_bootstrap(a, shared_inner=True, n_boot=200)):
        assert len(est.parts) == 2 and math.isclose(sum(v for v, _ in est.parts), est.se ** 2, rel_tol=1e-9)
