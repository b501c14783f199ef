"""P4's tables and figures for the notebook: pandas frames with the paper's values beside ours, and image grids.

Table 3's listing (``measure.closest_pairs``) lives in ``measure``: the images it names are saved with the result.
"""
from __future__ import annotations

import numpy as np
import torch

from ...artifacts import artifact_dir, load_arrays
from ...ledger import Claim, profile_of
from ...stats import sign
from .config import EXPERIMENT
from .measure import load_sample
from .paper import (ALPHA, ANIMAL_PAIRS, CLAIMS, JUDGED, PAPER_HARD_MNIST_PAIRS, PAPER_TABLE1, PAPER_TABLE2,
                    PAPER_TABLE3, TOP, chance_tail)
from .readings import (JUDGED_RANKING, READINGS, RANKINGS, blocks_of_max, expansive_estimate, f1_above_bar, f1_bar,
                       BESIDE_R50, f1_from_paper, find_run, hard_pairs_test, hardest_pairs, hits, hops_versus_accuracy, last_gain,
                       mean_f1, name, networks, orbit_stays, pair_distance, pair_ratio, per_seed_constant, rate_between,
                       named_counts, p43_looks, untrained_runs, with_arrays)


def table1_frame(result: dict):
    """Return Table 1 (macro precision / recall / F1, test loss) with the paper's values beside ours."""
    import pandas as pd

    rows = []
    for r in result["runs"]:
        ours, paper = r["table1"], PAPER_TABLE1[(r["dataset"], r["depth"])]
        for i, key in enumerate(("precision", "recall", "f1", "loss")):
            rows.append({"dataset": r["dataset"], "model": f"ResNet-{r['depth']}", "metric": key,
                         "ours": ours[key], "paper": paper[i]})
    frame = pd.DataFrame(rows).pivot_table(index=["dataset", "model"], columns=["metric"], values=["ours", "paper"])
    return frame.swaplevel(axis=1)[[(m, s) for m in ("precision", "recall", "f1", "loss") for s in ("ours", "paper")]]


def table2_frame(result: dict, sample: int = 0):
    """Return Table 2 (constants on sample 0 = main, 1 = smaller) with the paper's values beside ours."""
    import pandas as pd

    rows = []
    for r in result["runs"]:
        c, paper = r["constants"][sample], PAPER_TABLE2[(r["dataset"], r["depth"])]
        rows.append({"dataset": r["dataset"], "model": f"ResNet-{r['depth']}", "seed": r.get("seed", 0),
                     "images": c["images"], "g-expansive": c["expansive"], "paper g-expansive": paper[0],
                     "closest pair at any block": c["closest_any_block"],
                     "g-shadowing": c["shadowing"], "ε": c["epsilon"], "δ": c["delta"],
                     "paper g-shadowing (ε, δ)": f"{paper[1]} ({paper[2]}, {paper[3]})",
                     "Lip(g) softmax∘linear": c["lip"], "‖W‖₂ (linear only)": c["lip_linear"],
                     "paper Lip(g)": paper[4],
                     "Sh/‖W‖₂ (the paper's column: LipSDP bounds ‖W‖₂)": c["topological_linear_lip"],
                     "paper T_g ≥ Sh/Lip(g)": paper[5], "T_g ≥ Sh/(½‖W‖₂) = 2·Sh/‖W‖₂": c["topological"]})
    return pd.DataFrame(rows).set_index(["dataset", "model", "seed"]).T


def expansive_frame(result: dict):
    """Return the g-expansive constant per network under both readings: the geometric mean over seeds with its 95%
    band as a factor (×/÷, from Student's t on the seeds' log10 values), the block where Def. 1's max is reached,
    and the paper's value."""
    import pandas as pd

    rows = []
    for key, runs in networks(result).items():
        row = {"dataset": key[0], "model": f"ResNet-{key[1]}", "seeds": len(runs)}
        for reading, label in READINGS.items():
            est = expansive_estimate(runs, reading)
            row[label] = 10 ** est.value
            row[f"{label} 95% band ×/÷"] = 10 ** est.band()
        row.update({"block of Def. 1's max (per seed)": blocks_of_max(runs), "paper": PAPER_TABLE2[key][0],
                    "min–min / paper": row["min–min"] / PAPER_TABLE2[key][0],
                    "min–max / paper": row["Def. 1 min–max"] / PAPER_TABLE2[key][0]})
        rows.append(row)
    return pd.DataFrame(rows).set_index(["dataset", "model"])


