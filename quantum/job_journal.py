"""QPU job journal: a job's id is persisted before waiting, so a rerun re-attaches instead of submitting again.

A submission key hashes what decides a job's result (backend, primitive, the PUBs' circuits as OpenQASM 3, their
parameter values, observables, shots or precision, and the primitive's settings), so the same request gets the
same key in any process. `JournaledSampler` / `JournaledEstimator` wrap a QPU primitive: `run` looks the key up
in a `JobJournal` (one small JSON file per key) and re-attaches to the job when the service still knows it and it
did not fail; otherwise it submits and journals the job id (fsync'd) before returning the job to wait on.
`find_job` looks an id up on IBM Quantum (an account's QiskitRuntimeService) or, in qiskit-ibm-runtime's local
testing mode, whose jobs are threads of this process, in this process's registry of submitted jobs.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import hashlib
import io
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from qiskit import QuantumCircuit
from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub

from quantum.profiles import flatten_circuit

logger = logging.getLogger(__name__)

PrimitiveKind = Literal["sampler", "estimator"]
# Job states after which the job's result will never come (names of qiskit's JobStatus and of RuntimeJobV2's).
FAILED_STATES = frozenset({"ERROR", "CANCELLED"})
# Days a journal entry is kept after its last write: long past any queue or job limit (IBM: 3 h per job).
JOURNAL_KEEP_DAYS = 30.0
# Local-testing-mode jobs kept for re-attachment (each holds its result in memory).
LOCAL_JOBS_KEPT = 256


class JournalEntry(BaseModel):
    """One submitted job: its key, id, backend and primitive, when it was submitted and its last seen state."""

    key: str
    job_id: str
    backend: str
    primitive: PrimitiveKind
    submitted_at: datetime
    state: str = "SUBMITTED"


class JobJournal:
    """Journal entries under `folder`, one `<key>.json` each, written atomically and fsync'd."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def entry(self, key: str) -> JournalEntry | None:
        """The entry for `key`, or None (an unreadable entry is skipped with a warning)."""
        path = self._path(key)
        try:
            return JournalEntry.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError:
            logger.warning("ignoring unreadable QPU job journal entry %s", path)
            return None

    def entries(self) -> list[JournalEntry]:
        """All readable entries, oldest submission first."""
        found = (self.entry(path.stem) for path in self.folder.glob("*.json"))
        return sorted((e for e in found if e is not None), key=lambda e: e.submitted_at)

    def record(self, entry: JournalEntry) -> None:
        """Write the entry durably: a temporary file, fsync, rename over the old entry, fsync of the folder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(entry.key)
        temporary = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(entry.model_dump_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        descriptor = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def prune(self, keep_days: float = JOURNAL_KEEP_DAYS) -> int:
        """Remove entries and lock files untouched for `keep_days` days; return how many files went."""
        cutoff = time.time() - keep_days * 86_400
        removed = 0
        for path in [*self.folder.glob("*.json"), *self.folder.glob("*.lock")]:
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed

    def forget(self, key: str) -> None:
        """Remove the entry for `key` (nothing happens when there is none)."""
        self._path(key).unlink(missing_ok=True)

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Hold the key's lock file, so overlapping runs (threads or processes) submit the same request once."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._path(key).with_suffix(".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def circuit_text(circuit: QuantumCircuit) -> str:
    """OpenQASM 3 of the flattened circuit: the same text in every process (QPY holds per-process names, UUIDs)."""
    from qiskit import qasm3, qpy

    flat = flatten_circuit(circuit)
    try:
        return qasm3.dumps(flat)
    except Exception as error:  # qasm3.QASM3ExporterError for what OpenQASM 3 cannot express
        logger.warning("circuit %r has no OpenQASM 3 form (%s); its job key holds in this process only", circuit.name, error)  # fmt: skip
        buffer = io.BytesIO()
        qpy.dump(flat, buffer)
        return buffer.getvalue().hex()


def _pub_payload(pub: SamplerPub | EstimatorPub) -> dict[str, Any]:
    values = pub.parameter_values
    payload: dict[str, Any] = {
        "circuit": circuit_text(pub.circuit),
        "parameter_values": [[list(names), array.tolist()] for names, array in sorted(values.data.items())],
        "shape": list(values.shape),
    }
    if isinstance(pub, SamplerPub):
        payload["shots"] = pub.shots
    else:
        payload["observables"] = pub.observables.tolist()
        payload["precision"] = pub.precision
    return payload


def submission_key(
    backend: str,
    primitive: PrimitiveKind,
    pubs: Sequence[SamplerPub | EstimatorPub],
    settings: Mapping[str, Any] | None = None,
) -> str:
    """SHA-256 (hex) of the request: backend name, primitive, PUBs and the primitive's settings."""
    payload = {
        "backend": backend,
        "primitive": primitive,
        "settings": dict(settings or {}),
        "pubs": [_pub_payload(pub) for pub in pubs],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class _LocalJobs:
    """Jobs submitted in local testing mode, by id: they run in this process and die with it."""

    def __init__(self, kept: int) -> None:
        self._jobs: OrderedDict[str, Any] = OrderedDict()
        self._kept = kept
        self._lock = threading.Lock()

    def add(self, job: Any) -> None:
        with self._lock:
            self._jobs[job.job_id()] = job
            while len(self._jobs) > self._kept:
                self._jobs.popitem(last=False)

    def get(self, job_id: str) -> Any | None:
        with self._lock:
            return self._jobs.get(job_id)


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


def job_state(job: Any) -> str:
    """The job's status name: qiskit's JobStatus enum (local testing mode) or RuntimeJobV2's string."""
    status = job.status()
    return str(getattr(status, "name", status))


@dataclass(frozen=True)
class Submission:
    """A job that a journaled primitive submitted, or re-attached to (`reattached`)."""

    job_id: str
    reattached: bool


_SUBMISSIONS: contextvars.ContextVar[list[Submission] | None] = contextvars.ContextVar(
    "qcflow_qpu_submissions", default=None
)


@contextlib.contextmanager
def submissions_recorded() -> Iterator[list[Submission]]:
    """Collect the jobs journaled primitives submit or re-attach to inside the block, in order."""
    found: list[Submission] = []
    token = _SUBMISSIONS.set(found)
    try:
        yield found
    finally:
        _SUBMISSIONS.reset(token)


def _note(submission: Submission) -> None:
    found = _SUBMISSIONS.get()
    if found is not None:
        found.append(submission)


@dataclass(frozen=True)
class QpuJobs:
    """Where a QPU primitive's jobs run (backend, its service) and are journaled; `settings` enter the key."""

    backend: Any
    service: Any
    journal: JobJournal | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def submit(self, primitive: PrimitiveKind, pubs: list[Any], run: Callable[[], Any]) -> Any:
        """The job for the PUBs: re-attached from the journal when possible, else `run()` and journaled."""
        if self.journal is None:
            job = self._submitted(run())
            _note(Submission(job.job_id(), reattached=False))
            return job
        key = submission_key(self.backend.name, primitive, pubs, self.settings)
        with self.journal.locked(key):
            job = self._reattached(self.journal, key)
            reattached = job is not None
            if job is None:
                job = self._submitted(run())
                entry = JournalEntry(
                    key=key, job_id=job.job_id(), backend=self.backend.name, primitive=primitive,
                    submitted_at=datetime.now(UTC),
                )  # fmt: skip
                self.journal.record(entry)
                self.journal.prune()
        _note(Submission(job.job_id(), reattached=reattached))
        return job

    def _submitted(self, job: Any) -> Any:
        """The job, findable by id (local testing mode keeps it in this process's registry)."""
        if getattr(self.service, "is_local", False):
            _LOCAL_JOBS.add(job)
        return job

    def _reattached(self, journal: JobJournal, key: str) -> Any | None:
        entry = journal.entry(key)
        if entry is None:
            return None
        job = find_job(entry.job_id, self.service)
        state = None if job is None else job_state(job)
        if job is None or state in FAILED_STATES:
            why = "is unknown to the service" if job is None else f"ended {state}"
            # Local testing mode's jobs end with their process: losing one is expected, not worth a warning.
            expected = job is None and getattr(self.service, "is_local", False)
            logger.log(
                logging.INFO if expected else logging.WARNING,
                "QPU job %s on %s (submitted %s) %s; submitting its PUBs again",
                entry.job_id, entry.backend, entry.submitted_at.isoformat(), why,
            )  # fmt: skip
            journal.forget(key)
            return None
        logger.info("re-attaching to QPU job %s on %s (%s)", entry.job_id, entry.backend, state)
        if state != entry.state:
            journal.record(entry.model_copy(update={"state": state}))
        return job


class JournaledSampler(BaseSamplerV2):
    """A QPU SamplerV2 whose jobs are journaled and re-attached (see `QpuJobs.submit`)."""

    def __init__(self, sampler: BaseSamplerV2, jobs: QpuJobs, default_shots: int) -> None:
        self._sampler = sampler
        self._jobs = jobs
        self._default_shots = default_shots

    def run(self, pubs: Iterable[Any], *, shots: int | None = None) -> Any:
        coerced = [SamplerPub.coerce(pub, self._default_shots if shots is None else shots) for pub in pubs]
        return self._jobs.submit("sampler", coerced, lambda: self._sampler.run(coerced))


class JournaledEstimator(BaseEstimatorV2):
    """A QPU EstimatorV2 whose jobs are journaled and re-attached (see `QpuJobs.submit`)."""

    def __init__(self, estimator: BaseEstimatorV2, jobs: QpuJobs) -> None:
        self._estimator = estimator
        self._jobs = jobs

    def run(self, pubs: Iterable[Any], *, precision: float | None = None) -> Any:
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        return self._jobs.submit(
            "estimator", coerced, lambda: self._estimator.run(coerced, precision=precision)
        )


def qpu_jobs(backend: Any, journal: JobJournal | Path | str | None = None, **settings: Any) -> QpuJobs:
    """A QpuJobs for `backend`, with a journal (object or folder) or none; `settings` enter the key."""
    if journal is not None and not isinstance(journal, JobJournal):
        journal = JobJournal(journal)
    return QpuJobs(backend=backend, service=job_service(backend), journal=journal, settings=settings)
