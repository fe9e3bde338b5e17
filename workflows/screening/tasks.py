"""Prefect tasks of the materials-screening flow: thin wrappers around materials/ and quantum/."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from prefect import task
from pydantic import BaseModel
from pymatgen.core import Structure
from qiskit.quantum_info import SparsePauliOp

from materials.fragment import active_space_problem, cut_fragment
from materials.screening import ScreenedInput, screening_candidates, stability_rows, validated_candidates

# Surrogate results persisted before the records moved to materials.screening name the class by this path.
from materials.screening import SurrogateEnergy as SurrogateEnergy
from materials.surrogate import load_surrogate
from quantum.chemistry.ansatz import excitation_ansatz
from quantum.chemistry.hamiltonian import ElectronicIntegrals, qubit_hamiltonian
from quantum.chemistry.vqe import VQEResult, run_vqe
from workflows.execution.caching import RESUMABLE
from workflows.execution.placed_runs import estimator_on, run_placed
from workflows.schemas import QuantumRefinement

log = logging.getLogger(__name__)


class ActiveSpacePayload(BaseModel):
    """JSON-able active-space problem: integrals in Ha plus pyscf's reference energies."""

    fragment: str
    basis: str
    one_body: list[list[float]]
    two_body: list[list[list[list[float]]]]
    constant: float
    n_alpha: int
    n_beta: int
    casci_energy: float
    hf_energy: float

    def integrals(self) -> ElectronicIntegrals:
        return ElectronicIntegrals(
            one_body=np.asarray(self.one_body),
            two_body=np.asarray(self.two_body),
            constant=self.constant,
            n_alpha=self.n_alpha,
            n_beta=self.n_beta,
        )

    def hamiltonian(self) -> SparsePauliOp:
        return qubit_hamiltonian(self.integrals())


@task(name="load-and-validate-candidates")
def load_and_validate(
    candidate_paths: list[str], surrogate_name: str, generate: int = 0, seed: int = 0
) -> list[ScreenedInput]:
    """Read every candidate (bundled set when no path is given and none is generated), add `generate` candidates
    by substitution, and validate each before any surrogate call (materials.screening)."""
    supported = load_surrogate(surrogate_name).supported_elements
    return validated_candidates(screening_candidates(candidate_paths, generate, seed, supported), supported)


@task(name="stability")
def stability(
    formulas: list[str], energies: list[float], references: dict[str, float]
) -> list[dict[str, float | str | None]]:
    """materials.screening.stability_rows as a task: formation energy, energy above hull and why implausible."""
    return stability_rows(formulas, energies, references)


@task(name="active-space", cache_policy=RESUMABLE, persist_result=True)
def build_active_space(
    structure: dict[str, Any], active_orbitals: int, active_electrons: int, basis: str = "sto-3g"
) -> ActiveSpacePayload:
    """Cut a fragment around the candidate's chosen site and build its active-space problem with pyscf in `basis`
    (an input, so a refinement in one basis is never reused for another)."""
    problem = active_space_problem(
        cut_fragment(Structure.from_dict(structure)),
        n_orbitals=active_orbitals,
        n_electrons=active_electrons,
        basis=basis,
    )
    integrals = problem.integrals
    return ActiveSpacePayload(
        fragment=problem.formula,
        basis=problem.basis,
        one_body=integrals.one_body.tolist(),
        two_body=integrals.two_body.tolist(),
        constant=float(integrals.constant),
        n_alpha=integrals.n_alpha,
        n_beta=integrals.n_beta,
        casci_energy=float(problem.casci_energy),
        hf_energy=float(problem.hf_energy),
    )


@task(name="vqe", cache_policy=RESUMABLE - "placement", persist_result=True)
def solve_with_vqe(payload: ActiveSpacePayload, placement: dict[str, Any]) -> QuantumRefinement:
    """VQE of the fragment's qubit Hamiltonian on the broker's placement, falling back to the runners-up.

    A QPU placement holds a slot of the global `qpu` concurrency limit while it runs; the execution record holds
    the time per estimator call (what the placement estimated) and the call count.
    """
    integrals = payload.integrals()
    ansatz = excitation_ansatz(integrals.n_orbitals, integrals.n_alpha, integrals.n_beta)
    hamiltonian = payload.hamiltonian()

    def run(estimator: Any) -> VQEResult:
        return run_vqe(hamiltonian, ansatz, estimator)

    result, record, ran_on = run_placed(
        placement, run, prepare=estimator_on, calls_of=lambda vqe: vqe.estimator_calls
    )
    return QuantumRefinement(
        method="vqe",
        fragment=payload.fragment,
        basis=payload.basis,
        active_orbitals=integrals.n_orbitals,
        active_electrons=integrals.n_alpha + integrals.n_beta,
        qubits=ansatz.num_qubits,
        energy=result.energy,
        exact_energy=payload.casci_energy,
        hartree_fock_energy=payload.hf_energy,
        error_mha=1000 * (result.energy - payload.casci_energy),
        iterations=result.iterations,
        estimator_calls=result.estimator_calls,
        convergence=result.history,
        placement=ran_on.model_dump(mode="json"),
        execution=record.model_dump(mode="json"),
        seconds=record.total_seconds or 0.0,
    )