def ranking_frame(result: dict):
    """Return each network's 5 closest class pairs under Fig. 3's (Def. 1 per class pair), Fig. 2's and the min–min
    rankings (first seed), with the named ones marked and the hits of the same network before training."""
    import pandas as pd

    rows = []
    for key, runs in networks(with_arrays(result)).items():
        r = runs[0]
        target = PAPER_HARD_MNIST_PAIRS if key[0] == "mnist" else ANIMAL_PAIRS
        twin = next((u for u in untrained_runs(result, key) if u["seed"] == r.get("seed", 0)), None)
        for ranking in RANKINGS:
            pairs = hardest_pairs(r, ranking=ranking)
            rows.append({"dataset": key[0], "model": f"ResNet-{key[1]}", "ranking": ranking,
                         "closest pairs (* = paper's / animal–animal)": ", ".join(
                             f"{r['classes'][a]}–{r['classes'][b]}" + ("*" if (a, b) in target else "")
                             for a, b in pairs),
                         "hits": hits(r, target, ranking), "chance p": chance_tail(hits(r, target, ranking), len(target)),
                         "untrained hits": hits(twin, target, ranking) if twin and "separation" in twin["pairs"] else None,
                         "judged": key in JUDGED and ranking == JUDGED_RANKING})
    return pd.DataFrame(rows).set_index(["dataset", "model", "ranking"])


def finding(rows: list[Claim], claim_id: str):
    """Return a claim's verdict, measured value and reason as Markdown (the notebook's "what we found" lead)."""
    from IPython.display import Markdown

    c = next(r for r in rows if r.id == claim_id)
    text = f"**{c.id}: {c.verdict}** ({c.profile} profile). Measured: {c.value}."
    return Markdown(text + (f"\n\n*Why {c.verdict}:* {c.reason}." if c.reason else ""))


def sensitivity_frame(result: dict):
    """Return the constants on the main sample and on its nested smaller sample, side by side."""
    import pandas as pd

    rows = []
    for r in result["runs"]:
        for c in r["constants"]:
            rows.append({"dataset": r["dataset"], "model": f"ResNet-{r['depth']}", "seed": r.get("seed", 0),
                         "images": c["images"], "g-expansive": c["expansive"],
                         "closest at any block": c["closest_any_block"],
                         "g-shadowing": c["shadowing"], "ε": c["epsilon"],
                         "δ": c["delta"], "T_g ≥": c["topological"]})
    return pd.DataFrame(rows).set_index(["dataset", "model", "seed", "images"])


def pair_frame(result: dict):
    """Return one row per run and ordered class pair: Def.-1 separation, Fig. 2 (mean) and Fig. 3 (one block)."""
    import pandas as pd

    rows = []
    for r in with_arrays(result)["runs"]:
        p = r["pairs"]
        for a in range(len(r["classes"])):
            for b in range(len(r["classes"])):
                if a != b:
                    per_block = np.array(p["per_block"][a][b], dtype=float)
                    rows.append({"dataset": r["dataset"], "model": f"ResNet-{r['depth']}", "seed": r.get("seed", 0),
                                 "class": r["classes"][a], "other": r["classes"][b],
                                 "separation": p["separation"][a][b],
                                 "mean over blocks": p["mean"][a][b], "closest at one block": per_block.min(),
                                 "block": int(per_block.argmin())})
    return pd.DataFrame(rows)



def paper_table3_frame(result: dict):
    """Return the paper's Table 3 pairs with our closest distance for the same pair and network: per seed, their
    geometric mean, and the same networks' before training on the same sample (P4.4's control)."""
    import pandas as pd

    rows, result = [], with_arrays(result)
    for d, n, a, b, block, dist in PAPER_TABLE3:
        runs, untrained = networks(result).get((d, n), []), untrained_runs(result, (d, n))
        if runs:
            per_block = np.array(runs[0]["pairs"]["per_block"][a][b], dtype=float)
            rows.append({"dataset": d, "model": f"ResNet-{n}", "classes": f"{runs[0]['classes'][a]} – "
                         f"{runs[0]['classes'][b]}", "paper block": block, "paper distance": dist,
                         "our block (seed 0)": int(per_block.argmin()),
                         "ours per seed": ", ".join(f"{pair_distance(r, a, b):.2g}" for r in runs),
                         "ours / paper (geometric mean)": 10 ** pair_ratio(runs, a, b, dist).value,
                         "untrained / paper": 10 ** pair_ratio(untrained, a, b, dist).value if untrained else None})
    return pd.DataFrame(rows)


