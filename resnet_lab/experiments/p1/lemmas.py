"""P1's rows on single residual units: Lemma 1 (P1.1 conditioning, P1.8 the bound of eq. (1)), Lemma 2 (P1.2) and
Lemma 3 (P1.3, BN), each reading the unit table through ``readings`` against ``paper``.

A unit-level share is judged per unit or with a band that clusters by unit (its images share its weights); the gate
is the accuracy of the nets whose units are read (``BN_PAIR``).
"""
from __future__ import annotations

import math
import statistics

import numpy as np

from ...ledger import Claim, judge
from ...stats import exact
from ...two_level import cluster_bootstrap
from .paper import CLAIMS
from .readings import BN_PAIR, FIG2, accuracies
from .unit_readings import (lemma1_outcomes, lemma2_share, lemma2_units, plain_branch_smin, trained_units, true_kappas,
                            unit_frame)


def conditioning_row(result: dict, profile: str) -> Claim:
    """P1.1, Lemma 1: share of trained units with κ_R < κ_B (zero-padded κ where computed), judged on the units whose
    plain branch is not nearly singular; a κ_B the solver only bounds is decided both ways (``lemma1_outcomes``)."""
    spec = CLAIMS["P1.1"]
    units = unit_frame(result)
    trained = trained_units(result)
    if trained.empty:
        return spec.not_run("no trained ResNet-18 units measured", profile)
    k_r, k_b, zero, bounded = true_kappas(trained)
    free = zero & (trained["zero_matrix_free"] == 1)
    circ = float((trained["exact_kappa_R"] < trained["exact_kappa_B"]).mean())
    formula = float((trained["paper_kappa_R"] < trained["paper_kappa_B"]).mean())
    init = units[~units["is_transition"] & (units["state"] == "init")]
    i_r, i_b, i_zero, i_bounded = true_kappas(init)  # the initial weights by the same true κ as the trained units
    kind = "zero-padded" if i_zero.all() else "circular" if not i_zero.any() else f"zero-padded in {int(i_zero.sum())}"
    smin_b, smin_init = plain_branch_smin(trained), plain_branch_smin(init)
    bar = spec.t["singular"]
    margin = k_b / k_r  # a lower bound where κ_B is: the smallest margin is at least its minimum
    low = trained.loc[margin.idxmin()]
    outcomes = lemma1_outcomes(trained, bar)
    n, above = len(trained), " (upper bounds where κ_B is bounded)" if bounded.any() else ""
    value = (f"κ_R < κ_B in {int((k_r < k_b).sum())}/{n} trained units by the true κ ({int(zero.sum())} zero-padded: "
             f"{int((zero & ~free).sum())} dense, {int(free.sum())} matrix-free"
             + ("; rest circular)" if (~zero).any() else ")")
             + (f", κ_B only bounded below in {int(bounded.sum())}" if bounded.any() else "")
             + f"; circular: {circ:.0%}; formula: {formula:.0%} (an identity of the paper's formulas: (a+1)/(b+1) < "
               "a/b whenever a > b)"
             + (f"; zero-padded κ_R = {r.min():.2g}–{r.max():.2g}× circular"
                if len(r := trained.loc[zero, "zero_vs_circular"]) else "")
             + f"; plain branch σ_min(B)/σ_max(B) = {smin_b.min():.2g}–{smin_b.max():.2g}{above}, under {bar:g} in "
               f"{int((smin_b < bar).sum())}/{n} units"
             + (f"; initial units (counted once, {kind} κ): κ_R < κ_B in {int((i_r < i_b).sum())}/{len(init)}, "
                f"σ_min(B)/σ_max(B) = {smin_init.min():.2g}–{smin_init.max():.2g}"
                + (" (upper bounds where κ_B is bounded)" if i_bounded.any() else "") if len(init) else "")
             + f"; 1/κ_R = {(1 / k_r).min():.2g}–{(1 / k_r).max():.2g}, under {bar:g} in "
               f"{int((1 / k_r < bar).sum())}/{n} trained units; smallest margin κ_B/κ_R ≥ {margin.min():.2g} ({low.run} {low.unit}); units counted: "
               f"{int((outcomes['worst'] != 'excluded').sum())}/{n}")
    reason = "ReLU taken as identity, BN folded (eval)"
    verdicts = {}
    for case in ("best", "worst"):
        counted = outcomes[case] != "excluded"
        share = float((outcomes[case] == "for")[counted].mean()) if counted.any() else math.nan
        verdicts[case] = (judge(share >= spec.t["hold"], share >= spec.t["partly"]) if counted.any() else
                          "inconclusive", share)
    open_ = outcomes["best"] != outcomes["worst"]
    if open_.any():
        reason += (f"; {int(open_.sum())} units undecided, κ_B only bounded below: " + ", ".join(
            f"{r.run} {r.unit}" for r in trained[open_].itertuples()))
    gate = accuracies(result, BN_PAIR)
    if verdicts["best"][0] != verdicts["worst"][0]:
        return spec.row(value, "inconclusive", "the verdict turns on the units whose κ_B is only bounded "
                        f"({verdicts['best'][0]} if they go for the claim, {verdicts['worst'][0]} if against); "
                        + reason, profile=profile, gate_measured=gate)
    verdict, share = verdicts["worst"]
    if verdict == "inconclusive":  # every unit κ_R < κ_B with a nearly singular branch: met, but barely a test
        at_init = ("" if not len(init) else " already at initialisation" if (smin_init < bar).all() else
                   f" (at initialisation in {int((smin_init < bar).sum())}/{len(init)})")
        return spec.row(value, "inconclusive", f"κ_R < κ_B holds in {int((k_r < k_b).sum())}/{n} trained"
                        + (f" and {int((i_r < i_b).sum())}/{len(init)} initial" if len(init) else "") + " units, but "
                        f"every plain branch is nearly singular{at_init} (σ_min(B)/σ_max(B) ≤ {smin_b.max():.2g} "
                        "trained" + (f", ≤ {smin_init.max():.2g} initial" if len(init) else "") + f"; the bar {bar:g}): "
                        "a unit fails only if I + B is about as singular as B; the smallest margin is κ_B/κ_R ≥ "
                        f"{margin.min():.2g} ({low.run} {low.unit}), so the test barely discriminates; " + reason,
                        profile=profile, gate_measured=gate)
    left_out = int((outcomes["worst"] == "excluded").sum())
    if left_out:
        reason += (f"; {left_out}/{n} units left out: their plain branch is nearly singular, where κ_R < κ_B "
                   "is near-automatic")
    return spec.row(value, verdict, reason, profile=profile, gate_measured=gate, band=exact(share))


