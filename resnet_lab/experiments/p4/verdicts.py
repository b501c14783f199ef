"""P4's verdicts: one function per ledger row (P4.1–P4.5, P4.2-datasets), and ``claims(result)`` returning them all.

P4.1 (Table 1's F1 near the paper's) is the quality gate of the others: a network below it makes those rows
inconclusive (``paper.TRAINED``). Every seed is judged: P4.2's two orderings (depth, datasets) count seed pairs
(an exact stratified test), P4.4 takes log10 ratios over seeds, P4.3 pools each network's hits over its seeds (one
test per network, the two networks tested together) and P4.5 judges each seed and combines the seeds' verdicts with
``ledger.combine`` (holds only if every seed holds). P4.3–P4.5 compare with the same networks at initialisation.
Imports only ``paper``, ``readings`` and the shared ledger and stats.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...ledger import Claim, judge, mark_networks, profile_of, tally, tally_family
from ...stats import Estimate, over_seeds, sign
from .paper import (ANIMAL_PAIRS, CLAIMS, DATASET_NAMES, DATASET_ORDERING, DEPTH_ORDERING, JUDGED, NETWORKS,
                    PAPER_HARD_MNIST_PAIRS, PAPER_TABLE1, PAPER_TABLE2, PAPER_TABLE3, TOP, chance_tail)
from .readings import (BESIDE_R50, JUDGED_RANKING, READINGS, HardPairs, below, blocks_of_max, expansive_estimate,
                       f1_above_bar, f1_bar, f1_from_paper, hard_pairs_test, hits, hops_versus_accuracy,
                       hops_versus_untrained, last_gain, mean_f1, name, networks, orbit_stays, ordering_test,
                       pair_distance, pair_ratio, paper_network, per_seed_constant, rate_between, named_counts,
                       trained_margins, untrained_runs, with_arrays, p43_looks)

STALE = ("the result predates the orbits' ends and the untrained networks: recompute it "
         "(python -m resnet_lab run p4)")


def _seeds_rule(verdicts: list[str]) -> str:
    """Return the rule's words for a row judged per seed: ``"seeds: holds, holds, partly → combined: partly"``."""
    return (f"per seed {', '.join(verdicts)} → combined (holds only if every seed holds; partly or fails on the "
            "rate against the untrained twin after Holm's adjustment over the seeds)")


def _needs_all(nets: dict) -> str:
    """Return the not-run reason of a row that compares all four networks."""
    return f"needs all 4 networks; ran {', '.join(map(name, nets))}"


_FROM_PAPER = {1: "above the paper's beyond its band", -1: "below the paper's beyond its band",
               0: "the paper's within its band", None: "one seed: no band"}


def claim_table1(result: dict) -> Claim:
    """P4.1: every network's F1 at the paper's minus the margin; gated on training having levelled off."""
    spec, nets, profile = CLAIMS["P4.1"], networks(result), profile_of(result)
    if any(k not in nets for k in NETWORKS):
        return spec.not_run(_needs_all(nets), profile)
    margin = {k: f1_above_bar(nets[k], k) for k in NETWORKS}
    signs = {k: sign(m) for k, m in margin.items()}
    if all(s == 1 for s in signs.values()):
        verdict, reason = "holds", ""
    elif all(s == 1 for k, s in signs.items() if k[0] == "mnist"):
        verdict, reason = "partly", ""
    elif -1 in signs.values():
        verdict, reason = "fails", ""
    else:
        verdict, reason = "inconclusive", "undecided: " + ", ".join(
            f"{name(k)} {'one seed, no band' if s is None else 'F1 inside its band around the bar'}"
            for k, s in signs.items() if s != 1)
    apart = {k: f1_from_paper(nets[k], k) for k in NETWORKS}
    value = "; ".join(f"{name(k)}: F1 {mean_f1(nets[k]):.4f} (paper {PAPER_TABLE1[k][2]:.4f}, bar {f1_bar(k):.3f}; "
                      f"F1 − bar {margin[k].format('+.4f')}; F1 − paper {apart[k].format('+.4f')}: "
                      f"{_FROM_PAPER[sign(apart[k])]})" for k in NETWORKS)
    source = result.get("provenance", {}).get("data_source", "")
    if "cifar10-jpeg" in source:  # the offline copy: the paper's test images, re-encoded
        value += "; CIFAR-10's test images read from a lossy JPEG re-encoding of the paper's (provenance)"
    gains = {name(k): max((g for g in map(last_gain, nets[k]) if g is not None), default=None) for k in NETWORKS}
    band = {f"{name(k)} F1 − bar": margin[k] for k in NETWORKS} | {f"{name(k)} F1 − paper": apart[k] for k in NETWORKS}
    return spec.row(value, verdict, reason, gate_measured=gains, band=band, profile=profile)


