"""End to end: the materials-screening flow on a handful of real structures through a real Prefect API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from workflows.screening.flow import ScreeningParameters

# Chemical accuracy, 1 kcal/mol = 1.594 mHa (docs/architecture.md).
CHEMICAL_ACCURACY_HA = 1.594e-3


def rocksalt(cation: str, anion: str, a: float) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]])


@pytest.fixture(scope="module")
def candidate_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three good rocksalt crystals (lattice constants from experiment, rounded) and one broken file."""
    folder = tmp_path_factory.mktemp("candidates")
    rocksalt("Mg", "O", 4.21).to(filename=str(folder / "MgO.cif"))
    rocksalt("Li", "F", 4.03).to(filename=str(folder / "LiF.cif"))
    rocksalt("Na", "Cl", 5.64).to(filename=str(folder / "POSCAR"), fmt="poscar")
    (folder / "broken.cif").write_text("data_broken\n_cell_length_a oops\n")
    return folder


def test_parameters_refuse_bad_input_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="candidate_paths"):
        ScreeningParameters(candidate_paths=[str(tmp_path / "missing.cif")])
    with pytest.raises(ValueError, match="active_electrons"):
        ScreeningParameters(active_orbitals=1, active_electrons=4)
    with pytest.raises(ValueError, match="shortlist_size"):
        ScreeningParameters(shortlist_size=-1)


def test_an_active_space_the_vqe_cannot_use_is_refused_before_any_work() -> None:
    with pytest.raises(ValueError, match=r"active_electrons=3 must be even .*; use 2 or 4"):
        ScreeningParameters(active_orbitals=3, active_electrons=3)
    with pytest.raises(ValueError, match=r"active_electrons=4 fill all active_orbitals=2 .*raise active_orbitals "
                       r"to 3 or lower active_electrons to 2"):  # fmt: skip
        ScreeningParameters(active_orbitals=2, active_electrons=4)
    with pytest.raises(ValueError, match=r"active_orbitals=1 .*; raise active_orbitals to 2 \[type"):
        ScreeningParameters(active_orbitals=1, active_electrons=2)
    assert ScreeningParameters(active_orbitals=3, active_electrons=4).active_electrons == 4


