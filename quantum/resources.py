"""Resources for quantum segments, discovered at start-up: Aer on this machine's CPU (every method) and on a GPU
when qiskit-aer-gpu sees one, qiskit-ibm-runtime fake backends for tests and what-if planning, and IBM QPUs.
No Prefect.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from typing import Any

import psutil

from broker.models import Resource
from classical.resources import usable_cores
from config.settings import QcflowSettings
from quantum.cost.aer_estimates import AER_METHODS
from quantum.ibm.runtime import calibration_summary, pending_jobs

logger = logging.getLogger(__name__)

GPU_METHODS = ("statevector", "density_matrix")  # Aer GPU device methods (qiskit-aer-gpu 0.18 documentation)


def cpu_resource(settings: QcflowSettings) -> Resource:
    """The local CPU running Aer: cores and memory now free (psutil reads /proc/meminfo on Linux)."""
    memory = psutil.virtual_memory()
    cores = usable_cores()
    return Resource(
        name="aer-cpu",
        kind="simulator",
        device="CPU",
        methods=list(AER_METHODS),
        cores=cores,
        memory_total_bytes=int(memory.total),
        memory_free_bytes=int(memory.available),
        price_per_second_usd=settings.broker.cpu_price_per_core_hour_usd * cores / 3600.0,
        power_watts=settings.broker.cpu_watts_per_core * cores,
    )


def ffsim_resource(settings: QcflowSettings) -> Resource:
    """ffsim on the local CPU: number-conserving fermionic circuits in their fixed-particle space."""
    aer = cpu_resource(settings)
    return aer.model_copy(update={"name": "ffsim", "methods": ["ffsim"]})


def gpu_memory_bytes() -> tuple[int, int] | None:
    """(total, free) bytes of the first GPU from nvidia-smi, or None without one."""
    if shutil.which("nvidia-smi") is None:
        return None
    query = ["nvidia-smi", "--query-gpu=memory.total,memory.free", "--format=csv,noheader,nounits"]
    try:
        line = subprocess.run(
            query, capture_output=True, text=True, timeout=10, check=True
        ).stdout.splitlines()[0]
        total_mib, free_mib = (int(x.strip()) for x in line.split(","))
    except (subprocess.SubprocessError, ValueError, IndexError):
        return None
    return total_mib * 2**20, free_mib * 2**20


def gpu_resource(settings: QcflowSettings) -> Resource | None:
    """Aer on the GPU when qiskit-aer lists a GPU device, else None."""
    from qiskit_aer import AerSimulator

    if "GPU" not in AerSimulator().available_devices():
        return None
    memory = gpu_memory_bytes()
    if memory is None:
        logger.warning("Aer lists a GPU but nvidia-smi gave no memory figures; leaving the GPU out")
        return None
    return Resource(
        name="aer-gpu",
        kind="simulator",
        device="GPU",
        methods=list(GPU_METHODS),
        cores=1,
        memory_total_bytes=memory[0],
        memory_free_bytes=memory[1],
        price_per_second_usd=settings.broker.gpu_price_per_hour_usd / 3600.0,
        power_watts=settings.broker.gpu_watts,
    )


def qpu_resource(backend: Any, settings: QcflowSettings, *, what_if: bool) -> Resource:
    """A QPU resource from a backend (fake or real) with its calibration summary and queue estimate."""
    queued = None if what_if else pending_jobs(backend)
    return Resource(
        name=backend.name,
        kind="qpu",
        device="QPU",
        methods=["sampler", "estimator"],
        max_qubits=backend.num_qubits,
        price_per_second_usd=settings.broker.qpu_price_per_second_usd,
        power_watts=settings.broker.qpu_watts,
        queue_seconds=(queued or 0) * settings.broker.seconds_per_queued_job,
        calibration=calibration_summary(backend),
        runs_locally=what_if,
        what_if=what_if,
    )
