"""`qcflow climate`: run the climate-pathways flow on the embedded Prefect API, print a report, write JSON."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from workflows.terminal import (
    CommandParser,
    add_arguments_later,
    invalid_input,
    out_problem,
    prepare_embedded_prefect,
    refuse,
    run_flow,
    seed_argument,
    write_json,
)

# Flow parameters whose `qcflow climate` flag is not `--` + the name (errors name the flag the user typed).
CLIMATE_RENAMED = {"scenarios": "--scenario", "options": "--option", "qaoa_layers": "--layers"}


def command_climate(args: argparse.Namespace) -> int:
    """Validate the arguments, run the flow, print its report and write the JSON (per scenario) to --out."""
    if problem := out_problem(args.out):
        return refuse("climate", problem)
    prepare_embedded_prefect()  # before the first Prefect import
    from workflows.climate_pathways.flow import ClimateParameters, climate_pathways
    from workflows.flow_parameters import flag_names, given_parameters

    try:
        params = ClimateParameters(**given_parameters(args, climate_pathways))
    except ValidationError as error:
        return invalid_input("climate", error, flags=flag_names(climate_pathways, CLIMATE_RENAMED))
    if args.plan:
        from workflows.cli import print_plan
        from workflows.execution.plans import climate_plan

        return print_plan(climate_plan, params, args.json)
    from workflows.climate_pathways.report import terminal_report
    from workflows.execution.caching import with_result_storage

    report = run_flow("climate", with_result_storage(climate_pathways), params.model_dump())
    if report is None:
        return 1
    print(terminal_report(report))
    return write_json(report, args.out, "climate")


def _add_climate_arguments(climate: argparse.ArgumentParser) -> None:
    """One flag per parameter of the flow, built from its signature and docstring; then --out and --plan."""
    from workflows.cli import add_plan_flags
    from workflows.climate_pathways.flow import climate_pathways
    from workflows.flow_parameters import add_flow_arguments, flag_names

    flags = flag_names(climate_pathways, CLIMATE_RENAMED)
    add_flow_arguments(climate, climate_pathways, flags, types={"seed": seed_argument})
    climate.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    add_plan_flags(climate)


def add_climate_command(subparsers: argparse._SubParsersAction) -> None:
    """Register `climate` on the qcflow command's subparsers."""
    climate = subparsers.add_parser(
        "climate", help="project warming per scenario and choose a carbon-removal portfolio with QAOA"
    )
    add_arguments_later(climate, _add_climate_arguments)
    climate.set_defaults(handler=command_climate)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m workflows.climate_pathways.cli climate ...`: the climate command alone, the same as `qcflow climate ...`."""
    parser = argparse.ArgumentParser(prog="qcflow", description=__doc__)
    add_climate_command(parser.add_subparsers(dest="command", required=True, parser_class=CommandParser))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