def lemma2_row(result: dict, profile: str) -> Claim:
    """P1.2, Lemma 2: share of (unit, image) worst-case gains outside [1/κ_R, κ_R], paper's κ_R."""
    spec = CLAIMS["P1.2"]
    trained = trained_units(result)
    if trained.empty or "wc_violations_paper" not in trained:
        return spec.not_run("no worst-case directions measured", profile)
    n = int(trained["wc_images"].sum())
    share = float((trained["wc_violations_paper"] * trained["wc_images"]).sum() / n)
    share_exact = float((trained["wc_violations_exact"] * trained["wc_images"]).sum() / n)
    rand = float(trained["lemma2_violations_paper"].mean())
    value = (f"worst-case directions: {share:.1%} of {n} (unit, image) pairs outside [1/κ_R, κ_R] with the paper's κ_R, "
             f"{share_exact:.1%} with the true κ_R; random directions: {rand:.1%}; "
             f"largest gain {trained['wc_gain_top_max'].max():.3g}, smallest {trained['wc_gain_bottom_min'].min():.3g}")
    est = lemma2_share(trained)
    per_unit = lemma2_units(trained)
    name = lambda u: f"{u.run} {u.unit} {u.k}/{u.n} (band {u.low:.0%}–{u.high:.0%})"  # noqa: E731
    bad = per_unit[per_unit["k"] > 0]
    value += (f"; per unit, violations in {len(bad)}/{len(per_unit)}"
              + (": " + ", ".join(name(u) for u in bad.itertuples()) if len(bad) else "")
              + f"; pooled share (context) {est.format('.1%')}")
    setting = f"unit before its last ReLU, ‖Δx‖ = {result['config']['eps']:g}‖x‖"
    beyond = bad[bad["low"] > spec.t["partly"]]
    inside = bad[(bad["share"] > spec.t["partly"]) & (bad["low"] <= spec.t["partly"])]
    if bad.empty:
        verdict, reason = "holds", setting
    elif len(beyond):
        verdict, reason = "fails", (f"counterexamples: {', '.join(f'{u.run} {u.unit}' for u in beyond.itertuples())} "
                                    f"leave the bound on {', '.join(f'{u.k}/{u.n}' for u in beyond.itertuples())} of "
                                    f"their images, above {spec.t['partly']:.0%} beyond each unit's band (Wilson); an "
                                    f"inequality for every x, judged per unit, not averaged over units; {setting}")
    elif inside.empty:
        verdict, reason = "partly", (f"violations in {len(bad)} units, each on ≤ {spec.t['partly']:.0%} of its "
                                     f"images; {setting}")
    else:
        verdict, reason = "inconclusive", (f"{len(inside)} units above {spec.t['partly']:.0%} but inside their bands "
                                           f"(Wilson, {int(inside['n'].min())} images a unit); {setting}")
    band = {"per unit (Wilson, over its images)": "; ".join(name(u) for u in per_unit.itertuples()),
            "pooled share (context)": est}
    return spec.row(value, verdict, reason, profile=profile, gate_measured=accuracies(result, BN_PAIR), band=band)