def test_qcflow_screen_flags_are_built_from_the_flow_signature(capsys: pytest.CaptureFixture[str]) -> None:
    from workflows.cli import build_parser
    from workflows.flow_parameters import flow_signature
    from workflows.screening.flow import materials_screening

    parser = build_parser()
    args = parser.parse_args(["screen"])
    given = {p.name: getattr(args, p.name) for p in flow_signature(materials_screening)}
    assert ScreeningParameters(**given) == ScreeningParameters()  # no flag: every default of the flow
    args = parser.parse_args(["screen", "a.cif", "--shortlist", "1", "--quantum-method", "sqd", "--relax"])
    assert (args.candidate_paths, args.shortlist_size, args.quantum_method, args.relax) == (
        ["a.cif"],
        1,
        "sqd",
        True,
    )
    with pytest.raises(SystemExit):  # the Literal's values are the only choices
        parser.parse_args(["screen", "--task-runner", "slurm"])
    assert "invalid choice: 'slurm' (choose from" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["screen", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert (
        "largest energy above the convex hull (eV/atom) a shortlisted candidate may have (default 0.1)"
        in help_text
    )
    assert "besides any paths; 0 generates none" in help_text  # parameters named as their flags


def test_the_flow_reads_its_result_storage_when_called(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from config.settings import settings_override
    from workflows.execution.caching import with_result_storage
    from workflows.screening.flow import materials_screening  # imported before the variable is set

    monkeypatch.setenv("QCFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QCFLOW_RESULTS_DIR", raising=False)
    with settings_override():  # the settings re-read after the flow's module was imported
        assert materials_screening.result_storage is None  # the decorator reads no settings at import
        assert with_result_storage(materials_screening).result_storage == tmp_path / "home" / "results"


@pytest.mark.slow
def test_flow_screens_refines_and_publishes_artifacts(prefect_api: None, candidate_folder: Path) -> None:
    from prefect import get_client

    from workflows.execution.caching import with_result_storage
    from workflows.screening.flow import materials_screening

    report = with_result_storage(materials_screening)(
        candidate_paths=[str(candidate_folder)], shortlist_size=1
    )

    by_formula = {c.formula: c for c in report.candidates if c.formula}
    assert {"MgO", "LiF", "NaCl"} <= set(by_formula)
    broken = [c for c in report.candidates if c.source.endswith("broken.cif")]
    assert len(broken) == 1 and broken[0].status == "rejected" and broken[0].error
    for formula in ("MgO", "LiF", "NaCl"):
        candidate = by_formula[formula]
        assert candidate.status == "ok"
        assert candidate.formation_energy_per_atom < -1.5  # all three are strongly bound ionic solids
        assert candidate.energy_above_hull == pytest.approx(0.0, abs=1e-6)  # each is alone on its own hull
    assert len(report.shortlist) == 1
    refined = next(c for c in report.candidates if c.source == report.shortlist[0])
    assert refined.quantum is not None
    assert abs(refined.quantum.vqe_energy - refined.quantum.exact_energy) < CHEMICAL_ACCURACY_HA
    assert refined.quantum.placement["method"]
    assert any("per optimiser step" in r for r in refined.quantum.placement["reasons"])

    async def artifact_keys() -> set[str]:
        async with get_client() as client:
            return {a.key for a in await client.read_artifacts() if a.key}

    import asyncio

    keys = asyncio.run(artifact_keys())
    assert {
        "screening-candidates",
        "screening-shortlist",
        "placement-report",
        "surrogate-progress",
        "cost-energy-report",
        "energy-above-hull-plot",
        "vqe-convergence-plot",
    } <= keys


@pytest.mark.slow
def test_cli_writes_the_documented_json(candidate_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {**os.environ, "QCFLOW_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect")}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "workflows.cli",
            "screen",
            str(candidate_folder),
            "--shortlist",
            "1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Traceback" not in completed.stdout + completed.stderr
    assert "Screened 4 candidates" in completed.stdout
    records = json.loads(out.read_text())["candidates"]
    assert len(records) == 4
    for record in records:
        assert {
            "formula",
            "source",
            "formation_energy_per_atom",
            "energy_above_hull",
            "status",
            "error",
        } <= set(record)
        assert record["status"] in {"ok", "rejected"}
    quantum = [r["quantum"] for r in records if r.get("quantum")]
    assert len(quantum) == 1
    assert {"vqe_energy", "exact_energy", "qubits", "placement"} <= set(quantum[0])


def test_cli_names_each_bad_field_without_a_traceback(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "workflows.cli", "screen", str(tmp_path / "missing.cif"), "--shortlist", "-1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "paths: " in completed.stderr and "missing.cif does not exist" in completed.stderr
    assert "--shortlist: Input should be greater than or equal to 0 (got -1)" in completed.stderr
    assert "candidate_paths" not in completed.stderr and "shortlist_size" not in completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr


def test_cli_names_the_active_space_flags_and_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    from workflows.cli import main

    assert main(["screen", "--active-orbitals", "3", "--active-electrons", "3"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "qcflow screen: invalid input",
        "  --active-electrons=3 must be even (closed-shell reference: equal alpha and beta electrons); "
        "use 2 or 4",
    ]
    assert main(["screen", "--active-electrons", "4"]) == 2
    assert (
        "  --active-electrons=4 fill all --active-orbitals=2 (at most 4 fit, and VQE needs an empty orbital "
        "to excite into); raise --active-orbitals to 3 or lower --active-electrons to 2"
    ) in capsys.readouterr().err


@pytest.mark.slow
def test_cli_refuses_an_unknown_surrogate_before_any_work(candidate_folder: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QCFLOW_HOME": str(tmp_path / "home"),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "QCFLOW_SURROGATE": "no-such-potential",
    }
    completed = subprocess.run(
        [sys.executable, "-m", "workflows.cli", "screen", str(candidate_folder), "--shortlist", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert completed.returncode == 2
    assert "QCFLOW_SURROGATE='no-such-potential' is unknown; set it to one of chgnet" in completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr
    assert not (tmp_path / "prefect").exists()  # refused before the Prefect API started


def test_a_failed_run_is_reported_in_one_line(prefect_api: None, capsys: pytest.CaptureFixture[str]) -> None:
    from prefect import flow

    from workflows.terminal import run_flow

    @flow(name="fails-on-purpose")
    def fails_on_purpose(reason: str) -> None:
        raise ValueError(reason)

    assert run_flow("screen", fails_on_purpose, {"reason": "no reference energy for Xx"}) is None
    error = capsys.readouterr().err
    assert (
        "qcflow screen: the run failed: no reference energy for Xx (full details in the Prefect logs)"
        in error
    )
    assert "Traceback" not in error


@pytest.mark.slow
def test_a_rerun_reuses_every_result_and_reports_nothing_spent(
    prefect_api: None, candidate_folder: Path
) -> None:
    from workflows.execution.caching import with_result_storage
    from workflows.screening.flow import materials_screening

    with_result_storage(materials_screening)(candidate_paths=[str(candidate_folder)], shortlist_size=1)
    rerun = with_result_storage(materials_screening)(
        candidate_paths=[str(candidate_folder)], shortlist_size=1
    )

    assert rerun.costs[0].segment == "surrogate (chgnet)"
    assert [c.segment for c in rerun.costs].count("surrogate (chgnet)") == 1
    assert any(c.segment.startswith("vqe ") for c in rerun.costs)
    assert all(c.from_cache for c in rerun.costs)
    assert sum(c.seconds for c in rerun.costs) == sum(c.energy_joules for c in rerun.costs) == 0.0


def test_a_structure_given_twice_is_screened_once(tmp_path: Path) -> None:
    from workflows.screening.tasks import load_and_validate

    rocksalt("Mg", "O", 4.21).to(filename=str(tmp_path / "MgO.cif"))
    rocksalt("Mg", "O", 4.21).to(filename=str(tmp_path / "MgO.json"))  # the same crystal, another format
    rocksalt("Mg", "O", 4.25).to(filename=str(tmp_path / "MgO_strained.cif"))  # a different input: kept
    screened = load_and_validate.fn([str(tmp_path)], "chgnet")
    kept = sorted(Path(s.source).name for s in screened if s.error is None)
    repeats = [s for s in screened if s.error]
    assert len(kept) == 2 and "MgO_strained.cif" in kept
    assert (
        len(repeats) == 1
        and repeats[0].structure is None
        and "the same structure as" in (repeats[0].error or "")
    )
