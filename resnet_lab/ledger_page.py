"""The book's claims-ledger page: the paper × claim verdict matrix and one line per claim that opens on its
criterion, measured value, gate, band and profile (``python -m resnet_lab ledger`` writes it)."""
from __future__ import annotations

from pathlib import Path

from .ledger import (OWN, SOME_OWN, STAND_IN, TESTED, VERDICT_COLORS, VERDICTS, Claim, band_text, gate_text,
                     network_status, on_paper_networks, read_ledger)


def verdict_counts(ledgers: dict[str, list[Claim]]) -> dict[str, int]:
    counts = {v: 0 for v in VERDICTS}
    for rows in ledgers.values():
        for r in rows:
            counts[r.verdict] += 1
    return counts


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def verdict_matrix(ledgers: dict[str, list[Claim]], path: Path) -> Path:
    """Draw the paper × claim verdict matrix sized for the page (6.4 in wide, 10-pt text at 150 dpi): cells carry the
    claim's number within its paper, the row label the paper and the profile(s) its rows come from."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    width = max((len(rows) for rows in ledgers.values()), default=1)
    fig, ax = plt.subplots(figsize=(6.4, 0.5 * len(ledgers) + 1.1))
    labels = []
    for i, (chapter, rows) in enumerate(ledgers.items()):
        profiles = sorted({r.profile for r in rows if r.profile in ("smoke", "small", "standard", "paper")})
        labels.append(f"{chapter} ({', '.join(profiles) or '—'})")
        for j, r in enumerate(rows):
            ax.add_patch(Rectangle((j, -i - 1), 0.94, 0.88, color=VERDICT_COLORS[r.verdict]))
            if on_paper_networks(r):   # a frame inside the cell, so neighbouring frames stay apart
                ax.add_patch(Rectangle((j + 0.07, -i - 0.94), 0.80, 0.76, fill=False, edgecolor="black",
                                       linewidth=1.5))
            dark = r.verdict in ("holds", "fails", "inconclusive")
            short = r.id.removeprefix(chapter + ".").replace("-", "\n", 1)
            ax.text(j + 0.47, -i - 0.56, short, ha="center", va="center", fontsize=10 if len(short) <= 3 else 7,
                    color="white" if dark else "black")
    ax.set_xlim(0, width)
    ax.set_ylim(-len(ledgers), 0)
    ax.set_yticks([-i - 0.56 for i in range(len(ledgers))], labels, fontsize=10)
    ax.set_xticks([])
    ax.tick_params(length=0)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    own = Patch(facecolor="white", edgecolor="black", linewidth=1.5, label="on the paper's own networks")
    ax.legend(handles=[Patch(color=c, label=v) for v, c in VERDICT_COLORS.items()] + [own], loc="upper center",
              bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False, fontsize=9, handlelength=1.0, columnspacing=1.0)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return path


def networks_counts(ledgers: dict[str, list[Claim]]) -> dict[str, int]:
    """Return the decided rows (holds, partly, fails) by the networks they rest on: ``OWN``, ``SOME_OWN``,
    ``STAND_IN`` (``ledger.mark_networks``), and ``None`` where the claim names no trained network."""
    counts = {OWN: 0, SOME_OWN: 0, STAND_IN: 0, None: 0}
    for rows in ledgers.values():
        for r in rows:
            if r.verdict in TESTED:
                counts[network_status(r)] += 1
    return counts


def _badge(verdict: str) -> str:
    dark = verdict in ("holds", "fails", "inconclusive")
    return (f'<span style="background:{VERDICT_COLORS[verdict]};color:{"white" if dark else "black"};'
            f'padding:1px 6px;border-radius:8px;white-space:nowrap">{verdict}</span>')


def _key_number(value: str, limit: int = 70) -> str:
    """The first clause of a row's measured value, cut to ``limit`` characters: the number a reader scans for."""
    first = str(value).split("; ")[0].strip()
    return first if len(first) <= limit else first[:limit - 1].rstrip() + "…"


def claim_summary_html(r: Claim) -> str:
    """One ledger line: id, verdict badge, the claim with its reference, and the key measured number."""
    from html import escape

    claim = escape(r.statement + (f" ({r.reference})" if r.reference else ""))
    key = _key_number(r.value)
    return (f"<b>{escape(r.id)}</b> {_badge(r.verdict)} {claim}"
            + (f' <span style="color:#555">— {escape(key)}</span>' if key and key != "—" else ""))


def render_markdown(chapters: dict[str, str], figure: Path | None = None) -> str:
    """Return the book's ledger page for ``{ledger id: notebook}`` (``experiments.ledgers()``): the verdict
    matrix, then one line per claim (id, verdict, claim, key number) that opens on its criterion, measured value,
    gate, band and profile (an HTML ``<details>``: nothing on the page is wider than the text)."""
    ledgers = {c: rows for c in chapters if (rows := read_ledger(c)) is not None}
    counts = verdict_counts(ledgers)
    lines = ["# Claims ledger", "",
             "Every row is written by its chapter's notebook from measured numbers "
             "(`book/claims/<chapter>.json`). Each line gives the claim, its verdict and the key number; click it "
             "for the criterion, everything measured, the quality gate, the noise band and the profile that produced "
             "it. *Inconclusive* means the run could not test the claim (a quality gate unmet, a difference inside "
             "the noise band, too few depths or seeds); the reason gives the numbers.", "",
             "Totals: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".", ""]
    nets = networks_counts(ledgers)
    lines += [f"Of the {sum(nets.values())} decided rows (holds, partly, fails), {nets[OWN]} rest on the paper's own "
              f"networks (its architecture, depth, width and data; the recipe may differ, as each chapter's card says), "
              f"{nets[SOME_OWN]} partly on them, {nets[STAND_IN]} on stand-ins, and {nets[None]} on no network the "
              "paper names (maths, units of any network). Each line's *Networks* says which, and how many of the "
              "paper's networks a row covers; in the matrix a black frame marks rows on the paper's own.", ""]
    if figure is not None and ledgers:
        verdict_matrix(ledgers, figure)
        lines += [f"![Verdict matrix: one row per paper (with the profiles its rows come from), one cell per claim, "
                  f"coloured by verdict]({figure.name})", ""]
    for chapter, notebook in chapters.items():
        rows = ledgers.get(chapter)
        lines.append(f"## {chapter}")
        if rows is None:
            lines += ["", f"*Pending: chapter `{notebook}` has not written its ledger yet.*", ""]
            continue
        lines += ["", f"Chapter: [{notebook}]({notebook}.ipynb)", ""]
        for r in rows:
            verdict = f"**{r.verdict}**" + (f": {_cell(r.reason)}" if r.reason else "")
            lines += [f"<details><summary>{claim_summary_html(r)}</summary>", "",
                      f"- **Verdict:** {verdict}",
                      f"- **Criterion:** {_cell(r.criterion)}",
                      f"- **Measured:** {_cell(r.value)}",
                      f"- **Gate:** {_cell(gate_text(r.gate))}",
                      f"- **Band:** {_cell(band_text(r.band))}",
                      f"- **Networks:** {_cell(r.networks or '— (no trained network the paper names)')}",
                      f"- **Profile:** `{r.profile or '—'}`; chapter section: [{r.id}]({notebook}.ipynb)", "",
                      "</details>", ""]
    return "\n".join(lines)
