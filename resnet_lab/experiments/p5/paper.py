"""P5's paper (Zaeemzadeh et al., norm-preservation): its reported numbers, gates and claims, each declared once.

Nothing here is read by ``measure.py``: editing a claim or a gate never makes a result stale.
"""
from __future__ import annotations

from ...ledger import ClaimSpec, Gate, declare

# The paper's numbers, printed beside ours (CIFAR-10 unless stated).
PAPER_TABLE1 = {20: {"Plain": (6.7, 20.0), "ResNet": (5.5, 23.1), "ProcResNet": (2.3, 8.3)},
                83: {"Plain": (7.5, 30.1), "ResNet": (5.1, 12.5), "ProcResNet": (2.0, 7.7)},
                164: {"Plain": (None, None), "ResNet": (5.2, 18.7), "ProcResNet": (3.3, 8.7)}}
PAPER_TABLE2 = {"ResNet-164": (5.46, 24.33), "ProcResNet-166": (4.75, 22.61)}  # (CIFAR-10, CIFAR-100) error %
PAPER_TABLE3 = {"ResNet": 24.33, "ProcResNet (no projection)": 23.06, "ProcResNet": 22.61}  # CIFAR-100 error %
TABLE1_EPOCHS, TABLE1_RUNS = 100, 10   # Table 1: the gap over the first 100 epochs, averaged over 10 runs (§4)
PAPER_OVERHEAD = {"newton_schulz": 0.076, "svd": 0.53}  # ResNet-164 training-time overhead, §4
# The trained networks each claim is stated on (``ledger.mark_networks``), named as ours are (arch-depth; Table 2
# counts ProcResNet-164's layers as 166): Fig. 3's nine, Table 1's pairs, Tables 2–3's depth 164.
FIG3_NETS = tuple(f"{a}-{d}" for d in PAPER_TABLE1 for a in ("Plain", "ResNet", "ProcResNet"))
TABLE1_NETS = tuple(f"{a}-{d}" for d in PAPER_TABLE1 for a in ("ResNet", "ProcResNet"))
RESNETS = tuple(f"ResNet-{d}" for d in PAPER_TABLE1)
TABLE23_NETS = ("ResNet-164", "ProcResNet-164", "ResNet-164 with the modified transition (Table 3, CIFAR-100)")

# ---------------------------------------------------------------- the claims, each declared once
NET_GATE = Gate("test accuracy (last 3 epochs)", 0.80,
                why="every net compared; the paper's nets reach 93-95% on CIFAR-10 (Table 2); we allow 13-15 "
                    "points for shorter training; further below, ratios and gaps describe early training only "
                    "(our first small nets, at 46-54%, did)")
LINEAR_GATE = Gate("linear fits: max relative error ‖Π(I+W_l) − R‖/‖R‖", 1e-3, at_least=False,
                   why="Theorem 2 is about optima of Eq. (4): the product must have reached R", fmt=".1e")
GRID_GATE = Gate("Fig. 2 probe train accuracy (mean over cells)", 0.30,
                 why="3x chance: the paper reads Fig. 2 at the 10th epoch of a net that has learnt; "
                     "a probe at chance has ratios of its initialisation")
