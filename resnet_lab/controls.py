"""Negative controls: every criterion must be able to come out the other way.

For each chapter with claims (``Chapter.ledger``) this runs the claim logic on

(a) its *control result*, ``Chapter.control(device)``: the chapter computed at smoke on networks where the
    claims must not hold (at initialisation, or trained on shuffled labels). Judged with the gates
    ignored, so the criterion alone must refuse: any ``holds`` or ``partly`` on a row that is not an
    implementation check is a violation. Judged with its gates, nothing may be tested at all;
(b) its *synthetic results*, ``Chapter.fixtures()``: small hand-built results made to hold, to fail and
    to be inconclusive, each with the verdicts it must get; any other verdict is a violation.

``python -m resnet_lab controls`` prints the table and exits 1 on any violation (``make test`` runs it).
"""
from __future__ import annotations

from dataclasses import dataclass

from . import experiments
from .cache import recompute_stale
from .experiments import Chapter
from .ledger import TESTED, gates_ignored


@dataclass
class ControlRow:
    chapter: str
    case: str       # "control", "control (gated)", or a synthetic fixture's name
    claim: str
    verdict: str
    expected: str   # what the case allows
    ok: bool


def check_control(chapter: str, result: dict, record: Chapter) -> list[ControlRow]:
    """Judge a control result with and without gates; return one row per claim and mode."""
    rows = []
    with gates_ignored():
        for c in record.claims(result):
            bad = c.verdict in ("holds", "partly") and not c.implementation_check
            rows.append(ControlRow(chapter, "control", c.id, c.verdict,
                                   "any" if c.implementation_check else "not holds/partly", not bad))
    for c in record.claims(result):
        bad = c.verdict in TESTED and not c.implementation_check
        rows.append(ControlRow(chapter, "control (gated)", c.id, c.verdict,
                               "any" if c.implementation_check else "inconclusive/not run", not bad))
    return rows


def check_synthetic(chapter: str, record: Chapter) -> list[ControlRow]:
    """Judge every synthetic fixture of a chapter against the verdicts it was built to get."""
    rows = []
    for name, (result, expected) in record.fixtures().items():
        got = {c.id: c.verdict for c in record.claims(result)}
        for claim_id, want in expected.items():
            verdict = got.get(claim_id, "missing")
            rows.append(ControlRow(chapter, name, claim_id, verdict, want, verdict == want))
    return rows


def run_controls(chapters: list[str] | None = None, device=None) -> list[ControlRow]:
    """Return the control table for ``chapters`` (ledger ids; default: every chapter with claims)."""
    rows = []
    for chapter in chapters or list(experiments.ledgers()):
        record = experiments.get_chapter(chapter)
        missing = [f for f in ("control", "fixtures") if getattr(record, f) is None]
        if missing:
            rows.append(ControlRow(chapter, "protocol", "-", "missing", " and ".join(missing), False))
            continue
        rows += check_control(chapter, record.control(device=device), record)
        rows += check_synthetic(chapter, record)
    return rows


def format_table(rows: list[ControlRow]) -> str:
    import pandas as pd

    frame = pd.DataFrame([vars(r) for r in rows])
    return frame.to_string(index=False) if len(frame) else "(no controls)"


def main(chapters: list[str] | None = None, device=None) -> int:
    with recompute_stale():  # a control is scratch (git-ignored): an edit recomputes it here, never judges it stale
        rows = run_controls(chapters, device)
    print(format_table(rows))
    bad = [r for r in rows if not r.ok]
    print(f"\n{len(rows) - len(bad)} passed, {len(bad)} failed")
    return 1 if bad else 0
