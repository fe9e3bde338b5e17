"""The active-space-sqd flow: a molecule or FCIDUMP -> RHF, CCSD (LUCJ parameters) and CASCI reference ->
LUCJ sampling -> configuration recovery and subspace diagonalization (qiskit-addon-sqd) -> energy vs reference.

The broker places the sampling, the diagonalization and the CASCI reference; the classical two run where placed
(`workflows.sqd.stages`): the flow's threads, local worker processes or a Dask cluster."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Annotated, Any, Literal

import numpy as np
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from broker.models import Placement, PlacementRefused, Policy, ResourceCatalog
from broker.place import place
from quantum.chemistry.active_space import (
    DEFAULT_CASCI_DETERMINANT_LIMIT,
    ActiveSpaceProblem,
    MoleculeSpec,
    ProblemError,
    ReferenceEnergy,
    check_fits,
    molecule_problem,
    read_fcidump,
)
from quantum.chemistry.sqd import (
    SamplerName,
    SQDResult,
    SQDSettings,
    lucj_operator,
    sample_configurations,
)
from quantum.cost.fermionic_cost_model import FermionicSampling
from workflows.execution.qpu_access import flow_catalog
from workflows.flow_parameters import parameters_model
from workflows.sqd.stages import (
    ProblemShape,
    StageRun,
    diagonalization_segment,
    place_classical,
    place_stages,
    placed_result,
    planned_shape,
    reference_segment,
    run_diagonalization,
    run_reference,
    shape_of,
)
from workflows.terminal import MAX_SEED

# Cap on CI strings per spin sector: 90,000-determinant subspaces (~20 s per diagonalization on 2 loaded cores
# here). Uncapped, the singles of each iteration's carryover grow the subspace toward the full CI space.
DEFAULT_MAX_DIM = 300


class SQDChecks(BaseModel):
    """What the flow signature cannot say about an active-space-sqd run's parameters: one problem (a molecule or
    an FCIDUMP file), a closed-shell active space that the basis holds, and memory for it; max_dim 0 means no cap.
    SQDParameters (built from the signature, at the end of this module) adds the fields."""

    @field_validator("max_dim", check_fields=False)
    @classmethod
    def _zero_is_no_cap(cls, max_dim: int | None) -> int | None:
        return max_dim or None

    @model_validator(mode="after")
    def _one_problem_that_fits(self) -> SQDChecks:
        problem = source_problem(self.atom, self.fcidump)
        if problem is None and self.atom is not None:
            problem = molecule_spec_problem(self.molecule_fields())
        if problem is None:
            problem = fit_problem(
                self.atom, self.molecule() if self.atom else None, self.fcidump, self.max_dim
            )
        if problem:
            raise ValueError(problem)
        return self

    def molecule_fields(self) -> dict[str, Any]:
        """The fields that describe the molecule (those of MoleculeSpec)."""
        return {name: getattr(self, name) for name in MoleculeSpec.model_fields}

    def molecule(self) -> MoleculeSpec:
        """The molecule part as a MoleculeSpec (only when `atom` is given)."""
        return MoleculeSpec(**self.molecule_fields())

    def settings(self) -> SQDSettings:
        """The subspace settings of the diagonalization segment."""
        return SQDSettings(
            samples_per_batch=self.samples_per_batch,
            batches=self.batches,
            iterations=self.iterations,
            enlargement=self.enlargement,
            max_dim=self.max_dim,
        )


def source_problem(atom: str | None, fcidump: str | None) -> str | None:
    """Why the run has no single problem to solve (neither or both of a molecule and an FCIDUMP file), or None."""
    if (atom is None) == (fcidump is None):
        given = "both" if atom is not None else "neither"
        return (
            f"atom/fcidump: {given} given; give exactly one: a molecule's geometry (with its basis, charge, ...) "
            "or the path of an FCIDUMP file"
        )
    return None


def molecule_spec_problem(fields: dict[str, Any]) -> str | None:
    """Why these fields are not a molecule SQD can start from (MoleculeSpec's checks: both or neither of
    active_orbitals and active_electrons, closed shell, even active electrons), or None."""
    try:
        MoleculeSpec(**fields)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            message = item["msg"].removeprefix("Value error, ")
            field = ".".join(str(part) for part in item["loc"])
            problems.append(message if not field or message.startswith(field) else f"{field}: {message}")
        return "; ".join(problems)
    return None


def fit_problem(
    atom: str | None, spec: MoleculeSpec | None, fcidump: str | None, max_dim: int | None
) -> str | None:
    """Why the problem cannot be built or does not fit in memory, found without any SCF (pyscf builds the
    molecule or reads the FCIDUMP header): the basis, the active space against its orbitals, the memory of the
    sampling vector and of a subspace; or None."""
    try:
        with warnings.catch_warnings(action="ignore", category=UserWarning):  # pyscf's hint on a bad basis
            shape = planned_shape(atom, spec, fcidump)
        check_fits(shape.name, shape.determinants, None if max_dim is None else max_dim**2)
    except ProblemError as error:
        return str(error)
    return None


@task(name="active-space", persist_result=False)
def active_space(params: SQDParameters) -> ActiveSpaceProblem:
    """RHF, active-space integrals and CCSD amplitudes; refused before sampling if the problem cannot fit."""
    cap = None if params.max_dim is None else params.max_dim**2
    if params.fcidump:
        return read_fcidump(params.fcidump, cap)
    return molecule_problem(params.molecule(), cap)


@task(name="reference", persist_result=False, cache_policy=NO_CACHE)
def reference(
    problem: ActiveSpaceProblem, determinant_limit: int, where: Placement | ReferenceEnergy
) -> StageRun[ReferenceEnergy]:
    """CASCI of the active space (Ha) where the broker placed it, or the null reference that says why not (too
    many determinants, or no resource has the memory); its placement and execution record when it ran."""
    return run_reference(problem, determinant_limit, where)


@task(name="sampling", persist_result=False)
def sampling(
    problem: ActiveSpaceProblem, shots: int, seed: int, sampler: SamplerName
) -> tuple[np.ndarray, float]:
    """Sample the CCSD-initialised LUCJ circuit; the configurations and the measured seconds."""
    start = time.perf_counter()
    bitstrings = sample_configurations(problem, lucj_operator(problem), shots, seed, sampler)
    return bitstrings, time.perf_counter() - start


def publish_sqd_artifacts(result: SQDResult) -> None:
    """Energy per iteration against the reference, and a summary with the subspace dimension and times."""
    rows = [
        {
            "iteration": index + 1,
            "energy_ha": round(energy, 8),
            "reference_ha": None if result.reference_energy is None else round(result.reference_energy, 8),
            "error_mha": None
            if result.reference_energy is None
            else round((energy - result.reference_energy) * 1000, 3),
            "subspace_dimension": dimension,
        }
        for index, (energy, dimension) in enumerate(
            zip(result.energies, result.subspace_dimensions, strict=True)
        )
    ]
    create_table_artifact(
        rows, key="sqd-energy-per-iteration", description="SQD energy per iteration vs CASCI (Ha, mHa)"
    )
    create_table_artifact(
        placement_rows(result),
        key="sqd-placements",
        description="Where each SQD segment ran and why: estimated vs measured time (s), memory (MiB)",
    )
    create_markdown_artifact(summary_markdown(result), key="sqd-summary", description="SQD result")


def placement_rows(result: SQDResult) -> list[dict[str, Any]]:
    """One row per placed segment: resource/method, estimated and measured seconds, estimated memory, why."""
    placed = {"sampling": result.placement} if result.placement else {}
    rows = []
    for name, placement in {**placed, **result.placements}.items():
        record = result.executions.get(name, {})
        measured = record.get("total_seconds") or record.get("measured_seconds") or result.seconds.get(name)
        estimate = placement["estimate"]
        rows.append(
            {
                "segment": name,
                "placed_on": f"{placement['resource']}/{placement['method']}",
                "estimated_s": round(estimate["seconds"], 2),
                "measured_s": None if measured is None else round(measured, 2),
                "memory_mib": round(estimate["memory_bytes"] / 2**20, 1),
                "fallbacks": ", ".join(record.get("fallbacks", [])),
                "why": placement["reasons"][0] if placement["reasons"] else "",
            }
        )
    return rows


def summary_markdown(result: SQDResult) -> str:
    """A few lines a scientist reads first: energy, reference, error, subspace, times."""
    reference = (
        f"{result.reference_energy:.6f} Ha (CASCI)"
        if result.reference_energy is not None
        else f"none ({result.reference_reason})"
    )
    error = "n/a" if result.error_mha is None else f"{result.error_mha:.3f} mHa (chemical accuracy: 1.6 mHa)"
    times = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.seconds.items())
    return "\n".join(
        [
            f"# SQD of {result.molecule}",
            f"- energy: {result.energy:.6f} Ha; reference: {reference}; error: {error}",
            f"- RHF {result.hf_energy:.6f} Ha, CCSD {result.ccsd_energy:.6f} Ha",
            f"- {result.qubits} qubits, {result.shots} shots on {result.sampler}; Hartree-Fock in "
            f"{result.hartree_fock_fraction:.1%} of them, {result.distinct_configurations} distinct",
            f"- largest subspace: {result.subspace_dimension:,} determinants; {result.iterations} iterations; "
            f"enlargement: {result.settings.enlargement}",
            f"- measured: {times}",
            "- placed: "
            + "; ".join(f"{row['segment']} on {row['placed_on']}" for row in placement_rows(result)),
        ]
    )


def place_sampling(
    problem: ActiveSpaceProblem | ProblemShape, params: SQDParameters, catalog: ResourceCatalog
) -> Placement:
    """The broker's placement of the LUCJ sampling (a forced sampler is the only resource the policy allows)."""
    segment = FermionicSampling(
        name=f"lucj-sampling-{problem.name}",
        orbitals=problem.norb,
        n_alpha=problem.n_alpha,
        n_beta=problem.n_beta,
        shots=params.shots,
    )
    forced = {"ffsim": "ffsim", "aer_statevector": "aer-cpu", "aer_mps": "aer-cpu"}.get(params.sampler)
    placement = place(segment, catalog, Policy(allowed_resources=[forced] if forced else None))
    if params.sampler in ("aer_statevector", "aer_mps"):
        method = {"aer_statevector": "statevector", "aer_mps": "matrix_product_state"}[params.sampler]
        chosen = next(e for e in [placement.estimate, *placement.runners_up] if e.method == method)
        if not chosen.feasible:
            raise ValueError(f"sampler={params.sampler}: {chosen.why_not}; use sampler=auto or ffsim")
        others = [e for e in [placement.estimate, *placement.runners_up] if e is not chosen]
        placement = Placement.on(
            segment.name, segment.kind, chosen, others, [f"sampler {params.sampler} asked for"]
        )
    return placement