def bn_row(result: dict, profile: str) -> Claim:
    """P1.3, Lemma 3: share of (BN layer, image) gains ≤ 1, in eval and in train mode."""
    spec = CLAIMS["P1.3"]
    bn = result.get("bn_layers", [])
    if not bn or "train_frac_at_most_1" not in bn[0]:
        return spec.not_run("ResNet-18 with BN not measured in eval and train mode (diverged, or an older result)", profile)
    share = {mode: statistics.mean(r[f"{mode}_frac_at_most_1"] for r in bn) for mode in ("eval", "train")}
    ok = [share[m] >= spec.t["hold"] for m in share]
    gains = result.get("network_gain", {})
    context = ", ".join(f"{t} {float(gains[t]):.2f}" for t in FIG2 if t in gains)
    value = (f"gain ≤ 1 for {share['eval']:.0%} (eval) and {share['train']:.0%} (train) of {len(bn)} layers × "
             f"{bn[0]['images']} images; context, end-to-end median gains (different nets): {context}")
    # the images of one layer share its weights: a cluster bootstrap (layers, then images), not a binomial
    band = {m: cluster_bootstrap([np.arange(r["images"]) < round(r[f"{m}_frac_at_most_1"] * r["images"]) for r in bn])
            for m in share}
    return spec.row(value, judge(all(ok), any(ok)), profile=profile, gate_measured=accuracies(result, ("resnet18",)),
                    band=band)


def lemma1_bound_row(result: dict, profile: str) -> Claim:
    """P1.8, Lemma 1 eq. (1): the exact σ_min of each unit's linear part against the bound m₁m₂ + 1."""
    spec = CLAIMS["P1.8"]
    units = unit_frame(result)
    square = units[~units["is_transition"] & units["run"].isin(BN_PAIR)].dropna(subset=["exact_smin_R",
                                                                                        "paper_smin_R"])
    trained = square[square["state"] == "trained"]
    if trained.empty:
        return spec.not_run("no trained ResNet-18 unit measured", profile)
    met = square["exact_smin_R"] / square["paper_smin_R"] >= 1 - spec.t["tol"]
    ratio = trained["exact_smin_R"] / trained["paper_smin_R"]
    share = float(met[trained.index].mean())
    value = (f"σ_min(W₁W₂ + I) / (m₁m₂ + 1) = {ratio.min():.2g}–{ratio.max():.2g}: bound met in "
             f"{int(met[trained.index].sum())}/{len(trained)} trained units"
             + "".join(f"; {state} units: {int(met[rows.index].sum())}/{len(rows)}"
                       for state, rows in square.groupby("state") if state != "trained"))
    if "zero_smin_R" in trained and (zero := trained.dropna(subset=["zero_smin_R"])).size:
        z = zero["zero_smin_R"] / zero["paper_smin_R"]
        value += (f"; beside, zero padding (the networks' own): ratio {z.min():.2g}–{z.max():.2g}, bound met in "
                  f"{int((z >= 1 - spec.t['tol']).sum())}/{len(zero)} trained units")
    verdict = judge(share >= spec.t["hold"], share >= spec.t["partly"])
    return spec.row(value, verdict, "σ_min of a product is not the product of the layers' σ_min unless their singular "
                    "directions align, and W₁W₂ + I can be nearly singular", profile=profile,
                    gate_measured=accuracies(result, BN_PAIR), band=exact(share))