def _constants_text(nets: dict, key: tuple[str, int], readings: dict) -> str:
    """Return one network's constants for an ordering row: both readings' geometric means, per seed, and blocks."""
    runs = nets[key]
    text = ", ".join(f"{READINGS[r]} {10 ** readings[r].value:.3g} (geometric mean of "
                     + ", ".join(f"{per_seed_constant(x, r):.2g}" for x in runs) + ")" for r in READINGS)
    return f"{name(key)}: {text}; Def. 1's max at block{'s' * (len(runs) > 1)} {blocks_of_max(runs)}"


def claim_ordering(result: dict, claim_id: str, ordering, relation: str) -> Claim:
    """P4.2 / P4.2-datasets: one of Table 2's orderings, counted over seed pairs under both readings."""
    spec, nets, profile = CLAIMS[claim_id], networks(result), profile_of(result)
    keys = [k for _, high, low in ordering for k in (high, low)]
    if any(k not in nets for k in keys):
        return spec.not_run(_needs_all(nets), profile)
    est = {k: {r: expansive_estimate(nets[k], r) for r in READINGS} for k in keys}
    tests = {r: ordering_test(nets, ordering, r) for r in READINGS}
    parts = [_constants_text(nets, k, est[k]) for k in keys]
    for r, (wins, pairs, p, s) in tests.items():
        per = ", ".join(f"{DATASET_NAMES.get(o[0], f'ResNet-{o[0]}')} {w:g}/{n} (p = {q:.2g})"
                        for o in ordering for w, n, q, _ in [ordering_test(nets, [o], r)])
        parts.append(f"{READINGS[r]}: {relation} in {wins:g} of {pairs} seed pairs ({per}), exact p = {p:.3g}"
                     + {1: ", the paper's way", -1: ", reversed", 0: ", undecided"}[s])
    seeds = min(len(nets[k]) for k in keys)
    mm, mn = tests["min_max"][3], tests["min_min"][3]
    if seeds < spec.t["min_seeds"]:
        verdict, reason = "inconclusive", f"orderings between networks need ≥ {spec.t['min_seeds']} seeds; {seeds} ran"
    elif mm == -1 or (mn == -1 and mm == 0):  # reversed under the paper's own definition, or nothing for it
        verdict, reason = "fails", ""
    elif mm == 1 or mn == 1:
        verdict = "holds" if mm == 1 and mn != -1 else "partly"
        reason = ("the two readings disagree: the min–min is reversed" if mn == -1 else "" if mm == 1 else
                  "the paper's way under the min–min only ({:g} of {} seed pairs, exact p = {:.2g}); under Def. 1's "
                  "min–max, the paper's definition, {:g} of {}, exact p = {:.2g}: undecided".format(
                      *tests["min_min"][:3], *tests["min_max"][:3]))
    else:
        verdict, reason = "inconclusive", "the seed-pair count lies inside its band under both readings"
    band = {f"{READINGS[r]}: seed pairs the paper's way": {"wins": w, "pairs": n, "exact p": p}
            for r, (w, n, p, _) in tests.items()}
    band.update({f"{name(k)} {READINGS[r]} (log10)": est[k][r] for k in keys for r in READINGS})
    return spec.row("; ".join(parts), verdict, reason, gate_measured=trained_margins(nets, keys), band=band,
                    profile=profile)


