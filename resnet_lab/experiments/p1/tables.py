"""P1's tables and figures for the notebook: MPA curves (Figs. 2–4), gaps per stage (Fig. 5), timings."""
from __future__ import annotations

import statistics

from ...stats import K_SE, Estimate
from .config import BN_PAIR, DEEP, DEPTH18, PROFILES, recipe
from .paper import CLAIMS, TRAINED
from .readings import FIG2, OTHER, final_accuracy, gap_difference, gap_estimate, held_back
from .unit_readings import lemma2_units, plain_branch_smin, trained_units


def mpa_frame(result: dict, level: str = "end"):
    """Return a long DataFrame: run, epoch, curve (``intra-<class>`` / ``inter-<a>-<b>``), kind, angle (deg), test_acc."""
    import pandas as pd

    rows = []
    for tag, run_ in result["runs"].items():
        names = run_["classes"]
        for record in run_["history"]:
            prefix = f"mpa/{level}/"
            for key, angle in record.items():
                if not key.startswith(prefix):
                    continue
                kind, ids = key[len(prefix):].split("/")
                curve = f"{kind}-" + "-".join(names[int(i)] for i in ids.split("-"))
                rows.append({"run": tag, "epoch": record["epoch"], "curve": curve, "kind": kind,
                             "angle": float(angle), "test_acc": record.get("test_acc")})
    return pd.DataFrame(rows)


def stage_frame(result: dict, tags: tuple[str, ...] = DEEP):
    """Return the MPA at the last measured epoch per level (stage inputs, then end): run, level, kind, angle (Fig. 5).

    A run that diverged has trailing epochs without MPA: they are skipped, as is a run with none at all.
    """
    import pandas as pd

    rows = []
    for tag in tags:
        if tag not in result["runs"]:
            continue
        measured = [r for r in result["runs"][tag]["history"] if any(k.startswith("mpa/") for k in r)]
        if not measured:
            continue
        for key, angle in measured[-1].items():
            if key.startswith("mpa/"):
                _, level, kind, _ = key.split("/")
                rows.append({"run": tag, "level": level, "kind": kind, "angle": float(angle)})
    frame = pd.DataFrame(rows, columns=["run", "level", "kind", "angle"])
    return frame.groupby(["run", "level", "kind"], sort=False, as_index=False)["angle"].mean() if rows else frame


def gap_frame(result: dict):
    """Return the final inter−intra gap per run and level with its bootstrap band: run, level, gap, se (degrees)."""
    import pandas as pd

    return pd.DataFrame([{"run": tag, "level": level, "gap": a["gap"], "se": a["gap_se"]}
                         for tag, levels in result.get("angles", {}).items() for level, a in levels.items()])


def gap_table(result: dict, tags, levels=("stage1", "end", "pooled")):
    """Return per run (rows) and level (columns) the final gap as ``value ± half-width`` of its 95% band (text)."""
    import pandas as pd

    return pd.DataFrame({lvl: {t: f"{g.value:.2f} ± {g.band():.2f}" for t in tags
                               if (g := gap_estimate(result, t, lvl)) is not None} for lvl in levels})


