"""P2's verdicts: one function per ledger row, each reading the result through ``readings`` against the
thresholds ``paper.CLAIMS`` declares, and ``claims(result)`` for the whole ledger. An inconclusive row whose
accuracy gate is unmet names the gate after its own reason (``gate_first=False``).
"""
from __future__ import annotations

import numpy as np

from ...ledger import Claim, combine, family_signs, family_verdict, judge, mark_networks, profile_of, tally
from ...stats import Estimate, difference, exact, over_seeds, sign
from .paper import CLAIMS, PAPER_DEPTH
from .readings import (alive_nets, bound_excess, clean_gain, correct_gain, drop_estimate, growth_rate, held_back,
                       init_rate, net_drop, noise_nets, p_true_drop, paper_network, per_element_growth, scaled,
                       sensitivity_estimates, table52_frame)


def _acc_gate(result: dict, variants=("d", "s")) -> dict[str, float]:
    return {f"{m['variant'].upper()} n={m['n']} s{m['seed']}": m["test_acc"] for m in result["models"]
            if m["variant"] in variants}


def claim_table52(result: dict) -> Claim:
    spec = CLAIMS["P2.1"]
    t52 = table52_frame(result)
    worst = float(t52["rel_diff_%"].abs().max())
    depth_ok = bool((t52["depth"] == t52["paper_depth"]).all())
    literal = float((100 * (t52["literal_M"] - t52["paper_M"]) / t52["paper_M"]).abs().max())
    return spec.row(f"depths equal: {depth_ok}; worst relative difference {worst:.2f}% (literal Fig. 4.1 layout: up "
                    f"to {literal:.0f}%)", judge(depth_ok and worst <= spec.t["hold_pct"],
                                                 depth_ok and worst <= spec.t["partly_pct"]),
                    profile="any (counted, not trained)")


def _depth_verdict(by_n: dict[int, list[dict]], min_depths: int) -> tuple[str, dict[str, Estimate]]:
    """Return a variant's verdict and its judged steps: the deepest against the shallowest net, and each step to the
    next depth (a dip), every one ``clean_gain`` over seeds and the whole test set's images."""
    if len(by_n) < min_depths:
        return "inconclusive", {}
    ns = list(by_n)
    steps = {f"acc(n={b}) − acc(n={a})": clean_gain(by_n[a], by_n[b]) for a, b in zip(ns, ns[1:])}
    whole = f"acc(n={ns[-1]}) − acc(n={ns[0]})"   # the one step itself where there are two depths
    if whole not in steps:
        steps[whole] = clean_gain(by_n[ns[0]], by_n[ns[-1]])
    rise = steps[whole]
    dips = [sign(d) == -1 for d in steps.values()]
    if sign(rise) is None:
        return "inconclusive", steps
    return {1: "partly" if any(dips) else "holds", -1: "fails", 0: "inconclusive"}[sign(rise)], steps


def _scope(by_variant: dict[str, dict[int, list[dict]]]) -> str:
    """Return which depths the row judges beside Table 5.3's four per variant, in words (the rest untested)."""
    judged = ", ".join(f"{v.upper()} " + "→".join(str(ms[0]["depth"]) for ms in by_n.values())
                       for v, by_n in by_variant.items() if by_n)
    untested = {v: [PAPER_DEPTH[v][n] for n in PAPER_DEPTH[v] if n not in by_n] for v, by_n in by_variant.items()}
    return (f"depths judged {judged}, of Table 5.3's four per variant; untested: "
            + ", ".join(f"{v.upper()} {'/'.join(map(str, d))}" for v, d in untested.items() if d))


