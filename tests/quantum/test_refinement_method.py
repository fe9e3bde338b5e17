"""The rule that picks VQE or SQD for a screening refinement, and what each method refuses up front."""

from __future__ import annotations

import pytest

from quantum.chemistry.refinement_method import (
    AUTO_VQE_MAX_ORBITALS,
    SQD_MAX_ORBITALS,
    VQE_MAX_ORBITALS,
    refinement_method,
    refinement_problem,
)


def test_auto_takes_vqe_while_its_circuit_is_small_and_sqd_beyond() -> None:
    assert (
        AUTO_VQE_MAX_ORBITALS == 4
    )  # 8 qubits: the measured case is in quantum/chemistry/refinement_method.py
    assert [refinement_method("auto", orbitals) for orbitals in (1, 2, 4, 5, 6, 10, 20)] == [
        "vqe",
        "vqe",
        "vqe",
        "sqd",
        "sqd",
        "sqd",
        "sqd",
    ]
    assert refinement_method("auto", 2) == "vqe"  # the screening's default active space keeps its VQE


def test_an_explicit_method_is_kept_whatever_the_size() -> None:
    assert refinement_method("vqe", 6) == "vqe"
    assert refinement_method("sqd", 2) == "sqd"


def test_vqe_beyond_its_limit_is_refused_with_the_field_and_the_fix() -> None:
    problem = refinement_problem("vqe", VQE_MAX_ORBITALS + 2, 8)
    assert problem is not None
    assert problem.startswith(
        f"active_orbitals={VQE_MAX_ORBITALS + 2} is beyond VQE's limit of 6 (12 qubits)"
    )
    assert "use quantum_method=sqd" in problem
    electrons = refinement_problem("vqe", 5, 8)
    assert electrons is not None and "active_electrons=8 is beyond VQE's limit of 6" in electrons
    assert "use quantum_method=sqd" in electrons
    assert refinement_problem("vqe", VQE_MAX_ORBITALS, 6) is None


def test_sqd_takes_large_active_spaces_that_fit_in_memory() -> None:
    assert refinement_problem("sqd", 16, 10, 300**2) is None  # N2/6-31G's (10e,16o): 19 M amplitudes, 1.2 GB
    assert refinement_problem("auto", 12, 12, 300**2) is None


@pytest.mark.parametrize("method", ["sqd", "auto"])
def test_sqd_whose_state_vector_cannot_fit_is_refused_before_any_work(method: str) -> None:
    # (20e,20o): C(20,10)^2 = 3.4e10 fixed-particle amplitudes, about 2 TiB for ffsim's vector.
    problem = refinement_problem(method, SQD_MAX_ORBITALS, 20, 300**2)  # type: ignore[arg-type]
    assert problem is not None
    assert problem.startswith("active_orbitals: CAS(20e,20o) needs")
    assert "choose a smaller active space" in problem
