"""Cost model of climate-emulator ensembles: time and memory of one scenario per task on threads, processes,
Dask or Slurm."""

from __future__ import annotations

from typing import Any

from broker.cost_models import Adjust, Estimates, adjusted
from broker.models import Estimate, Policy, Resource, ResourceCatalog
from classical.cost.executors import (
    CLUSTER_START_SECONDS,
    CLUSTER_WORKER_SECONDS,
    SLURM_QUEUE_SECONDS,
    STAGE_SECONDS,
    Parallelism,
    classical_estimate,
    speedup,
)
from classical.segments import ClimateEnsemble
from config.settings import QcflowSettings
from quantum.cost.aer_memory import human_bytes

# Climate: the two-layer emulator steps 7.0e7 member-years per second per core through `run_ensemble` alone
# (benchmarks/climate.py), but the ensemble stage (percentiles and the persisted result of each scenario included)
# runs 2.8-3.9e7 on one thread (benchmarks/classical_placement.py, 10,000-50,000 members, load 1.1-1.5); it holds
# about 12 float64 arrays of members x years while it runs.
CLIMATE_MEMBER_YEARS_PER_SECOND = 3.0e7
CLIMATE_BYTES_PER_MEMBER_YEAR = 12 * 8
CLIMATE_TASK_SECONDS = 0.05


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
        seconds = STAGE_SECONDS + compute / speedup(parallel, 0.9) + segment.scenarios * CLIMATE_TASK_SECONDS
        if parallel.executor == "processes":
            seconds += CLUSTER_START_SECONDS + CLUSTER_WORKER_SECONDS * (workers - 1)
        elif parallel.executor == "slurm":
            seconds += SLURM_QUEUE_SECONDS
        per_scenario = segment.members * segment.years * CLIMATE_BYTES_PER_MEMBER_YEAR
        memory = per_scenario * (1 if resource.executor in ("dask", "slurm") else workers)
        usable = int(resource.memory_free_bytes * settings.broker.memory_headroom)
        why = None
        if memory > usable:
            why = (
                f"{workers} scenario(s) at once need {human_bytes(memory)}, "
                f"{human_bytes(resource.memory_free_bytes)} free on {resource.name}"
            )
        options: dict[str, Any] = {"executor": parallel.executor, "workers": workers}
        return classical_estimate(resource, "ensemble", workers, seconds, memory, why, options)

    def what_would_fit(
        self,
        segment: ClimateEnsemble,
        found: Estimates,
        catalog: ResourceCatalog,
        ranked: list[Estimate],
        settings: QcflowSettings,
    ) -> list[str]:
        most_free = max((r.memory_free_bytes for r in catalog.of_kind("classical")), default=0)
        members = int(most_free * settings.broker.memory_headroom) // (
            segment.years * CLIMATE_BYTES_PER_MEMBER_YEAR
        )
        return [f"at most {members:,} members per scenario (now {segment.members:,})"]
