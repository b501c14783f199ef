"""Noise bands: standard errors against closed forms, comparisons that refuse differences inside the band."""
import math

import numpy as np
import pytest

from resnet_lab.stats import (Estimate, binomial, bootstrap, bootstrap_joint, difference, exact, greater, over_seeds,
                              paired_bootstrap, sign)


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
from resnet_lab.stats import accuracy_estimate, compare, mean_se, over_seed_estimates  # noqa: E402


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


def test_over_seed_estimates_adds_the_seeds_spread_and_their_own_errors():
    seeds = [Estimate(v, 0.1, 500, "bootstrap") for v in (1.0, 2.0, 3.0)]
    e = over_seed_estimates(seeds)
    # seed spread s/√3 = 1/√3; own errors √(mean(0.1²)/3) = 0.1/√3
    assert e.value == 2.0 and e.se == pytest.approx(math.hypot(1 / math.sqrt(3), 0.1 / math.sqrt(3)), rel=1e-12)
    assert (e.n, e.method) == (3, "seeds+bootstrap")
    mixed = over_seed_estimates([Estimate(1.0, 0.3, 1, "bootstrap"), Estimate(1.0, 0.4, 1, "bootstrap")])
    assert mixed.se == pytest.approx(math.sqrt((0.09 + 0.16) / 2 / 2))   # identical values: only the own errors
    one = over_seed_estimates(seeds[:1])
    assert (one.value, one.se, one.n, one.method) == (1.0, 0.1, 1, "bootstrap (one seed)")
    with pytest.raises(ValueError):
        over_seed_estimates([])


def test_over_seed_estimates_band_keeps_its_promise_in_simulation():
    """Seeds drawn around 0 with spread 1, each measured with bootstrap noise 0.5: a 2-s.e. band of the
    mean over 20 seeds covers 0 about 95% of the time."""
    rng = np.random.default_rng(4)
    hits = 0
    for _ in range(2000):
        true = rng.normal(size=20)
        est = [Estimate(t + 0.5 * rng.normal(), 0.5, 100, "bootstrap") for t in true]
        e = over_seed_estimates(est)
        hits += abs(e.value) <= 2 * e.se
    assert 0.92 < hits / 2000 < 0.98


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
