"""Every chapter's hand-built results get exactly the verdicts they were built for (one test for all five)."""
import pytest

from resnet_lab.experiments import get_chapter, ledgers

CASES = [(chapter, name, claim, want)
         for chapter in ledgers()
         for name, (_, expected) in get_chapter(chapter).fixtures().items()
         for claim, want in expected.items()]


@pytest.mark.parametrize("chapter,name,claim,want", CASES, ids=[f"{c}-{n}-{k}" for c, n, k, _ in CASES])
def test_synthetic_result_gets_its_verdict(chapter, name, claim, want):
    record = get_chapter(chapter)
    result, _ = record.fixtures()[name]
    row = {c.id: c for c in record.claims(result)}[claim]
    assert row.verdict == want, (row.value, row.reason)
