"""From a classical placement to how its work runs: executor settings and the ML potential each worker uses.

No Prefect here: `workflows.execution.task_runners` turns `ExecutorSettings` into a Prefect task runner.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Literal

from pydantic import BaseModel, Field

from config.settings import QcflowSettings
from materials.surrogate import Surrogate, load_surrogate, new_surrogate


class ExecutorSettings(BaseModel):
    """Where a classical stage's tasks run: the flow's thread pool, local worker processes, or a Dask cluster."""

    executor: Literal["threads", "processes", "dask", "slurm"] = "threads"
    workers: int = Field(1, ge=1)
    address: str | None = Field(None, description="the scheduler of an existing Dask cluster")
    torch_threads: int = Field(1, ge=1)
    device: Literal["cpu", "cuda"] = "cpu"
    batch_size: int = Field(16, ge=1)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> ExecutorSettings:
        """The settings a classical placement's options name (unknown keys ignored)."""
        return cls.model_validate({k: v for k, v in options.items() if k in cls.model_fields})


_PER_THREAD = threading.local()


def surrogate_for_worker(name: str, torch_threads: int = 1, *, shared: bool = False) -> Surrogate:
    """The ML potential for the calling worker thread: an instance of its own, so parallel threads never wait on
    one instance's lock (`shared=True` gives the process-wide instance, for one worker)."""
    if shared:
        return load_surrogate(name)
    cache: dict[tuple[str, int], Surrogate] = getattr(_PER_THREAD, "surrogates", None) or {}
    _PER_THREAD.surrogates = cache
    key = (name, torch_threads)
    if key not in cache:
        cache[key] = new_surrogate(name, torch_threads=torch_threads)
    return cache[key]


def slurm_cluster_kwargs(settings: QcflowSettings) -> dict[str, Any]:
    """dask-jobqueue SLURMCluster arguments from the QCFLOW_SLURM_* settings: one worker process per job with
    `slurm_cores` threads, so a job's cores share one model instance per thread."""
    if not settings.cluster.slurm.queue:
        raise ValueError(
            "no Slurm partition configured; set QCFLOW_SLURM_QUEUE (and QCFLOW_SLURM_ACCOUNT if needed)"
        )
    kwargs: dict[str, Any] = {
        "queue": settings.cluster.slurm.queue,
        "cores": settings.cluster.slurm.cores,
        "processes": 1,
        "memory": settings.cluster.slurm.memory,
        "walltime": settings.cluster.slurm.walltime,
        "python": settings.cluster.slurm.python or sys.executable,
        "job_name": "qcflow-worker",
        "scheduler_options": {"dashboard_address": None},
    }
    if settings.cluster.slurm.account:
        kwargs["account"] = settings.cluster.slurm.account
    return kwargs
