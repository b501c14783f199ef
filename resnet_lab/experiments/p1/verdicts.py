"""P1's verdicts: one function per ledger row, each reading a result through ``readings`` against ``paper``.

A difference decides a figure claim only when it lies outside its 95% band (``stats.sign``) and exceeds the paper's
smallest visible effect (``paper.MIN_EFFECT``). Within one net the band is a bootstrap over test images; between two
networks it is Welch's t over their seeds, so one seed per arm leaves the comparison undecided. Every seed of a net
is judged. An unmet accuracy gate makes a row inconclusive (``ledger``).
"""
from __future__ import annotations

import math
import statistics

import numpy as np

from ...ledger import Claim, combine, judge, profile_of, tally
from ...stats import Estimate, cluster_bootstrap, difference, exact, over_seeds, sign
from .paper import CLAIMS
from .readings import (BN_PAIR, DEEP, FIG2, OTHER, accuracies, between_nets, curve_changes, curve_estimate,
                       curve_steps, feature_dim, final_accuracy, gap_estimate, lemma1_outcomes, lemma2_share,
                       lemma2_units, plain_branch_smin, schedule, seed_tags, trained_epochs, trained_units,
                       true_kappas, unit_frame)

_DECIDED = {1: "holds", -1: "fails"}  # a sign beyond the band as a half's verdict; 0 or None: inconclusive


def _per_net(diffs: dict[str, Estimate | None], extra_ok: dict[str, bool], min_effect: float) -> tuple[str, str]:
    """Return (verdict, reason) over per-net tests (``tally``): a net passes when its difference is decided
    positive and its ``extra_ok`` holds, counts against when decided negative or ``extra_ok`` fails, and is
    undecided otherwise; the reason lists the undecided nets with their bands."""
    signs = {t: sign(d, min_effect=min_effect) for t, d in diffs.items()}
    outcome = {t: -1 if not extra_ok.get(t, True) else s for t, s in signs.items()}
    undecided = [t for t, s in outcome.items() if s not in (1, -1)]
    why = "inside the band: " + ", ".join(
        f"{t} {diffs[t].value:+.2f}° (band ±{max(diffs[t].band(), min_effect):.2f}°)" if diffs[t] else f"{t} unmeasured"
        for t in undecided) if undecided else ""
    return tally(outcome.values()), why


def _claim_conditioning(result: dict, profile: str) -> Claim:
    """P1.1, Lemma 1: share of trained units with κ_R < κ_B (zero-padded κ where computed), judged on the units whose
    plain branch is not nearly singular; a κ_B the solver only bounds is decided both ways (``lemma1_outcomes``)."""
    spec = CLAIMS["P1.1"]
    units = unit_frame(result)
    square = units[~units["is_transition"]]
    trained = trained_units(result)
    if trained.empty:
        return spec.not_run("no trained ResNet-18 units measured", profile)
    k_r, k_b, zero, bounded = true_kappas(trained)
    free = zero & (trained["zero_matrix_free"] == 1)
    better = float((k_r < k_b).mean())
    circ = float((trained["exact_kappa_R"] < trained["exact_kappa_B"]).mean())
    formula = float((trained["paper_kappa_R"] < trained["paper_kappa_B"]).mean())
    init = square[square["state"] == "init"]
    init_share = float((init["exact_kappa_R"] < init["exact_kappa_B"]).mean()) if len(init) else math.nan
    ratio = trained.loc[zero, "zero_vs_circular"]
    smin_b = plain_branch_smin(trained)
    singular = smin_b < spec.t["singular"]
    outcomes = lemma1_outcomes(trained, spec.t["singular"])
    value = (f"κ_R < κ_B in {better:.0%} of {len(trained)} trained units by the true κ ({int(zero.sum())} zero-padded: "
             f"{int((zero & ~free).sum())} dense, {int(free.sum())} matrix-free"
             + ("; rest circular)" if (~zero).any() else ")")
             + (f", κ_B only bounded below in {int(bounded.sum())}" if bounded.any() else "")
             + f"; circular: {circ:.0%}; formula: {formula:.0%}"
             + (f"; zero-padded κ_R = {ratio.min():.2g}–{ratio.max():.2g}× circular" if len(ratio) else "")
             + (f"; init units (counted once): {init_share:.0%} of {len(init)}" if len(init) else "")
             + f"; plain branch σ_min(B)/σ_max(B) = {smin_b.min():.2g}–{smin_b.max():.2g}"
             + (" (upper bounds where κ_B is bounded)" if bounded.any() else "") + f", under "
               f"{spec.t['singular']:g} in {int(singular.sum())}/{len(trained)} units; units counted: "
               f"{int((outcomes['worst'] != 'excluded').sum())}/{len(trained)}")
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
    if verdicts["best"][0] != verdicts["worst"][0]:
        return spec.row(value, "inconclusive", "the verdict turns on the units whose κ_B is only bounded "
                        f"({verdicts['best'][0]} if they go for the claim, {verdicts['worst'][0]} if against); "
                        + reason, profile=profile, gate_measured=accuracies(result, BN_PAIR))
    verdict, share = verdicts["worst"]
    if verdict == "inconclusive":
        return spec.row(value, "inconclusive", f"every unit's plain branch is nearly singular ({int(singular.sum())}/"
                        f"{len(trained)} under {spec.t['singular']:g}): κ_B is then huge whatever the unit learned, and "
                        "κ_R < κ_B needs only I + B to be less singular, so the comparison tests nothing; " + reason,
                        profile=profile, gate_measured=accuracies(result, BN_PAIR))
    left_out = int((outcomes["worst"] == "excluded").sum())
    if left_out:
        reason += (f"; {left_out}/{len(trained)} units left out: their plain branch is nearly singular, where κ_R < κ_B "
                   "is near-automatic")
    return spec.row(value, verdict, reason, profile=profile, gate_measured=accuracies(result, BN_PAIR),
                    band=exact(share))


