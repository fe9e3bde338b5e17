"""The materials-screening flow: load -> validate -> surrogate -> stability -> shortlist -> quantum -> report."""

from __future__ import annotations

from typing import Annotated, Literal

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, Field, field_validator, model_validator
from pymatgen.core import Composition

from broker.models import Placement, Policy, ResourceCatalog
from broker.place import place
from config.settings import get_settings
from materials.generation import MAX_GENERATED
from materials.structures import candidate_path_problem
from quantum.ansatz import excitation_ansatz
from quantum.profiles import QuantumSegment
from workflows.artifacts import publish_screening_artifacts
from workflows.costs import quantum_costs, surrogate_cost
from workflows.placed_runs import execution_history
from workflows.qpu_access import flow_catalog
from workflows.schemas import CandidateResult, ScreeningReport, SegmentCost, SegmentRun
from workflows.screening_tasks import (
    ActiveSpacePayload,
    ScreenedInput,
    SurrogateEnergy,
    build_active_space,
    load_and_validate,
    reference_energies,
    solve_with_vqe,
    stability,
)
from workflows.surrogate_stage import allowed_executors, run_surrogate_stage, surrogate_segment


class ScreeningParameters(BaseModel):
    """Validated parameters of a screening run; checked before any expensive work starts."""

    candidate_paths: list[str] = Field(default_factory=list, description="CIF/POSCAR/JSON files or folders.")
    relax: bool = Field(default=False, description="Relax each structure with the surrogate before scoring.")
    hull_threshold: float = Field(default=0.1, ge=0.0, le=2.0, description="Max energy above hull, eV/atom.")
    shortlist_size: int = Field(default=3, ge=0, le=50, description="Candidates refined with VQE.")
    active_orbitals: int = Field(default=2, ge=1, le=6, description="Spatial orbitals in the active space.")
    active_electrons: int = Field(default=2, ge=2, le=6, description="Electrons in the active space.")
    batch_size: int | None = Field(
        default_factory=lambda: get_settings().batch_size,
        ge=1,
        le=1000,
        description="Structures per surrogate task (default: QCFLOW_BATCH_SIZE, else the broker's choice).",
    )
    generate: int = Field(default=0, ge=0, le=MAX_GENERATED, description="Generated candidates (0: none).")
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="Seed of the generated candidates.")
    task_runner: Literal["auto", "threads", "dask"] = Field(
        default="auto", description="Where the surrogate stage runs: the broker's choice, threads, or Dask."
    )
    dask_address: str | None = Field(
        default=None, description="Scheduler of a running Dask cluster (default: QCFLOW_DASK_ADDRESS)."
    )

    @field_validator("candidate_paths")
    @classmethod
    def _paths_exist(cls, paths: list[str]) -> list[str]:
        """Every path exists and, if a folder, holds structure files (an empty folder is refused, not screened)."""
        problems = [problem for p in paths if (problem := candidate_path_problem(p))]
        if problems:
            raise ValueError("candidate_paths: " + "; ".join(problems))
        return paths

    @model_validator(mode="after")
    def _active_space_fits(self) -> ScreeningParameters:
        """What the fragment and VQE code needs (materials/fragment.py, quantum/ansatz.py), checked up front.

        The fragment's reference is closed-shell RHF (equal alpha and beta electrons), so the electron count
        is even; VQE needs at least one empty active orbital to excite into, or its ansatz has no parameters.
        """
        electrons, orbitals = self.active_electrons, self.active_orbitals
        if electrons % 2:
            raise ValueError(
                f"active_electrons={electrons} must be even (closed-shell reference: equal alpha and beta "
                f"electrons); use {electrons - 1} or {electrons + 1}"
            )
        if electrons >= 2 * orbitals:
            fix = f"raise active_orbitals to {electrons // 2 + 1}"
            if orbitals >= 2:
                fix += f" or lower active_electrons to {2 * orbitals - 2}"
            raise ValueError(
                f"active_electrons={electrons} fill all active_orbitals={orbitals} (at most "
                f"{2 * orbitals} fit, and VQE needs an empty orbital to excite into); {fix}"
            )
        return self