def figure_images(result: dict, dataset: str, indices) -> torch.Tensor:
    """Return sample images ``indices`` of ``dataset`` (uint8, 3×32×32) from the stored figure images."""
    path = artifact_dir(EXPERIMENT, profile_of(result)) / "figure_images.npz"
    if not path.exists():  # an older result: reload the sample (needs the dataset)
        return load_sample(dataset, result["config"]["sample_per_class"]).images[list(indices)]
    arrays = load_arrays(path)
    where = {int(i): k for k, i in enumerate(arrays[f"{dataset}_index"])}
    return torch.as_tensor(arrays[f"{dataset}_images"][[where[int(i)] for i in indices]])


# ---------------------------------------------------------------- findings: the notebook's "What we found"
# Each returns Markdown from the result and its ledger rows: the numbers are the profile's that ran, and the
# outcome words (meets, misses, within, reversed…) are chosen from them.
def _row(rows: list[Claim], claim_id: str) -> Claim:
    return next(r for r in rows if r.id == claim_id)


def _verdict(rows: list[Claim], claim_id: str) -> str:
    return f"the verdict on {claim_id} is *{_row(rows, claim_id).verdict}*"


def _times(x: float) -> str:
    """A ratio as a multiple: 1,950×, 6.1×, 0.024×, 1.8e-08×."""
    return f"{x:,.0f}×" if x >= 100 else f"{x:.2g}×" if x >= 1e-3 else f"{x:.1e}×"


def _span(values, fmt: str) -> str:
    lo, hi = f"{min(values):{fmt}}", f"{max(values):{fmt}}"
    return lo if lo == hi else f"{lo}–{hi}"


def findings_table1(result: dict, rows: list[Claim]) -> str:
    """P4.1's findings: each network's F1 beside the paper's and its bar, and whether training levelled off."""
    nets, parts = networks(result), []
    where = {1: "beyond its band", -1: "beyond its band", 0: "inside its band", None: "one seed: no band"}
    for key, runs in nets.items():
        f1, paper, bar = mean_f1(runs), PAPER_TABLE1[key][2], f1_bar(key)
        margin = f1_above_bar(runs, key)
        band = f" ± {margin.band():.3f} over seeds" if np.isfinite(margin.band()) else ""
        apart = f1_from_paper(runs, key)
        parts.append(f"{name(key)} F1 {f1:.3f}{band} (paper {paper:.3f}, {100 * abs(apart.value):.1f} points "
                     f"{'below' if apart.value < 0 else 'above'} it, {where[sign(apart)]}; bar {bar:.3f}: "
                     f"{'met' if f1 >= bar else 'missed'}, {where[sign(margin)]})")
    if not parts:
        return f"**What we found.** No network ran at `{profile_of(result)}`."
    gains = [g for runs in nets.values() for g in map(last_gain, runs) if g is not None]
    text = f"**What we found.** At `{profile_of(result)}`: " + "; ".join(parts) + "."
    if gains:
        text += (f" Over every network and seed, the largest test-accuracy gain in the last epoch is "
                 f"{100 * max(gains):.2f} points (P4.1 is judged once it is ≤ 0.5).")
    fits = []
    for key, runs in nets.items():
        last = runs[0]["history"][-1]
        if key[0] == "cifar10" and isinstance(last.get("train_acc"), float):
            fits.append((name(key), last["train_acc"], last["test_acc"]))
    if fits:
        gap = max(tr - te for _, tr, te in fits)
        how = "clearly better than" if gap >= 0.02 else "about as well as" if gap > -0.02 else "worse than"
        text += (" The CIFAR-10 networks fit their augmented training images " + how + " the test images ("
                 + ", ".join(f"{n}: {tr:.1%} against {te:.1%}" for n, tr, te in fits) + ", last epoch, first seed).")
    text += (" The bar's margin is judged, not the distance from the paper's F1; the CIFAR-10 test images are the "
             "paper's, " + ("read from a lossy JPEG re-encoding" if "cifar10-jpeg" in
                            result.get("provenance", {}).get("data_source", "") else "as the paper read them") + ".")
    return text + f" So {_verdict(rows, 'P4.1')}."


