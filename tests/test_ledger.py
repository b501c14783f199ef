import json
from pathlib import Path

import pytest

from resnet_lab.ledger import CHAPTERS, VERDICTS, Claim, judge, read_ledger, render_markdown, write_ledger

REPO = Path(__file__).resolve().parents[1]


def test_roundtrip_and_pending_chapters():
    rows = [Claim("P5.1", "ratio → 1", "slope > 0", "0.8", judge(True), profile="smoke"),
            Claim("P5.2", "x", "y", "-", "not run", reason="needs a GPU", profile="smoke")]
    write_ledger("P5", rows)
    assert read_ledger("P5") == rows and read_ledger("P1") is None
    page = render_markdown()
    assert "not run: needs a GPU" in page and "*Pending" in page and "1 holds" in page


def test_verdicts_are_validated():
    assert (judge(True), judge(False, partly=True), judge(False)) == ("holds", "partly", "fails")
    with pytest.raises(ValueError):
        Claim("P1.1", "s", "c", "v", "maybe")
    with pytest.raises(ValueError, match="reason"):
        Claim("P1.1", "s", "c", "v", "not run")


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_committed_ledgers_are_well_formed(chapter):
    path = REPO / "book" / "claims" / f"{chapter}.json"
    if not path.exists():
        pytest.skip(f"{chapter} has no committed ledger")
    rows = json.loads(path.read_text())
    assert rows and all(r["id"].startswith(chapter + ".") and r["verdict"] in VERDICTS for r in rows)
    assert all(r["profile"] and r["criterion"] and r["statement"] for r in rows)
