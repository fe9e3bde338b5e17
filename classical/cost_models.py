"""Cost models of classical segments: time, memory, cost and energy per resource and run option (no Prefect).

Options the broker chooses for a classical segment: the executor (the flow's threads, local processes, a Dask
cluster), the number of parallel workers, torch threads and device, and the batch size (structures per task).

Constants were measured on the project's reference machine (2 cores, no GPU; `benchmarks/classical_placement.py`
measures them again and prints the estimate errors). Execution records correct them per resource and method once a
method has three comparable runs (`broker.records`). The CUDA figures are uncalibrated assumptions: no GPU here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from broker.cost_models import Adjust, Estimates, adjusted
from broker.models import Estimate, Policy, Resource, ResourceCatalog
from classical.segments import ClimateEnsemble, MLPotentialBatch, SubspaceDiagonalization
from config.settings import QcflowSettings
from quantum.cost.aer_memory import human_bytes

# CHGNet 0.3.0 on one core, one torch thread, batched static prediction under torch's inference mode: 1.2 ms per
# atom over 256 generated 2-6 atom cells (0.4 ms + 1.0 ms per atom fitted per cell size), so about 3 ms + 1.1 ms
# per atom per structure. With autograd recording (as in a relaxation step) the same prediction costs about twice
# that: 20-38 ms per 8-atom cell, 110-180 ms at 54-64 atoms, about 6 ms + 2.2 ms per atom.
STATIC_SECONDS = 0.003
STATIC_SECONDS_PER_ATOM = 0.0011
GRADIENT_STATIC_SECONDS = 0.006
GRADIENT_STATIC_SECONDS_PER_ATOM = 0.0022
# A FIRE step evaluates energy, forces and stress (autograd) and takes ASE's own step, half of it the cell filter's
# matrix functions: 0.53 s of CPU per relaxation of a strained 2-6 atom cell (about 26 ms per step), measured by
# benchmarks/classical_placement.py at load 1.1-1.5 (the earlier 72 ms per step was measured at load 8-19).
RELAX_STEP_FACTOR = 1.2
RELAX_STEP_SECONDS = 0.008
# Steps a relaxation of a screening cell takes before fmax = 0.1 eV/Å: FIRE took 2-42 steps (mean 18-20) on
# bundled and strained bundled cells.
TYPICAL_RELAX_STEPS = 20
# Loading CHGNet's weights in a fresh process (torch import included), and a second instance in a thread.
MODEL_LOAD_SECONDS = 2.0
THREAD_MODEL_SECONDS = 0.5
# A Dask LocalCluster of processes: scheduler and first worker up, and torn down after, then each further worker
# (they start side by side). A stage on one or two local worker processes measured 4.7-5.9 s above the same stage
# on the flow's thread, model loads included (benchmarks/classical_placement.py, load 1.1-1.5).
CLUSTER_START_SECONDS = 3.0
CLUSTER_WORKER_SECONDS = 0.5
# A stage is a subflow: its own flow run, progress artifact and result (about 1 s on the embedded API).
STAGE_SECONDS = 1.0
# Orchestration per Prefect task (ephemeral API, 2 cores: ~10 ms sequential, ~30 ms mapped), and on Dask.
TASK_SECONDS = {"threads": 0.03, "processes": 0.06, "dask": 0.06, "slurm": 0.06}
# Assumption: a Slurm job waits about a minute in the queue before its worker joins (site-dependent; execution
# records correct it).
SLURM_QUEUE_SECONDS = 60.0
# Fraction of a CHGNet call that runs outside the GIL (torch kernels); the rest (graph building in pymatgen, ASE's
# optimizer loop) serialises threads of one process. Amdahl's law gives the speed-up of w threads.
PARALLEL_FRACTION_OUTSIDE_GIL = {"static": 0.6, "relax": 0.5}
# Memory: torch and CHGNet resident per worker, and the crystal graph with activations per atom (static) or with
# the autograd graph for forces and stress (relax).
WORKER_BASE_BYTES = 600 * 2**20
BYTES_PER_ATOM = {"static": 40_000, "relax": 100_000}
# Assumption, uncalibrated (no GPU here): a CUDA card predicts 10x faster than one CPU core, after 2 s of start-up.
CUDA_SPEEDUP = 10.0
CUDA_START_SECONDS = 2.0
# Tasks per worker: enough for load balance, few enough that the API never sees thousands of tasks; and at least
# MIN_BATCH structures per task, since one batched call predicts 8-atom cells ~1.5x faster than one by one.
TASKS_PER_WORKER = 4
MAX_TASKS = 300
MIN_BATCH = 8
MAX_BATCH = 1000  # the flow parameter's own limit

# Climate: the two-layer emulator steps 7.0e7 member-years per second per core through `run_ensemble` alone
# (benchmarks/climate.py), but the ensemble stage (percentiles and the persisted result of each scenario included)
# runs 2.8-3.9e7 on one thread (benchmarks/classical_placement.py, 10,000-50,000 members, load 1.1-1.5); it holds
# about 12 float64 arrays of members x years while it runs.
CLIMATE_MEMBER_YEARS_PER_SECOND = 3.0e7
CLIMATE_BYTES_PER_MEMBER_YEAR = 12 * 8
CLIMATE_TASK_SECONDS = 0.05


@dataclass(frozen=True)
class Parallelism:
    """How a resource would run the work: executor, workers, its cores and the load already on them."""

    executor: str
    workers: int
    cores: int
    load: float


def _speedup(parallel: Parallelism, fraction_outside_gil: float) -> float:
    """Speed of `workers` relative to one idle core: processes scale with the workers the cores hold, threads by
    Amdahl's law; on a loaded machine every runnable thread gets a fair share of the cores, cores / (load +
    workers), so a second worker still wins back the share the other programs would take."""
    usable = float(min(parallel.workers, parallel.cores))
    if parallel.executor == "threads":
        base = 1.0 / ((1.0 - fraction_outside_gil) + fraction_outside_gil / usable)
    else:
        base = usable
    if parallel.executor in ("dask", "slurm"):
        return base  # a cluster's workers are its own
    demand = parallel.load + usable
    return base * min(1.0, parallel.cores / demand) if demand > 0 else base


def _worker_counts(resource: Resource) -> list[int]:
    if resource.device == "GPU":
        return [1]
    return sorted({1, resource.workers} | ({2} if resource.workers >= 2 else set()))


def _batch_size(structures: int, workers: int) -> int:
    """Structures per task: TASKS_PER_WORKER tasks per worker of the resource (not of the option, so every
    option of a resource cuts the same batches and a resumed run finds them cached), at least MIN_BATCH
    structures per task, never more than MAX_TASKS tasks in all."""
    tasks = min(MAX_TASKS, max(1, workers * TASKS_PER_WORKER))
    return max(
        1, min(MIN_BATCH, structures), math.ceil(structures / tasks), math.ceil(structures / MAX_TASKS)
    )


def _estimate(
    resource: Resource,
    method: str,
    workers: int,
    seconds: float,
    memory: int,
    why: str | None,
    options: dict[str, Any],
) -> Estimate:
    """A classical estimate: `method-xN` for N workers, the resource's address among the options, and cost and
    energy for the workers' share of the resource."""
    share = workers / max(resource.workers, 1)
    return Estimate(
        resource=resource.name,
        method=method if workers == 1 else f"{method}-x{workers}",
        device=resource.device,
        seconds=seconds,
        memory_bytes=memory,
        fidelity=1.0,
        feasible=why is None,
        why_not=why,
        options=options | ({"address": resource.address} if resource.address else {}),
        cost_usd=seconds * resource.price_per_second_usd * share,
        energy_joules=seconds * resource.power_watts * share,
    )


