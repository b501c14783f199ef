"""The synthesis notebook's frames, figures and findings: the unit-by-unit strip of one network, the rank table, and
the *What we found* paragraph generated from the result."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .paper import CLAIMS, MEASURES
from .readings import agreement, network_measures, rank_matrix, unit_table, w_test, within_correlation

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


def _verdict(claims, cid: str) -> str:
    row = next(c for c in claims if c.id == cid)
    return f"the verdict on {cid} is *{row.verdict}*" + (f" ({row.reason})" if row.reason else "")


def _within(test: dict | None, subject: str, obj: str) -> str:
    if test is None:
        return f"Whether {subject} follows {obj} within a network cannot be read (too few units, or a measure constant)"
    verb = "rises" if test["rho"] > 0 else "falls"
    return (f"Within each network, {subject} {verb} with {obj} (ρ_w = {test['rho']:.2f} over {test['units']} units of "
            f"{len(test['networks'])} networks; permuting the units within each stage of each network gives a ρ_w as far out on its "
            f"side with probability {min(test['p_up'], test['p_down']):.2g})")


def findings(result: dict, claims) -> str:
    """Return the notebook's *What we found* paragraph: every number read from ``result``, every verdict from
    ``claims`` (the ledger rows of the same result)."""
    a = agreement(result, CLAIMS["S.1"].t["tol_identity"], CLAIMS["S.1"].t["tol_bound"])
    parts = [f"**What we found** (profile `{result['profile']}`, {len(result['networks'])} networks, "
             f"{result['images']} test images each)."]
    same = "all" if a["identity_ok"] == a["identity_checked"] else f"{a['identity_ok']} of the"
    parts.append(f"P5's gradient-norm ratio equals ‖Jᵀg‖/‖g‖ at {same} {a['identity_checked']} (unit, image) pairs "
                 f"(largest relative difference {a['worst_identity']:.1e}), stays under σ_max at {a['upper_ok']} of "
                 f"{a['upper_checked']} and "
                 + (f"inside the range bounds [σ⁺_min, σ_max]·‖Pg‖/‖g‖ of a full spectrum at {a['range_ok']} of "
                    f"{a['range']} pairs (its smallest ratio to the lower bound {a['lower_margin']:.3g})"
                    if a["range"] else "had no full spectrum at this profile, so the lower bound is untested here")
                 + f": {_verdict(claims, 'S.1')}.")
    rms = within_correlation(result, "abs_log_rms", "abs_log_ratio", CLAIMS["S.2"].t["perms"])
    parts.append(_within(rms, "the ratio's distance from 1, |ln ratio|,", "the Jacobian's, |ln RMS σ|")
                 + f": {_verdict(claims, 'S.2')}.")
    kappa = within_correlation(result, "log_kappa", "spread", CLAIMS["S.3"].t["perms"])
    parts.append(_within(kappa, "the spread of the real Jacobian's nonzero singular values", "P1's κ_R of the "
                         "linear part") + f": {_verdict(claims, 'S.3')}.")
    used, nets, ranks = rank_matrix(result)
    if len(used):
        t = w_test(ranks, CLAIMS["S.4"].t["perms"])
        w = (f"Kendall's W = {t['W']:.2f} over {len(used)} measures on {len(nets)} networks (independent rankings "
             f"reach it or more with probability {t['p_up']:.2g}, it or less with {t['p_down']:.2g})")
    else:
        w = "No measure is defined on every network"
    parts.append(f"{w}: {_verdict(claims, 'S.4')}.")
    return " ".join(parts)
