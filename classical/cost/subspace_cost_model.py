"""Cost model of SQD's subspace diagonalizations and its CASCI reference: time and memory on the flow's
threads (pyscf's OpenMP over every core) or on worker processes (independent batches in parallel)."""

from __future__ import annotations

import math
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
from classical.segments import SubspaceDiagonalization
from config.settings import QcflowSettings
from quantum.cost.aer_memory import human_bytes

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
        usable = int(most_free * settings.broker.memory_headroom) - SUBSPACE_BYTES
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
        speed = (1 + OPENMP_EFFICIENCY * (resource.cores - 1)) * speedup(cores, 1.0) / resource.cores
        compute = segment.diagonalizations * one / speed
        start = 0.0
    else:
        parallel = Parallelism(executor, workers, resource.cores, resource.load)
        speed = speedup(parallel, 1.0) / min(workers, resource.cores)  # each worker's share of a core
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
    usable = int(resource.memory_free_bytes * settings.broker.memory_headroom)
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
    return classical_estimate(resource, segment.method, workers, seconds, memory, why, options)
