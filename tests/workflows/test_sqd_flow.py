"""The active-space-sqd flow and `qcflow sqd`: parameter checks, and end to end through a real Prefect API."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from pathlib import Path

import pytest
from pyscf import fci, gto, scf
from pyscf.tools import fcidump

from workflows.sqd.flow import SQDParameters

WATER = "O 0 0 0; H 0 0.757 0.587; H 0 -0.757 0.587"  # experimental geometry, Å (NIST CCCBDB)


def _sqd_parser() -> argparse.ArgumentParser:
    from workflows.sqd.cli import add_sqd_parser

    parser = argparse.ArgumentParser()
    add_sqd_parser(parser.add_subparsers())
    return parser


def test_parameters_need_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="atom/fcidump: give exactly one"):
        SQDParameters()
    with pytest.raises(ValueError, match="active_electrons: 7 is odd"):
        SQDParameters(atom=WATER, active_orbitals=4, active_electrons=7)
    with pytest.raises(ValueError, match=r"fcidump: .* is not a file"):
        SQDParameters(fcidump="/no/such/FCIDUMP")


def test_cli_refuses_bad_input_before_any_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = _sqd_parser()
    cases = {
        ("--atom", WATER, "--active-orbitals", "9", "--active-electrons", "8"): "--active-orbitals: 9 active",
        ("--atom", WATER, "--shots", "5"): "--shots",
        ("--atom", WATER, "--sampler", "qpu"): "--sampler",
    }
    broken = tmp_path / "broken.fcidump"
    broken.write_text("not an FCIDUMP\n")
    cases[("--fcidump", str(broken))] = "--fcidump: .*does not parse as FCIDUMP"
    for argv, message in cases.items():
        args = parser.parse_args(["sqd", *argv])
        assert args.handler(args) == 2
        assert re.search(message, capsys.readouterr().err), argv


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
