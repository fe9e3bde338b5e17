"""The screening flow's quantum step: each shortlisted candidate's fragment refined with VQE or SQD, placed by the
broker, as Prefect tasks; which method runs is quantum.chemistry.refinement_method's rule."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger
from prefect.futures import PrefectFuture

from broker.models import Placement, ResourceCatalog
from broker.place import place
from quantum.chemistry.ansatz import excitation_ansatz
from quantum.chemistry.refinement_method import MethodChoice, refinement_method
from quantum.cost.fermionic_cost_model import FermionicSampling
from quantum.cost.profiles import QuantumSegment
from workflows.execution.placed_runs import execution_history
from workflows.schemas import CandidateResult
from workflows.screening.tasks import ActiveSpacePayload, build_active_space, solve_with_sqd, solve_with_vqe

# SQD of a fragment runs as the active-space-sqd flow does by default (workflows/sqd/flow.py): 20,000 LUCJ shots,
# subspaces of at most 300 CI strings per spin sector, seed 0 (the same candidate gives the same result).
SQD_SHOTS = 20_000
SQD_MAX_DIM = 300
SQD_SEED = 0


def place_vqe(payload: ActiveSpacePayload, catalog: ResourceCatalog) -> Placement:
    """Broker placement of one VQE: every optimiser step is one estimator call with 2P+1 parameter sets."""
    integrals = payload.integrals()
    ansatz = excitation_ansatz(integrals.n_orbitals, integrals.n_alpha, integrals.n_beta)
    segment = QuantumSegment(
        name=f"vqe-{payload.fragment}",
        circuits=[ansatz],
        primitive="estimator",
        parameter_sets=2 * ansatz.num_parameters + 1,
        pauli_terms=len(payload.hamiltonian()),
    )
    placement = place(segment, catalog, history=execution_history())
    placement.reasons.append(
        f"estimates are per optimiser step (one estimator call with {segment.parameter_sets} parameter sets); "
        "the VQE makes as many steps as its optimiser needs"
    )
    return placement


def sqd_sampling_segment(name: str, active_orbitals: int, active_electrons: int) -> FermionicSampling:
    """SQD's quantum segment for one fragment: SQD_SHOTS samples of the LUCJ circuit of the active space."""
    half = active_electrons // 2
    return FermionicSampling(name=name, orbitals=active_orbitals, n_alpha=half, n_beta=half, shots=SQD_SHOTS)


def place_sqd(
    formula: str, active_orbitals: int, active_electrons: int, catalog: ResourceCatalog
) -> Placement:
    """Broker placement of SQD's LUCJ sampling (ffsim, Aer statevector or MPS); the diagonalization stays local."""
    segment = sqd_sampling_segment(f"sqd-sampling-{formula}", active_orbitals, active_electrons)
    return place(segment, catalog, history=execution_history())


def _why(placement: Placement) -> str:
    return next((r for r in placement.reasons if r.startswith("chose")), placement.reasons[-1])


def _refine_with_vqe(
    sources: list[str],
    structures: list[dict[str, Any]],
    orbitals: int,
    electrons: int,
    catalog: ResourceCatalog,
) -> dict[str, PrefectFuture | Exception]:
    logger = get_run_logger()
    payloads = build_active_space.map(structures, orbitals, electrons)
    refinements: dict[str, PrefectFuture | Exception] = {}
    for source, payload_future in zip(sources, payloads, strict=True):
        try:
            payload = payload_future.result()
            placement = place_vqe(payload, catalog)
        except Exception as error:  # a fragment pyscf cannot solve, or a refused placement
            refinements[source] = error
            continue
        logger.info("VQE of %s placed on %s (%s)", payload.fragment, placement.label(), _why(placement))
        vqe = solve_with_vqe.with_options(
            task_run_name=f"vqe-{payload.fragment}-{placement.label()}", tags=["quantum", placement.label()]
        )
        refinements[source] = vqe.submit(payload, placement.model_dump(mode="json"))
    return refinements


def _refine_with_sqd(
    candidates: list[CandidateResult],
    structures: list[dict[str, Any]],
    orbitals: int,
    electrons: int,
    catalog: ResourceCatalog,
) -> dict[str, PrefectFuture | Exception]:
    logger = get_run_logger()
    refinements: dict[str, PrefectFuture | Exception] = {}
    for candidate, structure in zip(candidates, structures, strict=True):
        formula = candidate.formula or "candidate"
        try:
            placement = place_sqd(formula, orbitals, electrons, catalog)
        except Exception as error:  # a refused placement: nothing fits
            refinements[candidate.source] = error
            continue
        logger.info("SQD sampling of %s placed on %s (%s)", formula, placement.label(), _why(placement))
        sqd = solve_with_sqd.with_options(
            task_run_name=f"sqd-{formula}-{placement.label()}", tags=["quantum", "sqd", placement.label()]
        )
        refinements[candidate.source] = sqd.submit(
            structure,
            orbitals,
            electrons,
            SQD_SHOTS,
            SQD_SEED,
            SQD_MAX_DIM,
            placement.model_dump(mode="json"),
        )
    return refinements


def refine(
    shortlist: list[str],
    results: dict[str, CandidateResult],
    structures: dict[str, dict[str, Any]],
    method: MethodChoice,
    active_orbitals: int,
    active_electrons: int,
    catalog: ResourceCatalog,
) -> dict[str, PrefectFuture | Exception]:
    """Quantum refinement of each shortlisted candidate with the method the rule picks for the active space, each
    task named and tagged with its placement."""
    if not shortlist:
        return {}
    chosen = refinement_method(method, active_orbitals)
    get_run_logger().info(
        "quantum refinement: %s (quantum_method=%s, CAS(%de,%do))",
        chosen,
        method,
        active_electrons,
        active_orbitals,
    )
    chosen_structures = [structures[s] for s in shortlist]
    if chosen == "vqe":
        return _refine_with_vqe(shortlist, chosen_structures, active_orbitals, active_electrons, catalog)
    candidates = [results[s] for s in shortlist]
    return _refine_with_sqd(candidates, chosen_structures, active_orbitals, active_electrons, catalog)


def attach_refinements(
    results: dict[str, CandidateResult], refinements: dict[str, PrefectFuture | Exception]
) -> set[str]:
    """Attach each finished refinement; a failed one is reported on its candidate, never sinks the run.

    Returns the sources whose refinement came from the cache (nothing spent on them in this run).
    """
    logger = get_run_logger()
    cached: set[str] = set()
    for source, outcome in refinements.items():
        try:
            if isinstance(outcome, Exception):
                raise outcome
            results[source] = results[source].model_copy(update={"quantum": outcome.result()})
            if outcome.state.name == "Cached":
                cached.add(source)
        except Exception as error:
            logger.warning("quantum refinement of %s failed: %s", source, error)
            results[source] = results[source].model_copy(
                update={"error": f"quantum refinement failed: {error}"}
            )
    return cached
