"""P1's tables and figures for the notebook: MPA curves (Figs. 2–4), gaps per stage (Fig. 5), timings."""
from __future__ import annotations

import statistics

from ...stats import K_SE
from .config import DEEP


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
    """Draw the final inter−intra gap per level with its ±2 s.e. bootstrap band, one colour per run (Fig. 5)."""
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
    ax.legend(title="network (±2 s.e.)", fontsize=8)
    fig.tight_layout()
    return fig
