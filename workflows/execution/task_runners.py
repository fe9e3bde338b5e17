"""Prefect task runners from classical placements: the flow's thread pool, a Dask LocalCluster of processes, or an
existing Dask cluster (prefect-dask's DaskTaskRunner).

Worker processes report their task runs to the same Prefect API as the flow: an embedded (ephemeral) API's address
is passed to them, or each worker would start an API of its own that the UI never sees. They get the flow's settings
the same way, as the QCFLOW_* variables `settings_environment` builds from `get_settings()`.
"""

from __future__ import annotations

import logging
import shlex
from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner

from classical.runners import ExecutorSettings, slurm_cluster_kwargs
from config.settings import get_settings, settings_environment
from workflows.execution import prefect_workarounds

logger = logging.getLogger(__name__)

prefect_workarounds.install()  # every placed stage is a subflow of tagged tasks: neither may wait seconds for nothing


def prefect_api_url() -> str:
    """The Prefect API this process reports to: the configured one, else the embedded server (started if needed)."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if url:
        return str(url)
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    return server.api_url


def task_runner_for(settings: ExecutorSettings) -> Any:
    """The Prefect task runner that runs a stage where its placement says."""
    if settings.executor == "threads":
        return ThreadPoolTaskRunner(max_workers=settings.workers)
    from prefect_dask import DaskTaskRunner

    if settings.executor == "slurm":
        return DaskTaskRunner(
            cluster_class="dask_jobqueue.SLURMCluster",
            cluster_kwargs=slurm_cluster_kwargs(get_settings()) | {"job_script_prologue": slurm_prologue()},
            adapt_kwargs={"minimum": 1, "maximum": settings.workers},
        )
    if settings.executor == "dask":
        if not settings.address:
            raise ValueError("a 'dask' placement needs the scheduler's address; set QCFLOW_DASK_ADDRESS")
        return DaskTaskRunner(address=settings.address)
    keep_glibc_malloc_tuning()
    env = worker_environment() | {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "OMP_NUM_THREADS": str(settings.torch_threads),
    }
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": settings.workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
            "env": env,
        }
    )


# What Dask's nanny puts in a worker's environment before it starts (distributed.nanny.pre-spawn-environ) that
# qcflow's workers must not get: MALLOC_TRIM_THRESHOLD_=65536 (see keep_glibc_malloc_tuning).
UNSET_BEFORE_SPAWN = ("MALLOC_TRIM_THRESHOLD_",)


def keep_glibc_malloc_tuning() -> None:
    """Start this process's Dask worker processes without the MALLOC_TRIM_THRESHOLD_ that Dask's nanny sets.

    Dask sets it (65536) so freed memory goes back to the system sooner, but any value also switches off glibc's
    dynamic mmap threshold: torch's large temporary tensors are then mapped and unmapped on every call, and CHGNet's
    batched static predictions ran 2.1x slower on a LocalCluster worker than in a plain process (5,000 generated
    cells on each of two workers: 48 s against 23 s with the variable unset, 22 s in a ProcessPoolExecutor). The
    nanny is built in this process and reads Dask's config when the cluster starts; a value set in this process's
    own environment still wins (Dask reads os.environ first).
    """
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    if any(environ.get(name) is not None for name in UNSET_BEFORE_SPAWN):
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ | dict.fromkeys(UNSET_BEFORE_SPAWN)})


def worker_environment() -> dict[str, str]:
    """What a worker process the flow starts needs to see what the flow sees: its Prefect API and the settings in
    force (`get_settings()`, an override included) as QCFLOW_* variables. Credentials are not settings, so none
    travel this way."""
    return {"PREFECT_API_URL": prefect_api_url(), **settings_environment(get_settings())}


def slurm_prologue() -> list[str]:
    """Lines each Slurm job runs before its worker starts: the flow's Prefect API and settings, exported, and the
    nanny told to leave glibc's malloc tuning alone (`keep_glibc_malloc_tuning`)."""
    unset = repr(dict.fromkeys(UNSET_BEFORE_SPAWN))
    return [f"export {name}={shlex.quote(value)}" for name, value in worker_environment().items()] + [
        f"export DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON={shlex.quote(unset)}"
    ]
