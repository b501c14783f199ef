"""Pilots: a network trained first, whose test accuracy decides whether the rest of its group trains at all.

A chapter pilots a group of networks the recipe has no evidence for (P1's ResNet-101 behind ResNet-50, P2's BN-free
nets): if the pilot misses its gate, the rest would only spend GPU time on nets the rows cannot use. What is piloted
and against which gate is the chapter's (its config and measure); here is what every chapter reads the same way:
a pilot's outcome from its training record, and the refusal of a held-back network, to the dispatcher a ``Busy``.
"""
from __future__ import annotations

import math

from .artifacts import artifact_root, load_json
from .locks import Busy


class PilotError(Busy):
    """A network of a piloted group was asked for before its pilot met its gate.

    A ``Busy`` to the dispatcher: its job ends at once, without training, and is submitted again by a later
    ``run all`` (a network whose pilot missed is not listed by the chapter's ``items`` then, so it is never
    submitted again).
    """


def last_test_accuracy(record: dict) -> float:
    """Return the test accuracy of a training record's last measured epoch (NaN if none was measured)."""
    accs = [h["test_acc"] for h in record["history"] if h.get("test_acc") is not None]
    return float(accs[-1]) if accs else math.nan


def gate_outcome(name: str, record: dict, gate: float, test_acc: float | None = None) -> dict:
    """Return what pilot ``name`` reached against ``gate``, from its training record: ``test_acc``, the accuracy its
    chapter's rows read (the last epoch's unless given), and whether it ``met`` the gate (not diverged, ≥ the gate;
    a NaN accuracy never meets it). These keys are stored in results and read by the chapters' readings."""
    acc = last_test_accuracy(record) if test_acc is None else test_acc
    return {"name": name, "test_acc": acc, "diverged": record["diverged"], "gate": gate,
            "met": bool(not record["diverged"] and acc >= gate)}


def trained_record(item) -> dict | None:
    """Return the training record of a network's work item, without loading its weights; None while not trained
    (``compute_item`` asks for it in a job of its own, where no result holds it)."""
    return load_json(artifact_root() / f"{item.name}.json") if item.done() else None


def require_met(item: str, pilot: str, pilot_item: str, reached: dict | None) -> None:
    """Raise :class:`PilotError` unless the pilot of work item ``item`` met its gate: ``pilot`` names the pilot as the
    message should, ``pilot_item`` is its work item, ``reached`` its :func:`gate_outcome` (None: not trained yet)."""
    if reached is None:
        raise PilotError(f"{item} waits for its pilot, {pilot} ({pilot_item}): train that item first; "
                         "the rest of its group trains only if it meets its gate")
    if not reached["met"]:
        how = "diverged" if reached["diverged"] else f"reached {reached['test_acc']:.1%} test accuracy"
        raise PilotError(f"{item} is not trained: its pilot, {pilot} ({pilot_item}), {how}, "
                         f"under its {reached['gate']:.0%} gate")