def claim_depth_accuracy(result: dict) -> Claim:
    spec, profile = CLAIMS["P2.2"], profile_of(result)
    verdicts, values, band, few, depths = [], [], {}, False, {}
    for v in ("d", "s"):
        by_n = alive_nets(result, v)
        ests = {n: over_seeds([m["test_acc"] for m in ms]) for n, ms in by_n.items()}
        few |= len(ests) < spec.t["min_depths"]
        verdict, steps = _depth_verdict(by_n, spec.t["min_depths"])
        verdicts.append(verdict)
        depths[v] = by_n
        values.append(f"{v.upper()}: " + " → ".join(
            f"{100 * e.value:.1f}±{'?' if e.se != e.se else f'{100 * e.band():.1f}'}" for e in ests.values())
                      + f" % (n = {list(ests)})" + "".join(
            f"; {k} {100 * d.value:+.2f}±{'?' if d.se != d.se else f'{100 * d.band():.2f}'} pts"
            for k, d in steps.items()) + f": {verdict}")
        band.update({f"{v.upper()} n={n}": e for n, e in ests.items()})
        band.update({f"{v.upper()} {k}": d for k, d in steps.items()})
    verdict = combine(verdicts)
    one_seed = any(e.n < 2 for k, e in band.items() if "acc(" not in k)
    reason = ("" if verdict != "inconclusive" else f"fewer than {spec.t['min_depths']} depths per variant" if few
              else "one seed per depth: nets of two depths differ by seed too, and that spread is unmeasured"
              if one_seed else "the depth differences are inside the noise band")
    short = {"inconclusive": "its step inside the band (or undecided)", "fails": "the deepest below the shallowest",
             "partly": "a dip between its depths"}
    if verdict == "partly":
        reason = "; ".join(f"{v.upper()} {w}: {short[w]}" for v, w in zip(("d", "s"), verdicts) if w != "holds")
    reason = "; ".join(x for x in (reason, _scope(depths)) if x)
    return spec.row("; ".join(values), verdict, reason, gate_measured=_acc_gate(result), band=band, profile=profile,
                    gate_first=False)


def _drops_text(v: str, cond: str, drops: dict) -> str:
    return f"{v.upper()} {cond}: drop " + ", ".join(
        f"n={n} {100 * e.value:.1f}±{'?' if e.se != e.se else f'{100 * e.band():.1f}'}" for n, e in drops.items()) + " pts"


def claim_noise(result: dict) -> Claim:
    spec, profile = CLAIMS["P2.3"], profile_of(result)
    levels = {k: sorted(lv) for k, lv in result["noise_levels"].items() if lv}
    if not levels:
        return spec.not_run("no net to calibrate the noise levels on", profile)
    hurt, deeper, values, band = [], [], [], {}
    for v in ("d", "s"):
        by_n = noise_nets(result, v)
        if not by_n:
            continue
        lo, hi = min(by_n), max(by_n)
        for kind, lvs in levels.items():
            high = f"{kind}@{max(lvs):g}"
            drops = {n: drop_estimate(ms, high) for n, ms in by_n.items()}   # printed at any depth count
            hurt += [sign(net_drop(m, high)) for ms in by_n.values() for m in ms]   # (a): each net, its own band
            values.append(_drops_text(v, high, drops))
            if len(by_n) < spec.t["min_depths"]:
                continue
            for lv in lvs:
                cond = f"{kind}@{lv:g}"
                gain = correct_gain(by_n[lo], by_n[hi], cond)   # > 0: the deeper net is right more often
                deeper.append(sign(gain))
                band[f"{v.upper()} {cond} acc(n={hi}) − acc(n={lo})"] = gain
    gate = _acc_gate(result)
    if None in hurt:
        return spec.row("; ".join(values), "inconclusive", "a net's drop has no band (fewer than two test images)",
                        gate_measured=gate, profile=profile, gate_first=False)
    if any(s == -1 or s == 0 for s in hurt):
        return spec.row("; ".join(values), "fails", "noise at the calibrated level does not lower every net's "
                        "accuracy beyond the band", gate_measured=gate, band=band or None, profile=profile,
                        gate_first=False)
    if not deeper:
        return spec.row("; ".join(values) or "—", "inconclusive", f"fewer than {spec.t['min_depths']} depths per "
                        "variant: §5.2's sentence compares depths", gate_measured=gate, profile=profile,
                        gate_first=False)
    if None in deeper:
        return spec.row("; ".join(values), "inconclusive", "one seed per net: the accuracies after corruption are "
                        "compared over seeds, then images (two-level bootstrap), and one seed leaves the seed spread "
                        "unknown", gate_measured=gate, band=band, profile=profile, gate_first=False)
    values.append(_gains_text(band))
    single, kept = family_signs(list(band.values()))
    verdict = family_verdict(single, kept)  # tally_family's rule, from the signs the reason words
    return spec.row("; ".join(values), verdict, _family_reason(band, single, kept, verdict), gate_measured=gate,
                    band=band, profile=profile, gate_first=False)


