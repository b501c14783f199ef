"""Every chapter's hand-built results get exactly the verdicts they were built for (one test for all five)."""
import pytest

from resnet_lab.controls import chapter_module
from resnet_lab.ledger import CHAPTERS

CASES = [(chapter, name, claim, want)
         for chapter in CHAPTERS
         for name, (_, expected) in chapter_module(chapter).synthetic_results().items()
         for claim, want in expected.items()]


@pytest.mark.parametrize("chapter,name,claim,want", CASES, ids=[f"{c}-{n}-{k}" for c, n, k, _ in CASES])
def test_synthetic_result_gets_its_verdict(chapter, name, claim, want):
    module = chapter_module(chapter)
    result, _ = module.synthetic_results()[name]
    row = {c.id: c for c in module.claims(result)}[claim]
    assert row.verdict == want, (row.value, row.reason)
