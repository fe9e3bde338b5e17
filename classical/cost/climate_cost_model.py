"""Cost model of climate-emulator ensembles: time and memory of one scenario per task on threads, processes,
Dask or Slurm."""

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
    Parallelism,
    classical_estimate,
    speedup,
)
from classical.segments import ClimateEnsemble
from config.settings import QcflowSettings
from quantum.cost.aer_memory import human_bytes

# Climate: an ensemble stage (the calibrated parameter draw, which runs the history for 4x the members, the runs,
# percentiles and the persisted result of each scenario) takes 1.3e-8 s per member-year on one thread at 1,000
# members, where its arrays (members x years) stay in the core's cache, and more as they outgrow it: 3.5e-8 at
# 10,000 and 4.5e-8 at 50,000 members (benchmarks/classical_placement.py, load about 1), about 0.8e-8 more per
# e-fold of members.
CLIMATE_SECONDS_PER_MEMBER_YEAR = 1.3e-8
CLIMATE_SECONDS_PER_MEMBER_YEAR_PER_E_FOLD = 0.8e-8
CLIMATE_CACHE_MEMBERS = 1000
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
        compute = segment.member_years / member_years_per_second(segment.members)
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


def member_years_per_second(members: int) -> float:
    """One thread's rate at this many members per scenario: in-cache small ensembles, memory-bound large ones."""
    e_folds = math.log(max(members, CLIMATE_CACHE_MEMBERS) / CLIMATE_CACHE_MEMBERS)
    return 1.0 / (CLIMATE_SECONDS_PER_MEMBER_YEAR + CLIMATE_SECONDS_PER_MEMBER_YEAR_PER_E_FOLD * e_folds)
