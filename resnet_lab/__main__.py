"""Compute entry points.

``python -m resnet_lab run <experiment> --profile small [--force]``: one chapter (a stale result is recomputed).
``python -m resnet_lab run all --profile small --budget 150m [--threads 1] [--dry]``: the budgeted runner.
``python -m resnet_lab dry-run --profile standard``: every chapter's code path at a profile, capped, on the CPU.
``python -m resnet_lab controls [P1 ...]``: claim logic on negative controls and fixtures.
``python -m resnet_lab ledger [book/ledger.md]``: the book's ledger page from the chapters' ledgers.
``python -m resnet_lab units [--write README.md]``: the training units, landed and in progress, measured.
"""
from __future__ import annotations

import argparse
import json
import sys

from .experiments import get_experiment, list_experiments
from .profiles import PROFILES, resolve_profile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m resnet_lab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list experiments")
    controls = sub.add_parser("controls", help="run every chapter's claim logic on negative controls and fixtures")
    controls.add_argument("chapters", nargs="*", help="e.g. P1 P4 (default: all)")
    controls.add_argument("--device", default=None)
    run = sub.add_parser("run", help="run an experiment (or `all`, budgeted) at a profile and write its artifacts")
    run.add_argument("experiment", help="an experiment name, or `all` for the budgeted runner")
    run.add_argument("--profile", default="smoke", help=f"one of {', '.join(PROFILES)}, or auto")
    run.add_argument("--force", action="store_true", help="recompute even if artifacts exist (one experiment only)")
    run.add_argument("--device", default=None, help="e.g. cpu, cuda, cuda:1 (default: cuda if present)")
    run.add_argument("--budget", default=None, help="`all` only: e.g. 150m, 2h, 9m (default: unlimited)")
    run.add_argument("--threads", type=int, default=None, help="torch CPU threads (e.g. 1 to leave a core free)")
    run.add_argument("--dry", action="store_true", help="`all` only: print the plan, compute nothing")
    ledger = sub.add_parser("ledger", help="write the book's ledger page from every chapter's committed ledger")
    ledger.add_argument("out", nargs="?", default="book/ledger.md")
    units = sub.add_parser("units", help="the training units, landed and in progress, as a measured table")
    units.add_argument("--write", default=None, help="rewrite the table between this file's markers (README.md)")
    dry = sub.add_parser("dry-run", help="run each chapter's profile config capped to a few steps, on the CPU")
    dry.add_argument("--profile", default="standard", help=f"one of {', '.join(PROFILES)}")
    dry.add_argument("chapters", nargs="*", help="e.g. p1 p4 (default: all)")
    dry.add_argument("--keep", default=None, help="write the scratch artifacts here and keep them")
    args = parser.parse_args(argv)
    if args.command == "list":
        print("\n".join(list_experiments()))
        return 0
    if args.command == "controls":
        from .controls import main as controls_main

        return controls_main(args.chapters or None, args.device)
    if args.command == "ledger":
        from pathlib import Path

        from .experiments import ledgers
        from .ledger import render_markdown

        out = Path(args.out)
        out.write_text(render_markdown(ledgers(), figure=out.parent / "ledger_matrix.png"))
        print(f"wrote {out}")
        return 0
    if args.command == "units":
        from .units import main as units_main

        return units_main(args.write)
    if args.command == "dry-run":
        from .dryrun import main as dry_main

        try:
            return dry_main(args.profile, args.chapters or None, keep=args.keep)
        except ValueError as err:
            parser.error(str(err))
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.experiment == "all":
        return _run_all(parser, args)
    if args.dry or args.budget:
        # A single experiment would silently compute everything: its units are not budgeted one by one.
        parser.error("--dry and --budget are for `run all`; one experiment runs whole "
                     "(`run all --dry` prints the plan)")
    try:
        module = get_experiment(args.experiment)
        profile = resolve_profile(args.profile, args.experiment)
    except (KeyError, ValueError) as err:
        parser.error(str(err.args[0]))
    from .artifacts import recompute_stale

    with recompute_stale():
        result = module.run(profile=profile, force=args.force, device=args.device)
    print(json.dumps(result.get("provenance", {}), indent=1))
    return 0


def _run_all(parser: argparse.ArgumentParser, args) -> int:
    from .profiles import check_profile
    from .runner import parse_budget, run_budget

    try:
        profile = check_profile(args.profile)
        budget = parse_budget(args.budget) if args.budget else float("inf")
    except ValueError as err:
        parser.error(str(err))
    if args.force:
        parser.error("--force is for one experiment; `run all` recomputes only what is missing or stale")
    outcome = run_budget(profile, budget, device=args.device, threads=args.threads, dry=args.dry)
    return 1 if outcome["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
