"""A CPU dry run of every chapter's code path at a profile: ``python -m resnet_lab dry-run --profile standard``.

Each chapter's ``PROFILES[profile]`` (and the zoo entries) is replaced, in this process only, by a capped
copy: every ``TrainConfig`` trains one epoch of at most two steps at batch ≤ 8, every ``DataSpec`` keeps a
few images per class, and the size fields each chapter names in its ``Chapter.dry_run`` are capped, shortened
or thinned (P1's and P4's base width among them: fewer channels, the same layers).
Everything else — the architectures' layouts and depths, the measurements, the caching, ``claims(result)`` and the
ledger written from its rows — is the real code path (``torch.compile`` is skipped, as on every CPU run).
Artifacts and ledgers go to a scratch folder (``RESNET_LAB_ARTIFACTS`` / ``RESNET_LAB_CLAIMS``), never over
committed ones. A chapter that fails is reported with the last line of its traceback, the others still
run, and the command exits non-zero.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Sequence

from .data import DataSpec
from . import experiments
from .experiments import DryRunCaps
from .train import TrainConfig

DATA_CAP = {"train_per_class": 8, "test_per_class": 4}
NO_CAPS = DryRunCaps()


def _min(value, cap):
    return cap if value is None else min(value, cap)


def cap(obj, caps: DryRunCaps = NO_CAPS, name: str | None = None):
    """Return a copy of a config with training and data capped, and the chapter's named size fields (``caps``)."""
    if isinstance(obj, TrainConfig):
        return dataclasses.replace(obj, epochs=1, max_steps_per_epoch=2, batch_size=min(obj.batch_size, 8))
    if isinstance(obj, DataSpec):
        return dataclasses.replace(obj, **{k: _min(getattr(obj, k), v) for k, v in DATA_CAP.items()})
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(obj, **{f.name: cap(getattr(obj, f.name), caps, f.name)
                                           for f in dataclasses.fields(obj) if f.init})
    if isinstance(obj, dict):
        return {k: cap(v, caps, name) for k, v in obj.items()}
    if name in caps.shorten and isinstance(obj, tuple):
        return obj[:caps.shorten[name]]
    if name in caps.thin and isinstance(obj, tuple) and len(obj) > caps.thin[name]:
        k = caps.thin[name]
        return tuple(obj[round(i * (len(obj) - 1) / (k - 1))] for i in range(k))
    if name in caps.caps and (obj is None or (isinstance(obj, (int, float)) and not isinstance(obj, bool))):
        return _min(obj, caps.caps[name])
    return obj


@dataclasses.dataclass
class Outcome:
    experiment: str
    ok: bool
    seconds: float
    rows: Counter = dataclasses.field(default_factory=Counter)
    error: str = ""


def _valid_rows(rows) -> Counter:
    """Check that ``claims(result)`` returned ledger rows with known verdicts; return the verdict counts."""
    from .ledger import VERDICTS, Claim

    rows = list(rows)
    for row in rows:
        if not isinstance(row, Claim):
            raise TypeError(f"claims() returned {type(row).__name__}, not a ledger Claim")
        if row.verdict not in VERDICTS or not row.id:
            raise ValueError(f"row {row.id!r}: verdict {row.verdict!r} is not one of {VERDICTS}")
    return Counter(row.verdict for row in rows)


def dry_run_one(module, profile: str) -> Outcome:
    """Run one chapter at its (already capped) profile on the CPU, then its claims and ledger."""
    from .ledger import write_ledger

    name = module.__name__.rsplit(".", 1)[-1]
    start = time.perf_counter()
    try:
        result = module.run(profile=profile, force=False, device="cpu", progress=False)
        rows = Counter()
        if hasattr(module, "claims"):
            claims = module.claims(result)
            rows = _valid_rows(claims)
            write_ledger(module.CHAPTER.ledger or name.upper(), claims)
        return Outcome(name, True, time.perf_counter() - start, rows)
    except Exception as err:  # report and go on: other chapters may be fine
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        where = traceback.extract_tb(err.__traceback__)[-1]
        return Outcome(name, False, time.perf_counter() - start,
                       error=f"{last} (at {os.path.basename(where.filename)}:{where.lineno})")


