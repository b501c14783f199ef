"""P5's verdicts: one function per ledger row (P5.1, P5.1-real, P5.2 … P5.6), and ``claims(result)``.

Imports only ``paper``, ``readings`` and shared modules; every verdict is computed from the result.
"""
from __future__ import annotations

import math

import numpy as np

from ...ledger import Claim, mark_networks, profile_of, tally_every
from ...stats import Estimate, compare, exact, paired_bootstrap, sign
from .paper import CLAIMS, NET_GATE, PAPER_TABLE1, PAPER_TABLE2, PAPER_TABLE3, TABLE1_EPOCHS, TABLE1_RUNS
from .readings import (ABLATION, LAST_K, diverged_without_ratio, generalization_gap, judged_depths, net_accuracy,
                       net_error, net_name, paper_network, ratio_estimates, run_ratio, runs_by_net, seed_estimate)


def _sign_text(d: Estimate | None) -> str:
    return "—" if d is None else d.format(".3g")


def _gate(runs: list[dict]) -> dict[str, float | None]:
    """Return each net's test accuracy over its last epochs by name: the measured values of ``NET_GATE``."""
    return {net_name(r): net_accuracy(r) for r in runs}


def claim_linear(result: dict, profile: str) -> Claim:
    spec = CLAIMS["P5.1"]
    lin, t = result["linear"], spec.t
    rows = lin["rows"]
    deltas = [r["delta"] for r in rows]
    falls = all(b < a for a, b in zip(deltas, deltas[1:])) and t["slope_lo"] <= lin["loglog_slope"] <= t["slope_hi"]
    bounded = [r for r in rows if r.get("theorem2_bound") is not None]
    over = [f"L={r['L']}" for r in bounded if max(r["delta"], r["max_abs_ratio_minus_1"]) > r["theorem2_bound"]]
    value = (f"δ at L={rows[0]['L']}…{rows[-1]['L']}: {deltas[0]:.3g}…{deltas[-1]:.3g}; log-log slope "
             f"{lin['loglog_slope']:.2f}; δ ≈ {lin['intercept']:.3g} + {lin['slope_vs_invL']:.3g}/L; "
             f"measured max|ratio−1| {rows[0]['max_abs_ratio_minus_1']:.3g}…{rows[-1]['max_abs_ratio_minus_1']:.3g}; "
             + (f"Theorem 2's c/L {bounded[0]['theorem2_bound']:.3g}…{bounded[-1]['theorem2_bound']:.3g} at "
                f"{len(bounded)} depths L ≥ 3γ: {len(bounded) - len(over)} within it" if bounded
                else "no depth L ≥ 3γ: Theorem 2's bound untested"))
    if falls and bounded and not over:
        return spec.row(value, "holds", profile=profile, gate_measured=max(r["fit_rel_error"] for r in rows))
    reason = "; ".join(x for x in [
        "" if falls else f"δ does not fall as O(1/L) (slope {lin['loglog_slope']:.2f})",
        f"Theorem 2's inequality broken at {', '.join(over)}" if over else "",
        "" if bounded else "no depth L ≥ 3γ to test Theorem 2's inequality"] if x)
    return spec.row(value, "fails", reason, profile=profile, gate_measured=max(r["fit_rel_error"] for r in rows))


def claim_linear_real(result: dict, profile: str) -> Claim:
    spec = CLAIMS["P5.1-real"]
    by = runs_by_net(result)
    depths = sorted(d for d, a in by if a == "ResNet")
    runs = [r for d in depths for r in by[(d, "ResNet")] if not r["diverged"]]
    ests = {d: seed_estimate([run_ratio(r, "non-transition") for r in by[(d, "ResNet")]]) for d in depths}
    value = "ResNet non-transition |log ratio| " + (", ".join(f"{_sign_text(e)} at depth {d}" for d, e in ests.items())
                                                    or "not measured")
    if len(depths) < spec.t["min_depths"]:
        return spec.row(value, "inconclusive", f"{len(depths)} depth(s) run, the trend needs "
                        f"{spec.t['min_depths']}", gate_measured=_gate(runs), profile=profile, gate_first=False)
    steps = [compare(ests[a], ests[b]) for a, b in zip(depths, depths[1:])]
    verdict = tally_every([d for _, d in steps])
    reason = {"fails": "the ratio moves away from 1 from one depth to the next beyond the 95% band (Holm over the steps)",
              "inconclusive": "a step between depths inside the band (or reversed beyond its own band only, not after "
                              "Holm's adjustment over the steps), or undecidable (one seed)"}.get(verdict, "")
    band = {f"depth {a} − depth {b}": d for (a, b), (_, d) in zip(zip(depths, depths[1:]), steps) if d is not None}
    return spec.row(value, verdict, reason, gate_measured=_gate(runs), band=band, profile=profile)


