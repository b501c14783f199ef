"""The synthesis notebook's frames and figures: the unit-by-unit strip of one network and the rank table."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .paper import MEASURES
from .readings import network_measures, unit_table

STRIP = {"log_kappa": "P1 log10 κ_R", "log_norm": "P2 log10 ‖x_{l+1}‖/‖x_l‖", "log_sigma_max": "P3 log10 σ_max",
         "spread": "P3 log10 σ_90%/σ_10%", "log_rms": "P3 ln RMS σ", "log_ratio": "P5 ln ratio"}


def units_frame(result: dict) -> pd.DataFrame:
    """Return one row per (network, unit): every paper's per-unit reading, mean over images."""
    return pd.DataFrame(unit_table(result))


def rank_frame(result: dict) -> pd.DataFrame:
    """Return networks × measures: each measure's value with the network's rank under it (1: nearest to 1)."""
    measures = network_measures(result)
    nets = [n["label"] for n in result["networks"]]
    frame = pd.DataFrame({m: [measures[m].get(n, np.nan) for n in nets] for m in MEASURES}, index=nets)
    ranks = frame.rank(axis=0).add_suffix(" rank")
    acc = pd.Series({n["label"]: n["test_acc"] for n in result["networks"]}, name="test accuracy")
    return pd.concat([acc, frame, ranks], axis=1)


def strip_figure(result: dict, network: str):
    """Return a figure: one panel per paper's per-unit measure for ``network``, aligned by unit depth."""
    import matplotlib.pyplot as plt

    frame = units_frame(result)
    frame = frame[frame["network"] == network].sort_values("index")
    fig, axes = plt.subplots(len(STRIP), 1, figsize=(7, 1.5 * len(STRIP)), sharex=True)
    for ax, (key, label) in zip(axes, STRIP.items()):
        values = frame[key].astype(float)
        ax.plot(frame["index"], values, "o-")
        for k in frame.loc[frame["transition"], "index"]:
            ax.axvline(k, color="0.85", zorder=0)
        ax.set_ylabel(label, fontsize=8, rotation=0, ha="right")
    axes[-1].set_xlabel(f"residual unit of {network} (grey: transitions)")
    fig.tight_layout()
    return fig
