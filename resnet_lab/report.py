"""What a reader sees first in a chapter: a summary card generated from the chapter's ledger rows."""
from __future__ import annotations

import html

from .ledger import VERDICT_COLORS, Claim, on_paper_networks


def badge(verdict: str) -> str:
    """Return an HTML badge for a verdict, in the book's verdict colour."""
    text = "black" if verdict in ("partly", "not run") else "white"
    return (f'<span style="background:{VERDICT_COLORS[verdict]};color:{text};padding:1px 6px;'
            f'border-radius:8px;font-size:85%;white-space:nowrap">{html.escape(verdict)}</span>')


def summary_card_html(chapter, claims: list[Claim]) -> str:
    """Return the chapter's summary card as HTML: the paper, each claim with its verdict badge, gate and profile.

    ``chapter``: the chapter's ``Chapter`` record (``resnet_lab.experiments``), which names its ledger and title.
    """
    label, title = chapter.ledger, chapter.title
    profiles = sorted({c.profile for c in claims if c.profile}) or ["—"]
    rows = []
    for c in claims:
        gate = ""
        if c.gate is not None:
            gate = "gate met" if c.gate["met"] else "gate unmet"
        note = html.escape(c.reason if c.verdict in ("inconclusive", "not run") else c.value)
        own = ' <span title="on the paper\'s own networks">★</span>' if on_paper_networks(c) else ""
        rows.append(f"<tr><td><b>{c.id}</b>{own}</td><td>{badge(c.verdict)}</td>"
                    f"<td>{html.escape(c.statement)}</td><td style='font-size:85%'>{gate}</td>"
                    f"<td style='font-size:80%'>{note[:220]}</td></tr>")
    counts = {v: sum(c.verdict == v for c in claims) for v in VERDICT_COLORS}
    tally = " ".join(f"{badge(v)}&nbsp;{n}" for v, n in counts.items() if n)
    return (f"<div class='summary-card' style='border:1px solid #ccc;border-radius:6px;padding:8px 12px'>"
            f"<p><b>{label}: <i>{html.escape(title)}</i></b> — profile {', '.join(profiles)}. {tally}"
            + (" ★: on the paper's own networks." if any(on_paper_networks(c) for c in claims) else "") + "</p>"
            f"<table style='font-size:90%'><tr><th>claim</th><th>verdict</th><th>statement</th><th>gate</th>"
            f"<th>measured / why</th></tr>{''.join(rows)}</table></div>")


def summary_card(chapter, claims: list[Claim]):
    """Return the summary card as an object Jupyter displays (``IPython.display.HTML``)."""
    from IPython.display import HTML

    return HTML(summary_card_html(chapter, claims))
