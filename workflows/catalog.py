"""The resource catalog: every place a quantum segment can run, discovered at start-up (plain Python, no Prefect).

Local CPU (cores, free memory) with every Aer method, a GPU when qiskit-aer-gpu sees one, qiskit-ibm-runtime fake
backends for tests and what-if planning, and IBM QPUs when a token is given (from a Prefect Secret block read by
the caller, or the environment variable QISKIT_IBM_TOKEN).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any, Literal

import psutil
from pydantic import BaseModel, Field, PrivateAttr

from quantum.estimates import AER_METHODS
from quantum.runtime import (
    DEFAULT_FAKE_BACKENDS,
    QpuCalibration,
    calibration_summary,
    fake_backend,
    ibm_backends,
    pending_jobs,
)
from quantum.runtime import ibm_token as resolve_ibm_token
from workflows.settings import QcflowSettings

logger = logging.getLogger(__name__)

GPU_METHODS = ("statevector", "density_matrix")  # Aer GPU device methods (qiskit-aer-gpu 0.18 documentation)


class Resource(BaseModel):
    """A place that can run quantum segments, with the capabilities the broker needs."""

    name: str = Field(description="'aer-cpu', 'aer-gpu', a fake backend ('fake_brisbane') or an IBM QPU name")
    kind: Literal["simulator", "qpu"]
    device: Literal["CPU", "GPU", "QPU"]
    methods: list[str]
    cores: int = 0
    memory_total_bytes: int = 0
    memory_free_bytes: int = 0
    max_qubits: int | None = None
    price_per_second_usd: float = 0.0
    power_watts: float = 0.0
    queue_seconds: float = 0.0
    calibration: QpuCalibration | None = None
    runs_locally: bool = Field(True, description="fake backends run locally as noisy Aer simulations")
    what_if: bool = Field(False, description="a fake backend: estimates describe the real device it copies")


class ResourceCatalog(BaseModel):
    """Resources discovered at start-up; QPU backend objects are kept beside the JSON-able description."""

    resources: list[Resource]
    _backends: dict[str, Any] = PrivateAttr(default_factory=dict)

    def get(self, name: str) -> Resource:
        """The resource called `name`."""
        for resource in self.resources:
            if resource.name == name:
                return resource
        known = ", ".join(r.name for r in self.resources)
        raise KeyError(f"resource {name!r} is not in the catalog; known resources: {known}")

    def backend(self, name: str) -> Any | None:
        """The qiskit backend object of a QPU resource (None for simulators)."""
        return self._backends.get(name)

    def add_backend(self, resource: Resource, backend: Any) -> None:
        """Register a QPU resource together with its backend object."""
        self.resources.append(resource)
        self._backends[resource.name] = backend


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


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
        price_per_second_usd=settings.cpu_price_per_core_hour_usd * cores / 3600.0,
        power_watts=settings.cpu_watts_per_core * cores,
    )


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
        price_per_second_usd=settings.gpu_price_per_hour_usd / 3600.0,
        power_watts=settings.gpu_watts,
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
        price_per_second_usd=settings.qpu_price_per_second_usd,
        power_watts=settings.qpu_watts,
        queue_seconds=(queued or 0) * settings.seconds_per_queued_job,
        calibration=calibration_summary(backend),
        runs_locally=what_if,
        what_if=what_if,
    )


def discover_catalog(
    *,
    include_fake_backends: bool = False,
    ibm_token: str | None = None,
    fake_backends: Sequence[str] = DEFAULT_FAKE_BACKENDS,
    settings: QcflowSettings | None = None,
    ibm: bool = True,
) -> ResourceCatalog:
    """Discover the resources of this machine and, when asked, fake backends and IBM QPUs.

    `ibm_token` falls back to the environment variable QISKIT_IBM_TOKEN; without either, or with `ibm=False`, no
    IBM QPU is listed. An unreachable IBM service is logged (without the token) and left out.
    """
    settings = settings or QcflowSettings()
    catalog = ResourceCatalog(resources=[cpu_resource(settings)])
    gpu = gpu_resource(settings)
    if gpu is not None:
        catalog.resources.append(gpu)
    if include_fake_backends:
        for name in fake_backends:
            backend = fake_backend(name)
            catalog.add_backend(qpu_resource(backend, settings, what_if=True), backend)
    token = resolve_ibm_token(ibm_token) if ibm else None
    if token:
        try:
            backends = ibm_backends(token)
        except Exception as error:  # network or account errors: the flow still runs on local resources
            said = str(error).replace(token, "***")[:300]  # the service's own words, never the token
            logger.warning(
                "IBM Quantum is unreachable (%s: %s); continuing without QPUs", type(error).__name__, said
            )
            backends = []
        for backend in backends:
            catalog.add_backend(qpu_resource(backend, settings, what_if=False), backend)
    return catalog
