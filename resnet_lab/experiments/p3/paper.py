"""P3's paper: the quality gate and the claim declarations (thresholds as data).

Rothauge, Hu, Yao & Mahoney (2019), *Residual networks as nonlinear systems*. Nothing here is measured; the
criterion text of each claim is generated from the thresholds the verdicts read (``ledger.declare``).
The paper calls a residual unit a *unit* and the skip scale ``α``, as the book does.
"""
from __future__ import annotations

from dataclasses import replace

from ... import zoo  # which architecture a zoo network is: data, not measured
from ...ledger import ClaimSpec, Gate, declare

# The paper states no accuracy for the networks it linearised: its ResNet-56/110 are the pretrained ones of its
# ref. [12] (osmr/imgclsmob), whose model store lists test errors of 4.52% and 3.69% (release v0.0.163).
_PAPER_NETS = ("the paper states no accuracy for its pretrained ResNet-56/110; its ref. [12] (osmr/imgclsmob, "
               "release v0.0.163) lists test errors of 4.52% and 3.69% for them (95.5% and 96.3% accuracy)")
# The quality bar every claim about trained networks rests on follows the network linearised (``gate_for``), not the
# profile: a ResNet-20 against a CIFAR ResNet-20's bar, the paper's depths against He et al.'s ResNet-56/110 less a
# point, whichever profile or recipe trained them (small's queued ResNet-56 restart included).
GATE = Gate("test accuracy", 0.85, why="the zoo's bar for a converged CIFAR ResNet-20: He et al.'s 91.25% minus "
            "6 points; " + _PAPER_NETS + ", so a network below the bar is not the kind the paper linearised")
GATE_PAPER_DEPTHS = Gate("test accuracy", 0.92, why="He et al.'s ResNet-56 (93.03%) and ResNet-110 (93.39 ± 0.16% "
                         "over five runs; Table 6) less one point, for the paper's depths: a bar at their mean would "
                         "turn away about half of faithful runs of their recipe; " + _PAPER_NETS)
# The networks each figure shows, in the paper's words (``ledger.mark_networks``): Fig. 1 both, Figs. 2–4 ResNet-110,
# Fig. 5 "an arbitrary residual unit" of the two the study uses.
BOTH, R110 = ("ResNet-56", "ResNet-110"), ("ResNet-110",)
PAPER_DEPTHS = ("resnet56", "resnet110")


def gate_for(config: dict) -> Gate:
    """Return the gate of the network a result's ``config`` linearises: at the paper's depths, He et al.'s ResNet-56/
    110 less a point, whoever trained it (a zoo network's own, lower bar does not lower P3's: the zoo's 91% for its
    CPU ResNet-56 was set after P3 held ResNet-56 to 92%); any other network (ResNet-20, controls, fixtures), the
    ResNet-20 bar."""
    name = config.get("zoo")
    model = zoo.ZOO[name].model if name in zoo.ZOO else config.get("model")  # a retired zoo name: the config's model
    return GATE_PAPER_DEPTHS if model in PAPER_DEPTHS else GATE


