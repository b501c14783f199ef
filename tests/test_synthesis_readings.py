"""Synthesis maths against independent references: Lanczos quadrature, Hutchinson and the range bounds against a
dense float64 Jacobian; P1's κ_R against the dense float64 matrix of the circular-padded linear part; P5's ratio
against ‖Jᵀg‖/‖g‖ on a real network, and broken versions of it (another image's ratio, train-mode BN, the ratio
inverted) that S.1 must fail; Kendall's W against pairwise Spearman, its permutation null and p-values against exact
enumeration; the within-network permutation test against exact enumeration and, by simulation, its false-positive
rate under a true null where networks' levels differ (where the pooled ρ's band calls false relations); the cluster
bootstrap's band against simulation."""
from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from resnet_lab.experiments import synthesis
from resnet_lab.experiments.synthesis import readings
from resnet_lab.experiments.synthesis.config import SynthesisConfig
from resnet_lab.experiments.synthesis.measure import measure_network
from resnet_lab.experiments.synthesis.unit_measures import output_gradient, range_bounds
from resnet_lab.metrics.gradnorm import gradient_norm_ratios, tagged_units
from resnet_lab.metrics.hooks import capture_io
from resnet_lab.metrics.jacobian import jacobian_operator
from resnet_lab.metrics.spectral_density import dense_spread, frobenius_sq, lanczos_quadrature, nonzero_spread
from resnet_lab.models import build_model
from resnet_lab.stats import sign


def _dense_jacobian(unit, x: torch.Tensor) -> torch.Tensor:
    unit = copy.deepcopy(unit).double().eval()
    x = x.double()
    return torch.autograd.functional.jacobian(unit, x).reshape(unit(x).numel(), x.numel())


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = build_model("resnet20", width=2, num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32)
    return model, x, torch.tensor([1, 7])


@pytest.fixture(scope="module")
def measured(tiny):
    model, x, y = tiny
    return {"images": 2, "networks": [{"label": "tiny", "test_acc": 0.9, "units": measure_network(
        model, x, y, SynthesisConfig(dense_max_dim=1024, dense_images=2, lanczos_steps=48))}]}


def test_lanczos_quadrature_and_hutchinson_against_a_dense_float64_spectrum(tiny) -> None:
    """σ_max to 1e-4, the 10–90% spread of the nonzero σ to 0.1 decade, ‖J‖_F² inside 4 Hutchinson s.e."""
    model, x, _ = tiny
    units = [u for _, u in tagged_units(model)]
    for k in (3, 6, 8):  # a stage-2 interior unit, the stage-3 transition (wide) and a stage-3 interior unit
        inp = capture_io(model, units, x[:1])[k][0]
        op = jacobian_operator(units[k], inp)
        ref = torch.linalg.svdvals(_dense_jacobian(units[k], inp))
        quad = lanczos_quadrature(op, 48)
        assert quad.converged and quad.sigma_max == pytest.approx(float(ref[0]), rel=1e-4)
        nonzero = ref[ref > len(ref) * torch.finfo(torch.float32).eps * ref[0]]
        assert nonzero_spread(quad) == pytest.approx(dense_spread(nonzero), abs=0.1)
        fro, se = frobenius_sq(op, 16)
        assert abs(fro - float((ref ** 2).sum())) <= 4 * se


def test_range_bounds_against_a_dense_svd(tiny) -> None:
    """σ⁺_min‖Pg‖ and σ_max‖Pg‖ from the float64 SVD's left singular vectors, at a square and a wide unit."""
    model, x, y = tiny
    named = tagged_units(model)
    for k in (6, 8):
        x_in, _, g = output_gradient(model, named[k][1], x[:1], y[:1])
        dense = _dense_jacobian(named[k][1], x_in)
        u, s, _ = torch.linalg.svd(dense, full_matrices=False)
        nz = s > min(dense.shape) * torch.finfo(torch.float32).eps * s[0]
        share = float((u[:, nz].T @ g.reshape(-1).double()).norm() / g.norm())
        got = range_bounds(jacobian_operator(named[k][1], x_in), g)
        assert got["range_lo"] == pytest.approx(float(s[nz].min()) * share, rel=1e-3)
        assert got["range_hi"] == pytest.approx(float(s[0]) * share, rel=1e-4)


