"""P5's tables for the notebook: Tables 1–3 beside the paper's numbers, and Fig. 3's ratio summary."""
from __future__ import annotations

from .paper import PAPER_TABLE1, PAPER_TABLE3
from .readings import generalization_gap, net_error, ratio_summary, runs_by_net, seed_estimate


def tables(result: dict) -> dict[str, list[dict]]:
    """Return Tables 1–3 (ours with their band over seeds, beside the paper's) and Fig. 3's ratio summary."""
    table1, table23 = [], []
    for (depth, arch), rs in sorted(runs_by_net(result).items()):
        ok = [r for r in rs if not r["diverged"]]
        gaps = [generalization_gap(r["history"]) for r in ok]
        mean, mx = seed_estimate([g[0] for g in gaps]), seed_estimate([g[1] for g in gaps])
        paper = PAPER_TABLE1.get(depth, {}).get(arch, (None, None))
        table1.append({"depth": depth, "arch": arch, "seeds": len(rs), "diverged": len(rs) - len(ok),
                       "gap_mean": mean and mean.value, "gap_mean_se": mean and mean.se,
                       "gap_max": mx and mx.value, "gap_max_se": mx and mx.se,
                       "paper_gap_mean": paper[0], "paper_gap_max": paper[1]})
    purpose = "table23" if runs_by_net(result, "table23") else "fig3"
    for (depth, arch), rs in sorted(runs_by_net(result, purpose).items()):
        err = seed_estimate([net_error(r) for r in rs if not r["diverged"]])
        table23.append({"depth": depth, "arch": arch, "seeds": len(rs), "schedule": rs[0].get("schedule", "constant"),
                        "test_error": err and err.value, "test_error_se": err and err.se,
                        "paper_error_c100_depth164": PAPER_TABLE3.get(arch)})
    return {"table1": table1, "table23": table23, "ratios": ratio_summary(result)}