def findings_table2(result: dict, rows: list[Claim]) -> str:
    """P4.2's findings: both readings of the g-expansive constant beside the paper's, the seeds' spread, the
    orderings the ledger row counts, and the Lipschitz check."""
    nets = networks(result)
    if not nets:
        return f"**What we found.** No network ran at `{profile_of(result)}`."
    seeds = sorted({len(runs) for runs in nets.values()})
    parts = []
    for key, runs in nets.items():
        mm, mn = (10 ** expansive_estimate(runs, r).value for r in ("min_max", "min_min"))
        paper = PAPER_TABLE2[key][0]
        per_seed = [per_seed_constant(r, "min_max") for r in runs]
        per_seed_mn = [per_seed_constant(r, "min_min") for r in runs]
        parts.append(f"{name(key)}: min–max {mm:.3g} ({_times(mm / paper)} the paper's; per seed "
                     f"{_span(per_seed, '.2g')}, block{'s' if len(runs) > 1 else ''} {blocks_of_max(runs)}), "
                     f"min–min {mn:.2g} ({_times(mn / paper)}; per seed {_span(per_seed_mn, '.2g')})")
    plural = "s" if max(seeds) > 1 else ""
    text = (f"**What we found.** At `{profile_of(result)}`, with {' or '.join(map(str, seeds))} seed{plural} "
            "per network (geometric means over seeds): "
            + "; ".join(parts) + ".")
    text += (" The min–min constants of one network's seeds lie decades apart, so the orderings count seed pairs "
             "(ranks only) rather than averaging, and the seeds carry the band: a bootstrap over images of a minimum "
             "keeps the closest pair in most draws and understates its noise.")
    for claim_id in ("P4.2", "P4.2-datasets"):
        counts = [p for p in _row(rows, claim_id).value.split("; ") if "seed pairs" in p]
        if counts:
            text += f" {claim_id}, counted over seed pairs: " + "; ".join(counts) + f" — {_verdict(rows, claim_id)}."
    stretch = [r["lip_stretch"] for r in result["runs"] if r.get("lip_stretch") is not None]
    if stretch:
        holds = "passes for every network" if max(stretch) <= 1 + 1e-9 else "fails for some network"
        text += (f" The Lipschitz check below {holds}: the largest observed stretch is {_span(stretch, '.2f')} "
                 f"of $\\tfrac12\\|W\\|_2$.")
    sh = "; ".join(f"{name(k)} {_span([r['constants'][0]['topological_linear_lip'] for r in runs], '.2g')} "
                   f"(paper {PAPER_TABLE2[k][5]:.2g})" for k, runs in nets.items())
    text += (" Table 2's last column is $Sh_g/\\mathrm{Lip}(g)$ with LipSDP's bound on the linear layer, i.e. "
             f"$Sh_g/\\|W\\|_2$; ours per seed: {sh}. The $T_g$ bound in the table divides by "
             "$\\tfrac12\\|W\\|_2$ (the softmax's Lipschitz constant) and is twice that by construction.")
    return text


