"""P1's paper and its claims: *Understanding ResNet from a discrete dynamical system perspective* (``p1_dynamical``).

The paper states Lemma 1 and Remark 1 (κ_R), §3.2 (a residual unit is better conditioned than its plain twin),
Lemma 2 (a unit's relative output perturbation lies in [1/κ_R, κ_R] × the input's), Lemma 3 (BN does not increase
the relative perturbation), and reads Figs. 2–5 by eye: median principal angles (MPA, Definition 1) between and within classes.
It gives no ResNet accuracy; Base18 stays near chance (~55%). Every threshold below is declared once, and each
claim's criterion text is generated from it.
"""
from __future__ import annotations

from ...ledger import ClaimSpec, Gate, declare
from ...stats import LEVEL

BAND = f"{LEVEL:.0%} band"  # stats.sign: outside the two-sided band, t quantile at the estimate's df

TRAINED = Gate("test accuracy", 0.85, why="the paper gives no ResNet accuracy; our bar for a trained network: a net "
               "under it has not yet formed the features and weights the claim is about")
FIG4_TASKS = ("two Animals-10 classes", "three ImageNet-2012 classes")  # §4.3's tasks of Fig. 4(a) and 4(b)
MIN_EFFECT = 1.0  # degrees: a gap difference smaller than this is too small to decide a figure the paper reads by eye

# The networks each figure is drawn from, in the paper's words (``ledger.mark_networks``); the lemmas (P1.1–P1.3,
# P1.8) are about any residual unit and name none.
DOGS = "(Dogs vs Cats)"
FIG2_NETS = tuple(f"{n} {DOGS}" for n in ("Base18", "ResNet-18 without BN", "ResNet-18"))
FIG3_NETS = tuple(f"ResNet-{d} {DOGS}" for d in (18, 34, 50, 101))  # Fig. 3's three and Fig. 2's ResNet-18
FIG4_NETS = ("ResNet-34 (two Animals-10 classes)", "ResNet-34 (three ImageNet-2012 classes)")
FIG5_NETS = FIG3_NETS[1:]

