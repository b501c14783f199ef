"""P1's verdicts: one function per ledger row, each reading a result through ``readings`` against ``paper``; the
figure rows (P1.4–P1.7) are here, the rows on single residual units (P1.1–P1.3, P1.8) in ``lemmas``.

A difference decides a figure claim only when it lies outside its 95% band (``stats.sign``) and exceeds the paper's
smallest visible effect (``paper.MIN_EFFECT``). Within one net the band is a bootstrap over test images; between two
networks it is Welch's t over their seeds, so one seed per arm leaves the comparison undecided. Every seed of a net
is judged. An unmet accuracy gate makes a row inconclusive (``ledger``).
"""
from __future__ import annotations

from ...ledger import Claim, combine, family_signs, family_verdict, judge, mark_networks, profile_of, tally
from ...stats import Estimate, sign
from .lemmas import bn_row, conditioning_row, lemma1_bound_row, lemma2_row
from .paper import CLAIMS, FIG4_TASKS
from .readings import (BN_PAIR, DEEP, FIG2, OTHER, accuracies, at_one_schedule, between_nets, curve_changes,
                       curve_estimate, curve_steps, depth_resnet18, feature_dim, fig5_halves, fig5_verdict,
                       final_accuracy, gap_estimate, held_back, missing_runs, paper_network, pm, seed_tags,
                       task_contrast, task_label, trained_epochs, unfinished)

_DECIDED = {1: "holds", -1: "fails"}  # a sign beyond the band as a half's verdict; 0 or None: inconclusive
DEEPER = ("resnet50", "resnet101")  # Fig. 3's sentence: ResNet-18 and ResNet-34 each against each of these


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
    """P1.5, Fig. 3: each of ResNet-18 (the depth series' own, ``depth_resnet18``) and ResNet-34 against each deep net
    run, on the end intra-class MPA (§4.1's clustering effect: smaller is better), Welch's t over each net's seeds,
    pairs at one schedule only, a deep net run to its schedule's end (``unfinished``), both nets of a pair gated, a
    deep net its pilot held back (``held_back``) undecided in each of its pairs; ``tally_family`` over the pairs as
    parts of the claim (Holm's adjustment for "some pair")."""
    spec = CLAIMS["P1.5"]
    shallow, deeper = (depth_resnet18(result), "resnet34"), DEEPER
    deep = [t for t in deeper if t in result["runs"]]
    if not deep:
        return spec.not_run(missing_runs(result, deeper), profile)
    nets = [t for t in (*shallow, *deep) if t in result["runs"]]
    intra = {t: curve_estimate(result, t, "end", "intra") for t in nets}
    dims = {t: feature_dim(result, t) for t in nets}
    word = {1: "as the paper says", -1: "against the paper", 0: "inside the band"}
    pairs, signs, diffs, band, compared, single = {}, {}, {}, {}, [], False
    for a, b in ((a, b) for a in shallow for b in deep):
        stopped = unfinished(result, b)  # the schedules compared must have been run out
        d, images, not_compared = (None, None, stopped) if stopped else at_one_schedule(result, b, a)
        name, signs[a, b], diffs[a, b] = f"intra({b}) − intra({a})", sign(d, min_effect=spec.t["min_effect"]), d
        if not_compared:
            pairs[a, b] = f"{name} not compared: {not_compared}"
            continue
        compared.append((a, b))
        if signs[a, b] is None:  # one seed in an arm: the image band alone, shown, decides nothing
            single, band[f"{name} (seed 0, images only)"] = True, images
            pairs[a, b] = f"{name} = {images.format('.2f')}° undecided: one seed per net (images only)"
        else:
            band[name], pairs[a, b] = d, None   # worded below, after Holm's adjustment
    held = [t for t in deeper if t not in result["runs"] and held_back(result, t)]
    for a, b in ((a, b) for a in shallow for b in held):  # a net its pilot held back leaves its pairs undecided
        signs[a, b], diffs[a, b] = None, None
        pairs[a, b] = f"intra({b}) − intra({a}) undecided: {b} {held_back(result, b)}"
    # each decided pair worded by Holm's adjustment over the pairs, as the verdict reads it (family_verdict)
    single, family = family_signs(list(diffs.values()), spec.t["min_effect"])
    kept = dict(zip(diffs, family))
    for (a, b), s in signs.items():
        if pairs.get((a, b), "") is None:
            text = (word[kept[a, b]] if kept[a, b] or not s
                    else f"{word[s]} beyond its own band only, not after Holm's adjustment over the pairs")
            pairs[a, b] = f"intra({b}) − intra({a}) = {diffs[a, b].format('.2f')}° {text}"
    value = "; ".join([*(f"{t}: acc {final_accuracy(result['runs'][t]):.2f} after {trained_epochs(result, t)} epochs, "
                         + ("no end angles" if intra[t] is None else f"end intra {intra[t].value:.2f}°")
                         + ("" if (g := gap_estimate(result, t)) is None else f", gap (context) {g.value:.2f}°")
                         + ("" if dims[t] is None else f", features {dims[t]:,}-dim") for t in nets), *pairs.values(),
                       "pairs at one schedule: " + (", ".join(f"{a}/{b}" for a, b in compared) or "none")])
    verdict = family_verdict(single, family, parts=True)  # d > 0: the paper's way
    why = ([text for p, text in pairs.items() if kept.get(p) != 1]
           or ["each of ResNet-18/34 clusters better than each deep net run"])
    if verdict == "inconclusive" and single:
        why.insert(0, "one seed per net: the seed-to-seed spread of the angles is unknown")
    if missing := missing_runs(result, [t for t in shallow + deeper if t not in held]):
        why.append(f"{missing}: judged on the nets run")
    if len({d for d in dims.values() if d is not None}) > 1:
        why.append("angles taken in feature spaces of different dimension (" + ", ".join(
            f"{t} {d:,}" for t, d in dims.items() if d is not None) + ")")
    # Both nets of a compared pair are gated: the row judges clustering, which a net that has not formed its
    # features (the gate's purpose) would show worse whatever its depth, so gating one side only would lean to holds.
    gate = accuracies(result, [t for t in nets if any(t in p for p in compared)] or nets)
    return spec.row(value, verdict, "; ".join(why), profile=profile, gate_measured=gate, band=band or None)


