"""Claims ledgers: one row per claim, written per chapter to ``book/claims/<chapter>.json``."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .artifacts import REPO_ROOT, load_json, save_json

CLAIMS_ENV = "RESNET_LAB_CLAIMS"
VERDICTS = ("holds", "partly", "fails", "not run")
CHAPTERS = {"P1": "p1_dynamical_system", "P2": "p2_forward_stability", "P3": "p3_linearization",
            "P4": "p4_dynamical_stability", "P5": "p5_norm_preservation"}


@dataclass
class Claim:
    """One ledger row: the paper's statement, our criterion, the measured value and the verdict."""

    id: str
    statement: str
    criterion: str
    value: str
    verdict: str
    reason: str = ""
    profile: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} not in {VERDICTS}")
        if self.verdict == "not run" and not self.reason:
            raise ValueError(f"claim {self.id}: a 'not run' verdict needs a reason")


def judge(holds: bool, partly: bool = False) -> str:
    """Return ``holds`` if the criterion is met, ``partly`` if only its weaker form is, else ``fails``."""
    return "holds" if holds else "partly" if partly else "fails"


def claims_root() -> Path:
    """Return the folder of ledger files: ``$RESNET_LAB_CLAIMS`` or ``<repo>/book/claims``."""
    return Path(os.environ.get(CLAIMS_ENV, REPO_ROOT / "book" / "claims"))


def write_ledger(chapter: str, claims: list[Claim]) -> Path:
    """Write a chapter's ledger (``chapter`` like ``"P5"``) as a JSON list of rows; return the path."""
    return save_json(claims_root() / f"{chapter}.json", [asdict(c) for c in claims])


def read_ledger(chapter: str) -> list[Claim] | None:
    """Return a chapter's ledger rows, or ``None`` if the chapter has not written one."""
    path = claims_root() / f"{chapter}.json"
    return [Claim(**row) for row in load_json(path)] if path.exists() else None


def ledger_frame(claims: list[Claim]):
    """Return the ledger as a pandas DataFrame for display."""
    import pandas as pd

    return pd.DataFrame([asdict(c) for c in claims]).set_index("id")


def render_markdown(chapters: dict[str, str] = CHAPTERS) -> str:
    """Return the book's ledger page: every chapter's rows, or 'pending' for chapters without a ledger."""
    lines = ["# Claims ledger", "",
             "Every row is written by its chapter's notebook from measured numbers "
             "(`book/claims/<chapter>.json`); the profile column says which run produced it.", ""]
    counts = {v: 0 for v in VERDICTS}
    for chapter, notebook in chapters.items():
        rows = read_ledger(chapter)
        lines.append(f"## {chapter}")
        if rows is None:
            lines += ["", f"*Pending: chapter `{notebook}` has not written its ledger yet.*", ""]
            continue
        lines += ["", "| id | claim | criterion | measured | verdict | profile |", "|---|---|---|---|---|---|"]
        for r in rows:
            counts[r.verdict] += 1
            verdict = r.verdict + (f": {r.reason}" if r.reason else "")
            cells = [r.id, r.statement, r.criterion, str(r.value), verdict, r.profile]
            lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
        lines.append("")
    lines.insert(4, "Totals: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".\n")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else REPO_ROOT / "book" / "ledger.md")
    out.write_text(render_markdown())
    print(f"wrote {out}")
