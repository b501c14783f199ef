"""P2's paper: Zhang & Schaeffer's reported numbers, the accuracy gates, and the claims, declared once.

Table 5.2's counts and Table 5.4 are read by the measurement too, so they are declared in ``config.py`` (a change
to them changes results) and imported here; everything below is read by the verdicts and tables only.
"""
from __future__ import annotations

from ...ledger import ClaimSpec, Gate, declare
from ...stats import LEVEL

BAND = f"{LEVEL:.0%} band"  # stats.sign: outside the two-sided band, t quantile at the estimate's df
from .config import FIGURE_CLASSES, PAPER_DEPTH, PAPER_NOISE, PAPER_PARAMS, paper_drop_fractions  # noqa: F401

# Table 5.3 (CIFAR-10 test accuracy, %), keyed by variant and n (layers in the first stage).
PAPER_ACC = {"d": {3: 87.8509, 6: 90.7245, 9: 91.2045, 12: 91.8091},
             "s": {3: 87.7782, 6: 88.1655, 9: 88.1845, 12: 89.0927}}
# Table 5.4's columns: clean, unstructured (two levels), structured (two levels); levels lost from our copy.
PAPER_NOISE_COLUMNS = ("clean", "unstructured, low", "unstructured, high", "structured, low", "structured, high")
# The probabilities §5.2 quotes from Fig. 5.4 (ResNet-S-20, Gaussian noise σ = 0.02, 0.05).
PAPER_PROBS = [{"net": "S-20", "image": "horse", "noise": "none", "class": "horse (true)", "p": 0.9985},
               {"net": "S-20", "image": "horse", "noise": "σ = 0.02", "class": "horse (true)", "p": 0.8750},
               {"net": "S-20", "image": "horse", "noise": "σ = 0.05", "class": "horse (true)", "p": 0.7940},
               {"net": "S-20", "image": "dog", "noise": "σ = 0.02", "class": "cat (second)", "p": 0.1410},
               {"net": "S-20", "image": "dog", "noise": "σ = 0.05", "class": "frog (second)", "p": 0.1717}]
VARIANT_NAMES = {"d": "ResNet-D", "s": "ResNet-S", "sp": "ResNet-S, BN-free, ‖A‖₂² ≤ 2"}


ACC_GATE = Gate("test accuracy", 0.82, why="ten-class CIFAR nets; the paper's shallowest nets reach 87.8% (D-18 and "
                "S-11); 6 points below that a net has converged enough that depth, not training speed, ranks it")
SP_GATE = Gate("test accuracy", 0.80, why="ten-class CIFAR nets; the BN-free norm-bounded ResNet-S is ours, not the "
               "paper's (its BN ResNet-S reaches 87.8–89.1%): 8 points of margin for the constraint; below that the "
               "sensitivity of an unfinished map says little about a trained one")
PROBE_GATE = Gate("test accuracy", 0.80, why="§3.1 describes a trained standard ResNet (He et al.'s ResNet-56: 93% on "
                  "CIFAR-10); 13 points of margin for a short schedule and the BN-free twin, which trains worse")

