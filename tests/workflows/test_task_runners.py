"""Dask worker processes keep glibc's malloc tuning: Dask's nanny would start them with MALLOC_TRIM_THRESHOLD_
set, which made CHGNet's batched predictions 2.1x slower on a LocalCluster worker than in a plain process."""

from __future__ import annotations

import os
import shlex

import dask
import pytest
from distributed.nanny import _get_env_variables

# Dask's own default (distributed.yaml); other tests may already have unset it in this session's config.
DASK_DEFAULT = {"distributed.nanny.pre-spawn-environ": {"MALLOC_TRIM_THRESHOLD_": 65536, "X": "1"}}


def test_the_nanny_no_longer_sets_the_malloc_trim_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    from workflows.execution.task_runners import keep_glibc_malloc_tuning

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with dask.config.set(DASK_DEFAULT):
        assert "MALLOC_TRIM_THRESHOLD_" in _get_env_variables("distributed.nanny.pre-spawn-environ")
        keep_glibc_malloc_tuning()
        assert _get_env_variables("distributed.nanny.pre-spawn-environ") == {"X": "1"}


def _worker_environ_value() -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


@pytest.mark.slow
def test_a_local_cluster_worker_starts_without_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    from distributed import Client, LocalCluster

    from workflows.execution.task_runners import keep_glibc_malloc_tuning

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with dask.config.set(DASK_DEFAULT):
        keep_glibc_malloc_tuning()
        with (
            LocalCluster(
                n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            assert client.submit(_worker_environ_value).result(timeout=120) is None


def test_slurm_jobs_tell_their_nanny_the_same() -> None:
    """The job script's prologue exports Dask config that its worker's nanny reads: the threshold unset."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from workflows.execution.task_runners import slurm_prologue

    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        lines = slurm_prologue()
    exported = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in lines)
    nanny = {name: value for name, value in exported.items() if name.startswith("DASK_")}
    with dask.config.set(DASK_DEFAULT), dask.config.set(dask.config.collect_env(nanny)):
        assert "MALLOC_TRIM_THRESHOLD_" not in _get_env_variables("distributed.nanny.pre-spawn-environ")
