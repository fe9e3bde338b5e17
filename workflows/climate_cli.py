"""`qcflow climate`: run the climate-pathways flow on the embedded Prefect API, print a report, write JSON."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from workflows.terminal import (
    invalid_input,
    out_problem,
    prepare_embedded_prefect,
    refuse,
    run_flow,
    seed_argument,
    write_json,
)

# Fields of ClimateParameters -> the `qcflow climate` flags that set them (named so in error messages).
CLIMATE_FLAGS = {
    "scenarios": "--scenario",
    "members": "--members",
    "seed": "--seed",
    "budget": "--budget",
    "options": "--option",
    "qaoa_layers": "--layers",
    "shots": "--shots",
}


def command_climate(args: argparse.Namespace) -> int:
    """Validate the arguments, run the flow, print its report and write the JSON (per scenario) to --out."""
    if problem := out_problem(args.out):
        return refuse("climate", problem)
    prepare_embedded_prefect()  # before the first Prefect import
    from workflows.climate_pathways import DEFAULT_PORTFOLIO_OPTIONS, DEFAULT_SCENARIOS, ClimateParameters

    try:
        params = ClimateParameters(
            scenarios=args.scenarios or list(DEFAULT_SCENARIOS),
            members=args.members,
            seed=args.seed,
            budget=args.budget,
            options=args.options or list(DEFAULT_PORTFOLIO_OPTIONS),
            qaoa_layers=args.layers,
            shots=args.shots,
        )
    except ValidationError as error:
        return invalid_input("climate", error, flags=CLIMATE_FLAGS)
    if args.plan:
        from workflows.cli import print_plan
        from workflows.plans import climate_plan

        return print_plan(climate_plan, params, args.json)
    from workflows.caching import with_result_storage
    from workflows.climate_pathways import climate_pathways
    from workflows.climate_report import terminal_report

    report = run_flow("climate", with_result_storage(climate_pathways), params.model_dump())
    if report is None:
        return 1
    print(terminal_report(report))
    return write_json(report, args.out, "climate")


def add_climate_command(subparsers: argparse._SubParsersAction) -> None:
    """Register `climate` on the qcflow command's subparsers."""
    from workflows.cli import add_plan_flags

    climate = subparsers.add_parser(
        "climate", help="project warming per scenario and choose a carbon-removal portfolio with QAOA"
    )
    climate.add_argument(
        "--scenario",
        dest="scenarios",
        action="append",
        default=None,
        metavar="S",
        help="bundled scenario (ssp126, ssp245, ssp585, ...) or scenario CSV; repeat for several "
        "(default: ssp126 ssp245 ssp585)",
    )
    climate.add_argument("--members", type=int, default=1000, help="ensemble members (default 1000)")
    climate.add_argument(
        "--seed",
        type=seed_argument,
        default=0,
        help="seed of the parameter draws and of QAOA's sampler (default 0)",
    )
    climate.add_argument("--budget", type=float, default=150.0, help="portfolio budget, $bn/yr (default 150)")
    climate.add_argument(
        "--option",
        dest="options",
        action="append",
        default=None,
        metavar="NAME",
        help="carbon-removal option to choose from; repeat for several (default: six of them)",
    )
    climate.add_argument("--layers", type=int, default=2, help="QAOA layers p (default 2)")
    climate.add_argument(
        "--shots", type=int, default=4096, help="QAOA and random-baseline shots (default 4096)"
    )
    climate.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    add_plan_flags(climate)
    climate.set_defaults(handler=command_climate)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m workflows.climate_cli climate ...`: the climate command alone, the same as `qcflow climate ...`."""
    parser = argparse.ArgumentParser(prog="qcflow", description=__doc__)
    add_climate_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
