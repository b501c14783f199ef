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
    "P1 κ_R": "median log10 κ_R of the units' zero-padded linear parts (P1 eq. 2, exact)",
    "P2 norm ratio": "median over units and images of |log10 ‖x_{l+1}‖/‖x_l‖| (P2 §3.1)",
    "P3 σ_max": "median over units of |log10 σ_max| of the unit Jacobian (P3 §2)",
    "P5 ratio": "median over units and images of |log gradient-norm ratio| (P5 Fig. 3)",
}

CLAIMS = declare(
    ClaimSpec("S.1", "Forward and backward agree: each unit's gradient-norm ratio (P5) is the gain of the transposed "
              "Jacobian (P3) on the back-propagated gradient, so it lies between that Jacobian's singular values",
              "P5 Theorem 1; P3 §2",
              "at every (unit, image) pair, with g = ∂E/∂x_{{l+1}}: P5's ratio equals ‖Jᵀg‖/‖g‖ from torch.func.vjp of "
              "the unit alone to {tol_identity:.0e} (relative), ratio ≤ σ_max·(1 + {tol_bound:.0e}) where σ_max "
              "converged, and σ⁺_min·‖Pg‖/‖g‖·(1 − {tol_bound:.0e}) ≤ ratio ≤ σ_max·‖Pg‖/‖g‖·(1 + {tol_bound:.0e}) "
              "where the full spectrum is affordable (P the projector on J's range, σ⁺_min its smallest nonzero "
              "singular value); holds: every pair passes; fails: any does not",
              {"tol_identity": 1e-5, "tol_bound": 1e-3}, implementation_check=True),
    ClaimSpec("S.2", "The gradient sees the Jacobian's average gain: units whose Jacobian has a larger RMS singular "
              "value (P3) have a larger gradient-norm ratio (P5)", "P3 §2; P5 Theorem 1, Fig. 3",
              "Spearman ρ between each unit's ln ratio and ln ‖J‖_F/√m (Hutchinson; m output entries), each a "
              "mean over the same images, over units that are not transitions pooled across networks (transitions "
              "reported apart), band from a bootstrap over networks, then units, then images; holds: ρ > 0 beyond the "
              "95% band and ρ ≥ {rho_min}; partly: ρ > 0 beyond the 95% band only; fails: ρ < 0 beyond the 95% band; "
              "inconclusive: inside the band, or fewer than {min_units} units",
              {"rho_min": 0.5, "min_units": 20}, gate=NET_GATE),
    ClaimSpec("S.3", "Linear-part conditioning predicts the real Jacobian: units with a larger κ_R of their linear "
              "part (P1) have a wider spread of their actual Jacobian's nonzero singular values (P3)",
              "P1 Lemma 1, eq. 2; P3 §2",
              "Spearman ρ between each unit's log10 κ_R (exact, zero padded as in the network, BN folded, ReLUs as "
              "identity) and log10 σ_90%/σ_10% of its Jacobian's nonzero singular values (Lanczos quadrature, mean "
              "over images), over units that are not transitions pooled across networks (transitions reported "
              "apart), band from a bootstrap over networks, then units, then images; holds: ρ > 0 beyond the 95% band "
              "and ρ ≥ {rho_min}; partly: ρ > 0 beyond the 95% band only; fails: ρ < 0 beyond the 95% band; inconclusive: "
              "inside the band, or fewer than {min_units} units with both",
              {"rho_min": 0.3, "min_units": 10}, gate=NET_GATE),
    ClaimSpec("S.4", "The measures rank the networks alike: ordered by each paper's network-level measure, the "
              "networks come out in the same order", "P1 §3.2; P2 §3.1; P3 Fig. 2; P5 Fig. 3",
              "Kendall's W of the networks' ranks under every measure defined on all of them (at least "
              "{min_measures} measures, {min_nets} networks), against its null from {perms} independent "
              "permutations of each measure's ranks; holds: W above the null's {hold_q:.0%} quantile; fails: W "
              "below its {fail_q:.0%} quantile (the measures order the networks in opposed ways, beyond chance); "
              "inconclusive: between the two, or too few networks or measures",
              {"min_measures": 3, "min_nets": 3, "perms": 2000, "hold_q": 0.95, "fail_q": 0.05}, gate=NET_GATE),
)
