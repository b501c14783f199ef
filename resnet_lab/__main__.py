"""Compute entry point: ``python -m resnet_lab run <experiment> --profile small [--force]``."""
from __future__ import annotations

import argparse
import json
import sys

from .experiments import get_experiment, list_experiments
from .profiles import PROFILES, resolve_profile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m resnet_lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list experiments")
    controls = sub.add_parser("controls", help="run every chapter's claim logic on negative controls and fixtures")
    controls.add_argument("chapters", nargs="*", help="e.g. P1 P4 (default: all)")
    controls.add_argument("--device", default=None)
    run = sub.add_parser("run", help="run an experiment at a profile and write its artifacts")
    run.add_argument("experiment")
    run.add_argument("--profile", default="smoke", help=f"one of {', '.join(PROFILES)}, or auto")
    run.add_argument("--force", action="store_true", help="recompute even if artifacts exist")
    run.add_argument("--device", default=None, help="e.g. cpu, cuda, cuda:1 (default: cuda if present)")
    args = parser.parse_args(argv)
    if args.command == "list":
        print("\n".join(list_experiments()))
        return 0
    if args.command == "controls":
        from .controls import main as controls_main

        return controls_main(args.chapters or None, args.device)
    try:
        module = get_experiment(args.experiment)
        profile = resolve_profile(args.profile, args.experiment)
    except (KeyError, ValueError) as err:
        parser.error(str(err.args[0]))
    result = module.run(profile=profile, force=args.force, device=args.device)
    print(json.dumps(result.get("provenance", {}), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
