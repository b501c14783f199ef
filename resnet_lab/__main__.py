"""Compute entry points.

``python -m resnet_lab run <experiment> --profile small [--force]``: one chapter (a stale result is recomputed).
``python -m resnet_lab run all --profile small --budget 150m [--threads 1] [--dry]``: the budgeted runner.
``python -m resnet_lab run all --profile paper --executor slurm|local [--max-parallel N] [--gpus 0,1] [--dry]``:
one job per network through submitit, then each chapter's analysis (``dispatch.py``);
``python -m resnet_lab status --profile paper``: those jobs' items, done/running/pending/failed.
``python -m resnet_lab data fetch [mnist cifar10 ...]``, ``data check``: the datasets, downloaded or found.
``python -m resnet_lab dry-run --profile standard``: every chapter's code path at a profile, capped, on the CPU.
``python -m resnet_lab controls [P1 ...]``: claim logic on negative controls and fixtures.
``python -m resnet_lab ledger [book/ledger.md]``: the book's ledger page from the chapters' ledgers.
``python -m resnet_lab units [--write README.md]``: the training units, landed and in progress, measured.
``python -m resnet_lab costs [--write README.md]``: what ``standard`` and ``paper`` cost on one GPU (estimate).
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
    run.add_argument("--executor", default="inline", choices=("inline", "local", "slurm"),
                     help="`all` only: inline (this process, budgeted), local (a job per network here) or slurm")
    run.add_argument("--max-parallel", type=int, default=None, help="jobs at once (Slurm: array parallelism)")
    run.add_argument("--gpus", default="", help="local: GPU ids handed out one per job, e.g. 0,1")
    run.add_argument("--gpus-per-job", type=int, default=1, help="slurm: GPUs per job (0 on a CPU-only cluster)")
    run.add_argument("--cpus-per-job", type=int, default=4, help="slurm: CPUs per job")
    run.add_argument("--partition", default=None, help="slurm partition")
    run.add_argument("--account", default=None, help="slurm account")
    run.add_argument("--time", default="24h", help="per job, e.g. 4h, 90m (a job cut off there is requeued)")
    status = sub.add_parser("status", help="the dispatched items of a profile: done, running, pending, failed")
    status.add_argument("--profile", default="paper", help=f"one of {', '.join(PROFILES)}")
    data = sub.add_parser("data", help="`fetch` downloads datasets (torchvision); `check` says what is where")
    data.add_argument("action", choices=("fetch", "check"))
    data.add_argument("names", nargs="*", help="e.g. mnist cifar10 (default: every dataset the book uses)")
    data.add_argument("--root", default=None, help="where to download (default: the first data root)")
    ledger = sub.add_parser("ledger", help="write the book's ledger page from every chapter's committed ledger")
    ledger.add_argument("out", nargs="?", default="book/ledger.md")
    units = sub.add_parser("units", help="the training units, landed and in progress, as a measured table")
    units.add_argument("--write", default=None, help="rewrite the table between this file's markers (README.md)")
    costs = sub.add_parser("costs", help="each chapter's networks at standard and paper, priced in GPU hours (estimate)")
    costs.add_argument("--write", default=None, help="rewrite the table between this file's markers (README.md)")
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
        from .ledger_page import render_markdown

        out = Path(args.out)
        out.write_text(render_markdown(ledgers(), figure=out.parent / "ledger_matrix.png"))
        print(f"wrote {out}")
        return 0
    if args.command == "status":
        from .dispatch import format_status

        print(format_status(args.profile))
        return 0
    if args.command == "data":
        from .fetch import check, fetch

        return fetch(args.names, args.root) if args.action == "fetch" else check(args.names)
    if args.command == "units":
        from .units import main as units_main

        return units_main(args.write)
    if args.command == "costs":
        from .costs import main as costs_main

        return costs_main(args.write)
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
    from .cache import recompute_stale

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
    if args.executor != "inline":
        return _dispatch(parser, args, profile)
    outcome = run_budget(profile, budget, device=args.device, threads=args.threads, dry=args.dry)
    return 1 if outcome["failed"] else 0


def _dispatch(parser: argparse.ArgumentParser, args, profile: str) -> int:
    from .dispatch import Options, dispatch
    from .runner import parse_budget

    if args.budget:
        parser.error("--budget is for --executor inline; a dispatched job's limit is --time")
    try:
        gpus = tuple(int(g) for g in args.gpus.split(",") if g.strip())
        minutes = round(parse_budget(args.time) / 60)
    except ValueError as err:
        parser.error(f"--gpus takes ids like 0,1 and --time a duration like 4h ({err})")
    options = Options(args.executor, args.max_parallel, gpus, args.gpus_per_job, args.partition, args.account,
                      minutes, args.cpus_per_job)
    outcome = dispatch(profile, options, dry=args.dry)
    return 1 if outcome.get("failed") or outcome.get("skipped") else 0


if __name__ == "__main__":
    sys.exit(main())
