"""The screening flow's quantum step: each shortlisted candidate's fragment refined with VQE or SQD, placed by the
broker, as Prefect tasks; which method runs is quantum.chemistry.refinement_method's rule.

SQD's segments are placed as the active-space-sqd flow places them (workflows/sqd/stages.py): the LUCJ sampling,
then the configuration recovery and subspace diagonalization and the CASCI reference, which run where placed (the
flow's threads, local worker processes or a Dask cluster), each with its execution record.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from importlib.metadata import version
from typing import Any

from prefect import get_run_logger, task
from prefect.futures import PrefectFuture
from pydantic import BaseModel, ConfigDict
from pymatgen.core import Structure

from broker.models import Placement, ResourceCatalog
from broker.place import place
from materials.fragment import cut_fragment, fragment_label, fragment_sqd_problem
from quantum.chemistry.active_space import DEFAULT_CASCI_DETERMINANT_LIMIT, ReferenceEnergy
from quantum.chemistry.ansatz import excitation_ansatz
from quantum.chemistry.refinement_method import MethodChoice, refinement_method
from quantum.chemistry.sqd import SQDSettings, lucj_operator, sample_configurations
from quantum.cost.fermionic_cost_model import FermionicSampling
from quantum.cost.profiles import QuantumSegment
from workflows.execution.caching import RESUMABLE, code_and_model_version
from workflows.execution.placed_runs import execution_history, run_placed
from workflows.schemas import CandidateResult, QuantumRefinement, SegmentRun
from workflows.screening.tasks import ActiveSpacePayload, build_active_space, solve_with_vqe
from workflows.sqd.stages import (
    ProblemShape,
    place_stages,
    placed_result,
    run_diagonalization,
    run_reference,
)

# SQD of a fragment runs as the active-space-sqd flow does by default (workflows/sqd/flow.py): 20,000 LUCJ shots,
# 3 batches x 3 iterations of subspaces of at most 300 CI strings per spin sector, seed 0 (the same candidate gives
# the same result), in the basis the screening's quantum_basis names (the VQE path's too).
SQD_SHOTS = 20_000
SQD_MAX_DIM = 300
SQD_SEED = 0

# SQD's results also depend on ffsim (the LUCJ state and its samples) and qiskit-addon-sqd (the recovery loop).
SQD_RESUMABLE = replace(
    RESUMABLE,
    version=f"{code_and_model_version()};ffsim=={version('ffsim')};"
    f"qiskit-addon-sqd=={version('qiskit-addon-sqd')}",
)


def sqd_settings(max_dim: int = SQD_MAX_DIM) -> SQDSettings:
    """The subspace settings of a fragment's SQD: the active-space-sqd flow's defaults."""
    return SQDSettings(max_dim=max_dim)


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


def sqd_sampling_segment(name: str, shape: ProblemShape) -> FermionicSampling:
    """SQD's quantum segment for one fragment: SQD_SHOTS samples of the LUCJ circuit of the active space."""
    return FermionicSampling(
        name=name, orbitals=shape.norb, n_alpha=shape.n_alpha, n_beta=shape.n_beta, shots=SQD_SHOTS
    )


class SQDPlacements(BaseModel):
    """Where one fragment's SQD runs: the LUCJ sampling, the diagonalization, and the CASCI reference or the null
    reference that says why it is not computed."""

    model_config = ConfigDict(frozen=True)

    sampling: Placement
    diagonalization: Placement
    reference: Placement | ReferenceEnergy


def place_sqd(
    formula: str, active_orbitals: int, active_electrons: int, catalog: ResourceCatalog
) -> SQDPlacements:
    """Broker placements of a fragment's SQD segments (raises PlacementRefused when one fits nowhere)."""
    shape = ProblemShape.closed_shell(formula, active_orbitals, active_electrons)
    sampling = place(
        sqd_sampling_segment(f"sqd-sampling-{formula}", shape), catalog, history=execution_history()
    )
    diagonalization, reference = place_stages(
        shape,
        sqd_settings(),
        DEFAULT_CASCI_DETERMINANT_LIMIT,
        catalog,
    )
    return SQDPlacements(sampling=sampling, diagonalization=diagonalization, reference=reference)