def _gains_text(band: dict[str, Estimate]) -> str:
    """(b)'s judged differences, deepest minus shallowest net's corrupted accuracy, with their two-level bands."""
    return "judged (b), deepest − shallowest accuracy under noise: " + ", ".join(
        f"{key.split(' acc(')[0]} {100 * e.value:+.1f}±{100 * e.band():.1f}" for key, e in band.items()) + " pts"


def _family_reason(band: dict[str, Estimate], single: list, kept: list, verdict: str) -> str:
    """Return which of P2.3 (b)'s comparisons lie beyond their band, alone (``single``) and after Holm's adjustment
    over all (``kept``; ``ledger.family_signs``)."""
    way = {1: "higher", -1: "lower"}
    name = lambda key: key.split(" acc(")[0]  # noqa: E731
    single, kept = dict(zip(band, single)), dict(zip(band, kept))
    if not any(single.values()):
        return "every depth difference of the corrupted accuracies is inside the two-level band"
    alone = [f"{way[s]} at {name(k)}" + ("" if kept[k] else " (not after Holm's adjustment)")
             for k, s in single.items() if s]
    text = (f"the deepest minus the shallowest net's corrupted accuracy lies beyond its band in {len(alone)} of "
            f"{len(band)} (variant, kind, level): " + ", ".join(alone))
    if verdict == "inconclusive":
        text += f"; after Holm's adjustment over the {len(band)} " + (
            "none is beyond its band" if not any(kept.values()) else "they lie beyond it both ways")
    return text if verdict != "holds" else ""


def _steps_sign(signs: list[int | None]) -> int | None:
    """Return +1 if p(true) falls at every step beyond its band (each step's ``sign``), −1 if it rises at one, 0
    otherwise (None: unknown)."""
    if -1 in signs:
        return -1
    if None in signs:
        return None
    return 1 if signs and all(x == 1 for x in signs) else 0


def claim_probabilities(result: dict) -> Claim:
    spec, profile = CLAIMS["P2.4"], profile_of(result)
    figs = {v: f for v, f in result["figures"].items() if v in ("d", "s")}
    if not figs:
        return spec.not_run("no figure net in this result", profile)
    signs, values, band, missed = [], [], {}, []
    for v, fig in figs.items():
        for kind, pts in fig["p_true"].items():
            if len(pts) < 2:
                continue   # no corrupted level measured
            drops = [p_true_drop(p, "step") for p in pts[1:]]
            steps = [sign(d) for d in drops]
            signs.append(_steps_sign(steps))
            word = {1: "falls at every step", -1: "rises at a step", 0: "some step inside its band"}.get(signs[-1], "?")
            band.update({f"{v.upper()} {kind}@{p['level']:g} step": d for p, d in zip(pts[1:], drops)})
            symbol = "σ" if kind == "gaussian" else "ε"
            missed += [f"{v.upper()} {kind} step to {symbol} {p['level']:g}: "
                       + ("a rise beyond its band" if s == -1 else "inside its band" if s == 0 else "no band")
                       for p, s in zip(pts[1:], steps) if s != 1]
            values.append(f"{v.upper()} {kind}: mean p(true) " + " → ".join(
                f"{p['mean']:.2f}" + (f" ({symbol} {p['level']:g})" if p["level"] else " (clean)") for p in pts)
                          + f": {word}")
        probes = ", ".join(f"{p['class']} {p['p_true']:.2f}" for p in fig.get("probes", []))
        values.append(f"{v.upper()} probes clean p(true): {probes}")
    verdict = tally(signs)
    reason = ("no figure net's p(true) falls beyond the band at every step: " if verdict == "inconclusive" else
              "") + "; ".join(missed) if verdict != "holds" else ""
    gate = {f"{v.upper()} n={f['n']}": f["test_acc"] for v, f in figs.items()}
    return spec.row("; ".join(values), verdict, reason, gate_measured=gate, band=band, profile=profile,
                    gate_first=False)


