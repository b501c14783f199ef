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

# S.4's measures, one per paper, each oriented so that a larger value is further from norm preservation; each the
# median over a network's units that are not transitions (the rule of S.2 and S.3) of a mean over images. P3's is the
# spread, not σ_max: σ_max, P2's forward norm ratio and P5's backward ratio are all gains of the same residual map,
# and three readings of one gain would make W agree by construction. P4's g-expansivity is not measured here (the
# result says why); P3's plateau share is not stored.
MEASURES = {
    "P1 κ_R": "median log10 κ_R of the units' linear parts (P1 eq. 2, exact: circular padding, own resolution)",
    "P2 norm ratio": "median over units of the mean over images of |log10 ‖x_{l+1}‖/‖x_l‖| (P2 §3.1)",
    "P3 spread": "median over units of log10 σ_90%/σ_10% of the unit Jacobian's nonzero singular values (P3 §2)",
    "P5 ratio": "median over units of the mean over images of |ln gradient-norm ratio| (P5 Fig. 3)",
}

_WITHIN = ("ρ_w, the Spearman ρ between each unit's {a} and {b}, each a mean over the same images, taken within each "
           "network over its units that are not transitions (networks with at least 3 such units) and averaged with "
           "weights n_k − 1; tested against its null from {{perms}} draws that permute the units within each (network, stage) "
           "(units of one stage of a network exchangeable, whatever the networks' and the stages' levels); holds: P(null ≥ ρ_w) < {{alpha:.0%}} "
           "and ρ_w ≥ {{rho_min}}; partly: P(null ≥ ρ_w) < {{alpha:.0%}} only; fails: P(null ≤ ρ_w) < {{alpha:.0%}}; "
           "inconclusive: neither, or fewer than {{min_units}} units. Each unit's values are means over the result's stored test images (the row says how many). Reported beside, not judged: the ρ pooled across "
           "networks (band from a bootstrap over networks, then units, then images), which levels differing between "
           "networks can make by themselves")

CLAIMS = declare(
    ClaimSpec("S.1", "Forward and backward agree: each unit's gradient-norm ratio (P5) is the gain of the transposed "
              "Jacobian (P3) on the back-propagated gradient, so it lies between that Jacobian's singular values",
              "P5 Theorem 1; P3 §2",
              "at every (unit, image) pair, with g = ∂E/∂x_{{l+1}}: P5's ratio equals ‖Jᵀg‖/‖g‖ from torch.func.vjp of "
              "the unit alone to {tol_identity:.0e} (relative), ratio ≤ σ_max·(1 + {tol_bound:.0e}) where σ_max "
              "converged, and σ⁺_min·‖Pg‖/‖g‖·(1 − {tol_bound:.0e}) ≤ ratio ≤ σ_max·‖Pg‖/‖g‖·(1 + {tol_bound:.0e}) "
              "where a full spectrum was taken (P the projector on J's range, σ⁺_min its smallest nonzero "
              "singular value); holds: every pair passes and both range bounds were checked at {min_range} pairs or "
              "more; fails: any pair does not pass; inconclusive: none fails but fewer than {min_range} pairs had a "
              "full spectrum (the lower bound untested)",
              {"tol_identity": 1e-5, "tol_bound": 1e-3, "min_range": 4}, implementation_check=True),
    ClaimSpec("S.2", "Norm preservation goes with a Jacobian of gain near 1: within a network, units whose Jacobian has "
              "an RMS singular value nearer 1 (P3) have a gradient-norm ratio nearer 1 (P5)",
              "P3 §2; P5 Theorem 1, Fig. 3",
              _WITHIN.format(a="|ln ratio|", b="|ln ‖J‖_F/√m| (Hutchinson; m output entries)")
              + ", and ln ratio against ln ‖J‖_F/√m, near an identity (the ratio is the gain of Jᵀ on one vector, "
                "the RMS singular value its root-mean-square gain over all directions)",
              {"rho_min": 0.5, "min_units": 20, "perms": 2000, "alpha": 0.05}, gate=NET_GATE),
    ClaimSpec("S.3", "Linear-part conditioning predicts the real Jacobian: units with a larger κ_R of their linear "
              "part (P1) have a wider spread of their actual Jacobian's nonzero singular values (P3)",
              "P1 Lemma 1, eq. 2; P3 §2",
              _WITHIN.format(a="log10 κ_R (P1's exact κ_R of the linear part at the unit's own input resolution: BN "
                               "folded, ReLUs as identity; circular padding, where issue 43 asked for the zero "
                               "padding the networks use: a deviation: the zero-padded κ_R needs a matrix-free solve "
                               "per unit, which P1 runs for its own Fig. 2 nets only)",
                             b="log10 σ_90%/σ_10% of its Jacobian's nonzero singular values (Lanczos quadrature)"),
              {"rho_min": 0.3, "min_units": 10, "perms": 2000, "alpha": 0.05}, gate=NET_GATE),
    ClaimSpec("S.4", "The measures rank the networks alike: ordered by each paper's network-level measure, the "
              "networks come out in the same order", "P1 §3.2; P2 §3.1; P3 Fig. 2; P5 Fig. 3",
              "Kendall's W of the networks' ranks under one measure per paper, P1 κ_R, P2 norm ratio, P3 spread and P5 "
              "ratio (``MEASURES``: each the median over a network's units that are not transitions, as in S.2 and "
              "S.3, larger further from norm preservation; P4 not measured), over the networks that have all of them "
              "(at least {min_nets}), against its null from {perms} independent permutations of each measure's ranks; "
              "holds: P(W_null ≥ W) < {alpha:.0%}; fails: P(W_null ≤ W) < {alpha:.0%} (the measures order the "
              "networks in opposed ways, beyond chance); inconclusive: neither, or fewer than {min_nets} networks. "
              "Each unit's values are means over the result's stored test images (the row says how many). Reported "
              "beside, not judged: every pair's Spearman ρ, and W without P1 over every network",
              {"min_nets": 3, "perms": 2000, "alpha": 0.05}, gate=NET_GATE),
)
