"""The pilots' shared reading (resnet_lab/pilots.py): a pilot's outcome from its training record against its gate,
and the refusal of a net its pilot holds back. The chapters' own policies are tested in test_p1/p2_pilots.py."""
import math

import pytest

from resnet_lab.artifacts import artifact_root, save_json
from resnet_lab.locks import Busy
from resnet_lab.pilots import PilotError, gate_outcome, require_met, trained_record
from resnet_lab.work import WorkItem


def record(*accs, diverged=False) -> dict:
    """A training record as train.py writes it: epoch 0 (the initial evaluation) first, one entry per epoch."""
    return {"diverged": diverged, "history": [{"epoch": e, "test_acc": a} for e, a in enumerate(accs)]}


def test_a_pilot_over_its_gate_meets_it_at_its_last_epoch():
    # the last epoch decides, not the best one: 0.95 at epoch 1 is no pass once epoch 2 reads 0.9 under a 0.92 gate
    assert gate_outcome("net", record(0.1, 0.95, 0.9), 0.92) == {
        "name": "net", "test_acc": 0.9, "diverged": False, "gate": 0.92, "met": False}
    assert gate_outcome("net", record(0.1, 0.5, 0.9), 0.85)["met"] is True
    assert gate_outcome("net", record(0.1, 0.85), 0.85)["met"] is True          # the gate is "at least"
    # the stored keys, in the order the results hold them (the readings read them by name)
    assert list(gate_outcome("net", record(0.9), 0.85)) == ["name", "test_acc", "diverged", "gate", "met"]


def test_a_pilot_under_its_gate_misses_it():
    out = gate_outcome("resnet50", record(0.1, 0.8), 0.85)
    assert (out["met"], out["test_acc"], out["gate"]) == (False, 0.8, 0.85)


def test_a_diverged_pilot_misses_whatever_it_read():
    out = gate_outcome("net", record(0.1, 0.99, diverged=True), 0.85)
    assert out["met"] is False and out["diverged"] is True and out["test_acc"] == 0.99


def test_a_pilot_without_a_test_accuracy_reads_nan_and_misses():
    out = gate_outcome("net", {"diverged": False, "history": [{"epoch": 1}, {"epoch": 2, "test_acc": None}]}, 0.5)
    assert math.isnan(out["test_acc"]) and out["met"] is False
    # an epoch without a test accuracy is passed over, not read as the last one
    assert gate_outcome("net", record(0.1, 0.9, None), 0.85)["test_acc"] == 0.9


def test_the_chapter_may_give_the_accuracy_its_rows_read():
    assert gate_outcome("net", record(0.1, 0.9), 0.85, test_acc=0.7) == {
        "name": "net", "test_acc": 0.7, "diverged": False, "gate": 0.85, "met": False}
    assert gate_outcome("net", record(0.1, 0.9), 0.85, test_acc=math.nan)["met"] is False


def test_the_refusal_is_busy_and_names_the_pilot():
    assert issubclass(PilotError, Busy)
    with pytest.raises(PilotError) as err:
        require_met("p/x/deep-1", "the shallow net", "p/x/shallow-0", None)
    assert str(err.value) == ("p/x/deep-1 waits for its pilot, the shallow net (p/x/shallow-0): train that item "
                              "first; the rest of its group trains only if it meets its gate")
    with pytest.raises(Busy, match=r"^p/x/deep-1 is not trained: its pilot, pilot50 \(p/x/shallow-0\), reached 80\.0% "
                                   r"test accuracy, under its 85% gate$"):
        require_met("p/x/deep-1", "pilot50", "p/x/shallow-0", gate_outcome("pilot50", record(0.1, 0.8), 0.85))
    with pytest.raises(PilotError, match=r"its pilot, pilot50 \(p/x/shallow-0\), diverged, under its 85% gate$"):
        require_met("p/x/deep-1", "pilot50", "p/x/shallow-0",
                    gate_outcome("pilot50", record(0.1, 0.99, diverged=True), 0.85))
    assert require_met("p/x/deep-1", "pilot50", "p/x/shallow-0",
                       gate_outcome("pilot50", record(0.1, 0.9), 0.85)) is None   # met: no refusal


def test_a_pilot_record_is_read_only_once_its_item_is_done():
    item = WorkItem("p", "smoke", "p/smoke/pilot-0")
    assert trained_record(item) is None
    save_json(artifact_root() / "p/smoke/pilot-0.json", record(0.1, 0.9))
    assert trained_record(item) is None            # no weights yet: the item is not done
    (artifact_root() / "p/smoke/pilot-0.pt").write_bytes(b"")
    assert trained_record(item) == record(0.1, 0.9)