def claim_depth(result: dict) -> Claim:
    """P4.2: ResNet-50's constant below ResNet-18's, on each dataset, pooled over the datasets."""
    claim = claim_ordering(result, "P4.2", DEPTH_ORDERING, "ResNet-18 above ResNet-50")
    return claim if claim.verdict == "not run" else replace(claim, value=claim.value + "; " + _table2_text(result))


def claim_datasets(result: dict) -> Claim:
    """P4.2-datasets: CIFAR-10's constant above MNIST's, at each depth, pooled over the depths."""
    return claim_ordering(result, "P4.2-datasets", DATASET_ORDERING, "CIFAR-10 above MNIST")


def _table2_text(result: dict) -> str:
    """Return Table 2's other columns, reported beside P4.2 and not judged: Sh_g, and Sh_g/‖W‖₂ beside the paper's
    Sh_g/Lip(g) (LipSDP on the linear layer, i.e. ‖W‖₂); our T_g bound divides by ½‖W‖₂, twice that by construction."""
    parts = []
    for k, runs in networks(result).items():
        c = [r["constants"][0] for r in runs]
        parts.append(f"{name(k)} Sh_g " + ", ".join(f"{x['shadowing']:.3g}" for x in c)
                     + f" (paper {PAPER_TABLE2[k][1]:.3g}), Sh_g/‖W‖₂ " + ", ".join(f"{x['topological_linear_lip']:.3g}"
                                                                        for x in c)
                     + f" (paper's Sh_g/Lip(g) {PAPER_TABLE2[k][5]:.3g})")
    return ("not judged, per seed: " + "; ".join(parts) + "; our T_g ≥ Sh_g/Lip(g) uses Lip(g) = ½‖W‖₂ (the "
            "softmax), so it is twice Sh_g/‖W‖₂ by construction")

READINGS_REPORTED = {"Fig. 2": "Fig. 2's closest mean over blocks", "min–min": "the min–min (§4's wording of Fig. 3)"}


def _hard_pairs_rule(tests: dict, alpha: float, half: float) -> str:
    """Return P4.3's verdict from each network's test: Hochberg's step-up over the networks (holds when every p ≤
    ``alpha``, partly when the smallest ≤ ``half``), fails when no network's hits are beyond chance."""
    ps = sorted(t.p for t in tests.values())
    if ps[-1] <= alpha:
        return "holds"
    if ps[0] <= half:
        return "partly"
    return "fails" if all(t.chance > alpha for t in tests.values()) else "inconclusive"


def _hits_text(key: tuple[str, int], test: HardPairs) -> str:
    """Return a network's hits per seed and pooled, its chance p, and its untrained twin's."""
    seeds, top = len(test.hits), TOP * len(test.hits)
    text = (f"{name(key)} {', '.join(map(str, test.hits))} of {TOP} per seed, {sum(test.hits)} of {top} pooled "
            f"(chance p = {test.chance:.2g})")
    if test.twin is None:
        return text + ", untrained not measured"
    return text + (f", untrained {', '.join(map(str, test.twin))} ({sum(test.twin)} of {top}, chance p = "
                   f"{chance_tail(sum(test.twin), test.marked, seeds):.2g}); above untrained: p = {test.twin_p:.2g}")


def _named_text(runs: list[dict], counts: dict) -> str:
    """Return named pairs with the number of seeds that rank them among the closest: "2–7 in 2, 4–6 in 1 of 3 seeds"."""
    classes = runs[0]["classes"]
    return ", ".join(f"{classes[a]}–{classes[b]} in {n}" for (a, b), n in counts.items()) + f" of {len(runs)} seeds"