CLAIMS = declare(
    ClaimSpec("P5.1", "Theorem 2: linear residual units become norm-preserving as L grows, δ = c/L",
              "Theorem 2, §2",
              "holds: δ_L = max_l σ_max(W_l) decreases with L, its log-log slope is in [{slope_lo}, {slope_hi}], and "
              "Theorem 2's inequality holds at every L ≥ 3γ: δ_L ≤ c/L and max_l |ratio − 1| ≤ c/L with "
              "c = 2(√π + √(3γ))² (γ: the largest |log σ| of R); fails otherwise",
              {"slope_lo": -1.3, "slope_hi": -0.7}, gate=LINEAR_GATE),
    ClaimSpec("P5.1-real", "Corollary 1 and §4.1: real ResNets' identity-skip (non-transition) units become more "
              "norm-preserving as the network gets deeper", "Corollary 1, §2, §4.1",
              "ResNet non-transition |log ratio| (median over units, mean over epochs ≥ 1, per seed, then over seeds) "
              "at each depth run; holds: it decreases from each depth to the next beyond the 95% band over ≥ "
              "{min_depths} depths; fails: a step reversed beyond the 95% band after Holm's step-down over the steps; "
              "inconclusive: fewer than {min_depths} depths, or a step inside the band, or reversed beyond its own band "
              "only (not after Holm)",
              {"min_depths": 2}, gate=NET_GATE, paper_nets=RESNETS),
    ClaimSpec("P5.2", "Procrustes projection (Eqs. 7–9) sets the nonzero singular values (before the crop to k×k) "
              "without SVD; it moves Conv-ReLU gradient-norm ratios toward 1 (Fig. 2)", "§3 Eqs. 7–9, Algorithm 1, Fig. 2",
              "holds: Newton–Schulz within {agree:.0e} of SVD and every frequency within {agree:.0e} of the "
              "target before the crop at ProcResNet's conv* sizes, and the grid's mean |log ratio| is smaller "
              "with projection beyond the 95% band (paired bootstrap over (c, d) cells); partly: the maths holds and "
              "the grid is reversed beyond the 95% band; inconclusive: the grid difference is inside the band; fails: "
              "the maths does not hold",
              {"agree": 1e-5}, gate=GRID_GATE),
    ClaimSpec("P5.3", "Fig. 3: identity-skip units keep gradient-norm ratios near 1 during training, Plain units do "
              "not (in deep nets); ProcResNet's transitions are closer to 1 than ResNet's", "§4.1, Fig. 3",
              "per run, |log ratio| as the median over the units of a view, mean over epochs ≥ 1 (a diverged run keeps "
              "its epochs before divergence; one with none counts as far from 1), then over seeds. A: at every depth ≥ "
              "{min_depth} run, ResNet non-transition < Plain non-transition beyond the 95% band; B: at every depth "
              "where all seeds train (a depth with one ProcResNet seed has no band: shown as context, not judged), "
              "ProcResNet transition < ResNet transition beyond the 95% band in both views (conv* + its unit; conv* "
              "alone, the paper's 'first transition block'), and projected conv* < unprojected conv* (ProcResNet "
              "without projection) beyond the 95% band; holds: A and B; partly: A only, the row naming B's failed "
              "parts; fails: A reversed at a depth (Holm's step-down over the depths); inconclusive: A inside the "
              "band (or reversed beyond its own band only, not after Holm), or no depth ≥ {min_depth} (the paper "
              "calls ResNet and Plain fairly similar at depth 20). A diverged Plain net is not gated: its epochs before "
              "divergence count (§4.1: Plain164 'unable to converge'); a Plain net that converged is gated as the "
              "others (the paper's Plain83 'is able to converge'). The gate covers the nets judged (A's depths, B's "
              "judged depths); a net shown as context only is not gated and the value says so with its accuracy (a "
              "rule written after Plain-20, context only, was seen under the gate)",
              {"min_depth": 83}, gate=NET_GATE, paper_nets=FIG3_NETS),
    ClaimSpec("P5.4", "Table 1: ProcResNet has a smaller mean and max generalisation gap than ResNet", "§4, Table 1",
              "per seed, mean and max over epochs ≥ 1 of (train − test accuracy), compared per depth as in Table 1, "
              "at every depth where all seeds train (a depth trained with one seed has no band, cannot be judged and "
              "is shown as context); holds: ProcResNet's mean and max gap smaller beyond the 95% band over seeds; "
              "partly: the mean gap only; fails: the mean gap larger beyond the 95% band at a depth (Holm's step-down "
              "over the depths); inconclusive: inside the band (or larger beyond its own band only, not after Holm)",
              {}, gate=NET_GATE, paper_nets=TABLE1_NETS),
    ClaimSpec("P5.5", "Tables 2–3: ProcResNet beats ResNet; ablation: original > modified transition > modified + "
              "projection (error)", "§4, Tables 2–3",
              "test error = mean of the last {last_k} epochs per seed, then over seeds, at the deepest depth where all "
              "seeds train (a depth trained with one seed cannot be judged and is shown as context; runs with a "
              "decaying lr where the profile has them, as in Tables 2–3); holds: ProcResNet < ResNet beyond the 95% "
              "band and no step of the ablation reversed beyond the 95% band; partly: ProcResNet < ResNet but the "
              "ablation reversed; fails: ProcResNet > ResNet beyond the 95% band; inconclusive: inside the band",
              {"last_k": 3}, gate=NET_GATE, paper_nets=TABLE23_NETS),
    ClaimSpec("P5.6", "§4: projecting every 2 steps costs +7.6% training time with Newton–Schulz vs +53% with SVD",
              "§4", "on a GPU, per-step overhead of projecting every 2 steps, ours (Newton–Schulz in float64, 1×1 "
              "conv* once) against SVD at every frequency: holds: ours ≤ {max_ns:.0%} and below SVD's beyond the 95% band "
              "over timing blocks; partly: below SVD's only; fails: not below SVD's beyond the 95% band; not run on a CPU "
              "(the claim is about GPU time); the paper's kind of Newton–Schulz (float32, 10 steps, every "
              "frequency) is timed and reported beside", {"max_ns": 0.10}),
)
