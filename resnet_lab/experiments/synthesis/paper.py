"""The synthesis chapter's claims: where the five papers' measures should agree, each criterion declared once.

No paper makes these claims; each is what a reader of two papers would expect if both describe the same
networks (P1 Lemma 1 and §3.2, P2 Thms. 4.1–4.2 and §3.1, P3 §2 and Figs. 1–2, P5 Theorems 1–2 and Fig. 3).
Nothing here is read by ``measure.py``: editing a claim never makes a result stale.
"""
from __future__ import annotations

from ...ledger import ClaimSpec, Gate, declare

NET_GATE = Gate("test accuracy", 0.80,
                why="the lowest bar the networks' own chapters set (P5's nets and the zoo's BN-free ResNet-20): "
                    "under it a network is not the trained network the papers describe")

# Network-level reading of each paper, oriented so that a larger value is further from norm preservation.
MEASURES = {
    "P1 κ_R": "median log10 κ_R of the units' linear parts (P1 eq. 2, exact)",
    "P2 growth": "|decades of feature-norm growth per unit|, mean over images (P2 §3.1)",
    "P3 σ_max": "median over units of |log10 σ_max| of the unit Jacobian (P3 §2)",
    "P3 plateau": "1 − median plateau share of the unit Jacobians (P3 Fig. 2)",
    "P5 ratio": "median over units and images of |log gradient-norm ratio| (P5 Fig. 3)",
}

CLAIMS = declare(
    ClaimSpec("S.1", "Forward and backward agree: each unit's gradient-norm ratio (P5) is the gain of the transposed "
              "Jacobian (P3) on one vector, so it lies between the Jacobian's extreme singular values",
              "P5 Theorem 1; P3 §2",
              "at every (unit, image) pair: σ_min·(1 − {tol:.0e}) ≤ ratio ≤ σ_max·(1 + {tol:.0e}), with σ_min the "
              "smallest of min(m, n) singular values when the Jacobian is not taller than wide (else 0, Jᵀ has a "
              "null space) and 0 where only the top-k is affordable; holds: every pair inside; fails: any outside",
              {"tol": 1e-3}, implementation_check=True),
    ClaimSpec("S.2", "Plateau and norm preservation go together: units whose Jacobian has more singular values near 1 "
              "(P3) have gradient-norm ratios nearer 1 (P5)", "P3 Figs. 1–2; P5 Theorem 2, Fig. 3",
              "Spearman ρ between each unit's plateau share (σ ∈ [0.99, 1.01]) and its |log ratio| (each a mean over "
              "images), units pooled over networks, band from a bootstrap over units then images; holds: ρ < 0 "
              "beyond 2 s.e. and ρ ≤ −{rho_min}; partly: ρ < 0 beyond 2 s.e. only; fails: ρ > 0 beyond 2 s.e.; "
              "inconclusive: inside the band, or fewer than {min_units} units with a full spectrum",
              {"rho_min": 0.3, "min_units": 5}, gate=NET_GATE),
    ClaimSpec("S.3", "Linear-part conditioning predicts the real Jacobian: units with a larger κ_R of their linear "
              "part (P1) have a wider spread of their actual Jacobian's nonzero singular values (P3)",
              "P1 Lemma 1, eq. 2; P3 §2",
              "Spearman ρ between each unit's log10 κ_R (exact, BN folded, ReLUs as identity) and log10 σ_max/σ_min "
              "over its Jacobian's nonzero singular values (mean over images), units pooled over networks, band "
              "from a bootstrap over units then images; holds: ρ > 0 beyond 2 s.e. and ρ ≥ {rho_min}; partly: ρ > 0 "
              "beyond 2 s.e. only; fails: ρ < 0 beyond 2 s.e.; inconclusive: inside the band, or fewer than "
              "{min_units} units with both",
              {"rho_min": 0.3, "min_units": 5}, gate=NET_GATE),
    ClaimSpec("S.4", "The measures rank the networks alike: ordered by each paper's network-level measure, the "
              "networks come out in the same order", "P1 §3.2; P2 §3.1; P3 Fig. 2; P5 Fig. 3",
              "Kendall's W of the networks' ranks under every measure defined on all of them (at least "
              "{min_measures} measures, {min_nets} networks), against its null from {perms} independent "
              "permutations of each measure's ranks; holds: W above the null's {quantile:.0%} quantile and W ≥ "
              "{w_min}; partly: above that quantile only; fails: W at or below the null's median; inconclusive: "
              "between the two, or too few networks or measures",
              # The 99% quantile, not 95%: the control is one null draw, and a 95% test passes one in twenty of them.
              {"w_min": 0.6, "min_measures": 3, "min_nets": 3, "perms": 2000, "quantile": 0.99}, gate=NET_GATE),
)
