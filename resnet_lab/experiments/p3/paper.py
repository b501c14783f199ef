"""P3's paper: the quality gate and the claim declarations (thresholds as data).

Rothauge, Hu, Yao & Mahoney (2019), *Residual networks as nonlinear systems*. Nothing here is measured; the
criterion text of each claim is generated from the thresholds the verdicts read (``ledger.declare``).
The paper calls a residual unit a *unit* and the skip scale ``α``, as the book does.
"""
from __future__ import annotations

from ...ledger import ClaimSpec, Gate, declare

# The quality bar every claim about trained networks rests on (one bar for every profile). Its ``why`` is
# printed in the committed ledger (book/claims/P3.json), so its words stay as they are.
GATE = Gate("test accuracy", 0.85, why="the zoo's bar for a converged CIFAR ResNet-20: He et al.'s 91.25% minus "
            "6 points, met by the zoo's ResNet-20 (87.2% after 27 one-cycle epochs on a CPU); the paper's pretrained "
            "ResNet-56/110 have ≈ 93.4–93.7%, so a network below the bar is not the kind the paper linearised")

CLAIMS = declare(
    ClaimSpec("P3.1", "Jacobian test: ‖R(x+εδ)−R(x)−εJδ‖ falls an order faster than ‖R(x+εδ)−R(x)‖",
              "Appendix A",
              "softplus twin of the probe unit in float64: log-log slope of the linearisation error ≥ {first:.1f} "
              "and of the difference in [{zeroth_lo:.1f}, {zeroth_hi:.1f}] (holds: both; fails otherwise)",
              {"first": 1.8, "zeroth_lo": 0.9, "zeroth_hi": 1.1}, implementation_check=True),
    ClaimSpec("P3.2", "Fig. 1: most singular values of residual-unit Jacobians are 1 (a plateau), the rank is high "
              "and the spectra barely change between images; transitions (stages 2–3) lack the plateau; stage "
              "Jacobians have no plateau and a few very large σ", "§3.2, Fig. 1",
              "plateau share (σ in [0.99, 1.01]) of the interior units, mean over images, smallest over the stages "
              "with full spectra: holds ≥ {hold:.0%} (the paper's 'a large proportion of singular values are 1'), partly ≥ "
              "{partly:.0%}, each beyond the 95% band over images; holds also needs every secondary check, partly half "
              "of them: rank ≥ {rank:.0%}; spread of the images' nonzero spectra ≤ {spread:.2f} (rank variation "
              "reported apart); transition plateau < {trans:.1f}× the interior unit's; stage σ_max ≥ "
              "{stage_big:.0f}× unit σ_max; stage plateau < {stage_plateau:.0%}",
              {"hold": 0.5, "partly": 0.10, "rank": 0.5, "spread": 0.1, "trans": 0.5, "stage_big": 3.0,
               "stage_plateau": 0.05}, gate=GATE),
    ClaimSpec("P3.3", "Fig. 2 (ResNet-110): the share of σ > 1 falls slightly through the net; in stage 3 the plateau "
              "shrinks and the rank drops", "§3.2, Fig. 2",
              "interior units with full spectra only (transitions excluded): Spearman ρ(unit, share > 1.01) < 0 over "
              "≥ {min_units} units; over ≥ {min_stage} interior units of the last stage ρ(unit, plateau share) < 0 "
              "and ρ(unit, zero share) > 0; each significant at p < {p:.2f} (holds: all three; partly: one or two "
              "and none significant the other way; fails: none, and one significant the other way; inconclusive: "
              "no trend beyond noise, or too few units)",
              {"min_units": 8, "min_stage": 5, "p": 0.05}, gate=GATE),
    ClaimSpec("P3.4", "Fig. 3: adversarial (FGSM) perturbations jump near the end of stage 3; random ones of the "
              "same norm decay there", "§3.3, Fig. 3",
              "per fooled image, log growth per unit of the propagated perturbation in the last {late:.0%} of the "
              "last stage's units minus that over its earlier units (FGSM) > 0, and FGSM's late log growth minus "
              "random's > 0, each beyond the 95% band (bootstrap over ≥ {min_images} images); holds: both, with random's "
              "late growth not significantly > 0; partly: one; fails: neither and one significantly < 0; "
              "inconclusive: inside the band",
              {"late": 1 / 3, "min_images": 3}, gate=GATE),
    ClaimSpec("P3.5", "Fig. 4: Eq. (1) predicts each unit's growth of the propagated perturbation; at the last "
              "units the adversarial perturbation aligns with the top right singular vectors (random ones do not)",
              "§3.3, Eq. (1), Fig. 4",
              "median |predicted − actual| / actual ≤ {err:.0%} over last-stage units and images (FGSM); energy of δ "
              "on the top-k right singular vectors divided by chance (k/n), over all images (≥ {min_images}): log "
              "ratio at the last unit > at the last stage's first interior unit, and > random's at the last unit, "
              "each beyond the 95% band (bootstrap over images); holds: all three; partly: two; inconclusive: Eq. (1) "
              "holds and both alignments inside the band; fails otherwise",
              {"err": 0.2, "min_images": 3}, gate=GATE),
    ClaimSpec("P3.6", "Fig. 5: scaling the skip by α moves the plateau to α; interpolating the weights toward "
              "Gaussian noise (Eq. 3) builds the plateau, widest near t = 0.5", "§3.4.1, §3.5, Eq. (3), Fig. 5",
              "skip part (needs a plateau ≥ {min_plateau:.0%} at α = 1): for every α ≠ 1 the share of σ within "
              "±1%·α of α is ≥ {moved:.0f}× the unscaled spectrum's share in that same window and ≥ ½ the plateau "
              "at α = 1, and the share at 1 drops to ≤ {vanish:.1f}× the plateau at α = 1; weights part: the "
              "largest plateau over t is ≥ {min_plateau:.0%}, above t = 0's, at 0 < t < 1 (holds: both parts; "
              "partly: one)",
              {"min_plateau": 0.10, "moved": 2.0, "vanish": 0.5}, gate=GATE),
)