def _status(key: tuple[str, int], test: HardPairs, runs: list[dict], target: set, alpha: float) -> str:
    """Return what a network's test found, in words: beyond chance and its twin, or not, and where the named pairs
    stand when not (not beyond chance is no contradiction while they appear among the closest)."""
    if test.chance > alpha:
        text = f"{name(key)} not beyond chance (p = {test.chance:.2g})"
        counts = named_counts(runs, target, JUDGED_RANKING)
        if not counts:
            return text + f", none of the named pairs among its {TOP} closest in any seed"
        text += f", which is no contradiction: among its {TOP} closest, {_named_text(runs, counts)}"
        for ranking, label in READINGS_REPORTED.items():
            every = {p: n for p, n in named_counts(runs, target, ranking).items() if n == len(runs)}
            if every:
                text += f" ({_named_text(runs, every)} under {label})"
        if test.twin is not None and sum(test.twin) > sum(test.hits):  # the untrained net ranks them closer
            twin_chance = chance_tail(sum(test.twin), test.marked, len(test.twin))
            text += (f"; its untrained twin ranks them among its closest more often ({sum(test.twin)} of "
                     f"{TOP * len(test.twin)} pooled, chance p = {twin_chance:.2g})")
        return text
    if test.twin is None:
        return f"{name(key)} beyond chance (p = {test.chance:.2g}), its untrained twin not measured"
    if test.twin_p > alpha:
        return (f"{name(key)} beyond chance (p = {test.chance:.2g}), not beyond its untrained twin "
                f"(p = {test.twin_p:.2g})")
    return f"{name(key)} beyond chance and its untrained twin (p = {test.p:.2g})"


def claim_hard_pairs(result: dict) -> Claim:
    """P4.3: each named network's closest class pairs, pooled over its seeds, are the paper's (MNIST) or the animals
    (CIFAR-10) beyond chance and beyond the same network at initialisation; the networks tested together."""
    spec, nets, profile = CLAIMS["P4.3"], networks(result), profile_of(result)
    if any(k not in nets for k in JUDGED):
        return spec.not_run(f"needs {', '.join(map(name, JUDGED))}", profile)
    alpha, half = spec.t["alpha"], spec.t["half"]
    looks = p43_looks(result, nets, JUDGED, alpha, half, JUDGED_RANKING)
    if looks.incomplete:
        return spec.row(looks.incomplete, "inconclusive", looks.incomplete, profile=profile)
    first, runs, confirmed = looks.first, looks.judged, looks.confirmed

    def tests(ranking: str) -> dict:
        return {k: hard_pairs_test(*arms, JUDGED[k], ranking) for k, arms in runs.items()}

    judged = tests(JUDGED_RANKING)
    verdict = _hard_pairs_rule(judged, alpha, half)
    parts = [f"{JUDGED_RANKING} (Def. 1 per class pair): " + "; ".join(
        _hits_text(k, t) + (f" (confirmation, seeds {_seed_span(runs[k][0])})" if k in confirmed else "")
        for k, t in judged.items())]
    if confirmed:
        parts.append("not judged, the first look that asked for the confirmation: " + "; ".join(
            f"{_hits_text(k, looks.first_tests[k])} (seeds {_seed_span(first[k][0])})" for k in confirmed))
    parts += looks.notes
    for ranking, label in READINGS_REPORTED.items():
        other = tests(ranking)
        again = _hard_pairs_rule(other, alpha, half)
        parts.append(f"not judged, under {label}: " + "; ".join(_hits_text(k, t) for k, t in other.items())
                     + f"; the rule gives {again} under it, "
                     + ("the same as under Def. 1" if again == verdict else f"where Def. 1 gives {verdict}"))
    for k, target in ((("mnist", 18), PAPER_HARD_MNIST_PAIRS), (("cifar10", 50), ANIMAL_PAIRS)):
        if k in nets:
            parts.append(f"not judged: {name(k)} Fig. 3 per seed: "
                         + ", ".join(f"{hits(r, target, JUDGED_RANKING)}/{TOP}" for r in nets[k]))
    statuses = "; ".join(_status(k, t, runs[k][0], JUDGED[k], alpha) for k, t in judged.items())
    reason = {"holds": "", "partly": f"one network at p ≤ {half:.3g}: {statuses}",
              "fails": f"neither network's hits beyond chance: {statuses}",
              "inconclusive": f"holds needs both networks at p ≤ {alpha:.2g}, partly one at p ≤ {half:.3g}: "
                              f"{statuses}"}[verdict]
    band = {f"{name(k)} {JUDGED_RANKING}": {"hits": sum(t.hits), "of": TOP * len(t.hits), "chance p": t.chance,
                                           "untrained hits": None if t.twin is None else sum(t.twin),
                                           "p above untrained": t.twin_p, "p": t.p} for k, t in judged.items()}
    return spec.row("; ".join(parts), verdict, reason, band=band, profile=profile,
                    gate_measured=trained_margins({k: arms[0] for k, arms in runs.items()}, JUDGED))


