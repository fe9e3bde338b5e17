"""QPU job journal: a job's id is persisted before waiting, so a rerun re-attaches instead of submitting again.

A submission key hashes what decides a job's result (backend, primitive, the PUBs' circuits as OpenQASM 3, their
parameter values, observables, shots or precision, and the primitive's settings), so the same request gets the
same key in any process. `JournaledSampler` / `JournaledEstimator` wrap a QPU primitive: `run` looks the key up
in a `JobJournal` (one small JSON file per key; `quantum.ibm.journal_store`) and re-attaches to the job when the
service still knows it and it did not fail; otherwise it submits and journals the job id (fsync'd) before
returning the job to wait on.
Jobs are looked up by id or tag on IBM Quantum or in local testing mode (`quantum.ibm.jobs`).

Before submitting, the entry is written without a job id (state SUBMITTING) but with a tag new to this submission
(`new_job_tag`: part of the key and a random nonce), which the job carries. A run that died after the service took
the job but before its id was journaled leaves that entry behind; the rerun finds the job by its tag
(`find_tagged_job`) instead of paying for it twice. Only that submission's job carries the tag, so an older job of
the same request is never picked up, and deleting an entry still forces a new job.
An entry that cannot be read is set aside (`<key>.json.corrupt-<UTC time>`) and its request is refused
(`JournalUnreadable`, naming the file) until the user deletes that file: a lost job id never silently buys a new job.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from qiskit import QuantumCircuit
from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub

from quantum.cost.profiles import flatten_circuit
from quantum.ibm.jobs import (
    FAILED_STATES,
    find_job,
    find_tagged_job,
    job_service,
    job_state,
    remember_local_job,
)
from quantum.ibm.journal_store import JobJournal, JournalEntry, JournalUnreadable, PrimitiveKind
from quantum.ibm.runtime import ClosablePrimitive

logger = logging.getLogger(__name__)

# Job tags qcflow adds: this prefix, the submission key's first 24 hex digits and a 12-digit random nonce.
JOB_TAG_PREFIX = "qcflow-"
# Seconds before an entry's submission time that a job found by its tag may have been created (clock skew).
TAG_CLOCK_SLACK_S = 600.0


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


def new_job_tag(key: str) -> str:
    """A tag for one submission of the request `key`, which its job carries, so it can be found without its id."""
    return f"{JOB_TAG_PREFIX}{key[:24]}-{secrets.token_hex(6)}"


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

    def submit(self, primitive: PrimitiveKind, pubs: list[Any], run: Callable[[list[str]], Any]) -> Any:
        """The job for the PUBs: re-attached when possible, else `run(job_tags)` and journaled."""
        if self.journal is None:
            job = self._submitted(run([]), [])
            _note(Submission(job.job_id(), reattached=False))
            return job
        key = submission_key(self.backend.name, primitive, pubs, self.settings)
        with self.journal.locked(key):
            job = self._reattached(self.journal, key)
            reattached = job is not None
            if job is None:
                _refuse_when_set_aside(self.journal, key)
                submitting = JournalEntry(
                    key=key, job_id=None, tag=new_job_tag(key), backend=self.backend.name, primitive=primitive,
                    submitted_at=datetime.now(UTC), state="SUBMITTING",
                )  # fmt: skip
                self.journal.record(submitting)
                tags = [submitting.tag]
                job = self._submitted(run(tags), tags)
                self.journal.record(
                    submitting.model_copy(update={"job_id": job.job_id(), "state": "SUBMITTED"})
                )
                self.journal.prune()
        _note(Submission(job.job_id(), reattached=reattached))
        return job

    def _submitted(self, job: Any, tags: list[str]) -> Any:
        """The job, findable by id and tag (local testing mode keeps it in this process's registry)."""
        if getattr(self.service, "is_local", False):
            remember_local_job(job, tags)
        return job

    def _reattached(self, journal: JobJournal, key: str) -> Any | None:
        """The live job of the journal's entry for `key`; None when there is none or it failed (the entry is then
        forgotten)."""
        entry = journal.entry(key)
        if entry is None:
            return None
        job = self._entry_job(entry)
        state = None if job is None else job_state(job)
        if job is None and entry.job_id is None:
            logger.info(
                "no QPU job on %s carries tag %s: the submission of %s never reached the service; submitting again",
                entry.backend, entry.tag, entry.submitted_at.isoformat(),
            )  # fmt: skip
            journal.forget(key)
            return None
        if job is None or state in FAILED_STATES:
            why = "is unknown to the service" if job is None else f"ended {state}"
            # Local testing mode's jobs end with their process: losing one is expected, not worth a warning.
            expected = job is None and getattr(self.service, "is_local", False)
            logger.log(
                logging.INFO if expected else logging.WARNING,
                "QPU job %s on %s (submitted %s) %s; submitting its PUBs again",
                entry.job_id or job.job_id(), entry.backend, entry.submitted_at.isoformat(), why,
            )  # fmt: skip
            journal.forget(key)
            return None
        logger.info("re-attaching to QPU job %s on %s (%s)", job.job_id(), entry.backend, state)
        if state != entry.state or entry.job_id is None:
            journal.record(entry.model_copy(update={"job_id": job.job_id(), "state": state}))
        return job

    def _entry_job(self, entry: JournalEntry) -> Any | None:
        """The entry's job by id, or, when the submission ended before its id was journaled, by its tag."""
        if entry.job_id is not None:
            return find_job(entry.job_id, self.service)
        if entry.tag is None:
            return None
        since = entry.submitted_at - timedelta(seconds=TAG_CLOCK_SLACK_S)
        job = find_tagged_job(entry.tag, entry.backend, since, self.service)
        if job is not None:
            logger.warning(
                "QPU job %s on %s found by its tag %s: it was submitted at %s but its id was never journaled",
                job.job_id(), entry.backend, entry.tag, entry.submitted_at.isoformat(),
            )  # fmt: skip
        return job


def _refuse_when_set_aside(journal: JobJournal, key: str) -> None:
    """Raise JournalUnreadable when an entry of this request was set aside as corrupt: it may have held a job that
    is running or done (and paid for), so a new job waits until the user has looked and removed the file."""
    aside = journal.set_aside(key)
    if aside:
        raise JournalUnreadable(
            f"the QPU job journal entry of this request was unreadable and is kept as {aside[-1]}; it may name a "
            f"job already submitted (look for job tag {JOB_TAG_PREFIX}{key[:24]}-* on the service), so no new "
            f"job is submitted. To submit a new, paid job anyway, delete {aside[-1]}"
            + (f" and {len(aside) - 1} older file(s) {key}.json.corrupt-*" if len(aside) > 1 else "")
        )


def _tagged_run(primitive: Any, lock: threading.Lock, tags: list[str], run: Callable[[], Any]) -> Any:
    """`run()` with `tags` added to the primitive's job tags (qiskit-ibm-runtime's `options.environment`). The
    lock keeps threads that share the primitive from submitting with each other's tags."""
    if not tags:
        return run()
    with lock:
        environment = primitive.options.environment
        before = environment.job_tags
        environment.job_tags = [*(before or []), *tags]
        try:
            return run()
        finally:
            environment.job_tags = before


class JournaledSampler(BaseSamplerV2, ClosablePrimitive):
    """A QPU SamplerV2 whose jobs are journaled and re-attached (see `QpuJobs.submit`); `close()` closes the
    wrapped sampler when it can be closed (`runtime.ClosablePrimitive`)."""

    def __init__(self, sampler: BaseSamplerV2, jobs: QpuJobs, default_shots: int) -> None:
        self._sampler = sampler
        self._closes = sampler if isinstance(sampler, ClosablePrimitive) else None
        self._jobs = jobs
        self._default_shots = default_shots
        self._lock = threading.Lock()

    def run(self, pubs: Iterable[Any], *, shots: int | None = None) -> Any:
        coerced = [SamplerPub.coerce(pub, self._default_shots if shots is None else shots) for pub in pubs]
        return self._jobs.submit(
            "sampler",
            coerced,
            lambda tags: _tagged_run(self._sampler, self._lock, tags, lambda: self._sampler.run(coerced)),
        )


class JournaledEstimator(BaseEstimatorV2, ClosablePrimitive):
    """A QPU EstimatorV2 whose jobs are journaled and re-attached (see `QpuJobs.submit`); `close()` closes the
    wrapped estimator when it can be closed (`runtime.ClosablePrimitive`)."""

    def __init__(self, estimator: BaseEstimatorV2, jobs: QpuJobs) -> None:
        self._estimator = estimator
        self._closes = estimator if isinstance(estimator, ClosablePrimitive) else None
        self._jobs = jobs
        self._lock = threading.Lock()

    def run(self, pubs: Iterable[Any], *, precision: float | None = None) -> Any:
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        return self._jobs.submit(
            "estimator",
            coerced,
            lambda tags: _tagged_run(
                self._estimator, self._lock, tags, lambda: self._estimator.run(coerced, precision=precision)
            ),
        )


def qpu_jobs(backend: Any, journal: JobJournal | Path | str | None = None, **settings: Any) -> QpuJobs:
    """A QpuJobs for `backend`, with a journal (object or folder) or none; `settings` enter the key."""
    if journal is not None and not isinstance(journal, JobJournal):
        journal = JobJournal(journal)
    return QpuJobs(backend=backend, service=job_service(backend), journal=journal, settings=settings)