@flow(name="active-space-sqd", task_runner=ThreadPoolTaskRunner(max_workers=2), log_prints=False)
def active_space_sqd(
    atom: str | None = None,
    fcidump: str | None = None,
    basis: Annotated[str, Field(min_length=1)] = "sto-3g",
    charge: int = 0,
    spin: Annotated[int, Field(ge=0)] = 0,
    frozen_core: bool = False,
    active_orbitals: Annotated[int, Field(ge=1)] | None = None,
    active_electrons: Annotated[int, Field(ge=2)] | None = None,
    shots: Annotated[int, Field(ge=100, le=10_000_000)] = 20_000,
    samples_per_batch: Annotated[int, Field(ge=1)] = 300,
    batches: Annotated[int, Field(ge=1, le=64)] = 3,
    iterations: Annotated[int, Field(ge=1, le=50)] = 3,
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0,
    sampler: Literal["auto", "ffsim", "aer_statevector", "aer_mps"] = "auto",
    enlargement: Literal["none", "singles", "singles_doubles"] = "singles",
    max_dim: Annotated[int, Field(ge=0)] | None = DEFAULT_MAX_DIM,
    casci_determinant_limit: Annotated[int, Field(ge=0)] = DEFAULT_CASCI_DETERMINANT_LIMIT,
    classical_executor: Literal["auto", "threads", "processes", "dask"] = "auto",
    dask_address: str | None = None,
) -> SQDResult:
    """Sample-based quantum diagonalization of a molecule's active space, against CASCI where affordable.

    Args:
        atom: Geometry in pyscf's format, Å, e.g. "N 0 0 0; N 0 0 1.1" (or give an FCIDUMP file instead).
        fcidump: Path of an FCIDUMP file, every orbital active (instead of a molecule's geometry).
        basis: Gaussian basis set name, e.g. sto-3g, 6-31g.
        charge: Total charge of the molecule.
        spin: 2S = n_alpha - n_beta; must be 0 (closed-shell RHF reference).
        frozen_core: Freeze the chemical core orbitals.
        active_orbitals: Active spatial orbitals K (qubits = 2K), given with active_electrons; all above the
            core when neither is given.
        active_electrons: Active electrons M (even), given with active_orbitals; all outside the core when
            neither is given.
        shots: Configurations sampled from the LUCJ circuit.
        samples_per_batch: Sampled configurations per batch (subspace).
        batches: Independent batches diagonalized per iteration.
        iterations: Configuration-recovery iterations (at most; stops when converged).
        seed: Seed of sampling and subsampling.
        sampler: Where the LUCJ circuit is sampled: auto (the broker's choice among ffsim's fixed-particle
            simulator and Aer's statevector and MPS, by estimated time and memory), ffsim, aer_statevector or aer_mps.
        enlargement: Excitations added to each batch's CI strings: none, singles, singles_doubles.
        max_dim: Cap on CI strings per spin sector (a subspace holds at most max_dim^2 determinants, 90,000 at
            300); 0: no cap.
        casci_determinant_limit: CASCI reference only up to this many determinants.
        classical_executor: Where the diagonalization and the CASCI reference run: auto (the broker's choice by
            estimated time and memory), threads (the flow's process), processes (a local Dask cluster, one batch
            per worker) or dask (the cluster at dask_address).
        dask_address: A Dask scheduler the broker may place the classical segments on, e.g. tcp://host:8786
            (else QCFLOW_DASK_ADDRESS).
    """
    params = SQDParameters(**locals())  # first statement: locals() holds exactly the arguments
    logger = get_run_logger()
    problem = active_space(params)
    logger.info("%s: %d qubits, %s determinants", problem.name, 2 * problem.norb, f"{problem.determinants:,}")
    catalog = flow_catalog(dask_address=params.dask_address)
    limit = params.casci_determinant_limit
    diagonal, reference_where = place_stages(
        shape_of(problem), params.settings(), limit, catalog, params.classical_executor
    )
    reference_future = reference.submit(problem, limit, reference_where)
    placement = place_sampling(problem, params, catalog)
    logger.info("LUCJ sampling placed on %s: %s", placement.label(), "; ".join(placement.reasons[:2]))
    sampler = placement.options["sampler"]
    bitstrings, sampling_seconds = sampling.with_options(tags=["quantum", placement.label()])(
        problem, params.shots, params.seed, sampler
    )
    logger.info("diagonalization placed on %s: %s", diagonal.label(), "; ".join(diagonal.reasons[:2]))
    found = run_diagonalization(problem, bitstrings, params.settings(), params.seed, diagonal)
    result = placed_result(
        problem,
        bitstrings,
        params.settings(),
        sampler,
        placement,
        sampling_seconds,
        found,
        reference_future.result(),
    )
    logger.info(
        "SQD %.6f Ha, reference %s, error %s mHa", result.energy, result.reference_energy, result.error_mha
    )
    publish_sqd_artifacts(result)
    return result


def sqd_plan(params: SQDParameters, catalog: ResourceCatalog) -> list[Placement]:
    """Where a run's segments would go, before any SCF: the LUCJ sampling, the diagonalization (its largest
    subspace bounded by the batch's samples, their enlargement and max_dim) and the CASCI reference when within
    the determinant limit."""
    shape = planned_shape(params.atom, params.molecule() if params.atom else None, params.fcidump)
    executor = params.classical_executor
    plan = [
        _placed(lambda: place_sampling(shape, params, catalog)),
        _placed(
            lambda: place_classical(diagonalization_segment(shape, params.settings()), catalog, executor)
        ),
    ]
    if shape.determinants <= params.casci_determinant_limit:
        plan.append(_placed(lambda: place_classical(reference_segment(shape), catalog, executor)))
    return plan


def _placed(placing: Callable[[], Placement]) -> Placement:
    """The placement, or the refused one that says why and what would fit."""
    try:
        return placing()
    except PlacementRefused as refusal:
        return refusal.placement


SQDParameters = parameters_model(active_space_sqd, "SQDParameters", SQDChecks)
