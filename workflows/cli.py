"""The `qcflow` command: run flows on an embedded (ephemeral) Prefect API, print reports, write JSON."""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from config.settings import get_settings
from workflows.terminal import (
    CommandParser,
    add_arguments_later,
    invalid_input,
    out_problem,
    prepare_embedded_prefect,
    refuse,
    run_flow,
    spawn_embedded_api,
    write_json,
)

# Flow parameters whose `qcflow screen` argument is not `--` + the name (errors name the argument the user typed).
SCREEN_RENAMED = {"candidate_paths": "paths", "shortlist_size": "--shortlist"}
# Commands that run a flow on the embedded Prefect API: its server is launched before their flow is imported.
FLOW_COMMANDS = ("screen", "climate", "sqd")


def command_screen(args: argparse.Namespace) -> int:
    """Run the materials-screening flow and print its report."""
    if problem := out_problem(args.out):
        return refuse("screen", problem)
    from workflows.flow_parameters import flag_names, given_parameters
    from workflows.screening.flow import ScreeningParameters, materials_screening

    try:
        params = ScreeningParameters(**given_parameters(args, materials_screening))
    except ValidationError as error:
        return invalid_input("screen", error, flags=flag_names(materials_screening, SCREEN_RENAMED))
    prepare_embedded_prefect()
    if args.plan:
        from workflows.execution.plans import screening_plan

        return print_plan(screening_plan, params, args.json)
    from workflows.execution.caching import with_result_storage
    from workflows.screening.reports import terminal_report

    report = run_flow("screen", with_result_storage(materials_screening), params.model_dump())
    if report is None:
        return 1
    print(terminal_report(report))
    return write_json(report, args.out, "screen")


def _add_screen_arguments(screen: argparse.ArgumentParser) -> None:
    """One argument per parameter of the flow, built from its signature and docstring; then --out and --plan."""
    from workflows.flow_parameters import add_flow_arguments, flag_names
    from workflows.screening.flow import materials_screening

    add_flow_arguments(screen, materials_screening, flag_names(materials_screening, SCREEN_RENAMED))
    screen.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    add_plan_flags(screen)


def _add_screen_command(subparsers: argparse._SubParsersAction) -> None:
    screen = subparsers.add_parser(
        "screen", help="screen candidate crystals (bundled set when no path is given)"
    )
    add_arguments_later(screen, _add_screen_arguments)
    screen.set_defaults(handler=command_screen)


def add_plan_flags(parser: argparse.ArgumentParser) -> None:
    """--plan and --json: print where every segment would run, and exit without running anything."""
    parser.add_argument(
        "--plan", action="store_true", help="print where every segment would run and why, then exit"
    )
    parser.add_argument("--json", action="store_true", help="with --plan: print the plan as one JSON object")


def print_plan(planner: Any, params: Any, as_json: bool) -> int:
    """Print a run's plan (text or JSON); exit status 3 when a segment is refused, else 0."""
    from workflows.execution.plans import plan_json, plan_text
    from workflows.execution.qpu_access import flow_catalog

    address = getattr(params, "dask_address", None) or get_settings().cluster.dask_address
    plan = planner(params, flow_catalog(dask_address=address))
    print(plan_json(plan) if as_json else plan_text(plan))
    return 3 if any(p.refused for p in plan) else 0


def build_parser() -> argparse.ArgumentParser:
    """All qcflow subcommands."""
    from workflows.broker_cli import add_broker_commands
    from workflows.climate_pathways.cli import add_climate_command
    from workflows.sqd.cli import add_sqd_parser

    parser = argparse.ArgumentParser(prog="qcflow", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)
    _add_screen_command(subparsers)
    add_climate_command(subparsers)
    add_broker_commands(subparsers)
    add_sqd_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `qcflow` console command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # The settings are checked before the arguments are parsed: parsing `screen` imports its flow, and Prefect with
    # it, which a bad setting must not get as far as. Without a command, parsing prints the usage and exits.
    if argv and not argv[0].startswith("-") and (refused := settings_refusal(argv[0])) is not None:
        return refused
    if argv and argv[0] in FLOW_COMMANDS and not {"-h", "--help", "--plan"} & set(argv):
        spawn_embedded_api()
    args = build_parser().parse_args(argv)
    return args.handler(args)


def settings_refusal(command: str) -> int | None:
    """Exit status 2 after one message naming the bad QCFLOW_* variable or the unusable results folder, or None."""
    try:
        get_settings()
    except ValidationError as error:  # a bad QCFLOW_* variable: say which, before any work starts
        return invalid_input(command, error, env_prefix="QCFLOW_")
    except OSError as error:  # the results folder cannot be created
        print(
            f"qcflow {command}: cannot create the results folder ({error}); "
            "point QCFLOW_HOME or QCFLOW_RESULTS_DIR at a folder you can write",
            file=sys.stderr,
        )
        return 2
    return None


def run() -> NoReturn:
    """The console command: `main`, then an exit that skips tearing down the interpreter's heap.

    Every exit handler still runs first, in the interpreter's own order (thread joins and Prefect's log and event
    flushes, then `atexit`: the embedded server's stop, Dask's clean-up, logging's flush), and the output is
    flushed; only the freeing of every object is skipped, which after a screening of thousands (torch, CHGNet,
    pymatgen structures) kept the prompt waiting for seconds. Tests call `main`, which returns normally.
    """
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    shutdown_threads = getattr(threading, "_shutdown", None)  # what Py_Finalize runs first; CPython only
    if shutdown_threads is None:
        sys.exit(status)
    shutdown_threads()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    run()