def _claim_lemma2(result: dict, profile: str) -> Claim:
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


def _claim_bn(result: dict, profile: str) -> Claim:
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


def _epochs(result: dict, tags) -> str:
    return ", ".join(f"{t} {trained_epochs(result, t)} epochs" for t in tags)


def _claim_fig2(result: dict, profile: str) -> Claim:
    """P1.4, Fig. 2: (a) Base18 near chance, ResNet-18 ahead; (b) intra(no BN) − intra(BN) at the end, the paper's
    sentence (the gap difference beside it as context); ``combine``d."""
    spec = CLAIMS["P1.4"]
    if not all(t in result["runs"] for t in FIG2):
        return spec.not_run("a Fig. 2 net is missing", profile)
    acc = accuracies(result, FIG2)
    epochs = {t: trained_epochs(result, t) for t in FIG2}
    half_a = judge(acc["base18"] <= spec.t["base_max"] and acc["resnet18"] >= acc["base18"] + spec.t["lead"])
    d, images = between_nets(result, "resnet18-nobn", "resnet18", curve="intra")
    s = sign(d, min_effect=spec.t["min_effect"])
    half_b = _DECIDED.get(s, "inconclusive")
    gap_d, gap_images = between_nets(result, "resnet18", "resnet18-nobn")
    curves = {c: {t: curve_estimate(result, t, "end", c) for t in FIG2} for c in ("intra", "gap")}
    seeds = {t: len(seed_tags(result, t)) for t in BN_PAIR}
    single = "single seed, " if min(seeds.values()) == 1 else "seed 0, "

    def diff(name: str, over_seeds, on_images) -> str:
        return (("" if on_images is None else f"; {name} = {on_images.format('.2f')}° ({single}images only)")
                + ("" if over_seeds is None or sign(over_seeds) is None else f"; over seeds {over_seeds.format('.2f')}°"))

    value = ("acc Base18/noBN/BN = " + "/".join(f"{acc[t]:.2f}" for t in FIG2) + " after "
             + "/".join(str(epochs[t]) for t in FIG2) + " epochs; "
             + "; ".join(f"end {c} " + "/".join("—" if e is None else f"{e.value:.2f}°" for e in curves[c].values())
                         for c in curves)
             + diff("intra(no BN) − intra(BN)", d, images)
             + diff("context: gap(BN) − gap(no BN)", gap_d, gap_images))
    band = {k: e for k, e in (("over seeds", d), (single + "images only", images)) if e is not None} or None
    shorter = epochs["base18"] < epochs["resnet18"]
    why_a = f"(a) {half_a}" + ("" if not shorter else (
        f" ({'even ' if half_a == 'fails' else 'but '}on Base18's shorter schedule, {epochs['base18']} epochs against "
        f"{epochs['resnet18']} for ResNet-18{'' if half_a == 'fails' else ': a longer one might let it learn'})"))
    if s is None:
        why_b = ("(b) undecided: no end intra-class angle" if d is None and images is None else
                 f"(b) undecided: single seed (seeds per arm {seeds['resnet18']}/{seeds['resnet18-nobn']}, needs ≥ 2 "
                 "each): two networks, so the band must include the seed-to-seed spread an image band leaves out")
    elif s == 0:
        why_b = (f"(b) inside the band: intra(no BN) − intra(BN) {d.value:.2f}° inside "
                 f"±{max(d.band(), spec.t['min_effect']):.2f}°")
    else:
        why_b = f"(b) {half_b}"
    pair = epochs["resnet18"], epochs["resnet18-nobn"]
    why = "; ".join([why_a, why_b] + ([] if pair[0] == pair[1] else [  # (b) then also measures the schedule
        "(b) compared at the same gate, not the same training: " + _epochs(result, BN_PAIR)]))
    # (b) compares two architectures, so both must be trained; Base18 is not gated: (a) claims it does not learn.
    return spec.row(value, combine([half_a, half_b]), why, profile=profile, gate_measured=accuracies(result, BN_PAIR),
                    band=band)