def _seed_span(runs: list[dict]) -> str:
    seeds = [r.get("seed", 0) for r in runs]
    return f"{seeds[0]}–{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])


def claim_close_pairs(result: dict) -> Claim:
    """P4.4: Table 3's four digit-2 pairs come as close as the paper's (≤ window×) over seeds, where untrained
    networks of the same width on the same sample do not."""
    spec, nets, profile = CLAIMS["P4.4"], networks(result), profile_of(result)
    key, bar = ("mnist", 50), float(np.log10(CLAIMS["P4.4"].t["window"]))
    if key not in nets:
        return spec.not_run("needs MNIST ResNet-50", profile)
    signs, parts, band = [], [], {}
    for d, n, a, b, block, paper in PAPER_TABLE3:
        runs, untrained = nets.get((d, n), []), untrained_runs(result, (d, n))
        if not runs:
            continue
        ours = pair_ratio(runs, a, b, paper)
        control = pair_ratio(untrained, a, b, paper) if untrained else None
        text = (f"{name((d, n))} {a}–{b}: ×{10 ** ours.value:.2g} the paper's {paper:.3g} (geometric mean over seeds; "
                "per seed " + ", ".join(f"×{pair_distance(r, a, b) / paper:.2g}" for r in runs) + ")")
        text += (f", untrained ×{10 ** control.value:.2g} (per seed "
                 + ", ".join(f"×{pair_distance(u, a, b) / paper:.2g}" for u in untrained) + ")") if control else \
            ", untrained not measured"
        if (d, n) != key:
            parts.append("not judged: " + text)
            continue
        s, out = below(ours, bar), control is not None and below(control, bar) == -1
        signs.append(0 if s == 1 and not out else s)
        parts.append(text + {1: ": as close", -1: ": not as close", 0: ": undecided", None: ": undecided"}[s]
                     + ("" if s != 1 or out else " but the untrained network is not beyond the window: undecided"))
        band[f"{a}–{b} log10(ours/paper)"] = ours
        if control is not None:
            band[f"{a}–{b} untrained log10(ours/paper)"] = control
    verdict = tally(signs)
    reason = "" if verdict != "inconclusive" else "no pair decided: each ratio's band straddles the window, or the " \
        "untrained network is not beyond it"
    return spec.row("; ".join(parts), verdict, reason, gate_measured=trained_margins(nets, [key]), band=band,
                    profile=profile)


def _orbit_verdict(run: dict, untrained: dict | None) -> tuple[str, str, dict, Estimate | None]:
    """Return one seed's P4.5 verdict, its measured text, its bands and its rate minus the untrained rate (None
    without the twin; what Holm reads over the seeds): the per-hop rate against the untrained
    network's and against the network's accuracy squared (cluster bootstrap: orbits ending on one image), and
    whether the Sh_g orbit stays."""
    seed, stays, acc = run.get("seed", 0), orbit_stays(run["orbits"]["shadowing"]), hops_versus_accuracy(run)
    text = (f"seed {seed} MNIST R50: per-hop same-class rate {run['hop_same_class']:.2%}, minus the accuracy² "
            f"({run['sample_accuracy']:.2%})²: {acc.format('+.2%')}")
    bands = {f"seed {seed}: rate − accuracy²": acc}
    if untrained is None:
        return "inconclusive", text + "; untrained network not measured", bands, None
    trained = hops_versus_untrained(run, untrained)
    bands[f"seed {seed}: rate − untrained rate"] = trained
    text += (f"; untrained rate {untrained['hop_same_class']:.2%}, difference {trained.format('+.2%')}; the Sh_g "
             f"orbit {'stays in' if stays else 'leaves'} its class")
    above, meets = sign(trained), sign(acc)
    if above is None or meets is None:
        return "inconclusive", text, bands, trained
    if above == 1:
        return judge(meets >= 0 and stays, partly=True), text, bands, trained
    return ("fails" if above == -1 else "inconclusive"), text, bands, trained


