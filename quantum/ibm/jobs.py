"""Finding QPU jobs again, by id or by tag: on IBM Quantum (an account's QiskitRuntimeService) or in
qiskit-ibm-runtime's local testing mode, whose jobs are threads of this process kept in a registry here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

# Job states after which the job's result will never come (names of qiskit's JobStatus and of RuntimeJobV2's).
FAILED_STATES = frozenset({"ERROR", "CANCELLED"})
# Local-testing-mode jobs kept for re-attachment (each holds its result in memory).
LOCAL_JOBS_KEPT = 256


class _LocalJobs:
    """Jobs submitted in local testing mode, by id and by tag: they run in this process and die with it."""

    def __init__(self, kept: int) -> None:
        self._jobs: OrderedDict[str, Any] = OrderedDict()
        self._tags: dict[str, str] = {}
        self._kept = kept
        self._lock = threading.Lock()

    def add(self, job: Any, tags: Sequence[str] = ()) -> None:
        with self._lock:
            self._jobs[job.job_id()] = job
            self._tags.update(dict.fromkeys(tags, job.job_id()))
            while len(self._jobs) > self._kept:
                self._jobs.popitem(last=False)
            self._tags = {tag: job_id for tag, job_id in self._tags.items() if job_id in self._jobs}

    def get(self, job_id: str) -> Any | None:
        with self._lock:
            return self._jobs.get(job_id)

    def tagged(self, tag: str) -> Any | None:
        with self._lock:
            return self._jobs.get(self._tags.get(tag, ""))


_LOCAL_JOBS = _LocalJobs(LOCAL_JOBS_KEPT)


def job_service(backend: Any) -> Any:
    """The service that runs jobs on `backend`: the account's QiskitRuntimeService, else local testing mode.

    The same choice qiskit-ibm-runtime's primitives make (`base_primitive.get_mode_service_backend`).
    """
    from qiskit_ibm_runtime import IBMBackend
    from qiskit_ibm_runtime.fake_provider.local_service import QiskitRuntimeLocalService

    return backend.service if isinstance(backend, IBMBackend) else QiskitRuntimeLocalService()


def find_job(job_id: str, service: Any) -> Any | None:
    """The job with this id, or None when the service does not know it (other lookup errors propagate)."""
    if getattr(service, "is_local", False):
        return _LOCAL_JOBS.get(job_id)
    from qiskit_ibm_runtime.exceptions import RuntimeJobNotFound

    try:
        return service.job(job_id)
    except RuntimeJobNotFound:
        return None


def find_tagged_job(tag: str, backend_name: str, since: datetime, service: Any) -> Any | None:
    """The newest job on `backend_name` created since `since` that carries `tag`, or None (local testing mode:
    the newest such job of this process)."""
    if getattr(service, "is_local", False):
        return _LOCAL_JOBS.tagged(tag)
    found = service.jobs(
        job_tags=[tag], backend_name=backend_name, created_after=since.astimezone(), limit=1, descending=True
    )
    return found[0] if found else None


def job_state(job: Any) -> str:
    """The job's status name: qiskit's JobStatus enum (local testing mode) or RuntimeJobV2's string."""
    status = job.status()
    return str(getattr(status, "name", status))


def remember_local_job(job: Any, tags: Sequence[str] = ()) -> None:
    """Keep a local-testing-mode job findable by its id and tags for the rest of this process."""
    _LOCAL_JOBS.add(job, tags)
