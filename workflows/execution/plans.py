"""`--plan`: where every segment of a run would go, with its estimates and reasons, before anything runs.

A plan reads and validates the inputs (cheap), builds each expensive segment and asks the broker to place it;
it computes nothing else, runs no flow and persists nothing. Segments whose size is only known mid-run (a VQE,
or SQD's LUCJ sampling, per shortlisted candidate) are planned for the active space the parameters ask for.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from pymatgen.core import Composition

from broker.models import Placement, PlacementRefused, Policy, ResourceCatalog
from broker.place import place
from broker.records import ExecutionHistory
from config.settings import get_settings
from quantum.chemistry.ansatz import excitation_ansatz
from quantum.chemistry.hamiltonian import ElectronicIntegrals, qubit_hamiltonian
from quantum.chemistry.refinement_method import refinement_method
from quantum.cost.profiles import QuantumSegment


def _placed(
    segment: Any, catalog: ResourceCatalog, history: ExecutionHistory, policy: Policy | None = None
) -> Placement:
    try:
        return place(segment, catalog, policy, history=history)
    except PlacementRefused as refusal:
        return refusal.placement


def vqe_plan_segment(active_orbitals: int, active_electrons: int, basis: str = "sto-3g") -> QuantumSegment:
    """The VQE segment of one shortlisted candidate: the ansatz of the active space and, for its Hamiltonian, the
    Pauli terms of dense integrals of that size (a real fragment has as many or fewer). The fragment's basis
    changes the integrals, not the circuit or the term count: it is named, not costed."""
    rng = np.random.default_rng(0)
    n = active_orbitals
    one = rng.normal(size=(n, n))
    two = rng.normal(size=(n, n, n, n))
    for axes in ((1, 0, 2, 3), (0, 1, 3, 2), (2, 3, 0, 1)):  # the 8-fold symmetry of real (pq|rs)
        two = two + two.transpose(axes)
    half = active_electrons // 2
    integrals = ElectronicIntegrals(
        one_body=one + one.T, two_body=two, constant=0.0, n_alpha=half, n_beta=half
    )
    ansatz = excitation_ansatz(n, half, half)
    return QuantumSegment(
        name=f"vqe {_each(active_orbitals, active_electrons, basis)}",
        circuits=[ansatz],
        primitive="estimator",
        parameter_sets=2 * ansatz.num_parameters + 1,
        pauli_terms=len(qubit_hamiltonian(integrals)),
    )


def screening_plan(params: Any, catalog: ResourceCatalog) -> list[Placement]:
    """Placements of a screening run's segments: the surrogate stage, the elemental references the cache lacks,
    then the refinement of a shortlisted candidate with the method quantum_method picks for the active space (in
    quantum_basis): its VQE, or SQD's LUCJ sampling, diagonalization and (within the determinant limit) CASCI
    reference."""
    from workflows.screening.references_stage import missing_references, reference_segment
    from workflows.screening.surrogate_stage import allowed_executors, surrogate_segment
    from workflows.screening.tasks import load_and_validate

    history = ExecutionHistory(get_settings().paths.execution_records)
    surrogate = get_settings().screening.surrogate
    screened = load_and_validate.fn(params.candidate_paths, surrogate, params.generate, params.seed)
    valid = [s for s in screened if s.structure is not None]
    address = params.dask_address or get_settings().cluster.dask_address
    policy = Policy(allowed_resources=allowed_executors(params.task_runner, address))
    plan = [_placed(surrogate_segment(valid, params.relax, surrogate), catalog, history, policy)]
    elements = sorted({el.symbol for s in valid for el in Composition(s.formula or "").elements})
    if missing := missing_references(elements, surrogate):
        plan.append(_placed(reference_segment(missing, surrogate), catalog, history, policy))
    if not params.shortlist_size:
        return plan
    orbitals, electrons, basis = params.active_orbitals, params.active_electrons, params.quantum_basis
    if refinement_method(params.quantum_method, orbitals) == "vqe":
        return [*plan, _placed(vqe_plan_segment(orbitals, electrons, basis), catalog, history)]
    segments = sqd_plan_segments(orbitals, electrons, basis)
    return plan + [_placed(segment, catalog, history) for segment in segments]


def _each(active_orbitals: int, active_electrons: int, basis: str) -> str:
    """How a plan names a refinement segment: once per shortlisted candidate, its active space and basis."""
    return f"(each shortlisted candidate, CAS({active_electrons}e,{active_orbitals}o), {basis})"


def sqd_plan_segments(active_orbitals: int, active_electrons: int, basis: str = "sto-3g") -> list[Any]:
    """The SQD segments of one shortlisted candidate, as the screening places them
    (workflows.screening.quantum_refinement): the LUCJ sampling, the diagonalization and, within the determinant
    limit, the CASCI reference. Their cost depends on the active space, not on the fragment's basis."""
    from quantum.chemistry.active_space import DEFAULT_CASCI_DETERMINANT_LIMIT
    from workflows.screening.quantum_refinement import sqd_sampling_segment, sqd_settings
    from workflows.sqd.stages import ProblemShape, diagonalization_segment, reference_segment

    each = _each(active_orbitals, active_electrons, basis)
    shape = ProblemShape.closed_shell(each, active_orbitals, active_electrons)
    segments = [
        sqd_sampling_segment(f"sqd sampling {each}", shape),
        diagonalization_segment(shape, sqd_settings()).model_copy(
            update={"name": f"sqd diagonalization {each}"}
        ),
    ]
    if shape.determinants <= DEFAULT_CASCI_DETERMINANT_LIMIT:
        segments.append(reference_segment(shape).model_copy(update={"name": f"casci reference {each}"}))
    return segments