def findings_pairs(result: dict, rows: list[Claim]) -> str:
    """P4.3's findings: each judged network's hits under Fig. 3's ranking pooled over its seeds, against chance and
    against the same network before training, and its first seed's closest pairs."""
    result = with_arrays(result)
    nets, parts, spec = networks(result), [], CLAIMS["P4.3"]
    looks = (p43_looks(result, nets, JUDGED, spec.t["alpha"], spec.t["half"], JUDGED_RANKING)
             if all(k in nets for k in JUDGED) else None)
    if looks is not None and looks.incomplete:
        return f"**What we found.** At `{profile_of(result)}`, {looks.incomplete}: P4.3 waits for it."
    for key, target in JUDGED.items():
        if key not in nets:
            continue
        runs, twins = looks.judged[key] if looks else (nets[key], untrained_runs(result, key))
        # judged on its confirmation alone, the first look told first
        first = looks.first_tests[key] if looks and key in looks.confirmed else None
        test = hard_pairs_test(runs, twins, target, JUDGED_RANKING)
        text = "" if first is None else (
            f"{name(key)}'s first look (seeds {nets[key][0]['seed']}–{nets[key][-1]['seed']}) found "
            f"{sum(first.hits)} of {TOP * len(first.hits)} (chance p = {first.chance:.2g}"
            + ("" if first.twin_p is None else f", above before training with p = {first.twin_p:.2g}")
            + f"); judged alone on its confirmation (seeds {runs[0]['seed']}–{runs[-1]['seed']}, declared in the "
            "profile's config), ")
        text += (f"{'it' if first is not None else name(key)} has {sum(test.hits)} of its {TOP * len(runs)} closest "
                 f"pairs ({TOP} per seed) among the marked ones, chance p = {test.chance:.2g}, "
                 f"{'beyond' if test.chance <= ALPHA else 'not beyond'} chance")
        if test.twin is not None:
            text += (f"; before training {sum(test.twin)} (chance p = "
                     f"{chance_tail(sum(test.twin), len(target), len(runs)):.2g}), and the trained count lies above "
                     f"it with p = {test.twin_p:.2g}")
        counts = named_counts(runs, target, JUDGED_RANKING)
        if counts:
            text += "; the marked pairs among them: " + ", ".join(
                f"{runs[0]['classes'][a]}–{runs[0]['classes'][b]} in {n}" for (a, b), n in counts.items()) + \
                f" of {len(runs)} seeds"
        text += "; the first seed's closest: " + ", ".join(f"{runs[0]['classes'][a]}–{runs[0]['classes'][b]}"
                                                           for a, b in hardest_pairs(runs[0], ranking=JUDGED_RANKING))
        parts.append(text)
    if not parts:
        return f"**What we found.** The judged networks did not run at `{profile_of(result)}`."
    return (f"**What we found.** At `{profile_of(result)}`, under Fig. 3's ranking (Def. 1 per class pair), pooled "
            "over seeds: " + ". ".join(parts) + f". So {_verdict(rows, 'P4.3')}.")


def findings_table3(result: dict, rows: list[Claim]) -> str:
    """P4.4's findings: Table 3's pairs as multiples of the paper's distance over seeds, beside the untrained
    networks' on the same sample."""
    w, judged, other, result = CLAIMS["P4.4"].t["window"], [], [], with_arrays(result)
    for d, n, a, b, _block, paper in PAPER_TABLE3:
        runs, untrained = networks(result).get((d, n), []), untrained_runs(result, (d, n))
        if runs:
            ours = 10 ** pair_ratio(runs, a, b, paper).value
            control = 10 ** pair_ratio(untrained, a, b, paper).value if untrained else None
            (judged if (d, n) == ("mnist", 50) else other).append((f"{name((d, n))} {a}–{b}", ours, control))
    if not judged:
        return f"**What we found.** MNIST ResNet-50 did not run at `{profile_of(result)}`: {_verdict(rows, 'P4.4')}."

    def listing(items) -> str:
        return ", ".join(f"{p}: {_times(x)}" + (f" (untrained {_times(u)})" if u is not None else "")
                         for p, x, u in items)

    inside = sum(x <= w for _, x, _ in judged)
    text = (f"**What we found.** At `{profile_of(result)}`, MNIST ResNet-50 brings Table 3's digit-2 pairs to "
            + listing(judged) + " the paper's distance (geometric means over seeds; in brackets the same networks "
            f"before training, on the same images); {inside} of {len(judged)} lie at or below the {w:g}× window (point "
            "estimates; the ledger row weighs each against its band over seeds).")
    controls = [u for *_, u in judged if u is not None]
    if controls:
        text += (" Untrained, MNIST ResNet-50 comes " + ("within" if min(controls) <= w else "no closer than")
                 + f" {_times(min(controls))} at its closest, so closeness "
                 + ("alone does not" if min(controls) <= w else "can") + " tell training apart here.")
    run = find_run(result, "mnist", 50)
    loss, paper_loss = run["table1"].get("loss"), PAPER_TABLE1[("mnist", 50)][3]
    if loss is not None:
        text += (f" Its test loss is {loss:.4f} against the paper's {paper_loss:.4f}, so it is "
                 + ("about as confident as the paper's network." if abs(loss - paper_loss) <= 0.1 * paper_loss else
                    "less confident than the paper's network." if loss > paper_loss else
                    "more confident than the paper's."))
    if other:
        text += " The CIFAR-10 pairs (reported, not judged): " + listing(other) + "."
    return text + f" So {_verdict(rows, 'P4.4')}."