def _grid_band(cells: list[dict]) -> Estimate | None:
    """Return unprojected − projected mean |log ratio| over (c, d) cells, paired bootstrap over cells."""
    pairs = {}
    for c in cells:
        if c["ratio"] > 0 and math.isfinite(c["ratio"]):
            pairs.setdefault((c["c"], c["d"]), {})[c["projection"]] = abs(math.log(c["ratio"]))
    both = [p for p in pairs.values() if len(p) == 2]
    if len(both) < 2:
        return None
    return paired_bootstrap([p[False] for p in both], [p[True] for p in both])


def claim_projection(result: dict, profile: str) -> Claim:
    spec = CLAIMS["P5.2"]
    proc = [a for a in result["agreement"] if a["conv_star"]]
    max_diff = max(a["ns_vs_svd_rel_diff"] for a in proc)
    max_before = max(a["before_crop_max_rel"] for a in proc)
    crop = "; ".join(f"{a['c']}→{a['d']} {a['k']}×{a['k']}: {a['after_crop']['max_rel']:.1%}" for a in proc)
    maths_ok = max_diff < spec.t["agree"] and max_before < spec.t["agree"]
    cells = result["grid"]["cells"]
    d = _grid_band(cells)
    s = None if d is None else sign(d)
    accs = [c.get("train_acc") for c in cells]
    acc = float(np.mean(accs)) if accs and all(isinstance(a, float) for a in accs) else None
    value = (f"NS–SVD rel diff ≤ {max_diff:.1e}, before-crop max |σ/t−1| {max_before:.1e}; "
             "after the crop to k×k "
             f"(max |σ/t−1| of the conv operator): {crop}; grid mean |log ratio| without − with projection "
             f"{_sign_text(d)}")
    if not maths_ok:
        return spec.row(value, "fails", gate_measured=acc, band=d, profile=profile)
    if s == 1:
        return spec.row(value, "holds", gate_measured=acc, band=d, profile=profile)
    if s == -1:
        return spec.row(value, "partly", "the projection maths holds; the grid is reversed beyond the 95% band",
                        gate_measured=acc, band=d, profile=profile)
    return spec.row(value, "inconclusive", "the projection maths holds; grid difference "
                    f"{_sign_text(d)} is inside the band (or too few cells)", gate_measured=acc, band=d,
                    profile=profile)


def _a_difference(by: dict, est: dict, depth: int) -> Estimate | None:
    """Return part A's difference at ``depth``: Plain − ResNet non-transition; a Plain run that diverged without a
    finite ratio is infinitely far from 1 (decided the paper's way) when ResNet's ratio is measured."""
    res = est.get((depth, "ResNet", "non-transition"))
    if res is not None and diverged_without_ratio(by.get((depth, "Plain"), []), "non-transition"):
        return exact(math.inf)
    return compare(est.get((depth, "Plain", "non-transition")), res)[1]


def _b_parts(est: dict, depths: list[int]) -> dict[str, list]:
    """Return part B's signs per comparison over ``depths`` (+1: the paper's way beyond the band)."""
    pairs = {"ProcResNet transition (conv* + unit) < ResNet's": (("ResNet", "transition"), ("ProcResNet", "transition")),
             "ProcResNet conv* alone < ResNet transition": (("ResNet", "transition"), ("ProcResNet", "conv*")),
             "projected conv* < unprojected": (("ProcResNet (no projection)", "conv*"), ("ProcResNet", "conv*"))}
    return {name: [compare(est.get((d, *far)), est.get((d, *near)))[0] for d in depths]
            for name, (far, near) in pairs.items()}