def dry_run(profile: str, chapters: Sequence[str] | None = None, root: str | None = None,
            echo=print) -> list[Outcome]:
    """Dry-run ``chapters`` (default: all) at ``profile`` with capped configs into ``root`` (a scratch folder)."""
    from . import zoo
    from .profiles import check_profile
    from .runner import zoo_needed

    check_profile(profile)
    names = list(chapters) if chapters else experiments.list_experiments()
    root = root or tempfile.mkdtemp(prefix="resnet_lab_dryrun_")
    saved_env = {k: os.environ.get(k) for k in ("RESNET_LAB_ARTIFACTS", "RESNET_LAB_CLAIMS")}
    os.environ["RESNET_LAB_ARTIFACTS"] = os.path.join(root, "artifacts")
    os.environ["RESNET_LAB_CLAIMS"] = os.path.join(root, "claims")
    patched, outcomes = [], []
    try:
        patched.append((zoo.ZOO, dict(zoo.ZOO)))
        for key, entry in list(zoo.ZOO.items()):
            zoo.ZOO[key] = dataclasses.replace(entry, data=cap(entry.data), train=cap(entry.train))
        modules = {}
        for name in experiments.list_experiments():  # cap every chapter first: P3 reads the intro's profile
            try:
                module = experiments.get_experiment(name)
            except Exception as err:
                if name in names:
                    outcomes.append(Outcome(name, False, 0.0, error=f"import: {type(err).__name__}: {err}"))
                continue
            modules[name] = module
            if profile in getattr(module, "PROFILES", {}):
                patched.append((module.PROFILES, dict(module.PROFILES)))
                module.PROFILES[profile] = cap(module.PROFILES[profile], module.CHAPTER.dry_run)

        for name in zoo_needed(profile, [n for n in names if profile in getattr(modules.get(n), "PROFILES", {})]):
            echo(f"== zoo/{name} (capped)")  # the runner trains the zoo first; so does the dry run
            start = time.perf_counter()
            try:
                zoo.load(name, device="cpu", progress=False)
            except Exception as err:
                outcomes.append(Outcome(f"zoo/{name}", False, time.perf_counter() - start,
                                        error=traceback.format_exception_only(type(err), err)[-1].strip()))
        for name in names:
            if name not in modules:
                continue
            if profile not in modules[name].PROFILES:
                echo(f"{name}: no {profile} profile, skipped")
                continue
            echo(f"== {name} at {profile} (capped)")
            outcome = dry_run_one(modules[name], profile)
            outcomes.append(outcome)
            echo(f"   {'ok' if outcome.ok else 'FAILED: ' + outcome.error} ({outcome.seconds:.0f} s)")
    finally:
        for target, original in patched:
            target.clear()
            target.update(original)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return outcomes


def report(outcomes: Sequence[Outcome], profile: str) -> str:
    """Return the dry run's table: chapter, ok/FAILED, seconds, verdict counts or the error's last line."""
    lines = [f"dry run at {profile} (capped, CPU):", f"{'chapter':<8} {'status':<7} {'s':>5}  rows / error"]
    for o in outcomes:
        detail = ", ".join(f"{n} {v}" for v, n in sorted(o.rows.items())) if o.ok else o.error
        lines.append(f"{o.experiment:<8} {'ok' if o.ok else 'FAILED':<7} {o.seconds:5.0f}  {detail or 'no claims'}")
    failed = [o.experiment for o in outcomes if not o.ok]
    lines.append(f"failed: {', '.join(failed)}" if failed else "all chapters passed")
    return "\n".join(lines)


def main(profile: str, chapters: Sequence[str] | None = None, keep: str | None = None) -> int:
    """Entry point of ``python -m resnet_lab dry-run``: print the report; 1 if any chapter failed."""
    if keep:
        outcomes = dry_run(profile, chapters, keep)
    else:
        with tempfile.TemporaryDirectory(prefix="resnet_lab_dryrun_") as root:
            outcomes = dry_run(profile, chapters, root)
    print(report(outcomes, profile))
    return 0 if outcomes and all(o.ok for o in outcomes) else 1