def _score(
    screened: list[ScreenedInput], energies: list[SurrogateEnergy], surrogate: str
) -> dict[str, CandidateResult]:
    """Merge surrogate energies and stability into one result per candidate (keyed by source).

    A candidate is rejected, with the reason, when its surrogate call failed, when one of its elements has no
    plausible reference, or when its energies are implausible (`stability`'s problem); the others are scored.
    """
    results = {
        s.source: CandidateResult(formula=s.formula, source=s.source, status="rejected", error=s.error)
        for s in screened
    }
    for failed in (e for e in energies if e.energy_per_atom is None):
        results[failed.source].error = f"surrogate failed: {failed.error}"
    computed = [e for e in energies if e.energy_per_atom is not None]
    if not computed:
        return results
    elements = sorted({el for e in computed for el in _elements(results[e.source].formula)})
    references = reference_energies(elements, surrogate, str(get_settings().reference_cache))
    scored = []
    for energy in computed:
        missing = [
            references.problems[el]
            for el in _elements(results[energy.source].formula)
            if el in references.problems
        ]
        if missing:
            results[energy.source].energy_per_atom = energy.energy_per_atom
            results[energy.source].error = "; ".join(missing)
        else:
            scored.append(energy)
    if not scored:
        return results
    formulas = [results[e.source].formula or "" for e in scored]
    stabilities = stability(formulas, [e.energy_per_atom for e in scored], references.energies)
    for energy, stab in zip(scored, stabilities, strict=True):
        problem = stab.pop("problem")
        results[energy.source] = results[energy.source].model_copy(
            update={
                "status": "rejected" if problem else "ok",
                "error": problem,
                "energy_per_atom": energy.energy_per_atom,
                "relaxed": energy.relaxed,
                "from_cache": energy.from_cache,
                **stab,
            }
        )
    return results


def _elements(formula: str | None) -> list[str]:
    """Element symbols of a formula, sorted."""
    return sorted(el.symbol for el in Composition(formula or "").elements)


def _shortlist(results: dict[str, CandidateResult], params: ScreeningParameters) -> list[str]:
    stable = [
        r for r in results.values() if r.status == "ok" and r.energy_above_hull <= params.hull_threshold
    ]
    stable.sort(key=lambda r: (r.energy_above_hull, r.formation_energy_per_atom))
    return [r.source for r in stable[: params.shortlist_size]]


def _place_vqe(payload: ActiveSpacePayload, catalog: ResourceCatalog) -> Placement:
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


def _refine(
    shortlist: list[str],
    screened: dict[str, ScreenedInput],
    params: ScreeningParameters,
    catalog: ResourceCatalog,
) -> dict[str, PrefectFuture | Exception]:
    """Quantum refinement of each shortlisted candidate, each VQE task named and tagged with its placement."""
    if not shortlist:
        return {}
    logger = get_run_logger()
    payloads = build_active_space.map(
        [screened[s].structure for s in shortlist], params.active_orbitals, params.active_electrons
    )
    refinements: dict[str, PrefectFuture | Exception] = {}
    for source, payload_future in zip(shortlist, payloads, strict=True):
        try:
            payload = payload_future.result()
            placement = _place_vqe(payload, catalog)
        except Exception as error:  # a fragment pyscf cannot solve, or a refused placement
            refinements[source] = error
            continue
        why = next((r for r in placement.reasons if r.startswith("chose")), placement.reasons[-1])
        logger.info("VQE of %s placed on %s (%s)", payload.fragment, placement.label(), why)
        vqe = solve_with_vqe.with_options(
            task_run_name=f"vqe-{payload.fragment}-{placement.label()}", tags=["quantum", placement.label()]
        )
        refinements[source] = vqe.submit(payload, placement.model_dump(mode="json"))
    return refinements