def claim_fig3(result: dict, profile: str) -> Claim:
    spec = CLAIMS["P5.3"]
    by, est, end = runs_by_net(result), ratio_estimates(result), ratio_estimates(result, final=True)
    depths = sorted({d for d, _ in by})
    parts = [_fig3_text(d, est, end) for d in depths]
    diverged = [f"{r['arch']}-{r['depth']} (seed {r['seed']}) diverged at step {r['diverged_step']} (its earlier "
                f"epochs count)" for rs in by.values() for r in rs if r["diverged"]]
    value = "; ".join(parts + diverged)
    deep = [d for d in depths if d >= spec.t["min_depth"]
            and all((d, a) in by for a in ("Plain", "ResNet", "ProcResNet"))]
    bands = {f"depth {d} {a} {v}": est[(d, a, v)] for d in depths for a, v in
             (("Plain", "non-transition"), ("ResNet", "non-transition"), ("ResNet", "transition"),
              ("ProcResNet", "transition"), ("ProcResNet", "conv*"), ("ProcResNet (no projection)", "conv*"))
             if (d, a, v) in est}
    b_depths = [d for d in depths if d in judged_depths(result)]  # other depths: one ProcResNet seed, no band
    # the gate covers the nets a verdict reads: every net at A's depths, the three B compares at B's; the rest
    # (Plain at depth 20) is context
    judged = {(d, a) for d in deep for a in ("Plain", "ResNet", "ProcResNet")} | {
        (d, a) for d in b_depths for a in ("ResNet", "ProcResNet", "ProcResNet (no projection)")}
    every = [r for d in depths for a in ("Plain", "ResNet", "ProcResNet", "ProcResNet (no projection)")
             for r in by.get((d, a), []) if not r["diverged"]]
    runs = [r for r in every if (r["depth"], r["arch"]) in judged]
    context = {net_name(r): net_accuracy(r) for r in every if (r["depth"], r["arch"]) not in judged}
    if context:
        value += "; context, not gated: " + ", ".join(
            f"{k} {'—' if v is None else f'{v:.1%}'}" for k, v in context.items()) + f" (gate {NET_GATE.required:.0%})"
    b_parts = _b_parts(est, b_depths)
    b_failed = [f"{k} at depth {d}: {'reversed' if s == -1 else 'inside the band'}"
                for k, signs in b_parts.items() for d, s in zip(b_depths, signs) if s != 1]
    if not deep:
        partial = sorted({f"{a}-{d}" for d, a in by if d >= spec.t["min_depth"]})
        ran = f"only {', '.join(partial)} ran" if partial else f"depths {depths}"
        return spec.row(value, "inconclusive", f"no depth ≥ {spec.t['min_depth']} with Plain, ResNet and ProcResNet "
                        f"trained ({ran}); the paper calls ResNet and Plain fairly similar at depth 20",
                        gate_measured=_gate(runs), band=bands, profile=profile)
    verdict = _judge_signs([_a_difference(by, est, d) for d in deep], [s for signs in b_parts.values() for s in signs])
    reason = {"partly": "B not met: " + "; ".join(b_failed),
              "fails": "ResNet's identity-skip units are further from 1 than Plain's beyond the 95% band (Holm over the depths)",
              "inconclusive": "ResNet vs Plain inside the band (or reversed beyond its own band only, not after Holm's "
                              "adjustment over the depths), or undecidable (one seed, no trained epoch)"
              }.get(verdict, "")
    return spec.row(value, verdict, reason, gate_measured=_gate(runs), band=bands, profile=profile)


