"""Read P1's per-unit records into the numbers Lemmas 1 and 2 are judged on: one frame of units with κ by formula,
circular and zero-padded; the true κ per unit (zero-padded where computed); each unit's Lemma 1 outcome; the Lemma 2
violation shares with their bands (a cluster bootstrap over units, a Wilson band per unit)."""
from __future__ import annotations

import math

import numpy as np

from ...stats import K_SE, Estimate
from ...two_level import cluster_bootstrap
from .readings import BN_PAIR

__all__ = ["lemma1_outcomes", "lemma2_share", "lemma2_units", "plain_branch_smin", "trained_units", "true_kappas",
           "unit_frame", "wilson"]


def lemma2_share(trained) -> Estimate:
    """Return P1.2's share of (unit, image) worst-case gains outside [1/κ_R, κ_R] (paper's κ_R), its band from a
    cluster bootstrap: units, then the images inside each (the images of one unit share its weights)."""
    clusters = [np.arange(int(n)) < round(v * n) for v, n in zip(trained["wc_violations_paper"], trained["wc_images"])]
    return cluster_bootstrap([c.astype(float) for c in clusters])


def wilson(k: int, n: int, z: float = K_SE) -> tuple[float, float]:
    """Return the Wilson score band (two-sided, ``z`` = ``stats.K_SE``) of a share of ``k`` events in ``n`` trials.

    Unlike the Wald band p ± z·√(p(1 − p)/n), it never leaves [0, 1] and its lower end is above 0 for every k ≥ 1:
    one observed event proves a share above 0."""
    if n <= 0:
        raise ValueError(f"wilson needs n > 0 trials, got {n}")
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def lemma2_units(trained):
    """Return per unit (run, unit) its worst-case Lemma 2 violations (paper's κ_R): ``k`` of ``n`` images, the
    ``share`` and its Wilson band ``low``–``high`` over that unit's images (``wilson``)."""
    import pandas as pd

    rows = []
    for (run_, unit), n, v in zip(zip(trained["run"], trained["unit"]), trained["wc_images"],
                                  trained["wc_violations_paper"]):
        n = int(n)
        k = int(round(v * n))
        low, high = wilson(k, n)
        rows.append({"run": run_, "unit": unit, "k": k, "n": n, "share": k / n, "low": low, "high": high})
    return pd.DataFrame(rows, columns=["run", "unit", "k", "n", "share", "low", "high"])


def unit_frame(result: dict):
    """Return one row per (run, state, unit) with κ by formula, circular and zero-padded, and the Lemma 2 numbers."""
    import pandas as pd

    frame = pd.DataFrame([{"run": tag, "state": state, **row} for tag, states in result["units"].items()
                          for state, rows in states.items() for row in rows])
    for col in [c for c in frame.columns if c.startswith(("paper_", "exact_", "zero_", "wc_", "lemma2_"))]:
        frame[col] = frame[col].astype(float)  # one float column: a missing entry (None) becomes NaN
    for col in ("zero_kappa_R", "zero_kappa_B", "zero_norm_R", "zero_smin_R", "zero_kappa_R_lower",
                "zero_kappa_B_lower", "zero_matrix_free"):
        if col not in frame:  # results computed before the matrix-free solver: dense or nothing
            frame[col] = 0.0 if col == "zero_matrix_free" else math.nan
    frame["kappa_R_ratio"] = frame["exact_kappa_R"] / frame["paper_kappa_R"]
    frame["zero_vs_circular"] = frame["zero_kappa_R"] / frame["exact_kappa_R"]
    frame["norm_ratio"] = frame["exact_norm_R"] / frame["paper_norm_R"]
    frame["smin_ratio"] = frame["exact_smin_R"] / frame["paper_smin_R"]
    return frame


def true_kappas(units) -> tuple:
    """Return (κ_R, κ_B, zero-padded?, κ_B bounded?) per unit row: the zero-padded κ where it was computed, else the
    circular. Where the matrix-free solver certified κ_R but not κ_B (a nearly singular branch), κ_B is its certified
    lower bound ``zero_kappa_B_lower`` and ``bounded`` is True: κ_B is at least that."""
    zero = units["zero_kappa_R"].notna()
    bounded = zero & units["zero_kappa_B"].isna() & units["zero_kappa_B_lower"].notna()
    k_b = units["zero_kappa_B"].where(~bounded, units["zero_kappa_B_lower"])
    return (units["zero_kappa_R"].where(zero, units["exact_kappa_R"]), k_b.where(zero, units["exact_kappa_B"]), zero,
            bounded)


def plain_branch_smin(units):
    """Return per unit row σ_min(B)/σ_max(B) = 1/κ_B of the plain branch B (true κ, as ``true_kappas``; an upper
    bound where κ_B is bounded): ≈ 0 when the branch is nearly singular, and then κ_R < κ_B holds for almost any
    I + B."""
    return 1.0 / true_kappas(units)[1]


def lemma1_outcomes(units, singular: float):
    """Return per unit row P1.1's outcome in the ``best`` and ``worst`` case for the claim: ``for`` (κ_R < κ_B, plain
    branch not nearly singular: σ_min(B)/σ_max(B) ≥ ``singular``), ``against`` (κ_R ≥ κ_B) or ``excluded`` (κ_R < κ_B
    with a nearly singular branch, near-automatic). The cases differ only where κ_B is bounded (``true_kappas``): a
    bound proves κ_R < κ_B when κ_R is below it and proves the branch nearly singular when 1/bound < ``singular``;
    otherwise either is possible."""
    import pandas as pd

    k_r, k_b, _, bounded = true_kappas(units)
    better, near = k_r < k_b, plain_branch_smin(units) < singular
    rows = []
    for b, s, open_ in zip(better, near, bounded):
        either = lambda proven: {True, False} if open_ and not proven else {proven}  # noqa: E731
        possible = {("excluded" if s_ else "for") if b_ else "against" for b_ in either(b) for s_ in either(s)}
        rows.append({"best": next(o for o in ("for", "excluded", "against") if o in possible),
                     "worst": next(o for o in ("against", "excluded", "for") if o in possible)})
    return pd.DataFrame(rows, index=units.index)


def trained_units(result: dict):
    """Return the unit rows Lemmas 1–2 are judged on: trained, non-transition units of ResNet-18 ± BN."""
    units = unit_frame(result)
    return units[(units["state"] == "trained") & units["run"].isin(BN_PAIR)
                 & ~units["is_transition"]]