def _claim_depth(result: dict, profile: str) -> Claim:
    """P1.5, Fig. 3: the best end gap of ResNet-18/34 against the best of ResNet-50/101, at equal schedules."""
    spec = CLAIMS["P1.5"]
    missing = [t for t in DEEP if t not in result["runs"]]
    if missing:
        return spec.not_run(f"{', '.join(missing)} need the standard profile (GPU)", profile)
    gaps = {t: g for t in ("resnet18", *DEEP) if t in result["runs"] and (g := gap_estimate(result, t)) is not None}
    dims = {t: feature_dim(result, t) for t in gaps}
    value = "; ".join(f"{t}: acc {final_accuracy(result['runs'][t]):.2f} after {trained_epochs(result, t)} epochs, "
                      f"gap {gaps[t].format('.2f')}" + ("" if dims[t] is None else f", features {dims[t]:,}-dim")
                      for t in gaps)
    deep = [t for t in ("resnet50", "resnet101") if t in gaps]
    if not deep:
        return spec.row(value or "—", "inconclusive", "no end gap for resnet50, resnet101 (diverged?)",
                        profile=profile, gate_measured=accuracies(result, ("resnet18", *DEEP)))
    deep = max(deep, key=lambda t: gaps[t].value)
    recipe = schedule(result, deep)
    equal = [t for t in ("resnet18", "resnet34") if t in gaps and schedule(result, t) == recipe]
    notes = [f"{t} left out: trained on another schedule ({trained_epochs(result, t)} epochs against "
             f"{trained_epochs(result, deep)} for {deep})" for t in ("resnet18", "resnet34")
             if t in gaps and t not in equal]
    if len({d for d in dims.values() if d is not None}) > 1:
        notes.append("gaps taken in feature spaces of different dimension (" + ", ".join(
            f"{t} {d:,}" for t, d in dims.items() if d is not None) + ")")
    gate = accuracies(result, (*equal, "resnet50", "resnet101"))  # the nets compared, at one schedule
    if not equal:
        absent = [t for t in ("resnet18", "resnet34") if t not in gaps]
        why = (f"no ResNet-18/34 trained on {deep}'s schedule ({trained_epochs(result, deep)} epochs)"
               + (f": {', '.join(absent)} has no end gap (not run or diverged)" if absent else "")
               + "; it needs ResNet-34, or ResNet-18 trained on that schedule")
        return spec.row(value, "inconclusive", "; ".join([why, *notes]), profile=profile, gate_measured=gate)
    shallow = max(equal, key=lambda t: gaps[t].value)
    d, images = between_nets(result, shallow, deep)
    s = sign(d, min_effect=spec.t["min_effect"])
    if s in (0, None):
        why = (f"{shallow} − {deep} = {images.value:+.2f}°: two networks, one seed in an arm (seed spread unknown)"
               if s is None else f"{shallow} − {deep} = {d.value:+.2f}° inside the band")
        return spec.row(value, "inconclusive", "; ".join([why, *notes]), profile=profile, gate_measured=gate,
                        band=d if s == 0 else images)
    return spec.row(value, judge(s > 0), "; ".join([f"{shallow} − {deep} = {d.value:+.2f}°", *notes]),
                    profile=profile, gate_measured=gate, band=d)