CLAIMS = declare(
    ClaimSpec("P1.1", "§3.2: a residual unit is better conditioned than its plain twin, κ_R − κ_B < 0 ('the ResNet "
              "network has a smaller condition numbers than the normal network'), judged on the true κ of the unit's linear "
              "part (Remark 1's formula is printed beside)",
              "§3.2, first two paragraphs (κ_B, κ_R − κ_B < 0); Remark 1, eq. (2), §3.1 (κ_R)",
              "κ_R < κ_B of the true (zero-padded) linear part (dense SVD, or matrix-free with each σ certified by "
              "its residual; circular-padded κ where neither ran) in the trained non-transition units of ResNet-18 ± "
              "BN whose plain branch B is not nearly singular, σ_min(B) ≥ {singular:g}·σ_max(B): where it is, κ_B is "
              "huge whatever the unit learned and κ_R < κ_B is near-automatic, so such a unit counts only against "
              "the claim (κ_R ≥ κ_B); a κ_B the matrix-free solver only bounds below decides a unit where the bound "
              "settles it, else the unit is read both ways; holds: in ≥ {hold:.0%} of the units counted; partly: ≥ "
              "{partly:.0%}; fails otherwise; inconclusive: no unit counted (every plain branch nearly singular: a unit "
              "then fails only where I + B is about as singular as B, so the comparison barely discriminates; the row "
              "gives the counts, the initial units and the smallest margin κ_B/κ_R), or the verdict turns on a unit "
              "read both ways. The paper's own formulas give κ_R < κ_B whenever M₁M₂ > m₁m₂, (a+1)/(b+1) < a/b for a "
              "> b: their share is printed, never judged",
              {"hold": 1.0, "partly": 0.5, "singular": 1e-3}, gate=TRAINED),
    ClaimSpec("P1.2", "Lemma 2: a unit's relative output perturbation lies in [1/κ_R, κ_R] × the relative input "
              "perturbation", "Lemma 2, §3.2",
              "per unit (trained non-transition units of ResNet-18 ± BN), on the worst-case directions (top/bottom "
              "singular vectors of the unit's Jacobian at each image): the share of its images whose gain leaves "
              "[1/κ_R, κ_R] (paper's κ_R), with its " + BAND + " over those images (Wilson); the lemma holds for every "
              "x, so a unit is judged on its own, never averaged away; holds: no violation in any unit (share ≤ "
              "{hold:.0%}); fails: some unit's share above {partly:.0%} beyond its band (a counterexample on a "
              "share of its inputs no marginal crossing explains: a Wilson band is above 0 at any one violation); "
              "partly: violations, every unit's share ≤ {partly:.0%}; inconclusive: a unit above {partly:.0%} only "
              "inside its band. The share pooled over units (cluster bootstrap: units, then images) is context",
              {"hold": 0.0, "partly": 0.05}, gate=TRAINED),
    ClaimSpec("P1.3", "Lemma 3: BN does not increase the relative perturbation", "Lemma 3, §3.2",
              "layer level, trained ResNet-18: holds: gain ≤ 1 for ≥ {hold:.0%} of (BN layer, image) in eval mode "
              "and in train mode; partly: in one mode", {"hold": 0.99}, gate=TRAINED),
    ClaimSpec("P1.4", "Fig. 2: Base18 stays near chance (~55%) while ResNet-18 learns; 'when the training is "
              "completed, the intra-class angle of the ResNet18 network without BN is significantly larger than the "
              "intra-class angle of the ResNet18 network with BN'", "§4.2, Fig. 2",
              "two halves: (a) Base18 test acc ≤ {base_max:.0%} and ≥ {lead:.0%} under ResNet-18 (the row names the "
              "epochs each trained); (b) intra(no BN) − intra(BN), the end intra-class MPAs, outside its " + BAND +
              " (Welch's t over each net's seeds: two networks, so the band must hold the seed-to-seed spread; a "
              "single seed per net leaves (b) undecided) and > {min_effect:g}° (the gap difference, gap(BN) − gap(no "
              "BN), beside it as context); holds: both; partly: one holds, the other fails or is "
              "undecided; fails: neither holds and one fails (an undecided (b) leaves a refuted (a) refuted)",
              {"base_max": 0.60, "lead": 0.10, "min_effect": MIN_EFFECT}, gate=TRAINED,
              paper_nets=FIG2_NETS),
    ClaimSpec("P1.5", "Fig. 3: for a small task, ResNet-18 and ResNet-34 each cluster better than the deeper "
              "ResNet-50/101, by a smaller end intra-class MPA ('ResNet18 and ResNet34 have better … clustering "
              "effect'; §4.1: 'The smaller the intra-class median principal angle, the better effect the clustering')",
              "§4.2, Fig. 3; §4.1 (the clustering effect)",
              "for each of ResNet-18 and ResNet-34 against each of ResNet-50/101 run, trained on the same schedule "
              "(ResNet-18: the depth series' own where the profile trains one on the deep nets' schedule, never Fig. 2's "
              "ResNet-18 trained longer): "
              "intra(deep) − intra(shallow), the end intra-class MPAs, outside its " + BAND + " (Welch's t over each "
              "net's seeds: two networks, so one seed per net leaves the pair undecided) and > {min_effect:g}°; a pair "
              "trained on unequal schedules is not compared and counts as undecided (the row names the schedules). The "
              "gate holds both nets of each compared pair: the row judges clustering, which a net that has not yet "
              "formed its features shows worse whatever its depth; a deeper net a seed of which diverged or stopped "
              "before its schedule's end leaves its pairs undecided (named). "
              "Holds: every pair as the paper says; partly: some pair after Holm's adjustment over the pairs (one of "
              "four beyond its own 95% band is what chance alone often gives), whatever the others show; fails: some "
              "against after the adjustment, none as the paper says beyond its band; inconclusive otherwise; not run: "
              "neither ResNet-50 nor ResNet-101 measured (one of them missing: judged "
              "on the other, named; one not trained because its pilot missed the gate, named with the pilot's "
              "accuracy, leaves each of its pairs undecided). The end gap (inter − intra) is printed as context. The "
              "angles are taken in feature spaces of different dimension (the row names them): an angle need not "
              "mean the same clustering in both. Not judged: the same sentence's 'classification stability', which the paper reads "
              "off how steadily Fig. 3's curves run over the epochs and gives no measure; nor the sentence before it, "
              "that with more layers the 'stability and accuracy' are not necessarily better, which only deeper nets "
              "always doing better could refute (the accuracies are printed as context)",
              {"min_effect": MIN_EFFECT}, gate=TRAINED, paper_nets=FIG3_NETS),
    ClaimSpec("P1.6", "Fig. 4: ResNet-34 separates classes on another pair and on a three-class task, and 'the addition "
              "of classification tasks has little effect on its … accuracy'", "§4.3, Fig. 4",
              "two halves: (a) per task and seed, the end gap outside its " + BAND + " (bootstrap over test images) and "
              "> {min_effect:g}°, every inter MPA > every intra MPA; holds: every task and seed, partly: some, "
              "inconclusive: a gap inside the band; (b) test accuracy (our stand-in for the paper's accuracy: Fig. 4 "
              "plots MPAs only), three-class task minus the other pair (the paper's Fig. 4(b) against 4(a)), with its "
              + BAND + " (Welch's t over each task's seeds, each task's variance adding its test set's binomial "
              "p(1 − p)/n_test, since every seed is tested on the same images; two networks, so one seed per task "
              "leaves (b) undecided): holds: the whole band within ±{little:g} points (our bar for 'little': the paper "
              "gives no accuracy), fails: the whole band beyond it, inconclusive otherwise. As in the paper, the two "
              "tasks differ in their classes as well as in their number: the row prints the three-class task against "
              "ResNet-34 on Fig. 3(a)'s pair beside it, and says whether the change of classes or the added class "
              "moves the accuracy more; the nested contrast (the three-class net against ResNet-34 on its own "
              "sub-pairs) is not run. P1.6 holds: both halves; partly: one holds, the other fails or is undecided. "
              "Not judged: 'stability' in the same sentence, which the paper reads off how steadily Fig. 4's curves "
              "run and gives no measure",
              {"min_effect": MIN_EFFECT, "little": 5.0}, gate=TRAINED,
              paper_nets=FIG4_NETS),
    ClaimSpec("P1.7", "Fig. 5: 'as the number of layers increases, the intra-class median principal angle decreases "
              "more obviously, and the inter-class median principal angle increases slowly, but this does not affect "
              "the result of classification'", "§4.4, Fig. 5",
              "per deep net and seed, over the five levels (stage-1…4 inputs, end), each change paired over test "
              "images (bootstrap) and decided outside its " + BAND + " and beyond {min_effect:g}°, from stage 1 to "
              "the end and at each step between consecutive levels: half (a) 'the intra-class median principal angle "
              "decreases more obviously': intra falls from stage 1 to the end, by more than inter moves (|Δinter|), "
              "and rises at no step; half (b) 'the inter-class median principal angle increases slowly': inter rises "
              "from stage 1 to the end and falls at no step; a half is against the paper when one of its clauses is "
              "decided against (the row names which), as the paper says when all are; holds: both halves in every net "
              "and seed judged; partly: one half; fails: neither half, one decided against; inconclusive: inside the "
              "band. Each net is judged only if it meets the gate (a net under it is shown and named; the gate is "
              "unmet when none meets it; a net not trained because its pilot missed the gate is named with the pilot's "
              "accuracy). The closing clause on classification is read by the accuracy gate and "
              "P1.6, not here",
              {"min_effect": MIN_EFFECT}, gate=TRAINED, paper_nets=FIG5_NETS),
    ClaimSpec("P1.8", "Lemma 1, eq. (1): ‖(W₁W₂ + I)ᵀx‖ ≥ (m₁m₂ + 1)‖x‖ for every x, i.e. σ_min(W₁W₂ + I) ≥ "
              "m₁m₂ + 1 (m: the smallest singular values of the two layers)", "Lemma 1, eq. (1), §3.1",
              "exact σ_min of each unit's linear part (circular padding, BN folded, ReLU as identity; dense float64 "
              "SVD per frequency) against the bound m₁m₂ + 1 from the same layers' singular values, in every "
              "trained non-transition unit of ResNet-18 ± BN (initial units, and the zero-padded σ_min where P1.1 took it, "
              "reported beside): holds: σ_min ≥ (1 − {tol:g})·(m₁m₂ + 1) "
              "in ≥ {hold:.0%} of the units; partly: ≥ {partly:.0%}; fails otherwise (an inequality for every "
              "matrix: one unit below it is a counterexample)",
              {"hold": 1.0, "partly": 0.5, "tol": 1e-6}, gate=TRAINED),
)
