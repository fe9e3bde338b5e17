"""`qcflow sqd`: run the active-space-sqd flow on the embedded Prefect API, print a summary, write JSON; with
--plan, print where its segments would run and exit."""

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
    write_json,
)

# Flow parameters whose `qcflow sqd` flag is not `--` + the name (none: every flag is the parameter's name).
SQD_RENAMED: dict[str, str] = {}
# How the usage names a flag's value where the parameter's name says too little.
SQD_METAVARS = {"fcidump": "FILE", "active_orbitals": "K", "active_electrons": "M"}


def command_sqd(args: argparse.Namespace) -> int:
    """Validate the arguments (the same model and checks as the flow), run the flow, print its summary and write
    the JSON to --out; with --plan, print where its segments would run instead."""
    if problem := out_problem(args.out):
        return refuse("sqd", problem)
    prepare_embedded_prefect()  # before the first Prefect import
    from workflows.flow_parameters import flag_names, given_parameters
    from workflows.sqd.flow import SQDParameters, active_space_sqd

    try:
        params = SQDParameters(**given_parameters(args, active_space_sqd))
    except ValidationError as error:
        return invalid_input("sqd", error, flags=flag_names(active_space_sqd, SQD_RENAMED))
    if args.plan:
        from workflows.cli import print_plan
        from workflows.sqd.flow import sqd_plan

        return print_plan(sqd_plan, params, args.json)
    from workflows.sqd.flow import summary_markdown

    report = run_flow("sqd", active_space_sqd, params.model_dump())
    if report is None:
        return 1
    print(summary_markdown(report))
    return write_json(report, args.out, "sqd")


def _add_sqd_arguments(sqd: argparse.ArgumentParser) -> None:
    """One flag per parameter of the flow, built from its signature and docstring; then --out and --plan."""
    from workflows.cli import add_plan_flags
    from workflows.flow_parameters import add_flow_arguments, flag_names
    from workflows.sqd.flow import active_space_sqd

    flags = flag_names(active_space_sqd, SQD_RENAMED)
    add_flow_arguments(sqd, active_space_sqd, flags, metavars=SQD_METAVARS)
    sqd.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    add_plan_flags(sqd)


def add_sqd_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `sqd` on the qcflow command's subparsers."""
    sqd = subparsers.add_parser(
        "sqd",
        help="sample-based quantum diagonalization of a molecule's active space (or an FCIDUMP file)",
        description="Give a molecule (--atom with --basis, ...) or --fcidump FILE, not both.",
    )
    add_arguments_later(sqd, _add_sqd_arguments)
    sqd.set_defaults(handler=command_sqd)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m workflows.sqd.cli sqd ...`: the sqd command alone, the same as `qcflow sqd ...`."""
    parser = argparse.ArgumentParser(prog="qcflow", description=__doc__)
    add_sqd_parser(parser.add_subparsers(dest="command", required=True, parser_class=CommandParser))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
