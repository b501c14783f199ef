"""Claims ledgers: each claim declared once, each verdict computed from measured numbers, behind a quality gate.

A chapter declares its claims as data (``ClaimSpec``: id, statement, the paper's reference, thresholds,
the criterion text generated from those thresholds, and a ``Gate`` on the networks the test needs) and
turns a result into rows with ``spec.row(...)``. Five verdicts:

- ``holds`` / ``partly`` / ``fails``: the criterion was tested and came out that way;
- ``inconclusive``: the run could not test the claim (gate unmet, a difference inside the noise band,
  too few depths or seeds); the reason names the cause and the number;
- ``not run``: nothing was measured (e.g. the network needs a GPU profile).

A row whose gate is unmet can never hold, partly hold or fail: ``row`` turns it into ``inconclusive``, and an
inconclusive row whose gate is also unmet names the gate's numbers beside its own reason. Per-item outcomes
become one verdict through one rule (``combine``, ``tally``), an estimate against two bars through ``level``.
Rows are written per chapter to ``book/claims/<chapter>.json``.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .artifacts import REPO_ROOT, load_json, save_json
from .stats import LEVEL, Estimate, alpha_of, holm_keep, holm_signs, sign

CLAIMS_ENV = "RESNET_LAB_CLAIMS"
VERDICTS = ("holds", "partly", "fails", "inconclusive", "not run")
TESTED = ("holds", "partly", "fails")
# One colour per verdict, shared by the ledger page, the chapter summary cards and every figure.
VERDICT_COLORS = {"holds": "#2e7d32", "partly": "#f9a825", "fails": "#c62828",
                  "inconclusive": "#78909c", "not run": "#e0e0e0"}

_ignore_gates = contextvars.ContextVar("ignore_gates", default=False)


@contextlib.contextmanager
def gates_ignored() -> Iterator[None]:
    """Judge criteria without their gates (negative controls: does the criterion alone tell?)."""
    token = _ignore_gates.set(True)
    try:
        yield
    finally:
        _ignore_gates.reset(token)


@dataclass(frozen=True)
class Gate:
    """A quality bar the networks behind a claim must meet before the claim is judged.

    ``quantity`` names what is measured (e.g. "test accuracy"), ``required`` the bar, ``at_least`` its
    direction, ``why`` where the bar comes from (e.g. "paper's 91.25% minus 6 points"), ``fmt`` how
    values print.
    """

    quantity: str
    required: float
    at_least: bool = True
    why: str = ""
    fmt: str = ".1%"

    def met_by(self, value: float) -> bool:
        return value >= self.required if self.at_least else value <= self.required

    def check(self, measured: float | dict[str, float] | None) -> dict:
        """Return ``{quantity, required, measured, met, why}``; a dict of measured values must all meet it."""
        values = measured if isinstance(measured, dict) else {"": measured}
        met = bool(values) and all(v is not None and v == v and self.met_by(v) for v in values.values())
        return {"quantity": self.quantity, "required": self.required, "at_least": self.at_least,
                "measured": measured, "met": met, "why": self.why}

    def shortfall(self, measured: float | dict[str, float] | None) -> str:
        """Return the reason text for an unmet gate, naming the numbers."""
        op = "<" if self.at_least else ">"
        values = measured if isinstance(measured, dict) else {"": measured}
        bad = [f"{(k + ' ') if k else ''}{self.quantity} "
               + ("not measured" if v is None else f"{v:{self.fmt}} {op} gate {self.required:{self.fmt}}")
               for k, v in values.items() if v is None or v != v or not self.met_by(v)]
        return "gate unmet: " + "; ".join(bad or [f"no {self.quantity} measured"])

    def describe(self) -> str:
        op = "≥" if self.at_least else "≤"
        return f"{self.quantity} {op} {self.required:{self.fmt}}" + (f" ({self.why})" if self.why else "")


@dataclass
class Claim:
    """One ledger row: the paper's statement, our criterion, the measured value, the verdict and its support.

    ``gate``: ``None`` or ``Gate.check``'s dict. ``band``: the noise band or sample size behind a
    comparison (an ``Estimate`` dict, or a dict of them). ``implementation_check``: the row checks our
    code against the maths (it may hold on a negative control). ``reference``: the paper's section,
    figure or equation.
    """

    id: str
    statement: str
    criterion: str
    value: str
    verdict: str
    reason: str = ""
    profile: str = ""
    reference: str = ""
    gate: dict | None = None
    band: dict | None = None
    implementation_check: bool = False
    networks: str = ""   # the trained networks the verdict rests on, against the paper's (``mark_networks``)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} not in {VERDICTS}")
        if self.verdict in ("not run", "inconclusive") and not self.reason:
            raise ValueError(f"claim {self.id}: a {self.verdict!r} verdict needs a reason")
        if self.gate is not None and not self.gate["met"] and self.verdict in TESTED:
            raise ValueError(f"claim {self.id}: gate unmet, so it cannot be {self.verdict!r}")


def _band_dict(band) -> dict | None:
    if band is None:
        return None
    if isinstance(band, Estimate):
        return band.to_dict()
    return {k: (v.to_dict() if isinstance(v, Estimate) else v) for k, v in band.items()}


@dataclass(frozen=True)
class ClaimSpec:
    """A claim declared once: the criterion text is generated from ``thresholds`` (``criterion.format``).

    ``criterion`` is a template such as ``"holds: slope ≤ {hold_slope}; partly: ≤ {partly_slope}"``;
    code reads the same numbers from ``spec.t["hold_slope"]``, so prose and code cannot drift apart.
    """

    id: str
    statement: str
    reference: str
    criterion: str
    thresholds: dict = field(default_factory=dict)
    gate: Gate | None = None
    implementation_check: bool = False
    paper_nets: tuple[str, ...] = ()   # the trained networks the paper states the claim on, in its words (none: maths)

    @property
    def t(self) -> dict:
        return self.thresholds

    def criterion_text(self) -> str:
        text = self.criterion.format(**self.thresholds)
        return text + (f". Gate: {self.gate.describe()}" if self.gate else "")

    def row(self, value: str, verdict: str, reason: str = "", *, gate_measured=None, band=None,
            profile: str = "", gate_first: bool = True) -> Claim:
        """Return the ledger row; an unmet gate turns a tested verdict into ``inconclusive`` with the numbers.

        A row given as ``inconclusive`` (the criterion could not decide) whose gate was measured and is unmet
        names the gate too: ``"gate unmet: …; and <reason>"``, or ``"<reason>; gate unmet: …"`` with
        ``gate_first=False``.
        """
        gate = None
        if self.gate is not None:
            gate = self.gate.check(gate_measured)
            if not gate["met"] and verdict in TESTED:
                if _ignore_gates.get():
                    gate = {**gate, "ignored": True, "met": True}
                else:
                    reason = self.gate.shortfall(gate_measured) + (
                        f" (the criterion alone gives {verdict}{': ' + reason if reason else ''})")
                    verdict = "inconclusive"
            elif not gate["met"] and verdict == "inconclusive" and gate_measured is not None:
                shortfall = self.gate.shortfall(gate_measured)
                reason = (shortfall + (f"; and {reason}" if reason else "") if gate_first
                          else "; ".join(r for r in (reason, shortfall) if r))
        return Claim(self.id, self.statement, self.criterion_text(), value, verdict, reason, profile,
                     self.reference, gate, _band_dict(band), self.implementation_check)

    def not_run(self, reason: str, profile: str = "") -> Claim:
        return Claim(self.id, self.statement, self.criterion_text(), "—", "not run", reason, profile,
                     self.reference, None, None, self.implementation_check)


OWN, SOME_OWN, STAND_IN = "the paper's own", "some the paper's own", "stand-in"
# a gate key's seed: "D n=3 s0", "ResNet-20 s1", "ResNet-20 s1 (decaying lr)", P1's "resnet34-seed1"
_SEED = re.compile(r"(?: s\d+|-seed\d+)(?= \(|$)")


def mark_networks(rows: list[Claim], specs: dict[str, ClaimSpec], paper_name: Callable[[str], str | None],
                  nets: list[str] | None = None, more: dict[str, list[str]] | None = None) -> list[Claim]:
    """Return ``rows`` with ``networks`` set: which trained networks each verdict rests on, against the paper's.

    Ours are the networks the row's gate measured (its keys, seeds merged; ``nets`` where the gate is one number),
    with ``more[row id]`` where a row also rests on networks its gate does not measure; ``paper_name(ours)`` is the
    chapter's reading of the result's config: the paper's name for that network where it is one of the paper's (its
    architecture, depth, width and data; the recipe may differ, as each chapter's card says), else None. A row rests
    on the paper's own networks where every one of ours is one the paper states this claim on
    (``ClaimSpec.paper_nets``), and the text says how many of the paper's it covers; on some of them, or on
    stand-ins. Rows whose claim names no trained network (``paper_nets`` empty: maths, units of any network, the
    probes of P5's Fig. 2), or that measured none, are left as they are.
    """
    out = []
    for row in rows:
        spec = specs.get(row.id)
        measured = (row.gate or {}).get("measured")
        ours = [_SEED.sub("", k) for k in measured] if isinstance(measured, dict) else list(nets or [])
        ours += [_SEED.sub("", k) for k in (more or {}).get(row.id, [])]
        if spec is None or not spec.paper_nets or not ours or row.verdict == "not run":
            out.append(row)
            continue
        seeds = Counter(ours)
        theirs = {n: paper_name(n) for n in seeds}
        own = [n for n in seeds if theirs[n] in spec.paper_nets]
        status = OWN if len(own) == len(seeds) else SOME_OWN if own else STAND_IN + "s" * (len(seeds) > 1)
        covered = len({theirs[n] for n in own})
        listed = ", ".join(n + (f" ×{k} seeds" if k > 1 else "")
                           + ("" if theirs[n] == n else f" (= {theirs[n]})" if theirs[n] in spec.paper_nets else
                              f" (= {theirs[n]}, not this claim's)" if theirs[n] else "") for n, k in seeds.items())
        cover = f" ({covered} of the paper's {len(spec.paper_nets)})" if own else ""
        out.append(replace(row, networks=f"{status}{cover}: {listed}; the paper's: {', '.join(spec.paper_nets)}"))
    return out


def network_status(row: Claim) -> str | None:
    """Return a row's ``OWN``, ``SOME_OWN`` or ``STAND_IN`` (``mark_networks``), or None where it names none."""
    if not row.networks:
        return None
    head = re.split(r" \(|:", row.networks, maxsplit=1)[0]
    return STAND_IN if head.startswith(STAND_IN) else head


def on_paper_networks(row: Claim) -> bool | None:
    """Return whether a row rests on the paper's own networks (True), not wholly (False), or names none (None)."""
    status = network_status(row)
    return None if status is None else status == OWN


def declare(*specs: ClaimSpec) -> dict[str, ClaimSpec]:
    """Return the chapter's claims by id (ids must be unique)."""
    out = {}
    for s in specs:
        if s.id in out:
            raise ValueError(f"claim {s.id} declared twice")
        out[s.id] = s
    return out


def judge(holds: bool, partly: bool = False) -> str:
    """Return ``holds`` if the criterion is met, ``partly`` if only its weaker form is, else ``fails``."""
    return "holds" if holds else "partly" if partly else "fails"


def combine(verdicts, partial: bool = True) -> str:
    """Return one verdict from per-item verdicts (nets, variants, orderings).

    ``holds`` if every item holds; with ``partial``, ``partly`` if some item holds or partly holds, else
    ``fails`` if some item fails; without it, ``fails`` if any item fails (one reversal refutes the claim).
    Otherwise, and for no items, ``inconclusive``.
    """
    verdicts = list(verdicts)
    if verdicts and all(v == "holds" for v in verdicts):
        return "holds"
    if partial and any(v in ("holds", "partly") for v in verdicts):
        return "partly"
    return "fails" if "fails" in verdicts else "inconclusive"


def tally(signs, partial: bool = True) -> str:
    """Return ``combine`` of per-item signs: +1 (the paper's way beyond the band) holds, −1 (against it beyond
    the band) fails, 0 or ``None`` (inside the band, or undecidable) is inconclusive."""
    return combine(({1: "holds", -1: "fails"}.get(s, "inconclusive") for s in signs), partial)


def family_signs(estimates: list[Estimate | None], min_effect: float = 0.0) -> tuple[list, list]:
    """Return per comparison its sign beyond its own band and its sign after Holm's step-down over the family, each
    counting only differences over ``min_effect`` (``stats.sign``, ``stats.holm_signs``): what ``tally_family``
    judges, for rows that word each comparison as the verdict reads it."""
    single = [sign(e, min_effect=min_effect) for e in estimates]
    family = [s if not s or abs(e.value) > min_effect else 0 for s, e in zip(holm_signs(estimates), estimates)]
    return single, family


def tally_family(estimates: list[Estimate | None], min_effect: float = 0.0, parts: bool = False) -> str:
    """Return one verdict from k comparisons of one claim, each signed the paper's way (> 0: as the paper says).

    ``holds`` if every comparison lies beyond its own band the paper's way (each must: no adjustment is needed);
    ``partly`` if some survive Holm's step-down over the k (``stats.holm_signs``) the paper's way and none lies beyond
    its own band against it; ``fails`` the mirror image; else ``inconclusive`` (every one inside, beyond only before
    the adjustment, or beyond on both sides). Without the adjustment one of k comparisons beyond its 95% band is what
    a true null gives up to k·5% of the time, so "some" would not be evidence. A comparison must also exceed
    ``min_effect`` (the smallest difference that matters) to count either way; ``None`` (not compared, or undecidable)
    stays out of the family and keeps ``holds`` from every comparison. With ``parts`` the comparisons are separate
    parts of the claim (each network the paper names), so a part against does not void a part for: ``partly`` if some
    survive Holm the paper's way, whatever the others show.
    """
    return family_verdict(*family_signs(estimates, min_effect), parts)


def tally_tests(tests: list[tuple[int, float] | None], level: float = LEVEL, parts: bool = False) -> str:
    """Return ``tally_family``'s verdict from k tests given as (direction, two-sided p): direction +1 where the
    statistic points the paper's way, −1 against, 0 where it has none (p 1); a test counts at p < 1 − ``level``
    alone and after Holm's step-down over the k (``stats.holm_keep``). For rows whose comparisons are tests, not
    estimates (rank correlations); ``None`` (too few items to test) stays out of the family."""
    ps = [None if t is None else t[1] for t in tests]
    alpha = alpha_of(level)
    single = [None if t is None or math.isnan(t[1]) else t[0] if t[1] < alpha else 0 for t in tests]
    family = [k if k is None else t[0] if k else 0 for k, t in zip(holm_keep(ps, level), tests)]
    return family_verdict(single, family, parts)


def family_verdict(single: list[int | None], family: list[int | None], parts: bool = False) -> str:
    """The rule of ``tally_family`` from each comparison's sign alone and after Holm's adjustment (``family_signs``),
    for rows that word each comparison from those signs too."""
    if single and all(x == 1 for x in single):
        return "holds"
    if 1 in family and (parts or -1 not in single):
        return "partly"
    if -1 in family and 1 not in single:
        return "fails"
    return "inconclusive"


def tally_every(estimates: list[Estimate | None]) -> str:
    """Return one verdict for a claim made at every one of k comparisons (each depth, each step), each signed the
    paper's way.

    ``holds`` if every comparison lies beyond its own band the paper's way (all k must: no adjustment is needed);
    ``fails`` if one survives Holm's step-down over the k (``family_signs``) against the paper, since one
    reversal refutes an "every"; else ``inconclusive``. Without the adjustment a true null fails one of k comparisons
    up to k·5% of the time. ``None`` (not compared, or undecidable) keeps ``holds`` away and stays out of the family.
    """
    single, family = family_signs(estimates)
    if single and all(x == 1 for x in single):
        return "holds"
    return "fails" if -1 in family else "inconclusive"


def level(est: Estimate, hold: float, partly: float) -> str:
    """Return ``holds`` if ``est`` exceeds the ``hold`` bar beyond its band, else ``partly`` / ``fails`` if it is
    above / below the ``partly`` bar beyond the band, else ``inconclusive`` (inside the band, or se unknown)."""
    above = lambda bar: sign(replace(est, value=est.value - bar))  # noqa: E731
    if above(hold) == 1:
        return "holds"
    return {1: "partly", -1: "fails"}.get(above(partly), "inconclusive")


def profile_of(result: dict) -> str:
    """Return the profile a chapter result was computed at (from its provenance)."""
    return result.get("provenance", {}).get("profile", "")


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
    """Return the ledger as a pandas DataFrame for display (gate and band flattened to text)."""
    import pandas as pd

    rows = []
    for c in claims:
        rows.append({"id": c.id, "verdict": c.verdict, "claim": c.statement, "criterion": c.criterion,
                     "measured": c.value, "gate": gate_text(c.gate), "reason": c.reason, "profile": c.profile,
                     "networks": c.networks or "—"})
    return pd.DataFrame(rows).set_index("id")


def gate_text(gate: dict | None) -> str:
    """Return a gate record as text: ``required / measured / met``."""
    if gate is None:
        return "—"
    measured = gate["measured"]
    fmt = (lambda v: "—" if v is None else f"{v:.3g}")
    shown = ", ".join(f"{k}: {fmt(v)}" for k, v in measured.items()) if isinstance(measured, dict) else fmt(measured)
    op = "≥" if gate["at_least"] else "≤"
    state = "ignored (control)" if gate.get("ignored") else ("met" if gate["met"] else "unmet")
    return f"{gate['quantity']} {op} {gate['required']:.3g}; measured {shown}: {state}"


def band_text(band: dict | None) -> str:
    """Return the noise band or sample size behind a row as text."""
    if not band:
        return "—"
    if "se" in band:
        return Estimate.from_dict(band).format()
    return "; ".join(f"{k}: {band_text(v) if isinstance(v, dict) else v}" for k, v in band.items())
