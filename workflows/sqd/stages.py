"""SQD's classical segments, placed by the broker and run where placed: the configuration recovery and subspace
diagonalization, and the CASCI reference. The active-space-sqd flow and the screening's SQD refinement
(workflows.screening.quantum_refinement) both place them with `place_stages`, run them with `run_reference` and
`run_diagonalization`, and summarise the run with `placed_result`.

Each runs as a subflow on its placement's task runner through `run_placed` (execution record, fallback down the
runners-up). qiskit-addon-sqd runs the iteration loop; each iteration's batches are independent, so every batch is
one task: on a LocalCluster of processes or a Dask cluster the batches of an iteration run in parallel, on the
flow's thread they run one after another, each over every core through pyscf's OpenMP threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import numpy as np
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from broker.models import Placement, PlacementRefused, Policy, ResourceCatalog
from broker.place import place
from broker.records import ExecutionRecord
from classical.runners import ExecutorSettings
from classical.segments import SubspaceDiagonalization
from quantum.chemistry.active_space import (
    ActiveSpaceProblem,
    ReferenceEnergy,
    active_space_of,
    build_molecule,
    casci_reference,
    parse_fcidump,
)
from quantum.chemistry.sqd import Diagonalization, SQDResult, SQDSettings, diagonalize, sqd_result
from workflows.execution.placed_runs import execution_history, run_placed
from workflows.execution.task_runners import task_runner_for

if TYPE_CHECKING:  # qiskit-addon-sqd imports jax (seconds): only runs that diagonalize pay for it
    from qiskit_addon_sqd.fermion import SCIResult

Executor = Literal["auto", "threads", "processes", "dask"]
# A forced executor -> the classical resources it leaves to the broker.
EXECUTOR_RESOURCES = {"threads": ["local-threads"], "processes": ["local-processes"], "dask": ["dask"]}

T = TypeVar("T")


@dataclass(frozen=True)
class StageRun(Generic[T]):
    """A classical stage's result with the placement it was run from and its execution record; neither when it
    did not run (a CASCI reference over the determinant limit, or one that fits nowhere)."""

    value: T
    placement: Placement | None = None
    record: ExecutionRecord | None = None


@dataclass(frozen=True)
class ProblemShape:
    """What placing SQD's segments needs of an active space: its name, orbitals and electrons per spin."""

    name: str
    norb: int
    n_alpha: int
    n_beta: int

    @classmethod
    def closed_shell(cls, name: str, norb: int, electrons: int) -> ProblemShape:
        """`electrons` in `norb` orbitals, half of them per spin."""
        return cls(name, norb, electrons // 2, electrons - electrons // 2)

    @property
    def determinants(self) -> int:
        """Full CI dimension of the active space."""
        return math.comb(self.norb, self.n_alpha) * math.comb(self.norb, self.n_beta)


def shape_of(problem: ActiveSpaceProblem) -> ProblemShape:
    """The shape of a built active-space problem."""
    return ProblemShape(problem.name, problem.norb, problem.n_alpha, problem.n_beta)


def planned_shape(atom: str | None, spec: Any, fcidump: str | None) -> ProblemShape:
    """The shape of a run's active space without any SCF: the FCIDUMP header, or the molecule's active space."""
    if fcidump is not None:
        data = parse_fcidump(fcidump)
        norb, nelec = int(data["NORB"]), int(data["NELEC"])
        name = Path(fcidump).name
    else:
        _, norb, nelec = active_space_of(spec, build_molecule(spec))
        name = f"{atom} ({nelec}e,{norb}o)"
    return ProblemShape.closed_shell(name, norb, nelec)


def expected_strings(norb: int, electrons: int, settings: SQDSettings) -> int:
    """CI strings per spin sector a subspace can reach (an upper bound, known before any sample): a batch's
    sampled strings and their excitations, at most max_dim and the sector's size."""
    sector = math.comb(norb, electrons)
    singles = electrons * (norb - electrons)
    doubles = math.comb(electrons, 2) * math.comb(norb - electrons, 2)
    excitations = {"none": 0, "singles": singles, "singles_doubles": singles + doubles}[settings.enlargement]
    return min(sector, settings.samples_per_batch * (1 + excitations), settings.max_dim or sector)


def diagonalization_segment(shape: ProblemShape, settings: SQDSettings) -> SubspaceDiagonalization:
    """The configuration-recovery loop as a segment: its batches, iterations and largest subspace."""
    dimension = expected_strings(shape.norb, shape.n_alpha, settings) * expected_strings(
        shape.norb, shape.n_beta, settings
    )
    return SubspaceDiagonalization(
        name=f"sqd-diagonalization-{shape.name}",
        orbitals=shape.norb,
        n_alpha=shape.n_alpha,
        n_beta=shape.n_beta,
        dimension=dimension,
        batches=settings.batches,
        iterations=settings.iterations,
        samples_per_batch=settings.samples_per_batch,
    )


def reference_segment(shape: ProblemShape) -> SubspaceDiagonalization:
    """The CASCI reference as a segment: one diagonalization over every determinant."""
    return SubspaceDiagonalization(
        name=f"casci-reference-{shape.name}",
        orbitals=shape.norb,
        n_alpha=shape.n_alpha,
        n_beta=shape.n_beta,
        dimension=shape.determinants,
        method="casci",
    )


def place_classical(
    segment: SubspaceDiagonalization, catalog: ResourceCatalog, executor: Executor = "auto"
) -> Placement:
    """The broker's placement (raises PlacementRefused); a forced executor is the only resource allowed."""
    policy = Policy(allowed_resources=EXECUTOR_RESOURCES.get(executor))
    return place(segment, catalog, policy, history=execution_history())


def place_reference(
    shape: ProblemShape, determinant_limit: int, catalog: ResourceCatalog, executor: Executor = "auto"
) -> Placement | ReferenceEnergy:
    """The CASCI reference's placement, or a null reference with the reason (over the limit, or fits nowhere)."""
    if shape.determinants > determinant_limit:
        return casci_reference_skipped(shape, determinant_limit)
    try:
        return place_classical(reference_segment(shape), catalog, executor)
    except PlacementRefused as refusal:
        return ReferenceEnergy(energy=None, reason=f"CASCI not computed: {refusal.placement.refused}")


def place_stages(
    shape: ProblemShape,
    settings: SQDSettings,
    determinant_limit: int,
    catalog: ResourceCatalog,
    executor: Executor = "auto",
) -> tuple[Placement, Placement | ReferenceEnergy]:
    """Where SQD's classical segments go: the diagonalization's placement (raises PlacementRefused), and the CASCI
    reference's, or the null reference that says why it is not computed."""
    diagonalization = place_classical(diagonalization_segment(shape, settings), catalog, executor)
    return diagonalization, place_reference(shape, determinant_limit, catalog, executor)


def casci_reference_skipped(shape: ProblemShape, determinant_limit: int) -> ReferenceEnergy:
    """The null reference of an active space over the determinant limit (the reason names both)."""
    return ReferenceEnergy(
        energy=None,
        reason=f"CASCI not computed: {shape.determinants:,} determinants exceed the limit of {determinant_limit:,}",
    )


@task(name="diagonalize-batch", persist_result=False, cache_policy=NO_CACHE)
def diagonalize_batch(
    ci_strings: tuple[np.ndarray, np.ndarray],
    one_body: np.ndarray,
    two_body: np.ndarray,
    norb: int,
    nelec: tuple[int, int],
) -> SCIResult:
    """One subspace's selected-CI ground state (qiskit-addon-sqd on pyscf); independent of the other batches."""
    from qiskit_addon_sqd.fermion import solve_sci_batch

    return solve_sci_batch([ci_strings], one_body, two_body, norb, nelec)[0]


def batches_as_tasks() -> Callable[..., list[SCIResult]]:
    """An `sci_solver` for qiskit-addon-sqd's loop: each batch of an iteration a task on the stage's runner."""
    iteration = 0

    def solve(ci_strings: list, one_body: np.ndarray, two_body: np.ndarray, norb: int, nelec: tuple) -> list:
        nonlocal iteration
        iteration += 1
        futures = [
            diagonalize_batch.with_options(task_run_name=f"iteration-{iteration}-batch-{index + 1}").submit(
                pair, one_body, two_body, norb, nelec
            )
            for index, pair in enumerate(ci_strings)
        ]
        return [future.result() for future in futures]

    return solve


@flow(name="sqd-diagonalization", persist_result=False, validate_parameters=False)
def diagonalization_stage(
    problem: ActiveSpaceProblem, bitstrings: np.ndarray, settings: SQDSettings, seed: int
) -> Diagonalization:
    """Configuration recovery and subspace diagonalization, every batch a task on this subflow's task runner."""
    return diagonalize(problem, bitstrings, settings, seed, sci_solver=batches_as_tasks())


@task(name="casci", persist_result=False, cache_policy=NO_CACHE)
def casci(problem: ActiveSpaceProblem, determinant_limit: int) -> ReferenceEnergy:
    """CASCI of the active space (Ha), or null with the reason when it has too many determinants."""
    return casci_reference(problem, determinant_limit)


@flow(name="sqd-reference", persist_result=False, validate_parameters=False)
def reference_stage(problem: ActiveSpaceProblem, determinant_limit: int) -> ReferenceEnergy:
    """The CASCI reference as one task on this subflow's task runner."""
    return casci.submit(problem, determinant_limit).result()


def run_diagonalization(
    problem: ActiveSpaceProblem,
    bitstrings: np.ndarray,
    settings: SQDSettings,
    seed: int,
    placement: Placement,
) -> StageRun[Diagonalization]:
    """Run the diagonalization stage where the broker placed it (runners-up as fallbacks), with its record."""

    def run(where: Placement) -> Diagonalization:
        stage = diagonalization_stage.with_options(
            task_runner=task_runner_for(ExecutorSettings.from_options(where.options)),
            flow_run_name=f"diagonalization-{where.label()}",
        )
        return stage(problem, bitstrings, settings, seed)

    found, record, _ = run_placed(placement, run)
    return StageRun(found, placement, record)


def run_reference(
    problem: ActiveSpaceProblem, determinant_limit: int, where: Placement | ReferenceEnergy
) -> StageRun[ReferenceEnergy]:
    """Run the CASCI reference where the broker placed it (runners-up as fallbacks), with its record; a null
    reference (`place_reference`'s, when it is not computed) is passed through."""
    if isinstance(where, ReferenceEnergy):
        return StageRun(where)

    def run(placed: Placement) -> ReferenceEnergy:
        stage = reference_stage.with_options(
            task_runner=task_runner_for(ExecutorSettings.from_options(placed.options)),
            flow_run_name=f"reference-{placed.label()}",
        )
        return stage(problem, determinant_limit)

    found, record, _ = run_placed(where, run)
    return StageRun(found, where, record)


def placed_result(
    problem: ActiveSpaceProblem,
    bitstrings: np.ndarray,
    settings: SQDSettings,
    sampler: str,
    sampling: Placement,
    sampling_seconds: float,
    diagonalization: StageRun[Diagonalization],
    reference: StageRun[ReferenceEnergy],
) -> SQDResult:
    """The run's SQDResult: energies against the reference, seconds per segment, the placement of the sampling
    (`sampler` ran it), and the placements and execution records of the classical stages that ran."""
    seconds = {
        "reference": reference.value.seconds,
        "sampling": sampling_seconds,
        "diagonalization": diagonalization.value.seconds,
    }
    result = sqd_result(
        problem, bitstrings, diagonalization.value, reference.value, sampler, settings, seconds
    )
    ran = {
        name: (stage.placement, stage.record)
        for name, stage in (("diagonalization", diagonalization), ("reference", reference))
        if stage.placement is not None and stage.record is not None
    }
    return result.model_copy(
        update={
            "placement": sampling.model_dump(mode="json"),
            "placements": {name: p.model_dump(mode="json") for name, (p, _) in ran.items()},
            "executions": {name: r.model_dump(mode="json") for name, (_, r) in ran.items()},
        }
    )
