"""The active-space-sqd flow and `qcflow sqd`: parameter checks, and end to end through a real Prefect API."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError
from pyscf import fci, gto, scf
from pyscf.tools import fcidump

from quantum.chemistry.active_space import MoleculeSpec
from workflows.sqd.flow import SQDParameters

WATER = "O 0 0 0; H 0 0.757 0.587; H 0 -0.757 0.587"  # experimental geometry, Å (NIST CCCBDB)


def _sqd_parser() -> argparse.ArgumentParser:
    from workflows.cli import add_flow_command
    from workflows.sqd.cli import SQD

    parser = argparse.ArgumentParser()
    add_flow_command(parser.add_subparsers(), SQD)
    return parser


def test_parameters_need_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="atom/fcidump: neither given; give exactly one"):
        SQDParameters()
    with pytest.raises(ValueError, match="atom/fcidump: both given"):
        SQDParameters(atom=WATER, fcidump="FCIDUMP")
    with pytest.raises(ValueError, match="active_electrons: 7 is odd"):
        SQDParameters(atom=WATER, active_orbitals=4, active_electrons=7)
    with pytest.raises(ValueError, match=r"fcidump: .* is not a file"):
        SQDParameters(fcidump="/no/such/FCIDUMP")


def test_cross_field_checks_are_plain_functions() -> None:
    from workflows.sqd.flow import fit_problem, molecule_spec_problem, source_problem

    assert source_problem(WATER, None) is None and source_problem(None, "FCIDUMP") is None
    assert "neither given" in (source_problem(None, None) or "")
    water = {"atom": WATER, "basis": "sto-3g", "frozen_core": True}
    assert molecule_spec_problem(water) is None
    assert molecule_spec_problem({**water, "active_orbitals": 4}) == (
        "active_orbitals/active_electrons: give both or neither (got 4 and None)"
    )
    assert (molecule_spec_problem({**water, "spin": -1}) or "").startswith("spin: Input should be greater")
    spec = MoleculeSpec(**water)
    assert fit_problem(WATER, spec, None, 300) is None
    too_many = MoleculeSpec(**water, active_orbitals=9, active_electrons=8)
    assert (fit_problem(WATER, too_many, None, 300) or "").startswith("active_orbitals: 9 active")
    unknown_basis = MoleculeSpec(atom=WATER, basis="sto-99")
    assert (fit_problem(WATER, unknown_basis, None, 300) or "").startswith("basis: 'sto-99' is not a basis")


def test_the_flow_and_the_command_line_refuse_the_same_input(capsys: pytest.CaptureFixture[str]) -> None:
    from workflows.flow_parameters import flag_names
    from workflows.sqd.cli import SQD
    from workflows.sqd.flow import active_space_sqd
    from workflows.terminal import as_flags

    flags = flag_names(active_space_sqd, SQD.renamed)
    parser = _sqd_parser()
    cases = [
        ({}, []),
        ({"atom": WATER, "active_electrons": 8}, ["--atom", WATER, "--active-electrons", "8"]),
        ({"atom": WATER, "spin": 2}, ["--atom", WATER, "--spin", "2"]),
        ({"atom": WATER, "frozen_core": True, "active_orbitals": 7, "active_electrons": 8},
         ["--atom", WATER, "--frozen-core", "--active-orbitals", "7", "--active-electrons", "8"]),
    ]  # fmt: skip
    for parameters, argv in cases:
        with pytest.raises(ValidationError) as refused:
            active_space_sqd.fn(**parameters)  # the flow's first statement validates, before any work
        (problem,) = refused.value.errors()
        message = problem["msg"].removeprefix("Value error, ")
        args = parser.parse_args(["sqd", *argv])
        assert args.handler(args) == 2
        assert capsys.readouterr().err == f"qcflow sqd: invalid input\n  {as_flags(message, flags)}\n", argv


def test_qcflow_sqd_flags_are_built_from_the_flow_signature() -> None:
    from prefect.utilities.callables import parameter_schema

    from workflows.flow_parameters import flow_signature, given_parameters
    from workflows.sqd.flow import active_space_sqd

    parser = _sqd_parser()
    sqd = parser._subparsers._group_actions[0].choices["sqd"]  # type: ignore[union-attr]
    actions = {a.dest: a for a in sqd._actions}
    schema = parameter_schema(active_space_sqd).properties
    for parameter in flow_signature(active_space_sqd):
        action = actions[parameter.name]
        assert action.option_strings == ["--" + parameter.name.replace("_", "-")]
        assert " ".join(schema[parameter.name]["description"].split()[:3]) in action.help, parameter.name
        if parameter.default not in (None, False):
            assert f"(default {parameter.default})" in action.help, parameter.name
    assert {"out", "plan", "json"} <= set(actions)
    assert actions["sampler"].choices == ("auto", "ffsim", "aer_statevector", "aer_mps")
    assert (actions["fcidump"].metavar, actions["active_orbitals"].metavar) == ("FILE", "K")
    assert "--active-electrons" in actions["active_orbitals"].help  # parameters named as their flags

    args = parser.parse_args(["sqd", "--atom", WATER])
    assert SQDParameters(**given_parameters(args, active_space_sqd)) == SQDParameters(atom=WATER)
    args = parser.parse_args(["sqd", "--fcidump", "F", "--max-dim", "0", "--seed", "7", "--sampler", "ffsim"])
    defaults = {p.name: p.default for p in flow_signature(active_space_sqd) if p.default is not None}
    assert given_parameters(args, active_space_sqd) == {
        **defaults,
        "fcidump": "F",
        "max_dim": 0,
        "seed": 7,
        "sampler": "ffsim",
    }


def test_max_dim_zero_means_no_cap() -> None:
    assert SQDParameters(atom=WATER, max_dim=0).max_dim is None
    assert SQDParameters(atom=WATER, max_dim=None).settings().max_dim is None
    assert SQDParameters(atom=WATER).max_dim == 300
    with pytest.raises(ValidationError, match="max_dim"):
        SQDParameters(atom=WATER, max_dim=-1)


def test_cli_refuses_bad_input_before_any_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = _sqd_parser()
    cases = {
        (): "--atom/--fcidump: neither given; give exactly one",
        ("--atom", WATER, "--active-orbitals", "9", "--active-electrons", "8"): "--active-orbitals: 9 active",
        ("--atom", WATER, "--shots", "5"): "--shots: Input should be greater than or equal to 100 .got 5.",
        ("--atom", WATER, "--basis", "sto-99"): "--basis: 'sto-99' is not a basis pyscf knows",
        ("--fcidump", str(tmp_path / "missing")): "--fcidump: .* is not a file",
    }
    broken = tmp_path / "broken.fcidump"
    broken.write_text("not an FCIDUMP\n")
    cases[("--fcidump", str(broken))] = "--fcidump: .*does not parse as FCIDUMP"
    for argv, message in cases.items():
        args = parser.parse_args(["sqd", *argv])
        assert args.handler(args) == 2
        error = capsys.readouterr().err
        assert re.search(message, error) and "Traceback" not in error, argv


def test_cli_refuses_an_unknown_choice_as_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _sqd_parser().parse_args(["sqd", "--atom", WATER, "--sampler", "qpu"])
    assert exited.value.code == 2
    assert "--sampler: invalid choice: 'qpu'" in capsys.readouterr().err


async def _artifact_keys() -> set[str]:
    from prefect import get_client

    async with get_client() as client:
        return {a.key for a in await client.read_artifacts() if a.key}


@pytest.mark.slow
def test_flow_and_cli_through_a_real_prefect_api(prefect_api: None, tmp_path: Path) -> None:
    from workflows.sqd.flow import active_space_sqd

    result = active_space_sqd(atom=WATER, basis="sto-3g", frozen_core=True, shots=2000, seed=3)
    assert result.qubits == 12 and result.reference_energy is not None
    assert abs(result.error_mha) < 1.6  # 225 determinants: SQD spans the whole space
    assert set(result.seconds) == {"reference", "sampling", "diagonalization"}
    assert {"sqd-energy-per-iteration", "sqd-summary"} <= asyncio.run(_artifact_keys())

    # The CLI on an FCIDUMP written by pyscf: its CASCI equals pyscf's FCI on the same molecule.
    mean_field = scf.RHF(gto.M(atom=WATER, basis="sto-3g", verbose=0)).run()
    path = tmp_path / "water.fcidump"
    fcidump.from_scf(mean_field, str(path))
    exact = fci.FCI(mean_field).kernel()[0]
    out = tmp_path / "sqd.json"
    args = _sqd_parser().parse_args(["sqd", "--fcidump", str(path), "--shots", "1000", "--out", str(out)])
    assert args.handler(args) == 0
    written = json.loads(out.read_text())
    assert {"energy", "reference_energy", "error_mha", "subspace_dimension", "iterations", "qubits"} <= set(
        written
    )
    assert written["reference_energy"] == pytest.approx(exact, abs=1e-7)
    assert written["qubits"] == 14


def test_the_deployment_sets_only_what_differs_from_the_flow_defaults() -> None:
    import yaml

    from workflows.flow_parameters import flow_signature
    from workflows.sqd.flow import active_space_sqd

    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "prefect.yaml").read_text())
    (deployment,) = [d for d in config["deployments"] if d["entrypoint"].endswith(":active_space_sqd")]
    defaults = {p.name: p.default for p in flow_signature(active_space_sqd)}
    assert all(value != defaults[name] for name, value in deployment["parameters"].items())
    assert SQDParameters(**deployment["parameters"]).molecule().basis == "6-31g"  # passes the checks too