def _claim_other_tasks(result: dict, profile: str) -> Claim:
    """P1.6, Fig. 4: (a) per other task, end gap beyond the band and every inter MPA > every intra; (b) the three-class
    task's accuracy within ±little of the other pair's, Welch's t over seeds; ``combine``d."""
    spec = CLAIMS["P1.6"]
    tags = [s for t in OTHER for s in seed_tags(result, t) if s in result.get("angles", {})]
    if not tags:
        return spec.not_run("other_tasks off in this profile", profile)
    gaps = {t: gap_estimate(result, t) for t in tags}
    angles = {t: result["angles"][t]["end"]["angles"] for t in tags}
    separated = {t: min(v for k, v in angles[t].items() if k.startswith("inter/"))
                 > max(v for k, v in angles[t].items() if k.startswith("intra/")) for t in tags}
    half_a, why = _per_net(gaps, separated, spec.t["min_effect"])
    accs = [[final_accuracy(result["runs"][s]) for s in seed_tags(result, t)] for t in OTHER]
    d = difference(over_seeds(accs[1]), over_seeds(accs[0])) if all(accs) else None  # three-class − pair
    if d is None or sign(d) is None:
        half_b = "inconclusive"
        why_b = "(b) undecided: " + ("a task not run" if d is None else f"{d.value:+.1%} with one seed per task (seeds "
                                     f"{len(accs[1])}/{len(accs[0])}): the seed-to-seed spread of accuracy is unknown")
    else:
        half_b = "holds" if abs(d.value) + d.band() <= spec.t["little"] else (
            "fails" if abs(d.value) - d.band() > spec.t["little"] else "inconclusive")
        why_b = f"(b) {half_b}: {d.value:+.1%} ± {d.band():.1%} against ±{spec.t['little']:.0%}"
    value = "; ".join(f"{t}: acc {final_accuracy(result['runs'][t]):.2f}, gap {gaps[t].format('.2f')}, "
                      f"every inter > every intra: {separated[t]}" for t in tags)
    reason = "; ".join([f"(a) {half_a}" + (f", {why}" if why else ""), why_b, "CIFAR-10 deer/horse and "
                        "airplane/frog/truck stand in for Animals-10 and ImageNet"])
    return spec.row(value, combine([half_a, half_b]), reason, profile=profile, gate_measured=accuracies(result, tags),
                    band={**gaps, **({"(b) accuracy, three-class − pair": d} if d is not None and sign(d) is not None
                                     else {})})


def _pm(e: Estimate) -> str:
    return f"{e.value:+.2f} ± {e.band():.2f}°"


def _fig5_halves(changes: dict, steps: dict, min_effect: float) -> list[tuple[int | None, list[str], list[str]]]:
    """Return Fig. 5's halves for one net, each (sign, clauses against, clauses as the paper says): sign +1 when
    every clause is decided as the paper says, −1 when one is decided against, 0 inside the band, None with no band.

    (a) intra falls from stage 1 to the end, by more than inter moves, and rises at no step; (b) inter rises from
    stage 1 to the end and falls at no step. A step inside its band neither refutes nor supports the trend."""
    def sg(e: Estimate) -> int | None:
        return sign(e, min_effect=min_effect)

    def step_clause(curve: str, against: int, verb: str) -> list[tuple[int | None, str]]:
        # +1 here only means "not refuted": a step is not required to move beyond its band
        return [(None if (x := sg(c[curve])) is None else -1 if x == against else 1,
                 f"{verb} at {a} → {b} ({_pm(c[curve])})", True) for (a, b), c in steps.items()]

    fell = sg(changes["intra"])
    clauses = (
        [(None if fell is None else -fell, f"{'falls' if changes['intra'].value < 0 else 'rises'} from stage 1 to the "
          f"end ({_pm(changes['intra'])})", False),
         (sg(changes["intra_steeper"]), f"falls by {'more' if changes['intra_steeper'].value > 0 else 'less'} than "
          f"inter moves (−Δintra − |Δinter| {_pm(changes['intra_steeper'])})", False),
         *step_clause("intra", 1, "rises")],
        [(sg(changes["inter"]), f"{'rises' if changes['inter'].value > 0 else 'falls'} from stage 1 to the end "
          f"({_pm(changes['inter'])})", False), *step_clause("inter", -1, "falls")])
    halves = []
    for half in clauses:
        signs = [x for x, _, _ in half]
        against = [d for x, d, _ in half if x == -1]
        as_paper = [d for x, d, step in half if x == 1 and not step]
        sign_ = -1 if against else None if None in signs else 1 if all(x == 1 for x in signs) else 0
        halves.append((sign_, against, as_paper))
    return halves