def _fig3_text(depth: int, est: dict, end: dict) -> str:
    def f(arch: str, view: str, table: dict = est) -> str:
        e = table.get((depth, arch, view))
        return "—" if e is None else f"{e.value:.3f}"

    return (f"depth {depth}: non-transition Plain {f('Plain', 'non-transition')} / ResNet "
            f"{f('ResNet', 'non-transition')}; transition ResNet {f('ResNet', 'transition')} / ProcResNet conv* + "
            f"unit {f('ProcResNet', 'transition')} / conv* alone (the paper's first transition block) "
            f"{f('ProcResNet', 'conv*')} / conv* alone without projection {f('ProcResNet (no projection)', 'conv*')} "
            f"(median over units); at the final weights ResNet "
            f"{f('ResNet', 'transition', end)} / ProcResNet conv* + unit {f('ProcResNet', 'transition', end)} / conv* "
            f"alone {f('ProcResNet', 'conv*', end)} / conv* alone without projection "
            f"{f('ProcResNet (no projection)', 'conv*', end)}")


def _arch_gaps(by: dict, depth: int, arch: str) -> tuple[list[dict], Estimate, Estimate]:
    """Return ``arch``'s runs at ``depth`` that did not diverge and their mean and max gaps over seeds."""
    runs = [r for r in by[(depth, arch)] if not r["diverged"]]
    mean, mx = (seed_estimate([generalization_gap(r["history"])[i] for r in runs]) for i in (0, 1))
    return runs, mean, mx


def _gaps(by: dict, depth: int) -> tuple[list[dict], dict, str]:
    """Return ResNet's and ProcResNet's runs at ``depth`` that did not diverge, their (mean, max) gaps over seeds
    by ``(arch, 0 | 1)``, and the text of that depth beside Table 1's."""
    both = {a: _arch_gaps(by, depth, a) for a in ("ResNet", "ProcResNet")}
    runs = {a: g[0] for a, g in both.items()}
    est = {(a, i): g[1 + i] for a, g in both.items() for i in (0, 1)}
    paper = PAPER_TABLE1.get(depth, {})
    text = (f"depth {depth}: mean/max gap ResNet {_sign_text(est[('ResNet', 0)])} / {_sign_text(est[('ResNet', 1)])}, "
            f"ProcResNet {_sign_text(est[('ProcResNet', 0)])} / {_sign_text(est[('ProcResNet', 1)])} points "
            f"(paper {paper.get('ResNet')} vs {paper.get('ProcResNet')})")
    return runs["ResNet"] + runs["ProcResNet"], est, text


def claim_gap(result: dict, profile: str) -> Claim:
    spec = CLAIMS["P5.4"]
    by = runs_by_net(result)
    pairs = sorted(d for d, a in by if a == "ResNet" and (d, "ProcResNet") in by)
    depths = [d for d in pairs if d in judged_depths(result)]
    if not depths:
        return spec.not_run("no completed ResNet/ProcResNet pair at a depth every seed trains", profile)
    texts, mean_diffs, max_signs, bands, runs = [], [], [], {}, []
    for d in depths:
        depth_runs, est, text = _gaps(by, d)
        runs += depth_runs
        texts.append(text)
        d_mean = compare(est[("ResNet", 0)], est[("ProcResNet", 0)])[1]
        s_max, d_max = compare(est[("ResNet", 1)], est[("ProcResNet", 1)])
        mean_diffs.append(d_mean)
        max_signs.append(s_max)
        bands.update({f"depth {d} mean gap ResNet − ProcResNet": d_mean,
                      f"depth {d} max gap ResNet − ProcResNet": d_max})
    texts += [f"context, not judged (fewer seeds): {_gaps(by, d)[2]}" for d in pairs if d not in depths]
    # which design change narrows the gap: the modified transition alone (Table 3's middle row), not judged
    texts += [f"context, not judged: depth {d} modified transition without projection mean gap "
              f"{_sign_text(_arch_gaps(by, d, ABLATION[1])[1])} points" for d in depths if (d, ABLATION[1]) in by]
    verdict = _judge_signs(mean_diffs, max_signs)
    reason = _sign_reason(verdict, "the mean gap", "the max gap")
    schedules = sorted({r.get("schedule", "constant") for r in runs} - {"constant"})
    if schedules:  # an annealed lr closes the gap at its end: not the paper's measurement
        reason = "; ".join(x for x in [reason, f"gaps along a {'/'.join(schedules)} lr, not Table 1's constant lr"]
                           if x)
    epochs = max(h["epoch"] for r in runs for h in r["history"])
    seeds = min(len(by[(d, a)]) for d in depths for a in ("ResNet", "ProcResNet"))
    reason = "; ".join(x for x in [reason, f"over {epochs} epochs and {seeds} seeds per net (Table 1: the first "
                                           f"{TABLE1_EPOCHS} epochs, {TABLE1_RUNS} runs)"] if x)
    return spec.row("; ".join(texts), verdict, reason, gate_measured=_gate(runs),
                    band={k: v for k, v in bands.items() if v is not None}, profile=profile)


