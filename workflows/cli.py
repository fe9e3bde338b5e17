"""The `qcflow` command: run flows on an embedded (ephemeral) Prefect API, print reports, write JSON."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from config.settings import get_settings
from workflows.terminal import (
    invalid_input,
    out_problem,
    prepare_embedded_prefect,
    refuse,
    run_flow,
    write_json,
)

# Fields of ScreeningParameters -> the `qcflow screen` arguments that set them (named so in error messages).
SCREEN_FLAGS = {
    "candidate_paths": "paths",
    "relax": "--relax",
    "hull_threshold": "--hull-threshold",
    "shortlist_size": "--shortlist",
    "active_orbitals": "--active-orbitals",
    "active_electrons": "--active-electrons",
    "batch_size": "--batch-size",
}


def command_screen(args: argparse.Namespace) -> int:
    """Run the materials-screening flow and print its report."""
    if problem := out_problem(args.out):
        return refuse("screen", problem)
    from workflows.materials_screening import ScreeningParameters

    try:
        params = ScreeningParameters(
            candidate_paths=[str(p) for p in args.paths],
            relax=args.relax,
            hull_threshold=args.hull_threshold,
            shortlist_size=args.shortlist,
            active_orbitals=args.active_orbitals,
            active_electrons=args.active_electrons,
            batch_size=get_settings().batch_size if args.batch_size is None else args.batch_size,
        )
    except ValidationError as error:
        return invalid_input("screen", error, flags=SCREEN_FLAGS)
    prepare_embedded_prefect()
    if args.plan:
        from workflows.plans import screening_plan

        return print_plan(screening_plan, params, args.json)
    from workflows.materials_screening import materials_screening
    from workflows.reports import terminal_report

    report = run_flow("screen", materials_screening, params.model_dump())
    if report is None:
        return 1
    print(terminal_report(report))
    return write_json(report, args.out, "screen")


def _add_screen_command(subparsers: argparse._SubParsersAction) -> None:
    screen = subparsers.add_parser(
        "screen", help="screen candidate crystals (bundled set when no path is given)"
    )
    screen.add_argument("paths", nargs="*", type=Path, help="CIF / POSCAR / pymatgen-JSON files or folders")
    screen.add_argument("--shortlist", type=int, default=3, help="candidates refined with VQE (default 3)")
    screen.add_argument("--relax", action="store_true", help="relax structures with the surrogate first")
    screen.add_argument("--hull-threshold", type=float, default=0.1, help="max E above hull, eV/atom (0.1)")
    screen.add_argument("--active-orbitals", type=int, default=2, help="active-space orbitals (2)")
    screen.add_argument("--active-electrons", type=int, default=2, help="active-space electrons (2)")
    screen.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="structures per surrogate task (default: QCFLOW_BATCH_SIZE, else the broker's choice)",
    )
    screen.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    add_plan_flags(screen)
    screen.set_defaults(handler=command_screen)


def add_plan_flags(parser: argparse.ArgumentParser) -> None:
    """--plan and --json: print where every segment would run, and exit without running anything."""
    parser.add_argument(
        "--plan", action="store_true", help="print where every segment would run and why, then exit"
    )
    parser.add_argument("--json", action="store_true", help="with --plan: print the plan as one JSON object")


def print_plan(planner: Any, params: Any, as_json: bool) -> int:
    """Print a run's plan (text or JSON); exit status 3 when a segment is refused, else 0."""
    from workflows.plans import plan_json, plan_text
    from workflows.qpu_access import flow_catalog

    plan = planner(params, flow_catalog())
    print(plan_json(plan) if as_json else plan_text(plan))
    return 3 if any(p.refused for p in plan) else 0


def build_parser() -> argparse.ArgumentParser:
    """All qcflow subcommands."""
    from workflows.broker_cli import add_broker_commands
    from workflows.climate_cli import add_climate_command

    parser = argparse.ArgumentParser(prog="qcflow", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_screen_command(subparsers)
    add_climate_command(subparsers)
    add_broker_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `qcflow` console command."""
    args = build_parser().parse_args(argv)
    try:
        get_settings()
    except ValidationError as error:  # a bad QCFLOW_* variable: say which, before any work starts
        return invalid_input(args.command, error, env_prefix="QCFLOW_")
    except OSError as error:  # the results folder cannot be created
        print(
            f"qcflow {args.command}: cannot create the results folder ({error}); "
            "point QCFLOW_HOME or QCFLOW_RESULTS_DIR at a folder you can write",
            file=sys.stderr,
        )
        return 2
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
