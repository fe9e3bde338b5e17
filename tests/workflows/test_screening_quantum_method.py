"""The screening flow's quantum_method: VQE or SQD refines a shortlisted candidate, and bad choices are refused
before any work.

The reference is pyscf's own CASCI (mcscf.CASCI on the RHF orbitals; Sun et al., J. Chem. Phys. 153, 024109
(2020)) of the fragment built here from the crystal's nearest-neighbour pair, independently of qcflow's code.
Chemical accuracy: 1 kcal/mol = 1.594 mHa (docs/architecture.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pymatgen.core import Structure
from pyscf import gto, mcscf, scf

from workflows.screening.flow import ScreeningParameters

CHEMICAL_ACCURACY_HA = 1.594e-3


def bundled(formula: str) -> Structure:
    """A bundled candidate (materials.candidates: AFLOW prototypes shipped with pymatgen) by its formula."""
    from materials.candidates import bundled_candidates

    return next(
        c.structure
        for c in bundled_candidates()
        if c.structure is not None and c.structure.composition.reduced_formula == formula
    )


def independent_casci(
    structure: Structure, n_orbitals: int, n_electrons: int, basis: str = "sto-3g"
) -> float:
    """CASCI(n_electrons, n_orbitals) energy (Ha) in `basis` of site 0 and its nearest neighbour at the crystal's
    distance, neutral, straight from pyscf: the pair materials.fragment cuts from an ionic binary."""
    nearest = min(structure.get_neighbors(structure[0], 4.0), key=lambda n: n.nn_distance)
    atoms = [
        (structure[0].specie.symbol, (0.0, 0.0, 0.0)),
        (nearest.specie.symbol, (0.0, 0.0, nearest.nn_distance)),
    ]
    mean_field = scf.RHF(gto.M(atom=atoms, basis=basis, unit="Angstrom", verbose=0))
    mean_field.conv_tol = 1e-11
    mean_field.kernel()
    casci = mcscf.CASCI(mean_field, n_orbitals, n_electrons)
    casci.fcisolver.conv_tol = 1e-12
    return float(casci.kernel()[0])


def test_default_keeps_the_vqe_of_the_small_active_space() -> None:
    params = ScreeningParameters()
    assert (params.quantum_method, params.active_orbitals, params.active_electrons) == ("auto", 2, 2)
    from quantum.chemistry.refinement_method import refinement_method

    assert refinement_method(params.quantum_method, params.active_orbitals) == "vqe"


def test_vqe_on_a_large_active_space_is_refused_naming_the_field_and_the_fix() -> None:
    with pytest.raises(
        ValueError, match=r"active_orbitals=10 is beyond VQE's limit of 6 .*use quantum_method=sqd"
    ):
        ScreeningParameters(active_orbitals=10, active_electrons=6, quantum_method="vqe")
    with pytest.raises(
        ValueError, match=r"active_electrons=8 is beyond VQE's limit of 6; use quantum_method=sqd"
    ):
        ScreeningParameters(active_orbitals=6, active_electrons=8, quantum_method="vqe")
    assert (
        ScreeningParameters(active_orbitals=10, active_electrons=6, quantum_method="sqd").active_orbitals
        == 10
    )
    assert ScreeningParameters(active_orbitals=10, active_electrons=6).quantum_method == "auto"


def test_out_of_range_and_unaffordable_active_spaces_are_refused() -> None:
    with pytest.raises(ValueError, match="active_orbitals"):
        ScreeningParameters(active_orbitals=21, active_electrons=6, quantum_method="sqd")
    with pytest.raises(ValueError, match="quantum_method"):
        ScreeningParameters(quantum_method="dmrg")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"active_orbitals: CAS\(20e,20o\) needs .* GiB"):
        ScreeningParameters(active_orbitals=20, active_electrons=20, quantum_method="sqd")
    with pytest.raises(
        ValueError, match=r"active_electrons=16 fill all active_orbitals=8 .*SQD needs an empty"
    ):
        ScreeningParameters(active_orbitals=8, active_electrons=16, quantum_method="sqd")


def test_cli_names_the_quantum_method_flag_and_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    from workflows.cli import main

    assert (
        main(["screen", "--active-orbitals", "8", "--active-electrons", "6", "--quantum-method", "vqe"]) == 2
    )
    error = capsys.readouterr().err
    assert "--active-orbitals=8 is beyond VQE's limit of 6 (12 qubits); use --quantum-method=sqd" in error
    assert "Traceback" not in error


def refine_lif(tmp_path: Path, **parameters: Any) -> tuple[Any, Any, Any]:
    """Screen the bundled rocksalt LiF alone and refine it (shortlist 1): the structure, report and refinement."""
    from workflows.execution.caching import with_result_storage
    from workflows.screening.flow import materials_screening

    lif = bundled("LiF")
    lif.to(filename=str(tmp_path / "LiF.json"))
    report = with_result_storage(materials_screening)(
        candidate_paths=[str(tmp_path / "LiF.json")], shortlist_size=1, **parameters
    )
    (refined,) = [c for c in report.candidates if c.source in report.shortlist]
    assert refined.quantum is not None, refined.error
    return lif, report, refined.quantum


@pytest.mark.slow
def test_sqd_refines_a_shortlisted_candidate_within_chemical_accuracy_of_casci(
    prefect_api: None, tmp_path: Path
) -> None:
    from workflows.screening.reports import placement_markdown

    # Rocksalt LiF, 12 electrons; sto-3g gives the pair 10 orbitals. (6e,7o) is 14 qubits, beyond VQE's 12.
    lif, report, quantum = refine_lif(tmp_path, active_orbitals=7, active_electrons=6, quantum_method="sqd")
    assert quantum.method == "sqd"
    assert (quantum.qubits, quantum.active_orbitals, quantum.active_electrons) == (14, 7, 6)
    reference = independent_casci(lif, 7, 6)
    assert quantum.exact_energy == pytest.approx(reference, abs=1e-6)
    assert quantum.energy >= reference - 1e-6  # variational: a subspace energy never goes below CASCI
    assert quantum.energy - reference < CHEMICAL_ACCURACY_HA
    assert quantum.error_mha == pytest.approx(1000 * (quantum.energy - quantum.exact_energy))
    assert quantum.vqe_energy is None and quantum.estimator_calls == 0
    assert quantum.placement["kind"] == "fermionic_sampling" and quantum.placement["reasons"]
    assert quantum.execution["resource"] == quantum.placement["resource"]
    sqd = quantum.sqd
    assert sqd is not None and sqd["subspace_dimension"] > 0
    assert sqd["shots"] == 20_000 and sqd["sampler"] == quantum.placement["options"]["sampler"]

    # the diagonalization and the CASCI reference were placed by the broker and ran where placed, each timed
    assert set(sqd["placements"]) == set(sqd["executions"]) == {"diagonalization", "reference"}
    placed = {run.kind + "/" + run.placement["method"]: run for run in report.segments}
    diagonalization = placed["subspace_diagonalization/sci"]
    reference_run = placed["subspace_diagonalization/casci"]
    for run in (diagonalization, reference_run):
        assert (
            run.segment.endswith("LiF")
            and run.placement["reasons"]
            and run.placement["estimate"]["seconds"] > 0
        )
        assert run.execution["succeeded"] and run.execution["total_seconds"] > 0
        assert run.execution["resource"] == run.placement["resource"]
        assert run.placement["resource"] in ("local-threads", "local-processes", "dask")
    assert diagonalization.execution["total_seconds"] >= sqd["seconds"]["diagonalization"] > 0
    assert "sqd-diagonalization-LiF (subspace_diagonalization)" in placement_markdown(report)

    costs = {cost.segment: cost for cost in report.costs}
    assert any(s.startswith("sqd ") and "(LiF)" in s for s in costs)
    (diagonalization_cost,) = [c for s, c in costs.items() if s.startswith("sqd diagonalization ")]
    (reference_cost,) = [c for s, c in costs.items() if s.startswith("casci reference ")]
    assert diagonalization_cost.kind == reference_cost.kind == "classical"
    assert diagonalization_cost.seconds == diagonalization.execution["total_seconds"]
    assert diagonalization_cost.resource == f"{diagonalization.execution['resource']}/sci"


@pytest.mark.slow
def test_sqd_refines_a_6_31g_fragment_at_12_orbitals_within_chemical_accuracy_of_casci(
    prefect_api: None, tmp_path: Path
) -> None:
    # LiF/6-31g: 18 orbitals, 12 electrons; (6e,12o) is 24 qubits, 220 strings per spin (48,400 determinants),
    # beyond sto-3g's 10 orbitals. Subspaces of up to 300 strings per spin can reach the whole CI space.
    lif, report, quantum = refine_lif(
        tmp_path, active_orbitals=12, active_electrons=6, quantum_method="auto", quantum_basis="6-31g"
    )
    assert (quantum.method, quantum.basis, quantum.fragment) == ("sqd", "6-31g", "LiF")
    assert (quantum.qubits, quantum.active_orbitals, quantum.active_electrons) == (24, 12, 6)
    assert report.parameters["quantum_basis"] == "6-31g"
    reference = independent_casci(lif, 12, 6, "6-31g")
    assert reference < independent_casci(lif, 7, 6) - 0.5  # a different basis, not sto-3g's numbers reused
    assert quantum.exact_energy == pytest.approx(reference, abs=1e-5)
    assert quantum.energy >= reference - 1e-5  # variational, up to the reference's solver tolerance
    assert quantum.energy - reference < CHEMICAL_ACCURACY_HA


def test_plan_places_the_sqd_sampling_that_auto_picks_for_a_large_active_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from config.settings import settings_override
    from workflows.cli import main

    bundled("LiF").to(filename=str(tmp_path / "LiF.json"))
    with settings_override(home=tmp_path / "home"):
        # LiF/sto-3g has 10 orbitals, 8 of them left for 8 active electrons; 6-31g has 18, 16 of them
        flags = ["--active-orbitals", "10", "--active-electrons", "8", "--quantum-basis", "6-31g"]
        assert main(["screen", str(tmp_path / "LiF.json"), "--plan", "--json", *flags]) == 0
        plan = json.loads(capsys.readouterr().out)
    kinds = [s["kind"] for s in plan["segments"]]
    # energies, references, then SQD's sampling, diagonalization and CASCI reference (C(10,4)^2 = 44,100 dets)
    assert kinds == [
        "ml_potential",
        "ml_potential",
        "fermionic_sampling",
        "subspace_diagonalization",
        "subspace_diagonalization",
    ]
    sampling, diagonalization, reference = plan["segments"][2:]
    assert sampling["segment"].startswith("sqd sampling") and "CAS(8e,10o), 6-31g" in sampling["segment"]
    assert sampling["resource"] and sampling["options"]["sampler"] in ("ffsim", "aer_statevector", "aer_mps")
    assert (
        diagonalization["segment"].startswith("sqd diagonalization")
        and "CAS(8e,10o)" in diagonalization["segment"]
    )
    assert (diagonalization["method"], reference["method"]) == ("sci", "casci")
    for classical in (diagonalization, reference):
        assert classical["resource"] and classical["reasons"] and classical["estimate"]["seconds"] > 0
        assert classical["options"]["executor"]


def test_plan_of_a_chosen_sqd_lists_its_diagonalization_and_the_vqe_plan_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from config.settings import settings_override
    from workflows.cli import main

    bundled("LiF").to(filename=str(tmp_path / "LiF.json"))
    plans = {}
    with settings_override(home=tmp_path / "home"):
        for method in ("sqd", "vqe"):
            flags = ["--active-orbitals", "4", "--active-electrons", "4", "--quantum-method", method]
            assert main(["screen", str(tmp_path / "LiF.json"), "--plan", *flags]) == 0
            plans[method] = capsys.readouterr().out
    # quantum_method=sqd on an active space auto gives VQE: SQD's three segments in the text plan, each placed
    each = "(each shortlisted candidate, CAS(4e,4o), sto-3g)"
    for line in (
        f"sqd sampling {each} (fermionic_sampling) -> ",
        f"sqd diagonalization {each} (subspace_diagonalization) -> local-",
        f"casci reference {each} (subspace_diagonalization) -> local-",
    ):
        assert line in plans["sqd"]
    assert "subspace_diagonalization" not in plans["vqe"] and f"vqe {each}" in plans["vqe"]


def test_a_6_31g_oxide_fragment_offers_20_orbitals_and_the_plan_places_its_sqd(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from config.settings import settings_override
    from materials.fragment import cut_fragment, fragment_size
    from workflows.cli import main

    rutile = bundled("TiO2")
    fragment = cut_fragment(rutile)
    atoms = [(site.specie.symbol, tuple(float(x) for x in site.coords)) for site in fragment]
    independent = gto.M(atom=atoms, basis="6-31g", unit="Angstrom", verbose=0)  # Ti-O: 30 electrons
    size = fragment_size(fragment, "6-31g")
    assert (size.formula, size.orbitals, size.electrons) == ("TiO", independent.nao_nr(), 30)
    assert size.orbitals >= 20 > fragment_size(fragment, "sto-3g").max_active_orbitals(8)
    assert size.max_active_orbitals(8) >= 20  # 11 doubly occupied orbitals below CAS(8e,20o)

    rutile.to(filename=str(tmp_path / "TiO2.json"))
    flags = ["--quantum-method", "auto", "--quantum-basis", "6-31g"]
    flags += ["--active-orbitals", "20", "--active-electrons", "8"]
    with settings_override(home=tmp_path / "home"):
        assert main(["screen", str(tmp_path / "TiO2.json"), "--plan", "--json", *flags]) == 0
        plan = json.loads(capsys.readouterr().out)
        assert not list((tmp_path / "home").rglob("*.json"))  # planned: nothing ran or was persisted
    refinement = [s for s in plan["segments"] if s["kind"] != "ml_potential"]
    # C(20,4)^2 = 23.5 million determinants: beyond the CASCI limit, so no reference segment
    assert [s["kind"] for s in refinement] == ["fermionic_sampling", "subspace_diagonalization"]
    for segment in refinement:
        assert "CAS(8e,20o), 6-31g" in segment["segment"]
        assert not segment["refused"] and segment["resource"] and segment["reasons"]
        assert segment["estimate"]["seconds"] > 0 and segment["estimate"]["memory_bytes"] > 0


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--quantum-basis", "6-31q"],
            "--quantum-basis='6-31q' is not a basis pyscf knows; use e.g. 'sto-3g', '6-31g'",
        ),
        (
            ["--quantum-basis", "6-31g", "--active-orbitals", "20", "--active-electrons", "8"],
            "--active-orbitals=20 with --active-electrons=8 fits no candidate's fragment in --quantum-basis='6-31g' "
            "(LiF/6-31g: 18 orbitals, 12 electrons, so at most 16 active orbitals hold 8 active electrons); use "
            "at most 16 --active-orbitals or a larger --quantum-basis",
        ),
        (
            ["--active-orbitals", "10", "--active-electrons", "8"],
            "(LiF/sto-3g: 10 orbitals, 12 electrons, so at most 8 active orbitals hold 8 active electrons)",
        ),
    ],
)
def test_an_unknown_basis_or_an_active_space_the_fragment_lacks_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    from config.settings import settings_override
    from workflows.cli import main

    bundled("LiF").to(filename=str(tmp_path / "LiF.json"))
    with settings_override(home=tmp_path / "home"):
        assert main(["screen", str(tmp_path / "LiF.json"), *flags]) == 2
        assert not list((tmp_path / "home").rglob("*.json"))  # nothing ran or was persisted
    error = capsys.readouterr().err
    assert "invalid input" in error and message in error and "Traceback" not in error
    with pytest.raises(ValueError, match="quantum_basis"):
        ScreeningParameters(candidate_paths=[str(tmp_path / "LiF.json")], **_as_parameters(flags))


def _as_parameters(flags: list[str]) -> dict[str, str]:
    """--quantum-basis 6-31g ... as the flow's keyword arguments."""
    return {
        flag.removeprefix("--").replace("-", "_"): value
        for flag, value in zip(flags[::2], flags[1::2], strict=True)
    }


def test_the_basis_is_an_input_of_both_refinements_cache_keys() -> None:
    """Cache keys hash a task's inputs less those its policy leaves out: the basis must be an input, never left out,
    so a refinement in one basis is never reused for another."""
    import inspect

    from workflows.screening.quantum_refinement import solve_with_sqd
    from workflows.screening.tasks import build_active_space

    for task, left_out in ((build_active_space, ()), (solve_with_sqd, ("placements",))):
        assert "basis" in inspect.signature(task.fn).parameters
        assert task.cache_policy.exclude == left_out
