"""What every classical cost model shares: the executors' start-up and per-task overheads, the speed of
parallel workers on a loaded machine, and the Estimate that one (resource, workers) option becomes.

Constants were measured on the project's reference machine (2 cores, no GPU; `benchmarks/classical_placement.py`
measures them again and prints the estimate errors). Execution records correct them per resource and method once a
method has three comparable runs (`broker.records`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from broker.models import Estimate, Resource

# A Dask LocalCluster of processes: scheduler and first worker up, and torn down after, then each further worker
# (they start side by side). A stage on one or two local worker processes measured 5.4-6.2 s above the same stage
# on the flow's thread with CHGNet loaded in each worker, 4.3-4.6 s for climate ensembles, which load no model
# (benchmarks/classical_placement.py, load about 1).
CLUSTER_START_SECONDS = 3.8
CLUSTER_WORKER_SECONDS = 0.5
# A stage is a subflow: its own flow run, progress artifact and result (0.1-0.2 s on the embedded API; a thread
# stage of 16 static energies, 0.1 s of CPU, took 0.23 s in all).
STAGE_SECONDS = 0.15
# Orchestration per Prefect task (ephemeral API, 2 cores: ~10 ms sequential, ~30 ms mapped), and on Dask.
TASK_SECONDS = {"threads": 0.03, "processes": 0.06, "dask": 0.06, "slurm": 0.06}
# Assumption: a Slurm job waits about a minute in the queue before its worker joins (site-dependent; execution
# records correct it).
SLURM_QUEUE_SECONDS = 60.0


@dataclass(frozen=True)
class Parallelism:
    """How a resource would run the work: executor, workers, its cores and the load already on them."""

    executor: str
    workers: int
    cores: int
    load: float


def speedup(parallel: Parallelism, fraction_outside_gil: float) -> float:
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


def classical_estimate(
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