def _attach_refinements(
    results: dict[str, CandidateResult], refinements: dict[str, PrefectFuture | Exception]
) -> set[str]:
    """Attach each finished refinement; a failed one is reported on its candidate, never sinks the run.

    Returns the sources whose VQE result came from the cache (nothing spent on them in this run).
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


def _segment_costs(
    energies: list[SurrogateEnergy],
    report: ScreeningReport,
    surrogate: str,
    cached_vqe: set[str],
    resource: str = "local-threads",
) -> list[SegmentCost]:
    """Surrogate CPU time spent now (a row when any was), reused from cache (a row when any was), then each VQE."""
    rates = get_settings()
    fresh = [e for e in energies if not e.from_cache]
    costs = []
    if fresh or not energies:
        costs.append(surrogate_cost(sum(e.cpu_seconds for e in fresh), False, surrogate, rates, resource))
    if len(fresh) < len(energies):
        costs.append(surrogate_cost(0.0, True, surrogate, rates, resource))
    return costs + quantum_costs(report.candidates, cached_vqe)


@flow(
    name="materials-screening",
    task_runner=ThreadPoolTaskRunner(max_workers=2),
    persist_result=True,
    result_serializer="json",
    result_storage=get_settings().result_storage,
)
def materials_screening(
    candidate_paths: list[str] | None = None,
    relax: bool = False,
    hull_threshold: Annotated[float, Field(ge=0.0, le=2.0)] = 0.1,
    shortlist_size: Annotated[int, Field(ge=0, le=50)] = 3,
    active_orbitals: Annotated[int, Field(ge=1, le=6)] = 2,
    active_electrons: Annotated[int, Field(ge=2, le=6)] = 2,
    batch_size: Annotated[int | None, Field(ge=1, le=1000)] = None,
    generate: Annotated[int, Field(ge=0, le=MAX_GENERATED)] = 0,
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0,
    task_runner: Literal["auto", "threads", "dask"] = "auto",
    dask_address: str | None = None,
) -> ScreeningReport:
    """Screen candidate crystals with an ML surrogate of DFT and refine the most stable ones with VQE on Aer.

    Args:
        candidate_paths: CIF, POSCAR or pymatgen-JSON files or folders; empty uses the bundled candidates.
        relax: relax each structure with the surrogate (FIRE) before scoring; slower, more accurate.
        hull_threshold: largest energy above the convex hull (eV/atom) a shortlisted candidate may have.
        shortlist_size: how many of the most stable candidates get a quantum refinement.
        active_orbitals: spatial orbitals in each fragment's active space (qubits = 2 x this).
        active_electrons: electrons in each fragment's active space.
        batch_size: structures per surrogate task (10,000 candidates must not become 10,000 tasks);
            empty: QCFLOW_BATCH_SIZE if set, else the broker's choice (a few tasks per worker, at most 300).
        generate: screen this many candidates generated by element substitution over the bundled prototypes
            (charge-balanced, radius-scaled), besides any candidate_paths; 0 generates none.
        seed: seed of the generated candidates (the same seed gives the same candidates).
        task_runner: where the surrogate stage runs: "auto" (the broker's choice), "threads" (the flow's thread
            pool) or "dask" (a Dask cluster: dask_address, else QCFLOW_DASK_ADDRESS, else a LocalCluster of
            processes on this machine).
        dask_address: scheduler address of a running Dask cluster, e.g. tcp://10.0.0.5:8786.
    """
    params = ScreeningParameters(
        candidate_paths=candidate_paths or [],
        relax=relax,
        hull_threshold=hull_threshold,
        shortlist_size=shortlist_size,
        active_orbitals=active_orbitals,
        active_electrons=active_electrons,
        batch_size=batch_size if batch_size is not None else get_settings().batch_size,
        generate=generate,
        seed=seed,
        task_runner=task_runner,
        dask_address=dask_address,
    )
    logger = get_run_logger()
    surrogate = get_settings().surrogate
    screened = load_and_validate(params.candidate_paths, surrogate, params.generate, params.seed)
    valid = [s for s in screened if s.structure is not None]
    logger.info(
        "%d candidates read, %d valid, %d rejected", len(screened), len(valid), len(screened) - len(valid)
    )
    address = params.dask_address or get_settings().dask_address
    catalog = flow_catalog(dask_address=address)
    placement = place(
        surrogate_segment(valid, params.relax, surrogate),
        catalog,
        Policy(allowed_resources=allowed_executors(params.task_runner, address)),
        history=execution_history(),
    )
    logger.info("surrogate stage placed on %s: %s", placement.label(), placement.reasons[1])
    energies, stage_record = run_surrogate_stage(valid, placement, params.relax, surrogate, params.batch_size)
    results = _score(screened, energies, surrogate)
    shortlist = _shortlist(results, params)
    logger.info("shortlist: %s", ", ".join(results[s].formula or s for s in shortlist) or "empty")
    refinements = _refine(shortlist, {s.source: s for s in screened}, params, catalog)
    cached_vqe = _attach_refinements(results, refinements)
    report = ScreeningReport(
        surrogate=surrogate,
        parameters=params.model_dump(),
        candidates=[results[s.source] for s in screened],
        shortlist=shortlist,
        segments=[
            SegmentRun(
                segment=placement.segment,
                kind=placement.kind,
                placement=placement.model_dump(mode="json"),
                execution=stage_record.model_dump(mode="json"),
            )
        ],
    )
    report.costs = _segment_costs(energies, report, surrogate, cached_vqe, stage_record.label())
    publish_screening_artifacts(report, params.hull_threshold)
    return report