def claim_bounds(result: dict) -> Claim:
    spec, profile = CLAIMS["P2.5-bounds"], profile_of(result)
    checked = [m for m in result["models"] if "stability" in m]
    if not checked:
        return spec.not_run("no net was measured", profile)
    bad = [f"{m['variant'].upper()} n={m['n']}" for m in checked if not m["stability"]["bounds_ok"]]
    return spec.row(f"{len(checked) - len(bad)}/{len(checked)} nets within every bound"
                    + (f"; violated in {', '.join(bad)}" if bad else ""), judge(not bad), profile=profile)


def claim_theorem42(result: dict) -> Claim:
    spec, profile = CLAIMS["P2.5"], profile_of(result)
    sp = [m for m in result["models"] if m["variant"] == "sp" and "stability" in m]
    if not sp:
        return spec.not_run("no BN-free norm-bounded ResNet-S in this result", profile)
    worst = max(m["stability"]["max_sq_norm"] for m in sp)
    excess = [bound_excess(m) for m in sp]
    over_c, over_stack = max(e[0] for e in excess), max(e[1] for e in excess)
    ests = sensitivity_estimates(result, "sp", residual=True)
    value = (f"max h‖A‖₂² = {worst:.4f}; max over probe pairs of ‖F(x)−F(y)‖/(C(n)‖x−y‖) = {over_c:.3g}, of a "
             f"residual stack's ratio {over_stack:.3g}; context, not judged: residual stacks' s(n) "
             + ", ".join(f"n={n} {e.format('.3g')}" for n, e in ests.items()))
    held = held_back(result, "sp")   # the bound holds for any weights: the pilot alone is judged, the rest is context
    value += f"; {held}" if held else ""
    band = {f"s_res(n={n})": e for n, e in ests.items()}
    row = lambda verdict, reason="": spec.row(value, verdict, reason, band=band, profile=profile)  # noqa: E731
    tol = spec.t["tol"]
    if worst > 2 * (1 + tol):
        return row("inconclusive", f"hypothesis unmet: max h‖A‖₂² = {worst:.3g} > 2, so the theorem says nothing "
                   "about these nets")
    if over_c > 1 + tol or over_stack > 1 + tol:
        return row("fails", "the bound is exceeded on a probe pair: " + ("‖F(x)−F(y)‖ > C(n)‖x−y‖"
                   if over_c > 1 + tol else "a residual stack expands"))
    return row("holds")


def _trained(growth: dict, key: str) -> tuple[list[dict], list[int]]:
    """Return one arm's trained probe profiles and the seeds of those that diverged."""
    rows = growth[key].get("trained", [])
    return [t for t in rows if not t["diverged"]], [t["seed"] for t in rows if t["diverged"]]


def _not_trained(growth: dict) -> str:
    """Return why a probe row cannot judge trained nets ("" when every arm has trained, undiverged probes)."""
    diverged = {k: _trained(growth, k)[1] for k in ("bn", "no_bn")}
    if any(diverged.values()):
        return ("the trained " + " and ".join(f"{k.replace('_', '-')} probe (seed {', '.join(map(str, s))})"
                                              for k, s in diverged.items() if s)
                + " diverged; its initialisation is not a substitute")
    if not all(_trained(growth, k)[0] for k in ("bn", "no_bn")):
        return "the probes were not trained at this profile (measured at initialisation only)"
    return ""


