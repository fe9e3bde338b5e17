"""Cost model of ML-potential batches (CHGNet static predictions or relaxations): time and memory on every
classical resource, executor and worker count, and the batch size (structures per task) the stage cuts.

Options it gives a placement: the executor, the number of parallel workers, torch threads and device, and the batch
size. The CUDA figures are uncalibrated assumptions: no GPU here.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from broker.cost_models import Adjust, Estimates, adjusted
from broker.models import Estimate, Policy, Resource, ResourceCatalog
from classical.cost.executors import (
    CLUSTER_START_SECONDS,
    CLUSTER_WORKER_SECONDS,
    SLURM_QUEUE_SECONDS,
    STAGE_SECONDS,
    TASK_SECONDS,
    Parallelism,
    classical_estimate,
    speedup,
)
from classical.segments import MLPotentialBatch
from config.settings import QcflowSettings
from quantum.cost.aer_memory import human_bytes

# CHGNet 0.3.0 on one core, one torch thread, batched static prediction under torch's inference mode, per
# structure of n atoms: 2 ms + 0.8 ms n + 0.018 ms n^2. Fitted on the thread CPU time of the classical placement
# benchmark's static batches (2-6 atom bundled cells: 5.5-6.3 ms each; 54-64 atom supercells: 105 ms each, twice
# what a linear fit from small cells predicts). With autograd recording (as in a relaxation step) a prediction
# costs about twice that: 20-38 ms per 8-atom cell, 110-180 ms at 54-64 atoms, about 6 ms + 2.2 ms per atom.
STATIC_SECONDS = 0.002
STATIC_SECONDS_PER_ATOM = 0.0008
STATIC_SECONDS_PER_ATOM_SQUARED = 0.000018
GRADIENT_STATIC_SECONDS = 0.006
GRADIENT_STATIC_SECONDS_PER_ATOM = 0.0022
# A FIRE step evaluates energy, forces and stress (autograd) and takes ASE's own step, half of it the cell filter's
# matrix functions: 0.66-0.71 s of thread CPU per relaxation of a strained 2-6 atom cell (about 34 ms per step),
# measured by benchmarks/classical_placement.py (relax-4, relax-8) at load about 1.
RELAX_STEP_FACTOR = 1.2
RELAX_STEP_SECONDS = 0.016
# Steps a relaxation of a screening cell takes before fmax = 0.1 eV/Å: FIRE took 2-42 steps (mean 18-20) on
# bundled and strained bundled cells.
TYPICAL_RELAX_STEPS = 20
# Loading CHGNet's weights in a fresh process (torch import included), and a further instance in a thread of a
# process that has loaded it once (static-16 on two threads took 0.07 s longer than on one).
MODEL_LOAD_SECONDS = 2.0
THREAD_MODEL_SECONDS = 0.15
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
# MIN_BATCH structures per task, since one batched call predicts 8-atom cells ~1.5x faster than one by one (a
# relaxation is one structure at a time whatever the batch: one per task is enough).
TASKS_PER_WORKER = 4
MAX_TASKS = 300
MIN_BATCH = {"static": 8, "relax": 1}
MAX_BATCH = 1000  # the flow parameter's own limit


def _worker_counts(resource: Resource) -> list[int]:
    if resource.device == "GPU":
        return [1]
    return sorted({1, resource.workers} | ({2} if resource.workers >= 2 else set()))


def _batch_size(structures: int, workers: int, mode: str) -> int:
    """Structures per task: TASKS_PER_WORKER tasks per worker of the resource (not of the option, so every
    option of a resource cuts the same batches and a resumed run finds them cached), at least MIN_BATCH
    structures per task, never more than MAX_TASKS tasks in all."""
    tasks = min(MAX_TASKS, max(1, workers * TASKS_PER_WORKER))
    smallest = min(MIN_BATCH[mode], structures)
    return max(1, smallest, math.ceil(structures / tasks), math.ceil(structures / MAX_TASKS))


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
        batch = _batch_size(segment.structures, resource.workers, mode)
        tasks = math.ceil(segment.structures / batch) if segment.structures else 0
        compute = sum(_structure_seconds(atoms, segment.relax_steps) for atoms in segment.atoms)
        if resource.device == "GPU":
            compute = compute / CUDA_SPEEDUP + CUDA_START_SECONDS
        busy = replace(
            parallel, workers=max(1, min(workers, tasks))
        )  # a worker without a task speeds up nothing
        seconds = STAGE_SECONDS + compute / speedup(busy, PARALLEL_FRACTION_OUTSIDE_GIL[mode])
        seconds += tasks * TASK_SECONDS[parallel.executor] / workers
        seconds += _start_seconds(parallel)
        largest_batch_atoms = (
            max(segment.atoms, default=0) if mode == "relax" else _largest_batch(segment, batch)
        )
        per_worker = WORKER_BASE_BYTES + BYTES_PER_ATOM[mode] * largest_batch_atoms
        memory = per_worker * (1 if resource.executor in ("dask", "slurm") else workers)
        usable = int(resource.memory_free_bytes * settings.broker.memory_headroom)
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
        return classical_estimate(resource, mode, workers, seconds, memory, why, options)

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
        usable = int(most_free * settings.broker.memory_headroom) - WORKER_BASE_BYTES
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
    static = STATIC_SECONDS + STATIC_SECONDS_PER_ATOM * atoms + STATIC_SECONDS_PER_ATOM_SQUARED * atoms**2
    if not relax_steps:
        return static
    steps = min(relax_steps, TYPICAL_RELAX_STEPS)
    gradient_static = GRADIENT_STATIC_SECONDS + GRADIENT_STATIC_SECONDS_PER_ATOM * atoms
    return steps * (RELAX_STEP_FACTOR * gradient_static + RELAX_STEP_SECONDS) + static


def _largest_batch(segment: MLPotentialBatch, batch: int) -> int:
    """Atoms in the largest batch of `batch` structures, in the segment's order."""
    return max((sum(segment.atoms[i : i + batch]) for i in range(0, len(segment.atoms), batch)), default=0)