def _claim_other_tasks(result: dict, profile: str) -> Claim:
    """P1.6, Fig. 4: (a) per other task, end gap beyond the band and every inter MPA > every intra; (b) the three-class
    task's test accuracy within ±little points of the other pair's (Welch's t over seeds, each task's test-set
    binomial variance added); ``combine``d. The three-class task against Fig. 3(a)'s pair is context."""
    spec = CLAIMS["P1.6"]
    tags = [s for t in OTHER for s in seed_tags(result, t) if s in result.get("angles", {})]
    if not tags:
        return spec.not_run("other_tasks off in this profile", profile)
    gaps = {t: gap_estimate(result, t) for t in tags}
    angles = {t: result["angles"][t]["end"]["angles"] for t in tags}
    separated = {t: min(v for k, v in angles[t].items() if k.startswith("inter/"))
                 > max(v for k, v in angles[t].items() if k.startswith("intra/")) for t in tags}
    half_a, why = _per_net(gaps, separated, spec.t["min_effect"])
    pair, triple = OTHER
    d, little = task_contrast(result, triple, pair), spec.t["little"]  # three-class − the other pair, points
    seeds = [len(seed_tags(result, t)) for t in OTHER]
    if d is None or sign(d) is None:
        half_b = "inconclusive"
        why_b = "(b) undecided: " + ("a task not run" if d is None else f"{d.value:+.1f} points with one seed per task "
                                     f"(seeds {seeds[1]}/{seeds[0]}): no seed spread" if min(seeds) < 2 else
                                     f"{d.value:+.1f} points, the size of a test set unknown")
    else:
        half_b = "holds" if abs(d.value) + d.band() <= little else (
            "fails" if abs(d.value) - d.band() > little else "inconclusive")
        why_b = f"(b) {half_b}: {d.value:+.1f} ± {d.band():.1f} points against ±{little:g} points"
    label = {t: "/".join(result["runs"][t]["classes"]) for t in (*OTHER, "resnet34") if t in result["runs"]}
    fig3, pairs = task_contrast(result, triple, "resnet34"), task_contrast(result, pair, "resnet34")
    value = "; ".join([*(f"{t}: acc {final_accuracy(result['runs'][t]):.2f}, gap {gaps[t].format('.2f')}, every inter "
                         f"> every intra: {separated[t]}" for t in tags),
                       *(f"{name}: {e.value:+.1f} points" for name, e in (
                           (f"(b) {label.get(triple)} − {label.get(pair)}", d),
                           (f"context: {label.get(triple)} − ResNet-34 on {label.get('resnet34')} (Fig. 3(a)'s pair)",
                            fig3)) if e is not None)])
    reason = [f"(a) {half_a}" + (f", {why}" if why else "")]
    reason.insert(0 if half_b == "inconclusive" and half_a == "holds" else 1, why_b)  # a partly row's open half leads
    if d is not None and fig3 is not None:  # does the change of pair move the accuracy more than the added class?
        dominates = round(abs(pairs.value), 1) > round(abs(d.value), 1)
        reason.append(f"which classes are compared {'dominates' if dominates else 'does not dominate'} the difference: "
                      f"{label[pair]} − {label['resnet34']} {pairs.value:+.1f} points, the three-class task − "
                      f"{label[pair]} {d.value:+.1f}, − {label['resnet34']} {fig3.value:+.1f}"
                      + ("" if trained_epochs(result, "resnet34") == trained_epochs(result, pair) else
                         f" (ResNet-34 on {label['resnet34']} trained with the depth series: "
                         f"{_epochs(result, ('resnet34', pair))})"))
    if triple in result["runs"]:
        three = result["runs"][triple]["classes"]
        reason.append("not run: the nested contrast, the three-class net against ResNet-34 on its own sub-pairs ("
                      + ", ".join(f"{a}/{b}" for i, a in enumerate(three) for b in three[i + 1:])
                      + "): it needs three new trainings")
    reason.append("test accuracy stands in for the paper's accuracy (Fig. 4 plots MPAs only); data: " + "; ".join(
        f"{task_label(result, t)} for the paper's {task}" for t, task in zip(OTHER, FIG4_TASKS) if t in label))
    return spec.row(value, combine([half_a, half_b]), "; ".join(reason), profile=profile,
                    gate_measured=accuracies(result, tags),
                    band={**gaps, **({"(b) accuracy, three-class − pair (points)": d}
                                     if d is not None and sign(d) is not None else {})})


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
    halves = {t: fig5_halves(changes[t], steps[t], spec.t["min_effect"]) for t in tags}
    # Fig. 5 is read per net: a net under the gate is shown and named, not judged, and holds no other net's verdict
    # back; the row's gate is unmet only when no net meets it
    acc = accuracies(result, tags)
    nets = {t: [s for s in seed_tags(result, t) if s in tags] for t in DEEP}
    judged = [s for t, seeds in nets.items() if all(spec.gate.met_by(acc[s]) for s in seeds) for s in seeds] or tags
    verdict = combine(fig5_verdict(halves[t]) for t in judged)
    lab = {t: t + ("" if t in judged else " (not judged)") for t in tags}
    word = {1: "as the paper says", -1: "against the paper", 0: "inside the band", None: "undecidable"}

    def why(name: str, half) -> str:
        s_, against, as_paper = half
        return (f"({name}) — {word[s_]}" + (": " + ", ".join(against) if against else "")
                + (f" (as the paper says, it {', '.join(as_paper)})" if against and as_paper else ""))

    reason = "; ".join(f"{lab[t]}: " + "; ".join(why(n, h) for n, h in zip(
        ("a, intra decreases more obviously", "b, inter increases slowly"), hs)) for t, hs in halves.items())
    curves = {t: {c: [curve_estimate(result, t, lvl, c).value for lvl in dict.fromkeys(x for st in steps[t] for x in st)]
                  for c in ("intra", "inter")} for t in tags}
    value = "; ".join(f"{lab[t]}: intra " + " → ".join(f"{v:.2f}" for v in curves[t]["intra"]) + "°, inter "
                      + " → ".join(f"{v:.2f}" for v in curves[t]["inter"]) + "° (stage-1…4 inputs, end); stage 1 → "
                      f"end Δintra {pm(c['intra'])}, Δinter {pm(c['inter'])}, −Δintra − |Δinter| "
                      f"{pm(c['intra_steeper'])}" for t, c in changes.items())
    if any(t not in result["runs"] for t in DEEP):
        reason += f"; {missing_runs(result, DEEP)}: judged on the nets run"
    if under := [t for t in tags if t not in judged]:
        reason += "; not judged (a seed under our bar): " + ", ".join(
            f"{t} ({', '.join(f'{acc[s]:.1%}' for s in seeds)}; bar {spec.gate.required:.0%})"
            for t, seeds in nets.items() if seeds and seeds[0] in under)
    if single := [t for t, seeds in nets.items() if len(seeds) == 1 and seeds[0] in judged]:
        reason += f"; single seed ({', '.join(single)}): the bands are over test images only"
    band = {**{f"{lab[t]} {k} (stage 1 → end)": e for t, c in changes.items() for k, e in c.items()},
            **{f"{lab[t]} {k} ({a} → {b})": e for t, st in steps.items() for (a, b), c in st.items()
               for k, e in c.items() if k != "intra_steeper"}}
    return spec.row(value, verdict, reason, profile=profile, gate_measured={t: acc[t] for t in judged}, band=band)


def claims(result: dict) -> list[Claim]:
    """Return the P1 ledger rows, every verdict computed from ``result``; the profile comes from its provenance."""
    profile = profile_of(result)
    rows = [f(result, profile) for f in (conditioning_row, lemma2_row, bn_row, _claim_fig2, _claim_depth,
                                         _claim_other_tasks, _claim_stages, lemma1_bound_row)]
    # P1.4's half (a) rests on Base18 too, which its gate leaves out (Base18 is expected to stay near chance)
    return mark_networks(rows, CLAIMS, lambda tag: paper_network(result, tag), more={"P1.4": seed_tags(result, FIG2[0])})