def climate_plan(params: Any, catalog: ResourceCatalog) -> list[Placement]:
    """Placements of a climate run's segments: the ensemble stage, then each scenario's QAOA (planned on a dense
    QUBO of the run's width: the budget penalty couples every pair of qubits)."""
    from quantum.optimization.qaoa import qaoa_segment
    from workflows.climate_pathways.flow import ensemble_segment

    history = ExecutionHistory(get_settings().paths.execution_records)
    width = params.qubits
    qaoa = qaoa_segment(
        f"qaoa-portfolio (each of {len(params.scenarios)} scenarios)",
        np.ones((width, width)),
        0.0,
        params.qaoa_layers,
        params.shots,
    )
    return [_placed(ensemble_segment(params), catalog, history), _placed(qaoa, catalog, history)]


def plan_json(plan: list[Placement]) -> str:
    """One JSON object: each segment with its placement, estimates and reasons (or why it was refused)."""
    segments = [
        {
            "segment": p.segment,
            "kind": p.kind,
            "refused": p.refused,
            "resource": None if p.refused else p.resource,
            "method": None if p.refused else p.method,
            "options": p.options if not p.refused else {},
            "estimate": {
                k: getattr(p.estimate, k)
                for k in ("seconds", "memory_bytes", "cost_usd", "energy_joules", "fidelity")
            },
            "reasons": p.reasons,
            "runners_up": [e.model_dump(mode="json") for e in p.runners_up],
        }
        for p in plan
    ]
    return json.dumps({"segments": segments}, indent=2)


def plan_text(plan: list[Placement]) -> str:
    """The plan for a terminal: per segment, the choice and its estimates, then the reasons."""
    lines = []
    for p in plan:
        e = p.estimate
        if p.refused:
            lines.append(f"{p.segment} ({p.kind}): REFUSED: {p.refused}")
        else:
            lines.append(
                f"{p.segment} ({p.kind}) -> {p.label()}: about {e.seconds:.3g} s, {e.memory_bytes / 2**20:.0f} MiB, "
                f"${e.cost_usd:.3g}, {e.energy_joules:.3g} J"
            )
        lines += [f"  - {reason}" for reason in p.reasons]
        lines.append("")
    return "\n".join(lines).rstrip()