def _stay_text(runs: list[dict]) -> str:
    """Return the share of orbits that keep their class at every hop, per seed (reported, not judged)."""
    if any("orbit_stay_fraction" not in r for r in runs):
        return ""
    return (", orbits in class at every hop per seed " + ", ".join(f"{r['orbit_stay_fraction']:.1%}" for r in runs))


def claim_orbits(result: dict) -> Claim:
    """P4.5: MNIST ResNet-50's orbits keep their class as often as its accuracy allows, beyond an untrained
    network's, and its Sh_g orbit stays in class; every seed judged."""
    spec, nets, profile = CLAIMS["P4.5"], networks(result), profile_of(result)
    key = ("mnist", 50)
    if key not in nets:
        return spec.not_run("needs MNIST ResNet-50", profile)
    if any("orbit_end" not in r for r in nets[key]):
        return spec.row("—", "inconclusive", STALE, profile=profile)
    untrained = {u["seed"]: u for u in untrained_runs(result, key)}
    per_seed, parts, band, above = [], [], {}, []
    for run in nets[key]:
        verdict, text, bands, trained = _orbit_verdict(run, untrained.get(run.get("seed", 0)))
        per_seed.append(verdict)
        parts.append(text)
        band.update(bands)
        above.append(trained)
    band["rate over seeds"] = rates = over_seeds([r["hop_same_class"] for r in nets[key]])
    parts.append(f"per-hop rate over seeds {rates.format('.2%')}" + _stay_text(nets[key]))
    for k in (("mnist", 18), ("cifar10", 18)):
        if k in nets:
            parts.append(f"not judged: {name(k)} per-hop rate per seed "
                         + ", ".join(f"{r['hop_same_class']:.1%}" for r in nets[k]) + _stay_text(nets[k])
                         + f", class-crossing orbit found in {sum('class_crossing' in r['orbits'] for r in nets[k])} "
                         f"of {len(nets[k])} seeds")
    if ("mnist", 18) in nets:  # the statement's ResNet-18 half beside its ResNet-50 half, on MNIST
        band["MNIST R18 − R50 rate"] = gap = rate_between(nets[("mnist", 18)], nets[key])
        parts.append(f"not judged: MNIST R18's per-hop rate minus R50's {gap.format('+.2%')}: {BESIDE_R50[sign(gap)]}")
    # Seeds are replicates: one of five above its twin beyond its own band is what no effect gives ~12% of the time,
    # so "some seed" is read after Holm's adjustment over the seeds (tally_family); "holds" needs every seed.
    verdict = "holds" if all(v == "holds" for v in per_seed) else {
        "holds": "partly", "partly": "partly", "fails": "fails"}.get(tally_family(above), "inconclusive")
    reason = _seeds_rule(per_seed) if len(per_seed) > 1 else ""
    if verdict == "inconclusive" and not reason:
        reason = "the rate lies inside its band around the untrained network's, or a band is unknown"
    return spec.row("; ".join(parts), verdict, reason, gate_measured=trained_margins(nets, [key]), band=band,
                    profile=profile)


def claims(result: dict) -> list[Claim]:
    """Return the P4.1–P4.5 ledger rows, every verdict computed from ``result`` (profile from its provenance; the
    arrays saved beside it read back in)."""
    result = with_arrays(result)
    rows = [claim_table1(result), claim_depth(result), claim_datasets(result), claim_hard_pairs(result),
            claim_close_pairs(result), claim_orbits(result)]
    return mark_networks(rows, CLAIMS, lambda net: paper_network(result, net))
