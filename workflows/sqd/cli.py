"""`qcflow sqd`: run the active-space-sqd flow on the embedded Prefect API, print a summary, write JSON; with
--plan, print where its segments would run and exit."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from workflows.terminal import (
    invalid_input,
    out_problem,
    prepare_embedded_prefect,
    refuse,
    run_flow,
    write_json,
)

if TYPE_CHECKING:
    from workflows.sqd.flow import SQDParameters

# Fields of SQDParameters -> the `qcflow sqd` flags that set them (named so in error messages).
SQD_FLAGS = {
    "atom": "--atom",
    "basis": "--basis",
    "charge": "--charge",
    "spin": "--spin",
    "frozen_core": "--frozen-core",
    "active_orbitals": "--active-orbitals",
    "active_electrons": "--active-electrons",
    "fcidump": "--fcidump",
    "shots": "--shots",
    "samples_per_batch": "--samples-per-batch",
    "batches": "--batches",
    "iterations": "--iterations",
    "seed": "--seed",
    "sampler": "--sampler",
    "enlargement": "--enlargement",
    "max_dim": "--max-dim",
    "classical_executor": "--classical-executor",
    "dask_address": "--dask-address",
}


def command_sqd(args: argparse.Namespace) -> int:
    """Validate the arguments, run the flow, print its summary and write the JSON to --out."""
    if problem := out_problem(args.out):
        return refuse("sqd", problem)
    prepare_embedded_prefect()  # before the first Prefect import
    from quantum.chemistry.active_space import ProblemError
    from workflows.sqd.flow import SQDParameters

    try:
        params = SQDParameters(
            atom=args.atom,
            basis=args.basis,
            charge=args.charge,
            spin=args.spin,
            frozen_core=args.frozen_core,
            active_orbitals=args.active_orbitals,
            active_electrons=args.active_electrons,
            fcidump=None if args.fcidump is None else str(args.fcidump),
            shots=args.shots,
            samples_per_batch=args.samples_per_batch,
            batches=args.batches,
            iterations=args.iterations,
            seed=args.seed,
            sampler=args.sampler,
            enlargement=args.enlargement,
            max_dim=args.max_dim or None,
            classical_executor=args.classical_executor,
            dask_address=args.dask_address,
        )
        problem_check(params)
    except ValidationError as error:
        return invalid_input("sqd", error, flags=SQD_FLAGS)
    except ProblemError as error:
        return refuse("sqd", _as_flag(str(error)))
    if args.plan:
        from workflows.cli import print_plan
        from workflows.sqd.flow import sqd_plan

        return print_plan(sqd_plan, params, args.json)
    from workflows.sqd.flow import active_space_sqd, summary_markdown

    report = run_flow("sqd", active_space_sqd, params.model_dump())
    if report is None:
        return 1
    print(summary_markdown(report))
    return write_json(report, args.out, "sqd")


def problem_check(params: SQDParameters) -> None:
    """The checks that need pyscf but no SCF (file parses, active space vs basis, memory), before any run."""
    from quantum.chemistry.active_space import check_fits
    from workflows.sqd.stages import planned_shape

    cap = None if params.max_dim is None else params.max_dim**2
    shape = planned_shape(params.atom, params.molecule() if params.atom else None, params.fcidump)
    check_fits(shape.name, shape.determinants, cap)


def _as_flag(message: str) -> str:
    field, _, rest = message.partition(": ")
    return f"{SQD_FLAGS.get(field, field)}: {rest}" if rest else message


def add_sqd_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `sqd` on the qcflow command's subparsers."""
    sqd = subparsers.add_parser(
        "sqd", help="sample-based quantum diagonalization of a molecule's active space (or an FCIDUMP file)"
    )
    source = sqd.add_mutually_exclusive_group(required=True)
    source.add_argument("--fcidump", type=Path, default=None, help="FCIDUMP file (every orbital active)")
    source.add_argument("--atom", default=None, help="geometry in pyscf's format, Å: 'N 0 0 0; N 0 0 1.1'")
    sqd.add_argument("--basis", default="sto-3g", help="basis set (default sto-3g)")
    sqd.add_argument("--charge", type=int, default=0, help="total charge (default 0)")
    sqd.add_argument("--spin", type=int, default=0, help="2S; SQD here needs 0 (default 0)")
    sqd.add_argument("--frozen-core", action="store_true", help="freeze the chemical core orbitals")
    sqd.add_argument("--active-orbitals", type=int, default=None, metavar="K", help="active orbitals")
    sqd.add_argument("--active-electrons", type=int, default=None, metavar="M", help="active electrons")
    sqd.add_argument("--shots", type=int, default=20_000, help="LUCJ samples (default 20000)")
    sqd.add_argument("--samples-per-batch", type=int, default=300, help="samples per batch (default 300)")
    sqd.add_argument("--batches", type=int, default=3, help="batches per iteration (default 3)")
    sqd.add_argument(
        "--iterations", type=int, default=3, help="configuration-recovery iterations (default 3)"
    )
    sqd.add_argument("--seed", type=int, default=0, help="seed of sampling and subsampling (default 0)")
    sqd.add_argument(
        "--sampler",
        default="auto",
        help="auto (the broker's choice), ffsim, aer_statevector or aer_mps (default auto)",
    )
    sqd.add_argument(
        "--enlargement", default="singles", help="none, singles or singles_doubles (default singles)"
    )
    sqd.add_argument(
        "--max-dim", type=int, default=300, help="cap on CI strings per spin sector (default 300; 0: no cap)"
    )
    sqd.add_argument(
        "--classical-executor",
        default="auto",
        help="where the diagonalization and CASCI run: auto (the broker's choice), threads, processes or dask",
    )
    sqd.add_argument(
        "--dask-address", default=None, help="a Dask scheduler the broker may use (tcp://host:8786)"
    )
    sqd.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    sqd.add_argument(
        "--plan", action="store_true", help="print where every segment would run and why, then exit"
    )
    sqd.add_argument("--json", action="store_true", help="with --plan: print the plan as one JSON object")
    sqd.set_defaults(handler=command_sqd)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m workflows.sqd.cli sqd ...`: the sqd command alone, the same as `qcflow sqd ...`."""
    parser = argparse.ArgumentParser(prog="qcflow", description=__doc__)
    add_sqd_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
