"""Resources for classical work, discovered at start-up: this machine's CPU (cores, free memory, the load on
them), local worker processes, a CUDA GPU when torch sees one, and a Dask cluster when a scheduler address is
configured (its workers, threads and memory). No Prefect.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

import psutil

from broker.models import Resource
from config.settings import QcflowSettings

logger = logging.getLogger(__name__)


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def busy_cores(window_seconds: float = 0.25, samples: int = 5) -> float:
    """Cores other programs want now: their runnable threads (averaged over a short window), and at least the CPU
    they used in that window. CPU use alone cannot show more demand than there are cores: at load 16 on 2 cores a
    run gets an eighth of a core, not a whole one; the load average would say so too, but lags a minute.

    Threads with a higher nice value than ours (background jobs, `nice -n 19 pytest`) are left out of both: the
    kernel's fair scheduler weighs a nice-19 thread at 15 against 1024 for nice 0, so they take under 2 % of a
    core from us. When this process is niced itself, they compete as equals and count in full.
    """
    mine = [psutil.Process()]
    mine += mine[0].children(recursive=True)
    own_pids = {process.pid for process in mine}
    ours = _niceness(mine[0])
    before = psutil.cpu_times()
    for process in mine:
        with contextlib.suppress(psutil.Error):
            process.cpu_percent(None)
    runnable = 0.0
    for _ in range(samples):
        time.sleep(window_seconds / samples)
        runnable += _runnable_threads(own_pids, ours) / samples
    after = psutil.cpu_times()
    cores = psutil.cpu_count() or 1
    elapsed = max(sum(after) - sum(before), 1e-9) / cores
    idle = (after.idle - before.idle) + (getattr(after, "iowait", 0.0) - getattr(before, "iowait", 0.0))
    background = 0.0 if ours > 0 else max(0.0, (after.nice - before.nice) / elapsed)
    own = 0.0
    for process in mine:
        with contextlib.suppress(psutil.Error):
            own += process.cpu_percent(None) / 100.0
    return max(0.0, cores - idle / elapsed - background - own, runnable)


def _runnable_threads(exclude: set[int], nice_limit: int) -> int:
    """Threads in state R (running or waiting for a core) of the processes outside `exclude` whose nice value is at
    most `nice_limit`, read from /proc (0 where there is none)."""
    count = 0
    for stat in Path("/proc").glob("[0-9]*/task/*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if (
            len(fields) > 16
            and fields[0] == "R"
            and int(stat.parts[2]) not in exclude
            and int(fields[16]) <= nice_limit
        ):
            count += 1
    return count


def _niceness(process: psutil.Process) -> int:
    """The process's nice value (0 where it cannot be read)."""
    try:
        return int(process.nice())
    except (psutil.Error, TypeError, ValueError):
        return 0


def _local(name: str, executor: str, settings: QcflowSettings) -> Resource:
    memory = psutil.virtual_memory()
    cores = usable_cores()
    return Resource(
        name=name,
        kind="classical",
        device="CPU",
        methods=["ml_potential", "climate_ensemble"],
        cores=cores,
        memory_total_bytes=int(memory.total),
        memory_free_bytes=int(memory.available),
        price_per_second_usd=settings.broker.cpu_price_per_core_hour_usd * cores / 3600.0,
        power_watts=settings.broker.cpu_watts_per_core * cores,
        executor=executor,  # type: ignore[arg-type]
        workers=cores,
    )


def cuda_resource(settings: QcflowSettings) -> Resource | None:
    """A CUDA GPU for torch models when torch sees one (else None); runs in the flow's own threads."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info()
    return Resource(
        name="cuda",
        kind="classical",
        device="GPU",
        methods=["ml_potential"],
        cores=1,
        memory_total_bytes=int(total),
        memory_free_bytes=int(free),
        price_per_second_usd=settings.broker.gpu_price_per_hour_usd / 3600.0,
        power_watts=settings.broker.gpu_watts,
        executor="threads",
        workers=1,
    )


def dask_resource(address: str, settings: QcflowSettings, timeout_seconds: float = 10.0) -> Resource | None:
    """A running Dask cluster at `address`: its workers, threads and memory (None, with a warning, when it does
    not answer within `timeout_seconds`)."""
    from distributed import Client

    try:
        with Client(address, timeout=timeout_seconds) as client:
            workers = client.scheduler_info(n_workers=-1)["workers"].values()
    except Exception as error:  # unreachable or refused: the flow still runs on local resources
        logger.warning("Dask scheduler %s did not answer (%s); continuing without it", address, error)
        return None
    threads = sum(int(w.get("nthreads", 1)) for w in workers)
    memory = sum(int(w.get("memory_limit", 0)) for w in workers)
    per_worker = memory // max(len(workers), 1)
    return Resource(
        name="dask",
        kind="classical",
        device="CPU",
        methods=["ml_potential", "climate_ensemble"],
        cores=threads,
        memory_total_bytes=memory,
        memory_free_bytes=per_worker,
        price_per_second_usd=settings.broker.cpu_price_per_core_hour_usd * threads / 3600.0,
        power_watts=settings.broker.cpu_watts_per_core * threads,
        executor="dask",
        workers=len(workers),
        address=address,
    )


def slurm_resource(settings: QcflowSettings) -> Resource | None:
    """Dask workers in Slurm jobs (dask-jobqueue) when QCFLOW_SLURM_QUEUE names a partition, else None. Its size
    is what the settings ask for: jobs are submitted only when a placement uses it."""
    if not settings.cluster.slurm.queue:
        return None
    threads = settings.cluster.slurm.cores * settings.cluster.slurm.jobs
    return Resource(
        name="slurm",
        kind="classical",
        device="CPU",
        methods=["ml_potential", "climate_ensemble"],
        cores=threads,
        memory_total_bytes=_bytes(settings.cluster.slurm.memory) * settings.cluster.slurm.jobs,
        memory_free_bytes=_bytes(settings.cluster.slurm.memory),
        price_per_second_usd=settings.broker.cpu_price_per_core_hour_usd * threads / 3600.0,
        power_watts=settings.broker.cpu_watts_per_core * threads,
        executor="slurm",
        workers=settings.cluster.slurm.jobs,
    )


def _bytes(size: str) -> int:
    """'16GB' -> bytes (dask's parser: decimal and binary units)."""
    from dask.utils import parse_bytes

    return int(parse_bytes(size))


def classical_resources(settings: QcflowSettings, dask_address: str | None = None) -> list[Resource]:
    """Every classical resource: the flow's threads, local processes, a CUDA GPU and a Dask cluster if any."""
    found = [_local("local-threads", "threads", settings), _local("local-processes", "processes", settings)]
    busy = busy_cores()
    for resource in found:
        resource.load = busy
    cuda = cuda_resource(settings)
    if cuda is not None:
        found.append(cuda)
    slurm = slurm_resource(settings)
    if slurm is not None:
        found.append(slurm)
    address = dask_address or settings.cluster.dask_address
    if address:
        dask = dask_resource(address, settings)
        if dask is not None:
            found.append(dask)
    return found