def _init_rates(growth: dict) -> dict[str, Estimate]:
    """Return both arms' growth rates at initialisation (one net each: bootstrap over its probe images)."""
    return {k: init_rate(growth[k]["init"]) for k in ("no_bn", "bn")}


def _rates_text(result: dict, init: dict[str, Estimate], rates: dict) -> str:
    growth, model = result["bn_growth"], result["config"]["bn_probe_model"]
    text = f"{model}, decades per unit within stages, per element: at init " + ", ".join(
        f"{k.replace('_', '-')} {e.format('.3f')}" for k, e in init.items())
    if rates:
        nets = {k: _trained(growth, k)[0] for k in rates}
        text += "; trained " + ", ".join(
            f"{k.replace('_', '-')} {e.format('.3f')} (weight decay {nets[k][0]['weight_decay']:g}, "
            f"{len(nets[k])} net(s); whole-net growth per element ×"
            f"{np.mean([per_element_growth(t) for t in nets[k]]):.3g})" for k, e in rates.items())
    return text


def _probe_gate(growth: dict, keys) -> dict:
    return {f"{'BN' if k == 'bn' else 'no BN'} s{t['seed']}": t["test_acc"]
            for k in keys for t in _trained(growth, k)[0]}


def _rate_verdict(rate: Estimate, fast: float) -> str:
    """Return one reading of P2.6: holds at ≥ 1/``fast`` decades per unit beyond the band, partly if it grows slower."""
    above = sign(difference(rate, exact(1 / fast)))   # +1: 10× within `fast` units, beyond the band
    grows = sign(rate)
    return ("holds" if above == 1 else "partly" if above == -1 and grows == 1
            else "fails" if above == -1 and grows in (0, -1) else "inconclusive")


def _too_regularised(nets: list[dict], limit: float) -> str:
    """Return why probes trained at weight decay above ``limit`` cannot test §3.1 ("" if none was)."""
    strongest = max(t["weight_decay"] for t in nets)
    return "" if strongest <= limit else (
        f"the probe trained with weight decay {strongest:g} > {limit:g}, where §3.1 expects regularisation to control "
        f"growth; a probe at ≤ {limit:g} needs new training runs (`standard` has them)")


def claim_growth_rate(result: dict) -> Claim:
    spec, profile = CLAIMS["P2.6"], profile_of(result)
    growth = result["bn_growth"]
    fast = spec.t["fast"]
    init = _init_rates(growth)
    readings, why = {"at initialisation": _rate_verdict(init["no_bn"], fast)}, {}
    nets = _trained(growth, "no_bn")[0]
    rates = {}
    if not nets:
        readings["trained"], why["trained"] = "inconclusive", _not_trained(growth) or "no trained probe"
    else:
        rates["no_bn"] = growth_rate(nets)
        readings["trained"] = _rate_verdict(rates["no_bn"], fast)
        regularised = _too_regularised(nets, spec.t["max_weight_decay"])
        if regularised:
            why["trained"] = f"{regularised} (the criterion alone gives {readings['trained']})"
            readings["trained"] = "inconclusive"
    held = held_back(result, "probes")
    if held:
        why["trained"] = "; ".join(w for w in (why.get("trained"), held) if w)
    for k, v in readings.items():
        if v == "inconclusive" and k not in why:
            why[k] = f"the rate lies within the band of 10× per {fast:g} units"
    decided = {v for v in readings.values() if v != "inconclusive"}
    verdict = ("inconclusive" if not decided else decided.pop() if len(decided) == 1
               else "partly" if decided & {"holds", "partly"} else "fails")
    value = _rates_text(result, init, rates) + "; readings: " + ", ".join(f"{k} {v}" for k, v in readings.items())
    reason = "; ".join(f"{k}: {w}" for k, w in why.items())
    return spec.row(value, verdict, reason, gate_measured=_probe_gate(growth, ("no_bn",)),
                    band={"no BN, at initialisation": init["no_bn"], **({"no BN, trained": rates["no_bn"]} if rates else {})},
                    profile=profile, gate_first=False)


