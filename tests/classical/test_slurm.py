"""Slurm through dask-jobqueue: the configuration is built and validated here (no Slurm on this machine)."""

from __future__ import annotations

import pytest

from broker.models import ResourceCatalog
from broker.place import place
from classical.resources import classical_resources
from classical.runners import slurm_cluster_kwargs
from classical.segments import MLPotentialBatch
from config.settings import QcflowSettings, load_settings


def lab_settings() -> QcflowSettings:
    return load_settings(
        slurm_queue="cpu-long", slurm_account="matsci", slurm_cores=16, slurm_memory="32GB",
        slurm_walltime="04:00:00", slurm_jobs=8, slurm_python="/opt/qcflow/.venv/bin/python",
    )  # fmt: skip


def test_the_job_script_asks_slurm_for_what_the_settings_say() -> None:
    from dask_jobqueue import SLURMCluster

    cluster = SLURMCluster(
        **slurm_cluster_kwargs(lab_settings())
    )  # starts a local scheduler, submits nothing
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH -p cpu-long", "#SBATCH -A matsci", "#SBATCH -n 1", "#SBATCH --cpus-per-task=16",
                 "#SBATCH --mem=30G", "#SBATCH -t 04:00:00"):  # fmt: skip
        assert line in script, line
    assert "/opt/qcflow/.venv/bin/python -m distributed.cli.dask_worker" in script
    assert "--nthreads 16" in script and "--memory-limit 29.80GiB" in script


def test_without_a_partition_there_is_no_slurm_resource_and_a_clear_error() -> None:
    settings = load_settings(slurm_queue=None)
    assert all(r.name != "slurm" for r in classical_resources(settings))
    with pytest.raises(ValueError, match="set QCFLOW_SLURM_QUEUE"):
        slurm_cluster_kwargs(settings)


def test_a_night_of_relaxations_goes_to_the_slurm_jobs() -> None:
    catalog = ResourceCatalog(resources=classical_resources(lab_settings()))
    slurm = catalog.get("slurm")
    assert (slurm.executor, slurm.workers, slurm.cores) == ("slurm", 8, 128)
    placement = place(MLPotentialBatch(name="night", atoms=[8] * 10_000, relax_steps=200), catalog)
    assert placement.resource == "slurm" and placement.options["workers"] == 8
    small = place(MLPotentialBatch(name="few", atoms=[8] * 16), catalog)
    assert small.resource != "slurm"  # a minute in the queue is not worth it for a few static energies