CLAIMS = declare(
    ClaimSpec("P2.1", "Depth 6n (D) / 3n+2 (S) and 0.223–1.100M (D) / 0.124–0.561M (S) trainable parameters",
              "§5, Table 5.2",
              "depths equal and every parameter count within {hold_pct:g}% of the paper's; partly: within "
              "{partly_pct:g}% (counted from the models, no training: a check of our reading of Fig. 4.1)",
              {"hold_pct": 0.5, "partly_pct": 1.0}, implementation_check=True),
    ClaimSpec("P2.2", "Test accuracy rises monotonically with depth (CIFAR-10)", "§5.1, Table 5.3",
              "per variant (D, S): no step to the next depth falls beyond its " + BAND + " and the deepest beats the "
              "shallowest beyond it (Welch's t over seeds; one seed per depth leaves the comparison undecided). Holds "
              "if both variants do; partly if one does or the deepest wins with a dip between; fails if the deepest "
              "is below the shallowest beyond the band; inconclusive inside the band or with < {min_depths} depths",
              {"min_depths": 2}, gate=ACC_GATE),
    ClaimSpec("P2.2-C100", "Test accuracy rises monotonically with depth (CIFAR-100)", "§5.1, Table 5.3", "as P2.2"),
    ClaimSpec("P2.3", "Accuracy falls under noise, and deeper nets tend to be more robust", "§5.2, Table 5.4, Eq. (5.1)",
              "at the high calibrated level of each noise kind (where the shallowest D net loses the share of its "
              "above-chance accuracy that the paper's D-18 loses): every net's accuracy drop from clean lies above its "
              + BAND + " (else fails), and the deepest net's drop is smaller than the shallowest's beyond the band "
              "in every (variant, kind) → holds; in some → partly; larger in some and smaller in none → fails; all "
              "inside the band → inconclusive. Bands: two-level bootstrap, seeds then the shared test images (one "
              "seed per net: undecided)", gate=ACC_GATE),
    ClaimSpec("P2.4", "The probability of the true class falls as the corruption grows", "§5.2, Figs. 5.3/5.4",
              "for each figure net and noise kind, the test-set mean p(true class) at the highest level is below its "
              "clean value beyond its " + BAND + " (paired over the test images, one figure net): holds if in all, "
              "partly if in some; fails if it falls in none and rises in one; inconclusive if all inside the band "
              "(the three probe images are shown, not judged)", gate=ACC_GATE),
    ClaimSpec("P2.5-bounds", "Per-layer stability bounds from the weights (BN folded, exact FFT norms) hold",
              "§4.2, Thms. 4.1/4.2, (A.4)–(A.13)",
              "every per-layer Lipschitz and growth bound holds on every probe pair, and the end-to-end ratio is at "
              "most the product C, for every net (a check of our code against the maths, not of the paper's claim)",
              implementation_check=True),
    # Two depths can fail it: s(n_max) ≥ 3·s(n_min) beyond the band (the synthetic "fails" result). `small`
    # trains one depth (inconclusive); `standard` runs the paper's four depths.
    ClaimSpec("P2.5", "When h‖A‖₂² ≤ 2 in every ResNet-S layer, ‖F(x)−F(y)‖ ≤ C‖x−y‖ with C independent of depth",
              "§4.2, Thm. 4.2, Eq. (4.11), Lemma A.1",
              "on the BN-free ResNet-S whose filters are kept at ‖A‖₂² ≤ 2: the hypothesis holds in every residual "
              "layer (else inconclusive: the theorem says nothing) at ≥ {min_depths} depths, and the end-to-end "
              "sensitivity s(n) (median over probe images of ‖F(x)−F(y)‖/‖x−y‖, pooled over seeds; band: two-level "
              "bootstrap, seeds then probe images, one seed per depth: undecided) at every larger n is below "
              "{hold:g}× s(n_min) beyond its " + BAND + " → holds; above {fail:g}× s(n_min) beyond the band "
              "→ fails; between both bands → partly; otherwise inconclusive",
              {"hold": 1.5, "fail": 3.0, "min_depths": 2, "tol": 1e-4}, gate=SP_GATE),
    ClaimSpec("P2.6", "Without BN, feature norms of a standard ResNet grow ~10× every 3–4 residual layers; with BN "
              "much less", "§3.1",
              "on trained probe nets (never their initialisation): layers per 10× growth of the mean feature norm "
              "(log-linear fit) ≤ {fast:g} without BN and at least {ratio:g}× as many with BN; partly: no-BN grows "
              "faster than BN; fails: it grows slower than BN, or as fast within the band while short of 10× per "
              "{fast:g} layers; each comparison beyond its " + BAND + " (bootstrap over the probe images of the one "
              "probe net per arm)",
              {"fast": 5.0, "ratio": 2.0}, gate=PROBE_GATE),
)