def _claim_stages(result: dict, profile: str) -> Claim:
    """P1.7, Fig. 5: per deep net, the intra and inter curves over the five levels, stage 1 → end and step by step."""
    spec = CLAIMS["P1.7"]
    tags = [s for t in DEEP for s in seed_tags(result, t) if s in result.get("angles", {})]
    if not tags:
        return spec.not_run("no deep net measured", profile)
    changes = {t: curve_changes(result, t) for t in tags}
    steps = {t: curve_steps(result, t) for t in tags}
    if any(c is None for c in (*changes.values(), *steps.values())):
        return spec.not_run("the result stores no per-curve bootstrap draws (intra_draws, inter_draws): re-measure "
                            "it with the current code", profile)
    halves = {t: _fig5_halves(changes[t], steps[t], spec.t["min_effect"]) for t in tags}
    per_net = {}
    for t, ((a, *_), (b, *_)) in halves.items():
        if a == 1 and b == 1:
            per_net[t] = "holds"
        elif 1 in (a, b):
            per_net[t] = "partly"
        else:
            per_net[t] = "fails" if -1 in (a, b) else "inconclusive"
    verdict = combine(per_net.values())
    word = {1: "as the paper says", -1: "against the paper", 0: "inside the band", None: "undecidable"}

    def why(name: str, half) -> str:
        s_, against, as_paper = half
        return (f"({name}) — {word[s_]}" + (": " + ", ".join(against) if against else "")
                + (f" (as the paper says, it {', '.join(as_paper)})" if against and as_paper else ""))

    reason = "; ".join(f"{t}: " + "; ".join(why(n, h) for n, h in zip(
        ("a, intra decreases more obviously", "b, inter increases slowly"), hs)) for t, hs in halves.items())
    curves = {t: {c: [curve_estimate(result, t, lvl, c).value for lvl in dict.fromkeys(x for st in steps[t] for x in st)]
                  for c in ("intra", "inter")} for t in tags}
    value = "; ".join(f"{t}: intra " + " → ".join(f"{v:.2f}" for v in curves[t]["intra"]) + "°, inter "
                      + " → ".join(f"{v:.2f}" for v in curves[t]["inter"]) + "° (stage-1…4 inputs, end); stage 1 → "
                      f"end Δintra {_pm(c['intra'])}, Δinter {_pm(c['inter'])}, −Δintra − |Δinter| "
                      f"{_pm(c['intra_steeper'])}" for t, c in changes.items())
    missing = [t for t in DEEP if t not in result["runs"]]
    if missing:
        reason += f"; {', '.join(missing)} need the standard profile (GPU): judged on the nets run"
    band = {**{f"{t} {k} (stage 1 → end)": e for t, c in changes.items() for k, e in c.items()},
            **{f"{t} {k} ({a} → {b})": e for t, st in steps.items() for (a, b), c in st.items()
               for k, e in c.items() if k != "intra_steeper"}}
    return spec.row(value, verdict, reason, profile=profile, gate_measured=accuracies(result, tags), band=band)


def _claim_lemma1_bound(result: dict, profile: str) -> Claim:
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
    verdict = judge(share >= spec.t["hold"], share >= spec.t["partly"])
    return spec.row(value, verdict, "σ_min of a product is not the product of the layers' σ_min unless their singular "
                    "directions align, and W₁W₂ + I can be nearly singular", profile=profile,
                    gate_measured=accuracies(result, BN_PAIR), band=exact(share))


def claims(result: dict) -> list[Claim]:
    """Return the P1 ledger rows, every verdict computed from ``result``; the profile comes from its provenance."""
    profile = profile_of(result)
    return [f(result, profile) for f in (_claim_conditioning, _claim_lemma2, _claim_bn, _claim_fig2, _claim_depth,
                                         _claim_other_tasks, _claim_stages, _claim_lemma1_bound)]