def _judge_signs(primary: list[Estimate | None], secondary: list) -> str:
    """holds: every primary difference and every secondary sign +1 (the paper's way beyond the band); partly: the
    primary only; fails: a primary difference against the paper after Holm over the primary ones (``tally_every``);
    else inconclusive."""
    verdict = tally_every(primary)
    return "partly" if verdict == "holds" and not all(s == 1 for s in secondary) else verdict


def _sign_reason(verdict: str, p_name: str, s_name: str) -> str:
    """Return the reason of ``_judge_signs``'s verdict for a primary and a secondary comparison."""
    return {"partly": f"{p_name} in the paper's direction beyond the 95% band, {s_name} not",
            "fails": f"{p_name} reversed beyond the 95% band (Holm over the depths judged)",
            "inconclusive": f"{p_name}: difference inside the band (or reversed beyond its own band only, not after "
                            "Holm's adjustment over the depths judged), or undecidable (one seed, no trained epoch)"
            }.get(verdict, "")


def claim_error(result: dict, profile: str) -> Claim:
    spec = CLAIMS["P5.5"]
    purpose = "table23" if runs_by_net(result, "table23") else "fig3"
    by = runs_by_net(result, purpose)
    complete = [d for d in sorted({d for d, _ in by}) if all((d, a) in by for a in ABLATION)
                and d in judged_depths(result)]
    if not complete:
        return spec.not_run("the ablation runs are missing at the depths every seed trains", profile)
    depth = complete[-1]
    runs = {a: [r for r in by[(depth, a)] if not r["diverged"]] for a in ABLATION}
    est = {a: seed_estimate([net_error(r) for r in rs]) for a, rs in runs.items()}
    d_main = compare(est["ResNet"], est["ProcResNet"])[1]
    steps = [compare(est[a], est[b]) for a, b in zip(ABLATION, ABLATION[1:])]
    ordered = [1 if s != -1 else -1 for s, _ in steps]  # a step only counts against when reversed beyond the 95% band
    verdict = _judge_signs([d_main], ordered)
    reason = _sign_reason(verdict, "ProcResNet < ResNet", "the ablation order")
    reversed_steps = [f"{a} < {b} beyond its band" for (a, b), (s, _) in zip(zip(ABLATION, ABLATION[1:]), steps)
                      if s == -1]
    if verdict == "fails":   # a verdict on the stand-ins: the networks the paper tabulates are deeper, on CIFAR-100
        reason = "; ".join([reason + " on these stand-in nets, not on the paper's ResNet-164"] + (
            ["the ablation reversed too: " + ", ".join(f"error of {x}" for x in reversed_steps)] if reversed_steps
            else []))
    if any(e is not None and math.isnan(e.se) for e in est.values()):  # one seed: no band, no sign
        order = [(a, b) for a, b in zip(ABLATION, ABLATION[1:]) if est[a] is not None and est[b] is not None]
        against = [f"{a} {est[a].value:.1f}% < {b} {est[b].value:.1f}%" for a, b in order
                   if est[a].value < est[b].value]
        reason = ("one seed per net: no band, so no sign can be decided"
                  + ("; every point estimate is reversed against the paper's order (" + ", ".join(against) + ")"
                     if order and len(against) == len(order) else
                     f"; {len(against)} of {len(order)} point estimates reversed" if against else ""))
    schedule = runs["ResNet"][0].get("schedule", "constant") if runs["ResNet"] else "—"
    notes = [] if depth == 164 else [f"reduced: depth {depth}, CIFAR-10, not 164 on CIFAR-100"]
    if purpose == "fig3":
        notes.append({"constant": "constant lr (the Fig. 3 runs), not He et al.'s decaying schedule of Tables 2–3",
                      "step": "the Fig. 3 runs, whose step lr has the shape of He et al.'s schedule of Tables 2–3"}
                     .get(schedule, f"the Fig. 3 runs ({schedule} lr), not He et al.'s step schedule of Tables 2–3"))
    value = (f"test error (last {LAST_K} epochs) at depth {depth}, {schedule} lr: ResNet {_sign_text(est['ResNet'])}, "
             f"modified transition {_sign_text(est['ProcResNet (no projection)'])}, + projection "
             f"{_sign_text(est['ProcResNet'])} % (paper, 164 layers, CIFAR-100: "
             + " / ".join(f"{PAPER_TABLE3[a]:.2f}" for a in ABLATION) + "; Table 2, CIFAR-10: ResNet-164 "
             f"{PAPER_TABLE2['ResNet-164'][0]:.2f}, ProcResNet-166 {PAPER_TABLE2['ProcResNet-166'][0]:.2f})")
    for d in sorted({d for d, _ in by} - set(judged_depths(result))):
        errs = {a: seed_estimate([net_error(r) for r in by[(d, a)] if not r["diverged"]]) for a in ABLATION
                if (d, a) in by}
        value += (f"; context, not judged (fewer seeds): depth {d}: "
                  + ", ".join(f"{a} {_sign_text(e)}" for a, e in errs.items()) + " %")
    reason = "; ".join(x for x in [reason] + notes if x)
    bands = {"ResNet − ProcResNet": d_main, **{f"{a} − {b}": d for (a, b), (_, d) in
                                               zip(zip(ABLATION, ABLATION[1:]), steps)}}
    return spec.row(value, verdict, reason, gate_measured=_gate([r for rs in runs.values() for r in rs]),
                    band={k: v for k, v in bands.items() if v is not None}, profile=profile)