def claim_bn_comparison(result: dict) -> Claim:
    spec, profile = CLAIMS["P2.6-BN"], profile_of(result)
    growth = result["bn_growth"]
    init = _init_rates(growth)
    why = held_back(result, "probes") or _not_trained(growth)
    if why:
        return spec.row(_rates_text(result, init, {}), "inconclusive", why, profile=profile)
    nets = {k: _trained(growth, k)[0] for k in ("no_bn", "bn")}
    rates = {k: growth_rate(v) for k, v in nets.items()}
    value, gate = _rates_text(result, init, rates), _probe_gate(growth, ("no_bn", "bn"))
    few = min(len(v) for v in nets.values())
    if few < spec.t["min_nets"]:
        return spec.row(value, "inconclusive", f"single network per arm ({few} < {spec.t['min_nets']} trained probes "
                        "in an arm): the comparison needs a band over seeds, and a band over one net's probe images "
                        "leaves out the spread between nets", gate_measured=gate, profile=profile, gate_first=False)
    faster = difference(rates["no_bn"], rates["bn"])
    margin = difference(scaled(rates["no_bn"], 1 / spec.t["ratio"]), rates["bn"])
    value += f"; trained no-BN − BN {faster.format('.3f')}"   # the judged difference: its band, not the arms', decides
    if sign(faster) == 1:
        dramatic = sign(margin) == 1 and sign(rates["no_bn"]) == 1
        verdict = "holds" if dramatic and sign(rates["bn"]) == 1 else "partly"   # with BN they still “grow”
    else:
        verdict = {-1: "fails"}.get(sign(faster), "inconclusive")
    reason = "the no-BN and BN rates lie within the band of each other" if verdict == "inconclusive" else ""
    if verdict in ("partly", "fails"):   # what the verdict means, and how much it rests on
        decay = max(t["weight_decay"] for t in nets["no_bn"] + nets["bn"])
        reason = (f"trained at weight decay {decay:g} (the rest of the recipe is not TFLearn's: the card gives it), "
                  f"the BN-free probes' feature norms grow {'more' if verdict == 'partly' else 'less'} within stages "
                  f"than the BN probes' beyond the band of the difference ({few} seeds per arm: a t on "
                  f"{faster.df:.2g} df" + (f", while each arm's own band, on {few - 1} df, is wider than the difference"
                                           if min(r.band() for r in rates.values()) > abs(faster.value) else "")
                  + "); "
                  f"at initialisation, not judged here, the BN-free rate is {init['no_bn'].value / init['bn'].value:.2g}"
                  f"× the BN rate")
    regularised = _too_regularised(nets["no_bn"] + nets["bn"], spec.t["max_weight_decay"])
    if regularised:
        reason, verdict = f"{regularised} (the criterion alone gives {verdict})", "inconclusive"
    band = {**rates, "no BN − BN": faster, f"no BN/{spec.t['ratio']:g} − BN": margin}
    return spec.row(value, verdict, reason, gate_measured=gate, band=band, profile=profile, gate_first=False)


def claims(result: dict) -> list[Claim]:
    """Return the P2 ledger rows, each verdict computed from ``result`` (profile from its provenance)."""
    c100 = CLAIMS["P2.2-C100"].not_run("no profile trains the CIFAR-100 grid: the data are absent here and "
                                       "on the device machines (no outside access)", profile_of(result))
    rows = [claim_table52(result), claim_depth_accuracy(result), c100, claim_noise(result),
            claim_probabilities(result), claim_bounds(result), claim_theorem42(result), claim_growth_rate(result),
            claim_bn_comparison(result)]
    return mark_networks(rows, CLAIMS, lambda name: paper_network(result, name))
