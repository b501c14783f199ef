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