def claim_overhead(result: dict, profile: str) -> Claim:
    spec = CLAIMS["P5.6"]
    ov = result.get("overhead")
    if not ov:
        return spec.not_run("no timing at this profile", profile)
    p = ov["projection_s"]
    f32 = ov["overhead"].get("newton_schulz_f32")
    times = (f"one projection of the three conv*: NS {1e3 * p['newton_schulz']:.1f} ms (1×1 conv* once; at every "
             f"frequency {1e3 * p.get('newton_schulz_1x1_per_frequency', float('nan')):.1f} ms), float32 NS of 10 "
             f"steps {1e3 * p.get('newton_schulz_f32', float('nan')):.1f} ms, SVD {1e3 * p['svd']:.1f} ms (every "
             f"frequency); per step NS {ov['overhead']['newton_schulz']:+.1%}"
             + (f", float32 NS {f32:+.1%}" if f32 is not None else "")
             + f", SVD {ov['overhead']['svd']:+.1%} ({ov['model']}, batch {ov['batch_size']}, {ov['device']})")
    if ov["device"].startswith("cpu"):
        return spec.not_run(f"timed on a CPU; the claim is about GPU time ({times})", profile)
    blocks = ov.get("block_overhead") or {}
    ns, svd = (seed_estimate(blocks.get(k, [])) for k in ("newton_schulz", "svd"))
    s, d = compare(svd, ns)
    if s == 1:
        ok = ns.value <= spec.t["max_ns"]
        verdict, reason = ("holds", "") if ok else ("partly", f"NS overhead {ns.value:.1%} > {spec.t['max_ns']:.0%}")
    elif s == -1:
        verdict, reason = "fails", "NS overhead above SVD's beyond the 95% band"
    else:
        verdict, reason = "inconclusive", "NS vs SVD overhead inside the band (or one timing block)"
    return spec.row(times, verdict, reason, band=d, profile=profile)


def claims(result: dict) -> list[Claim]:
    """Return the P5 ledger rows; every verdict is computed from ``result``."""
    profile = profile_of(result) or result.get("profile", "")
    rows = [f(result, profile) for f in (claim_linear, claim_linear_real, claim_projection, claim_fig3, claim_gap,
                                         claim_error, claim_overhead)]
    return mark_networks(rows, CLAIMS, lambda name: paper_network(result, name))