def test_the_ratio_is_the_vjp_gain_and_lies_inside_its_bounds(measured) -> None:
    """P5's eval-mode, one-image ratio = ‖Jᵀg‖/‖g‖ to 1e-5 at every pair, inside every bound: S.1 holds."""
    rows = [r for r in readings.unit_arrays(measured)]
    assert all(np.allclose(r["ratio"], r["vjp_ratio"], rtol=1e-5, atol=0) for r in rows)
    assert sum(np.isfinite(r["range_lo"]).sum() for r in rows) >= 3
    assert synthesis.claims(measured)[0].verdict == "holds"


@pytest.mark.parametrize("how", ["other image", "inverted", "train-mode BN"])
def test_a_broken_ratio_fails_s1(measured, tiny, how: str) -> None:
    """The same measurement with P5's ratio taken from the other image, inverted, or with BN in train mode."""
    model, x, y = tiny
    broken = copy.deepcopy(measured)
    units = broken["networks"][0]["units"]
    for k, u in enumerate(units):
        if how == "other image":
            u["ratio"] = u["ratio"][::-1]
        elif how == "inverted":
            u["ratio"] = [1 / r for r in u["ratio"]]
    if how == "train-mode BN":
        for i in range(2):
            grads = gradient_norm_ratios(model, x[i:i + 1], y[i:i + 1], tagged_units, train_mode=True)
            for u, g in zip(units, grads):
                u["ratio"][i] = g["ratio"]
    assert synthesis.claims(broken)[0].verdict == "fails"


def test_kendall_w_against_mean_pairwise_spearman() -> None:
    """Without ties, mean pairwise Spearman ρ̄ = (mW − 1)/(m − 1): an independent route to W."""
    rng = np.random.default_rng(0)
    for m, n in ((3, 6), (5, 4), (4, 8)):
        ranks = np.array([rng.permutation(n) + 1 for _ in range(m)], dtype=float)
        rhos = [spearmanr(a, b).statistic for a, b in itertools.combinations(ranks, 2)]
        assert readings.kendall_w(ranks) == pytest.approx((np.mean(rhos) * (m - 1) + 1) / m, abs=1e-12)
    same = np.tile(np.arange(1.0, 7.0), (4, 1))
    assert readings.kendall_w(same) == pytest.approx(1.0)
    assert readings.kendall_w(np.array([[1.0, 2, 3, 4], [4, 3, 2, 1]])) == pytest.approx(0.0)


def test_w_null_matches_exact_enumeration() -> None:
    """For 3 raters of 4 items the null over all (4!)² relative orders is exact; sampled quantiles agree."""
    base = np.arange(1.0, 5.0)
    exact = np.array([readings.kendall_w(np.array([base, p, q]))
                      for p in itertools.permutations(base) for q in itertools.permutations(base)])
    null = readings.w_null(np.array([base, base, base]), perms=4000, seed=1)
    assert np.mean(null) == pytest.approx(exact.mean(), abs=0.01)
    assert np.mean(null >= 0.7) == pytest.approx(np.mean(exact >= 0.7), abs=0.02)


def test_cluster_bootstrap_band_covers_the_sampling_spread() -> None:
    """Simulate networks, units and image noise many times: the bootstrap s.e. is within a factor ~2 of the true
    spread of ρ (the cluster level makes it conservative, not narrow)."""
    from resnet_lab.experiments.synthesis.controls import fake_result

    levels = dict.fromkeys("ABCD", (0.02, 1.0, 1.0, 0.7))
    rhos, ses = [], []
    for seed in range(40):
        est = readings.unit_correlation(fake_result(levels, rms_slope=0.3, noise=0.1, units=8, seed=seed),
                                        "log_rms", "log_ratio", n_boot=200, seed=seed)
        rhos.append(est.value), ses.append(est.se)
    assert 0.6 < np.median(ses) / np.std(rhos, ddof=1) < 2.5
    assert not math.isnan(np.mean(rhos))