CLAIMS = declare(
    ClaimSpec("P3.1", "Jacobian test: ‖R(x+εδ)−R(x)−εJδ‖ falls an order of magnitude faster than ‖R(x+εδ)−R(x)‖",
              "Appendix A",
              "softplus twin of the probe unit in float64: log-log slope of the linearisation error ≥ {first:.1f} "
              "and of the difference in [{zeroth_lo:.1f}, {zeroth_hi:.1f}] (holds: both; fails otherwise)",
              {"first": 1.8, "zeroth_lo": 0.9, "zeroth_hi": 1.1}, implementation_check=True),
    ClaimSpec("P3.2", "Fig. 1: most singular values of residual-unit Jacobians are 1 (a plateau), the rank is high "
              "and the spectra barely change between images; transitions (stages 2–3) lack the plateau; stage "
              "Jacobians have no plateau and a few very large σ", "§3.2, Fig. 1",
              "plateau share (σ in [0.99, 1.01]) of every interior (non-transition) unit with a full spectrum, mean over "
              "its images, then over the stage's interior units with a band over units and images (small-sample t "
              "quantile; one measured unit: over images only); the smallest stage decides: holds ≥ {hold:.0%} (the "
              "caption's 'a large proportion of singular values are 1'), partly ≥ {partly:.0%}, each beyond the band; "
              "holds also needs every secondary check, partly half of them: rank ≥ {rank:.0%} in the interior units of "
              "every stage but the last (§3.2 exempts the third stage of ResNet-56 from the lack of low-rank "
              "structure); spread of the images' nonzero spectra ≤ {spread:.2f} (rank variation reported apart); "
              "transition plateau < {trans:.1f}× the interior units'; stage σ_max ≥ {stage_big:.0f}× unit σ_max; "
              "stage plateau < {stage_plateau:.0%}",
              {"hold": 0.5, "partly": 0.10, "rank": 0.5, "spread": 0.1, "trans": 0.5, "stage_big": 3.0,
               "stage_plateau": 0.05}, gate=GATE, paper_nets=BOTH),
    ClaimSpec("P3.3", "Fig. 2 (ResNet-110): the number of σ > 1 “decreases slightly” through the net; in stage 3 the "
              "plateau shrinks and the rank drops", "§3.2, Fig. 2",
              "interior units with full spectra only (transitions excluded; shares are means over images): Spearman "
              "ρ(unit, share > 1.01) < 0 over ≥ {min_units} units; over ≥ {min_stage} interior units of the last stage "
              "ρ(unit, plateau share) < 0 and ρ(unit, zero share) > 0; each significant at p < {p:.2f} (a permutation "
              "test over the units' order, exact up to 8 units; a constant share has no trend) (holds: all "
              "three; partly: one or two significant after Holm's step-down over the three, and none significant the "
              "other way; fails: none significant, and one significant the other way after Holm; inconclusive: no "
              "trend beyond noise (or beyond it only before the adjustment, or both ways), or too few units)",
              {"min_units": 8, "min_stage": 5, "p": 0.05}, gate=GATE, paper_nets=R110),
    ClaimSpec("P3.4", "Fig. 3: adversarial (FGSM) perturbations jump near the end of stage 3; random ones of the "
              "same norm decay there", "§3.3, Fig. 3",
              "per fooled image, log growth per unit of the propagated perturbation in the last {late:.0%} of the "
              "last stage's units: FGSM's minus FGSM's over the stage's earlier units > 0 (the jump), FGSM's minus "
              "random's > 0, and random's < 0 (random perturbations decay there), each beyond the 95% band (bootstrap over ≥ "
              "{min_images} images); holds: all three; partly: some after Holm's step-down over the three, the row "
              "naming the others; fails: none, and one the other way after Holm; inconclusive: otherwise (none "
              "beyond the band after Holm, or one for beyond its own band only beside one against; the row says how "
              "each part reads)",
              {"late": 1 / 3, "min_images": 3}, gate=GATE, paper_nets=R110),
    ClaimSpec("P3.5", "Fig. 4: Eq. (1) predicts each unit's growth of the propagated perturbation; at the last "
              "units the adversarial perturbation aligns with the top right singular vectors (random ones do not)",
              "§3.3, Eq. (1), Fig. 4",
              "median |predicted − actual| / actual ≤ {err:.0%} over last-stage units and images (FGSM); energy of δ "
              "on the top-k right singular vectors divided by chance (k/n), over all images (≥ {min_images}): the log "
              "ratio at the last unit minus that at the last stage's first interior unit, and minus random's at the "
              "last unit, each > log {closer:g} beyond the 95% band (bootstrap over images: the paper's 'much closer'; "
              "> 0 beyond the band is only closer); holds: Eq. (1) and both alignments much closer; partly: an "
              "alignment at least closer; inconclusive: Eq. (1) holds and both alignments inside the band; fails "
              "otherwise",
              {"err": 0.2, "min_images": 3, "closer": 2.0}, gate=GATE, paper_nets=R110),
    ClaimSpec("P3.6", "Fig. 5: scaling the skip by α moves the plateau to α; interpolating the weights toward "
              "Gaussian noise (Eq. 3) builds the plateau, widest near t = 0.5", "§3.4.1, §3.5, Eq. (3), Fig. 5",
              "skip part (shares are means over images; needs a plateau ≥ {min_plateau:.0%} at α = 1): for every "
              "α ≠ 1 the share of σ within ±1%·α of α is ≥ {moved:.0f}× the unscaled spectrum's share in that same "
              "window and ≥ ½ the plateau at α = 1, and the share at 1 drops to ≤ {vanish:.1f}× the plateau at "
              "α = 1; weights part: at the 0 < t < 1 with the largest mean plateau (over images and noise draws) the "
              "plateau is ≥ {min_plateau:.0%} and exceeds t = 0's and t = 1's beyond the 95% band (Student's t over images, "
              "n − 1 df, draws averaged within an image); holds: both parts; partly: one; inconclusive: no part decided; "
              "fails otherwise",
              {"min_plateau": 0.10, "moved": 2.0, "vanish": 0.5}, gate=GATE, paper_nets=BOTH),
)


def claims_for(config: dict) -> dict:
    """Return ``CLAIMS`` with the gate of the network ``config`` linearises (``gate_for``) on every gated claim."""
    gate = gate_for(config)
    return {cid: replace(spec, gate=gate) if spec.gate is not None else spec for cid, spec in CLAIMS.items()}