class MLPotentialCostModel:
    """Time and memory of an ML-potential batch on every classical resource, executor and worker count."""

    kind = "ml_potential"

    def estimate(
        self,
        segment: MLPotentialBatch,
        catalog: ResourceCatalog,
        policy: Policy,
        adjust: Adjust,
        settings: QcflowSettings,
    ) -> Estimates:
        estimates, notes = adjusted(
            (
                self._one(segment, resource, workers, settings)
                for resource in catalog.of_kind("classical")
                if "ml_potential" in resource.methods
                for workers in _worker_counts(resource)
            ),
            adjust,
        )
        return Estimates(estimates=estimates, summary=segment.summary(), notes=notes, profile=segment)

    def _one(
        self, segment: MLPotentialBatch, resource: Resource, workers: int, settings: QcflowSettings
    ) -> Estimate:
        mode = "relax" if segment.relax_steps else "static"
        parallel = Parallelism(resource.executor or "threads", workers, resource.cores, resource.load)
        batch = _batch_size(segment.structures, resource.workers)
        tasks = math.ceil(segment.structures / batch) if segment.structures else 0
        compute = sum(_structure_seconds(atoms, segment.relax_steps) for atoms in segment.atoms)
        if resource.device == "GPU":
            compute = compute / CUDA_SPEEDUP + CUDA_START_SECONDS
        seconds = STAGE_SECONDS + compute / _speedup(parallel, PARALLEL_FRACTION_OUTSIDE_GIL[mode])
        seconds += tasks * TASK_SECONDS[parallel.executor] / workers
        seconds += _start_seconds(parallel)
        largest_batch_atoms = (
            max(segment.atoms, default=0) if mode == "relax" else _largest_batch(segment, batch)
        )
        per_worker = WORKER_BASE_BYTES + BYTES_PER_ATOM[mode] * largest_batch_atoms
        memory = per_worker * (1 if resource.executor in ("dask", "slurm") else workers)
        usable = int(resource.memory_free_bytes * settings.memory_headroom)
        why = None
        if memory > usable:
            why = (
                f"{workers} worker(s) need {human_bytes(memory)} ({human_bytes(per_worker)} each, the largest "
                f"{'cell' if mode == 'relax' else 'batch'} {largest_batch_atoms:,} atoms), "
                f"{human_bytes(resource.memory_free_bytes)} free on {resource.name}"
            )
        options: dict[str, Any] = {
            "executor": parallel.executor,
            "workers": workers,
            "torch_threads": 1,
            "device": "cuda" if resource.device == "GPU" else "cpu",
            "batch_size": batch,
        }
        return _estimate(resource, mode, workers, seconds, memory, why, options)

    def what_would_fit(
        self,
        segment: MLPotentialBatch,
        found: Estimates,
        catalog: ResourceCatalog,
        ranked: list[Estimate],
        settings: QcflowSettings,
    ) -> list[str]:
        mode = "relax" if segment.relax_steps else "static"
        most_free = max((r.memory_free_bytes for r in catalog.of_kind("classical")), default=0)
        usable = int(most_free * settings.memory_headroom) - WORKER_BASE_BYTES
        atoms = max(usable // BYTES_PER_ATOM[mode], 0)
        return [
            f"cells of at most {atoms:,} atoms (largest now {max(segment.atoms, default=0):,})",
            "a Dask cluster with more memory per worker (QCFLOW_DASK_ADDRESS)",
        ]


def _start_seconds(parallel: Parallelism) -> float:
    """Seconds before the first task runs: a cluster to start, and models to load in its workers or threads."""
    if parallel.executor == "processes":
        return CLUSTER_START_SECONDS + CLUSTER_WORKER_SECONDS * (parallel.workers - 1) + MODEL_LOAD_SECONDS
    if parallel.executor == "dask":
        return MODEL_LOAD_SECONDS
    if parallel.executor == "slurm":
        return SLURM_QUEUE_SECONDS + MODEL_LOAD_SECONDS
    return THREAD_MODEL_SECONDS * (
        parallel.workers - 1
    )  # one model instance per thread: no lock between them


def _structure_seconds(atoms: int, relax_steps: int) -> float:
    """One structure on one core: a static prediction, or a relaxation of its typical step count."""
    static = STATIC_SECONDS + STATIC_SECONDS_PER_ATOM * atoms
    if not relax_steps:
        return static
    steps = min(relax_steps, TYPICAL_RELAX_STEPS)
    gradient_static = GRADIENT_STATIC_SECONDS + GRADIENT_STATIC_SECONDS_PER_ATOM * atoms
    return steps * (RELAX_STEP_FACTOR * gradient_static + RELAX_STEP_SECONDS) + static


def _largest_batch(segment: MLPotentialBatch, batch: int) -> int:
    """Atoms in the largest batch of `batch` structures, in the segment's order."""
    return max((sum(segment.atoms[i : i + batch]) for i in range(0, len(segment.atoms), batch)), default=0)


class ClimateEnsembleCostModel:
    """Time and memory of emulator ensembles, one scenario per task, on threads, processes or Dask."""

    kind = "climate_ensemble"

    def estimate(
        self,
        segment: ClimateEnsemble,
        catalog: ResourceCatalog,
        policy: Policy,
        adjust: Adjust,
        settings: QcflowSettings,
    ) -> Estimates:
        estimates, notes = adjusted(
            (
                self._one(segment, resource, workers, settings)
                for resource in catalog.of_kind("classical")
                if "climate_ensemble" in resource.methods
                for workers in sorted({1, min(resource.workers, segment.scenarios)})
            ),
            adjust,
        )
        return Estimates(estimates=estimates, summary=segment.summary(), notes=notes, profile=segment)

    def _one(
        self, segment: ClimateEnsemble, resource: Resource, workers: int, settings: QcflowSettings
    ) -> Estimate:
        parallel = Parallelism(resource.executor or "threads", workers, resource.cores, resource.load)
        compute = segment.member_years / CLIMATE_MEMBER_YEARS_PER_SECOND
        # numpy releases the GIL in its array loops: threads scale nearly like processes here
        seconds = STAGE_SECONDS + compute / _speedup(parallel, 0.9) + segment.scenarios * CLIMATE_TASK_SECONDS
        if parallel.executor == "processes":
            seconds += CLUSTER_START_SECONDS + CLUSTER_WORKER_SECONDS * (workers - 1)
        elif parallel.executor == "slurm":
            seconds += SLURM_QUEUE_SECONDS
        per_scenario = segment.members * segment.years * CLIMATE_BYTES_PER_MEMBER_YEAR
        memory = per_scenario * (1 if resource.executor in ("dask", "slurm") else workers)
        usable = int(resource.memory_free_bytes * settings.memory_headroom)
        why = None
        if memory > usable:
            why = (
                f"{workers} scenario(s) at once need {human_bytes(memory)}, "
                f"{human_bytes(resource.memory_free_bytes)} free on {resource.name}"
            )
        options: dict[str, Any] = {"executor": parallel.executor, "workers": workers}
        return _estimate(resource, "ensemble", workers, seconds, memory, why, options)

    def what_would_fit(
        self,
        segment: ClimateEnsemble,
        found: Estimates,
        catalog: ResourceCatalog,
        ranked: list[Estimate],
        settings: QcflowSettings,
    ) -> list[str]:
        most_free = max((r.memory_free_bytes for r in catalog.of_kind("classical")), default=0)
        members = int(most_free * settings.memory_headroom) // (segment.years * CLIMATE_BYTES_PER_MEMBER_YEAR)
        return [f"at most {members:,} members per scenario (now {segment.members:,})"]


# SQD's subspaces and its CASCI reference, fitted to benchmarks/subspace_diagonalization.py (N2/6-31G (10e,K), a
# fresh process per run, one OpenMP thread, CPU seconds of a second call, so one core's time whatever else runs on
# the shared machine). A diagonalization of d determinants costs SUBSPACE_SECONDS + c x d x connections x K, where
# connections = n_alpha(K - n_alpha) x n_beta(K - n_beta) (the products of singles a determinant's doubles reach):
# selected CI (qiskit-addon-sqd's solve_sci_batch) 18.9 us/det at K = 12 and 70.5 us/det at K = 16 (slopes over
# 10,000-90,000 determinants, intercepts 0.11 and 0.25 s): c = 1.29 and 1.46 ns, 1.4 taken; CASCI (pyscf
# direct_spin1, every determinant) 1.58 CPU-s at K = 11 (213,444) and 6.12 at K = 12 (627,264): c = 0.64 ns.
# Only 10 electrons were measured. Peak memory 220-310 B per determinant (pyscf's Davidson vectors, float64) above
# a few MiB: 4.3 MiB at 10,000 determinants, 22 MiB at 90,000, 132 MiB for the 627,264-determinant CASCI.
SUBSPACE_SECONDS = 0.2
SCI_SECONDS_PER_DETERMINANT_CONNECTION_ORBITAL = 1.4e-9
CASCI_SECONDS_PER_DETERMINANT_CONNECTION_ORBITAL = 0.64e-9
SUBSPACE_BYTES = 4 * 2**20
SUBSPACE_BYTES_PER_DETERMINANT = 260
# Assumption, not measured (a shared, loaded 2-core machine cannot show it): pyscf's OpenMP threads within one
# diagonalization (the flow's thread) give c cores a speed-up of 1 + OPENMP_EFFICIENCY x (c - 1). Worker processes
# run one OpenMP thread each (OMP_NUM_THREADS=1), one batch per worker.
OPENMP_EFFICIENCY = 0.7
# A worker process imports Prefect, pyscf, ffsim and qiskit-addon-sqd before its first batch (6 s wall, niced, on
# the loaded 2-core machine here) and holds them resident (340 MiB).
SQD_IMPORT_SECONDS = 6.0
SQD_WORKER_BYTES = 340 * 2**20


class SubspaceDiagonalizationCostModel:
    """Time and memory of SQD's subspace diagonalizations (or its CASCI reference) on threads, processes or Dask.

    The flow's threads run one batch at a time, each over every core through pyscf's OpenMP; worker processes
    (a LocalCluster, a Dask cluster, Slurm) run independent batches of an iteration in parallel, one core each.
    """

    kind = SubspaceDiagonalization.kind

    def estimate(
        self,
        segment: SubspaceDiagonalization,
        catalog: ResourceCatalog,
        policy: Policy,
        adjust: Adjust,
        settings: QcflowSettings,
    ) -> Estimates:
        estimates, notes = adjusted(
            (
                _subspace_estimate(segment, resource, workers, settings)
                for resource in catalog.of_kind("classical")
                if resource.device == "CPU"
                for workers in _subspace_workers(segment, resource)
            ),
            adjust,
        )
        return Estimates(estimates=estimates, summary=segment.summary(), notes=notes, profile=segment)

    def what_would_fit(
        self,
        segment: SubspaceDiagonalization,
        found: Estimates,
        catalog: ResourceCatalog,
        ranked: list[Estimate],
        settings: QcflowSettings,
    ) -> list[str]:
        most_free = max((r.memory_free_bytes for r in catalog.of_kind("classical")), default=0)
        usable = int(most_free * settings.memory_headroom) - SUBSPACE_BYTES
        determinants = max(usable, 0) // SUBSPACE_BYTES_PER_DETERMINANT
        if segment.method == "casci":
            return [f"a CASCI of at most {determinants:,} determinants (now {segment.dimension:,})"]
        strings = math.isqrt(determinants)
        return [
            f"subspaces of at most {determinants:,} determinants, max_dim <= {strings:,} CI strings per spin "
            f"(now up to {segment.dimension:,})",
            "a Dask cluster with more memory per worker (QCFLOW_DASK_ADDRESS)",
        ]


def _subspace_workers(segment: SubspaceDiagonalization, resource: Resource) -> list[int]:
    """Worker counts worth estimating: one, and one per batch up to the resource's workers (threads: one, since
    pyscf's OpenMP already spreads each diagonalization over the cores)."""
    if resource.executor in (None, "threads") or segment.method == "casci":
        return [1]
    return sorted({1, min(resource.workers, segment.batches)})


def _subspace_seconds(segment: SubspaceDiagonalization) -> float:
    """One diagonalization of the segment's largest subspace on one core, s."""
    k, n_alpha, n_beta = segment.orbitals, segment.n_alpha, segment.n_beta
    connections = n_alpha * (k - n_alpha) * n_beta * (k - n_beta)
    per = (
        CASCI_SECONDS_PER_DETERMINANT_CONNECTION_ORBITAL
        if segment.method == "casci"
        else SCI_SECONDS_PER_DETERMINANT_CONNECTION_ORBITAL
    )
    return SUBSPACE_SECONDS + per * segment.dimension * max(connections, 1) * k


def _subspace_estimate(
    segment: SubspaceDiagonalization, resource: Resource, workers: int, settings: QcflowSettings
) -> Estimate:
    executor = resource.executor or "threads"
    one = _subspace_seconds(segment)
    if executor == "threads":
        cores = Parallelism("processes", resource.cores, resource.cores, resource.load)
        speed = (1 + OPENMP_EFFICIENCY * (resource.cores - 1)) * _speedup(cores, 1.0) / resource.cores
        compute = segment.diagonalizations * one / speed
        start = 0.0
    else:
        parallel = Parallelism(executor, workers, resource.cores, resource.load)
        speed = _speedup(parallel, 1.0) / min(workers, resource.cores)  # each worker's share of a core
        compute = segment.iterations * math.ceil(segment.batches / workers) * one / speed
        start = {"processes": CLUSTER_START_SECONDS + CLUSTER_WORKER_SECONDS * (workers - 1)}.get(
            executor, 0.0
        )
        start += SQD_IMPORT_SECONDS + (SLURM_QUEUE_SECONDS if executor == "slurm" else 0.0)
    tasks = segment.diagonalizations * TASK_SECONDS[executor] / workers
    seconds = STAGE_SECONDS + start + compute + tasks
    per_batch = SUBSPACE_BYTES + SUBSPACE_BYTES_PER_DETERMINANT * segment.dimension
    per_worker = per_batch + (0 if executor == "threads" else SQD_WORKER_BYTES)
    memory = per_worker * (1 if executor in ("dask", "slurm") else workers)
    usable = int(resource.memory_free_bytes * settings.memory_headroom)
    why = None
    if memory > usable:
        what = (
            "the CASCI" if segment.method == "casci" else f"a subspace of {segment.dimension:,} determinants"
        )
        why = (
            f"{what} needs {human_bytes(per_batch)}"
            + (f" ({workers} at once: {human_bytes(memory)})" if memory > per_batch else "")
            + f", {human_bytes(resource.memory_free_bytes)} free on {resource.name}"
        )
    options: dict[str, Any] = {"executor": executor, "workers": workers}
    return _estimate(resource, segment.method, workers, seconds, memory, why, options)


CLASSICAL_COST_MODELS: dict[str, Any] = {
    MLPotentialCostModel.kind: MLPotentialCostModel(),
    ClimateEnsembleCostModel.kind: ClimateEnsembleCostModel(),
    SubspaceDiagonalizationCostModel.kind: SubspaceDiagonalizationCostModel(),
}
