"""The `qcflow` command: run flows on an embedded (ephemeral) Prefect API, print reports, write JSON."""

from __future__ import annotations

import argparse
import atexit
import functools
import importlib
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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

# Commands that run a flow on the embedded Prefect API: its server is launched before their flow is imported.
FLOW_COMMANDS = ("screen", "climate", "sqd")


@dataclass(frozen=True)
class FlowCommand:
    """A `qcflow` subcommand that runs one flow. Its parts are named "module:attribute" and imported when the
    command parses or runs, so `qcflow --help` and the other commands do not pay for the flow's imports."""

    name: str
    help: str
    flow: str
    parameters: str  # the pydantic model built from the flow's signature (workflows.flow_parameters)
    planner: str  # (parameters, catalog) -> the placements of every segment, for --plan
    report: str  # the flow's report -> text for the terminal
    renamed: Mapping[str, str] = field(default_factory=dict)  # parameter -> flag, where not `--` + its name
    metavars: Mapping[str, str] = field(default_factory=dict)
    types: Mapping[str, Callable[[str], Any]] = field(default_factory=dict)
    description: str | None = None
    result_storage: bool = True  # persist task results in the settings' results folder (resumable runs)


def _load(path: str) -> Any:
    module, attribute = path.split(":")
    return getattr(importlib.import_module(module), attribute)


SCREEN = FlowCommand(
    name="screen",
    help="screen candidate crystals (bundled set when no path is given)",
    flow="workflows.screening.flow:materials_screening",
    parameters="workflows.screening.flow:ScreeningParameters",
    planner="workflows.execution.plans:screening_plan",
    report="workflows.screening.reports:terminal_report",
    renamed={"candidate_paths": "paths", "shortlist_size": "--shortlist"},
)


def run_flow_command(command: FlowCommand, args: argparse.Namespace) -> int:
    """Check --out and the parameters (the flow's own model) before any work; then print the plan (--plan), or
    run the flow on the embedded API, print its report and write the JSON to --out."""
    if problem := out_problem(args.out):
        return refuse(command.name, problem)
    from workflows.flow_parameters import flag_names, given_parameters

    flow = _load(command.flow)
    try:
        params = _load(command.parameters)(**given_parameters(args, flow))
    except ValidationError as error:
        return invalid_input(command.name, error, flags=flag_names(flow, command.renamed))
    prepare_embedded_prefect()
    if args.plan:
        return print_plan(_load(command.planner), params, args.json)
    if command.result_storage:
        from workflows.execution.caching import with_result_storage

        flow = with_result_storage(flow)
    report = run_flow(command.name, flow, params.model_dump())
    if report is None:
        return 1
    print(_load(command.report)(report))
    return write_json(report, args.out, command.name)


def add_flow_command(subparsers: argparse._SubParsersAction, command: FlowCommand) -> None:
    """Register a flow's subcommand: one flag per parameter of the flow (from its signature and docstring, added
    when the subcommand first parses), then --out, --plan and --json."""
    parser = subparsers.add_parser(command.name, help=command.help, description=command.description)

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        from workflows.flow_parameters import add_flow_arguments, flag_names

        flow = _load(command.flow)
        flags = flag_names(flow, command.renamed)
        add_flow_arguments(parser, flow, flags, types=command.types, metavars=command.metavars)
        parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
        add_plan_flags(parser)

    add_arguments_later(parser, add_arguments)
    parser.set_defaults(handler=functools.partial(run_flow_command, command))


def flow_command_main(command: FlowCommand, argv: Sequence[str] | None = None) -> int:
    """`python -m <module> <name> ...`: one flow's command alone, the same as `qcflow <name> ...`."""
    parser = argparse.ArgumentParser(prog="qcflow")
    add_flow_command(
        parser.add_subparsers(dest="command", required=True, parser_class=CommandParser), command
    )
    args = parser.parse_args(argv)
    return args.handler(args)


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
    from workflows.climate_pathways.cli import CLIMATE
    from workflows.sqd.cli import SQD

    parser = argparse.ArgumentParser(prog="qcflow", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)
    for command in (SCREEN, CLIMATE):
        add_flow_command(subparsers, command)
    add_broker_commands(subparsers)
    add_flow_command(subparsers, SQD)
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
    if shutdown_threads is None or sys.getprofile() or sys.gettrace():  # a profiler writes its file at exit
        sys.exit(status)
    shutdown_threads()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    run()