def _circular_linear_matrix(unit, channels: int, size: int) -> torch.Tensor:
    """Dense float64 matrix of ``α_S·S + α_F·B``: the unit's linear twin (ReLUs off, eval BN, bias removed) with every
    3×3 conv padding circularly, applied to the basis images: independent of the FFT route."""
    twin = copy.deepcopy(unit).double().eval()
    for parent in twin.modules():
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.ReLU):
                setattr(parent, name, torch.nn.Identity())
            elif isinstance(child, torch.nn.Conv2d) and child.kernel_size[0] > 1:
                child.padding_mode = "circular"
    basis = torch.eye(channels * size * size, dtype=torch.float64).reshape(-1, channels, size, size)
    with torch.no_grad():
        lin = lambda t: twin.skip_scale * twin.shortcut(t) + twin.branch_scale * twin.branch(t)  # noqa: E731
        return (lin(basis) - lin(torch.zeros_like(basis[:1]))).flatten(1).T


@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_p1_kappa_is_the_exact_circular_kappa_at_the_units_own_resolution(shortcut: str) -> None:
    """Every unit of a small ResNet-20 with BN statistics that are not the identity: P1's κ_R as measured (FFT, at
    the unit's input size) equals σ_max/σ_min of the dense float64 operator at that size, transitions included."""
    from resnet_lab.experiments.synthesis.unit_measures import p1_kappa

    torch.manual_seed(1)
    model = build_model("resnet20", width=2, num_classes=10, shortcut=shortcut).eval()
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2), bn.weight.data.uniform_(0.5, 1.5)
    named = tagged_units(model)
    x = torch.randn(1, 3, 16, 16)
    for (name, unit), (inp, _) in zip(named, capture_io(model, [u for _, u in named], x)):
        sv = torch.linalg.svdvals(_circular_linear_matrix(unit, inp.shape[1], inp.shape[-1]))
        assert p1_kappa(unit, inp) == pytest.approx(float(sv[0] / sv[-1]), rel=1e-6), name
    plain = build_model("resnet20", width=2, num_classes=10, use_skip=False)
    assert p1_kappa(tagged_units(plain)[1][1], x) is None  # no skip: no κ_R


def test_full_spectra_go_to_the_last_units_that_fit() -> None:
    from resnet_lab.experiments.synthesis.measure import full_spectrum_units

    model = build_model("resnet20", width=2, num_classes=10).eval()
    x = torch.randn(1, 3, 32, 32)  # Gram sides: 2,048 (stage 1), 1,024 (stage 2 and its transition), 512 (stage 3)
    cfg = SynthesisConfig(dense_max_dim=1024, dense_units=2)
    assert full_spectrum_units(model, x, cfg) == {7, 8}
    assert full_spectrum_units(model, x, SynthesisConfig(dense_max_dim=1024)) == set(range(3, 9))
    assert full_spectrum_units(model, x, SynthesisConfig(dense_max_dim=0)) == set()


def _two_measures(levels: list[float], units: int, rho: float, rng, images: int = 1) -> dict:
    """A result whose units carry ``log_kappa`` and ``spread`` (as κ_R and spread): per network a shared level plus
    unit noise, the two correlated ``rho`` within the network."""
    nets = []
    for k, level in enumerate(levels):
        a = rng.normal(size=units)
        b = rho * a + math.sqrt(1 - rho * rho) * rng.normal(size=units)
        nets.append({"label": f"N{k}", "test_acc": 0.9, "units": [
            {"unit": f"u{i}", "index": i, "transition": False, "kappa_R": float(10 ** (level + 0.3 * a[i])),
             "spread": [level + 0.3 * b[i]] * images, "ratio": [1.0] * images, "rms_gain": [1.0] * images}
            for i in range(units)]})
    return {"images": images, "networks": nets}


def test_within_network_permutation_p_matches_exact_enumeration() -> None:
    """One network of 5 units: the sampled stratified null's p equals the share of all 5! orders reaching ρ."""
    rng = np.random.default_rng(4)
    result = _two_measures([0.0], 5, 0.6, rng)
    test = readings.within_correlation(result, "log_kappa", "spread", perms=20000, seed=2)
    a = [r["kappa_R"] for r in result["networks"][0]["units"]]
    b = [r["spread"][0] for r in result["networks"][0]["units"]]
    exact = np.array([spearmanr(a, [b[j] for j in p]).statistic for p in itertools.permutations(range(5))])
    assert test["rho"] == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    assert test["p_up"] == pytest.approx(np.mean(exact >= test["rho"] - 1e-12), abs=0.01)
    assert test["p_down"] == pytest.approx(np.mean(exact <= test["rho"] + 1e-12), abs=0.01)