def profile_frame():
    """Return each profile's training recipe from ``PROFILES``: width, epochs, batch, optimizer steps (on the pair's
    training images) for the nets on ``train``, for the BN pair Fig. 2 (b) compares and for Fig. 3's depth series
    (with its seeds per net), each where it has a recipe of its own."""
    import pandas as pd

    rows = []
    for name, cfg in PROFILES.items():
        own = [(nets, r) for nets, r in (("ResNet-18 ± BN", recipe(cfg, BN_PAIR[0])),
                                         (f"depth series ({len(cfg.depth_seeds)} seeds)", recipe(cfg, DEPTH18)))
               if r != cfg.train]
        for nets, r in [("the others" if own else "every net", cfg.train), *own]:
            per_epoch = -(-cfg.pair.train_images // r.batch_size)
            per_epoch = min(per_epoch, r.max_steps_per_epoch or per_epoch)
            rows.append({"profile": name, "nets": nets, "width": cfg.width, "epochs": r.epochs,
                         "batch": r.batch_size, "lr": r.lr, "train images": cfg.pair.train_images,
                         "steps": per_epoch * r.epochs})
    return pd.DataFrame(rows).set_index(["profile", "nets"])


def timing(result: dict):
    """Return per run the median epoch time, the median MPA-callback time and their ratio (callback overhead)."""
    import pandas as pd

    rows = []
    for tag, run_ in result["runs"].items():
        epochs = [r for r in run_["history"] if r["epoch"] > 0 and "epoch_time_s" in r]
        if epochs:
            t_epoch = statistics.median(r["epoch_time_s"] for r in epochs)
            t_mpa = statistics.median(r["mpa_time_s"] for r in epochs)
            rows.append({"run": tag, "epoch_time_s": t_epoch, "mpa_time_s": t_mpa, "overhead": t_mpa / t_epoch})
    return pd.DataFrame(rows)


def plot_mpa(result: dict, tags: tuple[str, ...], level: str = "end"):
    """Draw per run the MPA curves over epochs, the gap beneath, then the test accuracy (P1 Figs. 2–4); return the figure.

    Colour: one per curve (``intra-<class>`` solid, ``inter-<a>-<b>`` dashed); the legend sits outside the axes.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    frame = mpa_frame(result, level)
    tags = [t for t in tags if t in result["runs"]]
    fig, axes = plt.subplots(3, len(tags), figsize=(4.2 * len(tags) + 1.8, 7.5), sharex="col", squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1.5, 1]})
    for col, tag in enumerate(tags):
        runs = frame[frame["run"] == tag]
        sns.lineplot(data=runs, x="epoch", y="angle", hue="curve", style="kind", marker="o", ax=axes[0, col],
                     legend=col == len(tags) - 1)
        title = tag + (" (diverged)" if result["runs"][tag]["diverged"] else "")
        axes[0, col].set(title=title, ylabel="MPA (degrees)")
        gaps = _gap_per_epoch(runs)
        axes[1, col].plot(gaps.index, gaps.values, "o-", color="tab:purple")
        axes[1, col].axhline(0, color="grey", lw=0.8)
        axes[1, col].set(ylabel="inter − intra (°)")
        sns.lineplot(data=runs.drop_duplicates("epoch"), x="epoch", y="test_acc", marker="o", color="k", ax=axes[2, col])
        axes[2, col].set(ylabel="test accuracy", ylim=(0, 1), xlabel="epoch")
    if tags:
        axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, title="curve")
    fig.tight_layout()
    return fig


def _gap_per_epoch(runs):
    means = runs.groupby(["epoch", "kind"])["angle"].mean().unstack()
    return means["inter"] - means["intra"]


def plot_gaps(result: dict, tags: tuple[str, ...]):
    """Draw the final inter−intra gap per level with its 95% bootstrap band (K_SE s.e.), one colour per run (Fig. 5)."""
    import matplotlib.pyplot as plt

    frame = gap_frame(result)
    order = ["stage1", "stage2", "stage3", "stage4", "end", "pooled"]
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for tag in [t for t in tags if t in set(frame["run"])]:
        f = frame[frame["run"] == tag].set_index("level").reindex([lvl for lvl in order if lvl in set(frame["level"])])
        f = f.dropna()
        ax.errorbar([order.index(lvl) for lvl in f.index], f["gap"], yerr=K_SE * f["se"], marker="o", capsize=3, label=tag)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(order)), ["stage 1 in", "stage 2 in", "stage 3 in", "stage 4 in", "end", "pooled"])
    ax.set(ylabel="inter − intra MPA (degrees)", xlabel="where the features are read")
    ax.legend(title="network (95% band)", fontsize=8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- findings: the notebook's "What we found"
# Each returns Markdown from the result and its ledger rows: the numbers are the profile's that ran, and the
# outcome words are chosen from them.
NAMES = {"base18": "Base18", "resnet18-nobn": "ResNet-18 without BN", "resnet18": "ResNet-18 with BN",
         "resnet34-other-pair": "ResNet-34 (deer/horse)", "resnet34-triple": "ResNet-34 (airplane/frog/truck)"}


def _row(rows, claim_id: str):
    return next(r for r in rows if r.id == claim_id)


def _verdict(rows, claim_id: str) -> str:
    row = _row(rows, claim_id)
    return f"the verdict on {claim_id} is *{row.verdict}*" + (f" ({row.reason})" if row.reason else "")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].isascii() else text


def _profile(result: dict) -> str:
    return (result.get("provenance") or {}).get("profile", "?")


def _acc(result: dict, tag: str) -> str:
    acc = final_accuracy(result["runs"][tag])
    return f"{acc:.1%} ({'over' if TRAINED.met_by(acc) else 'under'} the {TRAINED.required:.0%} gate)"


def _band(est) -> str:
    return f"${est.value:.1f}° \\pm {est.band():.1f}°$"


def findings_fig2(result: dict, rows) -> str:
    """P1.4's findings: (a) Base18's accuracy against the paper's ~55%, (b) the end gaps and BN's paired lead."""
    t = CLAIMS["P1.4"].t
    ran = [tag for tag in FIG2 if tag in result["runs"]]
    text = (f"**What we found** (`{_profile(result)}`). Test accuracy: "
            + ", ".join(f"{NAMES[tag]} {_acc(result, tag)}" for tag in ran) + ".")
    if "base18" in ran and "resnet18" in ran:
        base, res = final_accuracy(result["runs"]["base18"]), final_accuracy(result["runs"]["resnet18"])
        if base > t["base_max"]:
            part_a = ("fails: Base18, the plain twin with BN kept as in the paper's Fig. 1a, learns the task where "
                      "the paper reports about 55%.")
        elif res - base < t["lead"]:
            part_a = f"fails: Base18 stays near chance, but ResNet-18 is not {t['lead']:.0%} ahead of it."
        else:
            part_a = "holds: Base18 stays near chance while ResNet-18 learns, as the paper reports."
        text += " Part (a) " + part_a
    gaps = {tag: gap_estimate(result, tag) for tag in ran}
    if all(gaps.values()) and gaps:
        text += " End gaps (95% band, bootstrap over test images): " + ", ".join(
            f"{NAMES[tag]} {_band(g)}" for tag, g in gaps.items()) + "."
    for curve, (a, b), lead in (("intra", ("resnet18-nobn", "resnet18"), "Part (b) reads the paper's sentence on "
                                 "the intra-class angle: without BN it ends the"),
                                ("gap", ("resnet18", "resnet18-nobn"), "As context, with BN the gap is the")):
        diff = gap_difference(result, (a, "end"), (b, "end"), curve)
        if diff is not None:
            text += (f" {lead} {'larger' if diff.value > 0 else 'smaller'} by "
                     f"{_band(Estimate(abs(diff.value), diff.se, diff.n, diff.method))} (paired over images, seed 0), "
                     f"{'beyond' if abs(diff.value) > diff.band() else 'inside'} that band.")
        if "(b) undecided: single seed" in _row(rows, "P1.4").reason:
            text += (" But (b) compares two networks, and how far an angle moves from one training seed to the next is "
                     "not in a band over test images: with a single seed per net that spread is unmeasured, so (b) is "
                     "undecided, and the row reads what (a) decides beside it.")
    return text + f" So {_verdict(rows, 'P1.4')}."


def findings_other_tasks(result: dict, rows) -> str:
    """P1.6's findings: ResNet-34 on the other pair and the three-class task."""
    ran = [tag for tag in OTHER if tag in result["runs"]]
    if not ran:
        return f"**What we found** (`{_profile(result)}`). The other tasks did not run: {_verdict(rows, 'P1.6')}."
    parts = []
    for tag in ran:
        g = gap_estimate(result, tag)
        parts.append(f"{NAMES[tag]} reaches {_acc(result, tag)}" + (f", end gap {_band(g)}" if g else ""))
    return f"**What we found** (`{_profile(result)}`). " + "; ".join(parts) + f". So {_verdict(rows, 'P1.6')}."


def findings_stages(result: dict, rows) -> str:
    """P1.7's findings: the intra- and inter-class MPA at each stage input and at the end, per deep net run, and
    the deep nets their pilot held back."""
    held = "".join(f" {t} was {w}." for t in DEEP if t not in result["runs"] and (w := held_back(result, t)))
    return (f"**What we found** (`{_profile(result)}`). Intra- and inter-class MPA at the four stage inputs and "
            "the end, and their changes: "
            f"{_row(rows, 'P1.7').value}.{held} So {_verdict(rows, 'P1.7')}.")


def findings_conditioning(result: dict, rows) -> str:
    """P1.1's and P1.8's findings: κ_R < κ_B by the formula, the circular and the zero-padded operator, and eq. (1)."""
    units = trained_units(result) if "units" in result else []
    near = int((plain_branch_smin(units) < CLAIMS["P1.1"].t["singular"]).sum()) if len(units) else 0
    automatic = (f" In {near} of {len(units)} units the plain twin's branch is nearly singular, so κ_B is huge "
                 "whatever the unit learned and κ_R < κ_B is near-automatic: the comparison says little about what "
                 "the skip adds." if near else "")
    return (f"**What we found** (`{_profile(result)}`). {_sentence(_row(rows, 'P1.1').value)}.{automatic} The formula "
            f"rests on eq. (1), $\\sigma_{{\\min}}(S+B) \\ge m_1m_2 + 1$ (**P1.8**): "
            f"{_sentence(_row(rows, 'P1.8').value)}. So {_verdict(rows, 'P1.1')}, and {_verdict(rows, 'P1.8')}.")


def findings_lemma2(result: dict, rows) -> str:
    """P1.2's findings: how often the worst-case and random gains leave [1/κ_R, κ_R]."""
    row = _row(rows, "P1.2")
    text = f"**What we found** (`{_profile(result)}`). {_sentence(row.value)}."
    units = lemma2_units(trained_units(result)) if "units" in result else []
    total = int(units["k"].sum()) if len(units) else 0
    if total:
        bar = CLAIMS["P1.2"].t["partly"]
        top = units[units["low"] > bar]
        text += f" The {total} violations sit in {int((units['k'] > 0).sum())} of {len(units)} units"
        text += (f"; {len(top)} of them carry {top['k'].sum() / total:.0%}, each on more than {bar:.0%} of its "
                 "images beyond its band" if len(top) else "") + "."
        text += (" Lemma 2 holds for every input, so each unit is judged on its own images: a share pooled over "
                 "units (its band a cluster bootstrap, units then images, since one unit's images share its "
                 "weights) would average a failing unit away, and is context only.")
    return text + f" So {_verdict(rows, 'P1.2')}."


def findings_lemma3(result: dict, rows) -> str:
    """P1.3's findings: the share of (BN layer, image) whose relative perturbation does not grow."""
    row = _row(rows, "P1.3")
    text = f"**What we found** (`{_profile(result)}`). {_sentence(row.value)}."
    if row.verdict == "fails":
        text += (" The lemma's proof treats BN as a pure scaling; subtracting the mean (running or batch) can shrink "
                 "$\\|\\mathrm{BN}(x)\\|$ more than $\\|\\Delta x\\|$.")
    return text + f" So {_verdict(rows, 'P1.3')}."
