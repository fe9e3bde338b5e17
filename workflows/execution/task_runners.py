"""Prefect task runners from classical placements: the flow's thread pool, a Dask LocalCluster of processes, or an
existing Dask cluster (prefect-dask's DaskTaskRunner).

Worker processes report their task runs to the same Prefect API as the flow: an embedded (ephemeral) API's address
is passed to them, or each worker would start an API of its own that the UI never sees.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner

from classical.runners import ExecutorSettings, slurm_cluster_kwargs

logger = logging.getLogger(__name__)


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
        from config.settings import get_settings

        return DaskTaskRunner(
            cluster_class="dask_jobqueue.SLURMCluster",
            cluster_kwargs=slurm_cluster_kwargs(get_settings()) | {"job_script_prologue": _prologue()},
            adapt_kwargs={"minimum": 1, "maximum": settings.workers},
        )
    if settings.executor == "dask":
        if not settings.address:
            raise ValueError("a 'dask' placement needs the scheduler's address; set QCFLOW_DASK_ADDRESS")
        return DaskTaskRunner(address=settings.address)
    env = {
        "PREFECT_API_URL": prefect_api_url(),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "QCFLOW_HOME": os.environ.get("QCFLOW_HOME", ""),
        "QCFLOW_RESULTS_DIR": os.environ.get("QCFLOW_RESULTS_DIR", ""),
        "QCFLOW_SURROGATE": os.environ.get("QCFLOW_SURROGATE", ""),
        "OMP_NUM_THREADS": str(settings.torch_threads),
    }
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": settings.workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
            "env": {k: v for k, v in env.items() if v},
        }
    )


def _prologue() -> list[str]:
    """Lines each Slurm job runs before its worker starts: the same Prefect API and QCFLOW_HOME as the flow."""
    exports = {"PREFECT_API_URL": prefect_api_url(), "QCFLOW_HOME": os.environ.get("QCFLOW_HOME", "")}
    return [f"export {name}={value}" for name, value in exports.items() if value]