def test_within_network_test_keeps_its_level_where_levels_differ_and_the_pooled_band_does_not() -> None:
    """A true null within networks (no relation between the measures inside any network) while the networks' levels
    move both measures together, as BN or width would: the stratified test calls a relation at most about 5% of the
    time; the pooled ρ with its cluster band (the rule it replaces) calls one most of the time. Under a real
    within-network relation (ρ = 0.6) the test finds it nearly always."""
    rng = np.random.default_rng(0)
    levels = [0.0, 1.0, 2.0, 3.0]
    hits, pooled_hits = [], []
    for k in range(300):
        result = _two_measures(levels, 8, 0.0, rng)
        hits.append(readings.within_correlation(result, "log_kappa", "spread", perms=400, seed=k)["p_up"] < 0.05)
        if k < 60:
            est = readings.unit_correlation(result, "log_kappa", "spread", n_boot=200, seed=k)
            pooled_hits.append(sign(est) == 1)
    assert np.mean(hits) <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / 300), np.mean(hits)
    assert np.mean(pooled_hits) > 0.5
    power = [readings.within_correlation(_two_measures(levels, 8, 0.6, rng), "log_kappa", "spread", perms=400,
                                         seed=k)["p_up"] < 0.05 for k in range(100)]
    assert np.mean(power) > 0.8


def test_w_test_p_values_match_exact_enumeration() -> None:
    """Three measures ranking five networks as a Latin square (W = 0): P(W_null ≤ W) from exact enumeration of the
    other two rows' orders, and the sampled p agrees; for three identical rankings P(W_null ≥ W) likewise."""
    base = np.arange(1.0, 6.0)
    exact = np.array([readings.kendall_w(np.array([base, p, q]))
                      for p in itertools.permutations(base) for q in itertools.permutations(base)])
    latin = np.array([[1.0, 2, 3, 4, 5], [3, 4, 5, 1, 2], [5, 3, 1, 4, 2]])
    got = readings.w_test(latin, perms=20000, seed=3)
    assert got["W"] == pytest.approx(0.0) and got["p_down"] == pytest.approx(np.mean(exact <= 1e-12), abs=0.005)
    assert np.mean(exact <= 1e-12) < 0.05  # so three measures can fail S.4 on five networks
    same = readings.w_test(np.tile(base, (3, 1)), perms=20000, seed=3)
    assert same["p_up"] == pytest.approx(np.mean(exact >= 1 - 1e-12), abs=0.005)


def _stage_trend(nets: int, rng: np.random.Generator) -> dict:
    """Networks of three stages of four units; both measures rise with the stage, nothing relates them within one."""
    images, out = 2, []
    for k in range(nets):
        units = [{"unit": f"stages.{s}.{i}", "index": 4 * s + i, "transition": False,
                  "kappa_R": float(10 ** (s + 0.3 * rng.normal())), "spread": [s + 0.3 * rng.normal()] * images,
                  "ratio": [1.0] * images, "rms_gain": [1.0] * images} for s in range(3) for i in range(4)]
        out.append({"label": f"N{k}", "test_acc": 0.9, "units": units})
    return {"images": images, "networks": out}


def test_the_null_permutes_within_stages_and_keeps_its_level_where_both_measures_trend_by_stage() -> None:
    """A true null within each (network, stage) while κ_R and the spread both rise with the stage: permuting within
    whole networks calls a relation nearly always; the stratified null keeps its level (false positives at most
    about 5%). A stratified permutation never moves a unit out of its stage."""
    rng = np.random.default_rng(1)
    perm = readings.stratified_perms(["0", "0", "1", "1", "1", "2"], 500, rng)
    assert (np.sort(perm, axis=1) == np.arange(6)).all() and set(perm[:, 5]) == {5} and set(perm[:, 0]) == {0, 1}
    hits = [readings.within_correlation(_stage_trend(3, rng), "log_kappa", "spread", perms=300, seed=k)["p_up"] < 0.05
            for k in range(200)]
    assert np.mean(hits) <= 0.05 + 2.5 * math.sqrt(0.05 * 0.95 / 200), np.mean(hits)
    one = _stage_trend(3, rng)
    for net in one["networks"]:
        for u in net["units"]:
            u["unit"] = "u" + u["unit"]  # no stage: the null permutes across the whole network, as before
    assert readings.within_correlation(one, "log_kappa", "spread", perms=500)["p_up"] < 0.05
