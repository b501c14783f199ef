"""Every notebook keeps the book's contract; nbval (make nbval) executes them."""
from pathlib import Path

import nbformat
import pytest

from resnet_lab.experiments import ledgers

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_every_chapter_has_a_notebook():
    names = {p.stem for p in NOTEBOOKS}
    assert set(ledgers().values()) <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_defaults_to_smoke(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one papermill parameters cell"
    namespace: dict = {}
    exec(tagged[0].source, namespace)
    assert namespace["profile"] == "smoke" and namespace.get("force") is False
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


@pytest.mark.parametrize("chapter,stem", sorted(ledgers().items()))
def test_chapter_writes_its_ledger(chapter, stem):
    source = "\n".join(c.source for c in nbformat.read(f"{Path(NOTEBOOKS[0]).parent / stem}.ipynb", as_version=4).cells)
    assert "write_ledger(" in source and f'"{chapter}"' in source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_come_from_an_error_free_smoke_run(path):
    nb = nbformat.read(path, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert outputs and not [o for o in outputs if o.get("output_type") == "error"]