@task(name="sqd", cache_policy=SQD_RESUMABLE - "placements", persist_result=True)
def solve_with_sqd(
    structure: dict[str, Any],
    active_orbitals: int,
    active_electrons: int,
    shots: int,
    seed: int,
    max_dim: int,
    placements: SQDPlacements,
    basis: str = "sto-3g",
) -> QuantumRefinement:
    """SQD of the fragment's active space in `basis`, each segment where the broker placed it, falling back to its
    runners-up: the CASCI reference and the diagonalization as stages (workflows.sqd.stages), the LUCJ sampling
    here. The fragment and its active space are those of the VQE path (materials/fragment.py); the reference
    covers every determinant, and is null with its reason beyond the determinant limit. `seconds` and `execution`
    are the sampling's; the classical stages' placements and records are in `sqd`.
    """
    fragment = cut_fragment(Structure.from_dict(structure))
    problem = fragment_sqd_problem(
        fragment,
        n_orbitals=active_orbitals,
        n_electrons=active_electrons,
        basis=basis,
        max_subspace_dimension=max_dim**2,
    )
    settings = sqd_settings(max_dim)
    reference = run_reference(problem, DEFAULT_CASCI_DETERMINANT_LIMIT, placements.reference)
    operator = lucj_operator(problem)
    bitstrings, record, ran_on = run_placed(
        placements.sampling,
        lambda where: sample_configurations(problem, operator, shots, seed, where.options["sampler"]),
    )
    found = run_diagonalization(problem, bitstrings, settings, seed, placements.diagonalization)
    sampling_seconds = record.total_seconds or 0.0
    sampler = ran_on.options["sampler"]
    result = placed_result(problem, bitstrings, settings, sampler, ran_on, sampling_seconds, found, reference)
    return QuantumRefinement(
        method="sqd",
        fragment=fragment_label(fragment),
        basis=basis,
        active_orbitals=problem.norb,
        active_electrons=problem.n_alpha + problem.n_beta,
        qubits=result.qubits,
        energy=result.energy,
        exact_energy=result.reference_energy,
        reference_reason=result.reference_reason,
        hartree_fock_energy=result.hf_energy,
        error_mha=result.error_mha,
        iterations=result.iterations,
        convergence=result.energies,
        placement=ran_on.model_dump(mode="json"),
        execution=record.model_dump(mode="json"),
        seconds=sampling_seconds,
        sqd=result.model_dump(mode="json", exclude={"placement"}),
    )


def _why(placement: Placement) -> str:
    return next((r for r in placement.reasons if r.startswith("chose")), placement.reasons[-1])


def _submit_vqe(
    formula: str,
    structure: dict[str, Any],
    orbitals: int,
    electrons: int,
    catalog: ResourceCatalog,
    basis: str,
) -> PrefectFuture:
    """Build the fragment's active space in `basis`, place its VQE and submit it."""
    payload = build_active_space(structure, orbitals, electrons, basis)
    placement = place_vqe(payload, catalog)
    get_run_logger().info("VQE of %s placed on %s (%s)", payload.fragment, placement.label(), _why(placement))
    vqe = solve_with_vqe.with_options(
        task_run_name=f"vqe-{payload.fragment}-{placement.label()}", tags=["quantum", placement.label()]
    )
    return vqe.submit(payload, placement.model_dump(mode="json"))


def _submit_sqd(
    formula: str,
    structure: dict[str, Any],
    orbitals: int,
    electrons: int,
    catalog: ResourceCatalog,
    basis: str,
) -> PrefectFuture:
    """Place the fragment's SQD segments (their cost depends on the active space, not the basis) and submit it."""
    placements = place_sqd(formula, orbitals, electrons, catalog)
    reference = placements.reference
    get_run_logger().info(
        "SQD of %s: sampling on %s (%s), diagonalization on %s, CASCI %s",
        formula,
        placements.sampling.label(),
        _why(placements.sampling),
        placements.diagonalization.label(),
        f"on {reference.label()}" if isinstance(reference, Placement) else reference.reason,
    )
    label = placements.sampling.label()
    sqd = solve_with_sqd.with_options(task_run_name=f"sqd-{formula}-{label}", tags=["quantum", "sqd", label])
    return sqd.submit(structure, orbitals, electrons, SQD_SHOTS, SQD_SEED, SQD_MAX_DIM, placements, basis)


SUBMITTERS: dict[str, Callable[..., PrefectFuture]] = {"vqe": _submit_vqe, "sqd": _submit_sqd}


def refine(
    shortlist: list[str],
    results: dict[str, CandidateResult],
    structures: dict[str, dict[str, Any]],
    method: MethodChoice,
    active_orbitals: int,
    active_electrons: int,
    catalog: ResourceCatalog,
    basis: str = "sto-3g",
) -> dict[str, PrefectFuture | Exception]:
    """Quantum refinement of each shortlisted candidate's fragment in `basis` with the method the rule picks for
    the active space, each task named and tagged with its placement; a candidate whose fragment pyscf cannot
    build, or whose segments fit nowhere, gets the error instead (reported on it, the run goes on)."""
    if not shortlist:
        return {}
    chosen = refinement_method(method, active_orbitals)
    get_run_logger().info(
        "quantum refinement: %s (quantum_method=%s, CAS(%de,%do), %s)",
        chosen,
        method,
        active_electrons,
        active_orbitals,
        basis,
    )
    submit = SUBMITTERS[chosen]
    refinements: dict[str, PrefectFuture | Exception] = {}
    for source in shortlist:
        formula = results[source].formula or "candidate"
        try:
            refinements[source] = submit(
                formula, structures[source], active_orbitals, active_electrons, catalog, basis
            )
        except Exception as error:  # a fragment pyscf cannot solve, or a refused placement
            refinements[source] = error
    return refinements


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


def refinement_segments(
    candidates: list[CandidateResult], cached: Collection[str] = frozenset()
) -> list[SegmentRun]:
    """The classical stages the refinements ran in this run (SQD's diagonalization and CASCI reference): where
    the broker placed each and what its execution record measured; none for a refinement reused from the cache."""
    runs = []
    for candidate in candidates:
        sqd = candidate.quantum.sqd if candidate.quantum else None
        if not sqd or candidate.source in cached:
            continue
        for name, placement in sqd.get("placements", {}).items():
            runs.append(
                SegmentRun(
                    segment=placement["segment"],
                    kind=placement["kind"],
                    placement=placement,
                    execution=sqd.get("executions", {}).get(name, {}),
                )
            )
    return runs
