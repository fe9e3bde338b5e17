"""The materials-screening flow: load -> validate -> surrogate -> stability -> shortlist -> quantum (VQE or SQD)
-> report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pymatgen.core import Structure

from broker.models import Policy, resource_label
from broker.place import place
from config.settings import get_settings
from materials.candidates import bundled_candidates
from materials.fragment import basis_name_problem, fragments_active_space_problem
from materials.generation import MAX_GENERATED
from materials.screening import SurrogateEnergy, elements_to_reference, score_candidates, shortlisted
from materials.structures import candidate_path_problem, read_structure_file, structure_files_in
from quantum.chemistry.refinement_method import (
    SQD_MAX_ELECTRONS,
    SQD_MAX_ORBITALS,
    MethodChoice,
    refinement_method,
    refinement_problem,
)
from workflows.execution.placed_runs import execution_history
from workflows.execution.qpu_access import flow_catalog
from workflows.flow_parameters import parameters_model
from workflows.schemas import CandidateResult, ScreeningReport, SegmentCost, SegmentRun
from workflows.screening.artifacts import publish_screening_artifacts
from workflows.screening.costs import quantum_costs, surrogate_cost
from workflows.screening.quantum_refinement import (
    SQD_MAX_DIM,
    attach_refinements,
    refine,
    refinement_segments,
)
from workflows.screening.references_stage import elemental_references_placed
from workflows.screening.surrogate_stage import allowed_executors, run_surrogate_stage, surrogate_segment
from workflows.screening.tasks import load_and_validate, stability


class ScreeningChecks(BaseModel):
    """What the flow signature cannot say about a screening's parameters: the candidate paths exist, the active
    space fits the refinement method, and an empty batch size means QCFLOW_BATCH_SIZE. ScreeningParameters (built
    from the signature, at the end of this module) adds the fields."""

    model_config = ConfigDict(validate_default=True)

    @field_validator("candidate_paths", check_fields=False)
    @classmethod
    def _paths_exist(cls, paths: list[str] | None) -> list[str]:
        """Every path exists and, if a folder, holds structure files (an empty folder is refused, not screened)."""
        problems = [problem for p in paths or [] if (problem := candidate_path_problem(p))]
        if problems:
            raise ValueError("candidate_paths: " + "; ".join(problems))
        return list(paths or [])

    @model_validator(mode="after")
    def _active_space_fits(self) -> ScreeningChecks:
        if problem := active_space_problem(self.quantum_method, self.active_orbitals, self.active_electrons):
            raise ValueError(problem)
        if self.shortlist_size and (  # nothing is refined from a shortlist of 0: no fragments to read
            problem := quantum_basis_problem(
                self.quantum_basis,
                self.candidate_paths,
                self.generate,
                self.active_orbitals,
                self.active_electrons,
            )
        ):
            raise ValueError(problem)
        if self.batch_size is None:
            self.batch_size = get_settings().screening.batch_size
        return self


def active_space_problem(quantum_method: MethodChoice, orbitals: int, electrons: int) -> str | None:
    """Why the fragment, VQE or SQD code (materials/fragment.py, quantum/) cannot use this active space, or None.

    The fragment's reference is closed-shell RHF (equal alpha and beta electrons), so the electron count is even;
    both methods need an empty active orbital to excite into (VQE's ansatz has no parameters otherwise). VQE keeps
    to small active spaces, and SQD's vectors must fit in memory (quantum.chemistry.refinement_method).
    """
    method = refinement_method(quantum_method, orbitals).upper()
    if electrons % 2:
        return (
            f"active_electrons={electrons} must be even (closed-shell reference: equal alpha and beta "
            f"electrons); use {electrons - 1} or {electrons + 1}"
        )
    if electrons >= 2 * orbitals:
        fix = f"raise active_orbitals to {electrons // 2 + 1}"
        if orbitals >= 2:
            fix += f" or lower active_electrons to {2 * orbitals - 2}"
        return (
            f"active_electrons={electrons} fill all active_orbitals={orbitals} (at most "
            f"{2 * orbitals} fit, and {method} needs an empty orbital to excite into); {fix}"
        )
    return refinement_problem(quantum_method, orbitals, electrons, SQD_MAX_DIM**2)


def quantum_basis_problem(
    basis: str, candidate_paths: list[str], generate: int, orbitals: int, electrons: int
) -> str | None:
    """Why the fragments cannot be built in `basis` with this active space, or None; no SCF, milliseconds.

    A basis name pyscf does not know is refused outright. The active space is refused when no candidate's
    fragment can hold it in that basis (too few orbitals, or elements the basis lacks): nothing could be refined.
    The candidates are read as the flow reads them, stopping at the first fragment that fits; generated candidates
    (up to 100,000, about 2 ms each to make and cut) are not, and each is checked before its own RHF instead.
    A fragment that does not fit while others do gets its reason on its candidate if it is shortlisted.
    """
    if problem := basis_name_problem(basis):
        return problem.replace("basis=", "quantum_basis=", 1)
    if generate:
        return None
    return fragments_active_space_problem(
        _candidate_structures(candidate_paths), n_orbitals=orbitals, n_electrons=electrons, basis=basis
    )


def _candidate_structures(candidate_paths: list[str]) -> Iterator[Structure]:
    """The structures of the candidates the flow reads (the bundled set when no path is given), file by file."""
    if not candidate_paths:
        yield from (c.structure for c in bundled_candidates() if c.structure is not None)
        return
    for path in map(Path, candidate_paths):
        for file in structure_files_in(path) if path.is_dir() else [path]:
            yield from (c.structure for c in read_structure_file(file) if c.structure is not None)


def _segment_costs(
    energies: list[SurrogateEnergy],
    report: ScreeningReport,
    surrogate: str,
    cached_quantum: set[str],
    resource: str = "local-threads",
) -> list[SegmentCost]:
    """Surrogate CPU time spent now (a row when any was), reused from cache (a row when any was), then each quantum refinement."""
    rates = get_settings()
    fresh = [e for e in energies if not e.from_cache]
    costs = []
    if fresh or not energies:
        costs.append(surrogate_cost(sum(e.cpu_seconds for e in fresh), False, surrogate, rates, resource))
    if len(fresh) < len(energies):
        costs.append(surrogate_cost(0.0, True, surrogate, rates, resource))
    return costs + quantum_costs(report.candidates, cached_quantum, rates)


@flow(
    name="materials-screening",
    task_runner=ThreadPoolTaskRunner(max_workers=2),
    persist_result=True,
    result_serializer="json",
)
def materials_screening(
    candidate_paths: list[str] | None = None,
    relax: bool = False,
    hull_threshold: Annotated[float, Field(ge=0.0, le=2.0)] = 0.1,
    shortlist_size: Annotated[int, Field(ge=0, le=50)] = 3,
    active_orbitals: Annotated[int, Field(ge=1, le=SQD_MAX_ORBITALS)] = 2,
    active_electrons: Annotated[int, Field(ge=2, le=SQD_MAX_ELECTRONS)] = 2,
    quantum_method: Literal["vqe", "sqd", "auto"] = "auto",
    quantum_basis: Annotated[str, Field(min_length=1, max_length=100)] = "sto-3g",
    batch_size: Annotated[int | None, Field(ge=1, le=1000)] = None,
    generate: Annotated[int, Field(ge=0, le=MAX_GENERATED)] = 0,
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0,
    task_runner: Literal["auto", "threads", "dask"] = "auto",
    dask_address: str | None = None,
) -> ScreeningReport:
    """Screen candidate crystals with an ML surrogate of DFT and refine the most stable ones with VQE or SQD.

    Call it as `workflows.execution.caching.with_result_storage(materials_screening)(...)` to persist the report and its
    tasks' results in the settings' results folder (the command line does).

    Args:
        candidate_paths: CIF, POSCAR or pymatgen-JSON files or folders; empty uses the bundled candidates.
        relax: relax each structure with the surrogate (FIRE) before scoring; slower, more accurate.
        hull_threshold: largest energy above the convex hull (eV/atom) a shortlisted candidate may have.
        shortlist_size: how many of the most stable candidates get a quantum refinement.
        active_orbitals: spatial orbitals in each fragment's active space (qubits = 2 x this); VQE takes at
            most 6, SQD up to 20.
        active_electrons: electrons in each fragment's active space (even; VQE takes at most 6).
        quantum_method: how shortlisted candidates are refined: "vqe", "sqd" (sample-based quantum
            diagonalization, for 10-20 orbitals), or "auto" (VQE up to 4 active orbitals, SQD beyond).
        quantum_basis: Gaussian basis (pyscf's name) of each fragment's orbitals: "sto-3g" gives a two-atom
            fragment 10-18 orbitals; a larger one such as "6-31g" or "cc-pvdz" offers more, so SQD can take
            10-20 active orbitals.
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
    params = ScreeningParameters(**locals())  # first statement: locals() holds exactly the arguments
    logger = get_run_logger()
    surrogate = get_settings().screening.surrogate
    screened = load_and_validate(params.candidate_paths, surrogate, params.generate, params.seed)
    valid = [s for s in screened if s.structure is not None]
    logger.info(
        "%d candidates read, %d valid, %d rejected", len(screened), len(valid), len(screened) - len(valid)
    )
    address = params.dask_address or get_settings().cluster.dask_address
    catalog = flow_catalog(dask_address=address)
    policy = Policy(allowed_resources=allowed_executors(params.task_runner, address))
    placement = place(
        surrogate_segment(valid, params.relax, surrogate), catalog, policy, history=execution_history()
    )
    logger.info("surrogate stage placed on %s: %s", placement.label(), placement.reasons[1])
    energies, stage_record = run_surrogate_stage(valid, placement, params.relax, surrogate, params.batch_size)
    references, references_run, references_cpu = elemental_references_placed(
        elements_to_reference(screened, energies), surrogate, catalog, policy
    )
    scores = score_candidates(screened, energies, references, stability)
    shortlist = shortlisted(scores.values(), params.hull_threshold, params.shortlist_size)
    results = {source: CandidateResult(**score.model_dump()) for source, score in scores.items()}
    logger.info("shortlist: %s", ", ".join(results[s].formula or s for s in shortlist) or "empty")
    structures = {s.source: s.structure for s in screened if s.structure is not None}
    refinements = refine(
        shortlist,
        results,
        structures,
        params.quantum_method,
        params.active_orbitals,
        params.active_electrons,
        catalog,
        params.quantum_basis,
    )
    cached_quantum = attach_refinements(results, refinements)
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
            ),
            *([references_run] if references_run else []),
            *refinement_segments([results[s] for s in shortlist], cached_quantum),
        ],
    )
    report.costs = _segment_costs(energies, report, surrogate, cached_quantum, stage_record.label())
    if references_run:
        ran_on = references_run.execution
        resource = resource_label(ran_on["resource"], ran_on["method"])
        references_cost = surrogate_cost(
            references_cpu, False, surrogate, get_settings(), resource, "elemental references"
        )
        report.costs.insert(1, references_cost)
    publish_screening_artifacts(report, params.hull_threshold)
    return report


ScreeningParameters = parameters_model(materials_screening, "ScreeningParameters", ScreeningChecks)