def findings_orbits(result: dict, rows: list[Claim]) -> str:
    """P4.5's findings: the Sh_g orbit's class, the per-hop same-class rates beside the square of the network's
    accuracy and the untrained network's rate, the orbits that keep their class throughout, and ResNet-18 beside
    ResNet-50 on MNIST."""
    result = with_arrays(result)
    nets = networks(result)
    runs = nets.get(("mnist", 50), [])
    if not runs or any("orbit_end" not in r for r in runs):
        return f"**What we found.** MNIST ResNet-50's orbits were not traced at `{profile_of(result)}`."
    rates = [r["hop_same_class"] for r in runs]
    squared = [r["sample_accuracy"] ** 2 for r in runs]
    untrained = [u["hop_same_class"] for u in untrained_runs(result, ("mnist", 50))]
    stays = sum(orbit_stays(r["orbits"]["shadowing"]) for r in runs)
    orbit = ("stays in its class for every seed" if stays == len(runs) else
             f"leaves its class for {len(runs) - stays} of {len(runs)} seeds")
    signs = [sign(hops_versus_accuracy(r)) for r in runs]
    where = ", ".join(f"{word} in {signs.count(s)}" for s, word in ((1, "above it beyond the band"),
                                                                      (0, "at it within the band"),
                                                                      (-1, "below it beyond the band"),
                                                                      (None, "undecided")) if signs.count(s))
    text = (f"**What we found.** At `{profile_of(result)}`, MNIST ResNet-50's $Sh_g$ orbit {orbit}, and over all "
            f"traced orbits {_span(rates, '.1%')} of hops (per seed) land on an image of the same class, against the "
            f"square of the network's own accuracy on the same images ({_span(squared, '.1%')}): {where} of "
            f"{len(runs)} seeds")
    if untrained:
        text += (f"; {'above' if min(rates) > max(untrained) else 'not above'} the "
                 f"{_span(untrained, '.1%')} of the same networks before training")
    text += (". Every seed is judged and the row holds only if every seed does; orbits that meet coincide from "
             "there on, so the bands resample clusters of start images whose orbits end on one image, not hops or "
             "single start images.")
    kept = [(name(k), _span([r["orbit_stay_fraction"] for r in rs], ".1%")) for k, rs in nets.items()
            if all("orbit_stay_fraction" in r for r in rs)]
    if kept:
        text += (" Not judged: the orbits that keep their class at every hop, per seed: "
                 + ", ".join(f"{n} {v}" for n, v in kept) + ".")
    others = [(name(k), float(np.mean([r["hop_same_class"] for r in rs]))) for k, rs in nets.items()
              if k != ("mnist", 50) and all("hop_same_class" in r for r in rs)]
    if others:
        text += " Per-hop rates, not judged: " + ", ".join(f"{n} {v:.1%}" for n, v in others) + "."
    if ("mnist", 18) in nets:
        gap = rate_between(nets[("mnist", 18)], runs)
        measured = "" if sign(gap) is None else f" ({gap.format('+.2%')})"
        text += f" MNIST ResNet-18's per-hop rate is {BESIDE_R50[sign(gap)]}{measured}" + (
            ": the statement's two halves differ in ResNet-18's crossing orbits, not in how often a hop keeps its "
            "class." if sign(gap) == 0 else ".")
    crossing = [name(k) for k, rs in nets.items() if any("class_crossing" in r["orbits"] for r in rs)]
    if crossing:
        text += f" Class-crossing orbits appear in {', '.join(crossing)}."
    return text + f" So {_verdict(rows, 'P4.5')}."
