"""QPU job journal: job ids persisted before waiting, re-attachment on a rerun, fresh submits for lost jobs.

The QPU is a qiskit-ibm-runtime fake backend in local testing mode (jobs run in threads of this process).
"""

from __future__ import annotations

import fcntl
import gc
import logging
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.providers import BackendV2
from qiskit.quantum_info import SparsePauliOp
from qiskit_ibm_runtime.fake_provider.local_runtime_job import LocalRuntimeJob
from qiskit_ibm_runtime.fake_provider.local_service import QiskitRuntimeLocalService
from simple_placements import SimplePlacement, qpu_placement

from broker.fallback import run_with_fallback
from broker.records import ExecutionHistory
from quantum.executors import estimator_for, sampler_for
from quantum.ibm.jobs import find_job, job_service
from quantum.ibm.journal import (
    JobJournal,
    JournalEntry,
    qpu_jobs,
    submission_key,
    submissions_recorded,
)
from quantum.ibm.runtime import fake_backend

SHOTS = 64


@pytest.fixture(scope="module")
def manila() -> BackendV2:
    """IBM Manila's calibration snapshot (5 qubits, Falcon r5.11L), shipped with qiskit-ibm-runtime."""
    return fake_backend("fake_manila")


@pytest.fixture
def journal(tmp_path: Path) -> JobJournal:
    return JobJournal(tmp_path / "qpu_jobs")


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def rotated() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.ry(Parameter("theta"), 0)
    circuit.cx(0, 1)
    return circuit


def test_job_id_is_journaled_before_waiting(manila: BackendV2, journal: JobJournal) -> None:
    sampler = sampler_for(qpu_placement(), backend=manila, journal=journal)
    job = sampler.run([bell()], shots=SHOTS)
    (entry,) = journal.entries()  # read before .result() is called
    assert entry.job_id == job.job_id() and entry.backend == "fake_manila" and entry.primitive == "sampler"
    assert entry.state == "SUBMITTED"
    assert sum(job.result()[0].data.meas.get_counts().values()) == SHOTS


def test_same_pubs_reattach_without_submitting_again(manila: BackendV2, journal: JobJournal) -> None:
    with submissions_recorded() as submissions:
        first = sampler_for(qpu_placement(), backend=manila, journal=journal).run([bell()], shots=SHOTS)
        counts = first.result()[0].data.meas.get_counts()
        # A new primitive, as a retried task builds: default shots equal to the explicit ones give the same key.
        again = sampler_for(qpu_placement(), backend=manila, journal=journal.folder, default_shots=SHOTS)
        second = again.run([bell()])
    assert second is first and second.result()[0].data.meas.get_counts() == counts
    assert [(s.job_id, s.reattached) for s in submissions] == [
        (first.job_id(), False),
        (first.job_id(), True),
    ]
    (entry,) = journal.entries()
    assert entry.job_id == first.job_id() and entry.state == "DONE"


def test_other_shots_or_parameters_get_a_new_job(manila: BackendV2, journal: JobJournal) -> None:
    sampler = sampler_for(qpu_placement(), backend=manila, journal=journal)
    jobs = [sampler.run([bell()], shots=shots) for shots in (SHOTS, 2 * SHOTS)]
    estimator = estimator_for(qpu_placement(), backend=manila, journal=journal)
    for angle in (0.1, 0.2, 0.1):
        jobs.append(estimator.run([(rotated(), SparsePauliOp("ZZ"), [angle])], precision=0.2))
    assert len({job.job_id() for job in jobs}) == 4  # the third estimator run re-attached to the first
    assert len(journal.entries()) == 4
    assert all(job.result() for job in jobs)


def test_a_job_the_service_does_not_know_is_submitted_afresh(
    manila: BackendV2, journal: JobJournal, caplog: pytest.LogCaptureFixture
) -> None:
    sampler = sampler_for(qpu_placement(), backend=manila, journal=journal)
    sampler.run([bell()], shots=SHOTS).result()
    (entry,) = journal.entries()
    # As left by a process that died: local testing mode's jobs lived in that process only.
    journal.record(entry.model_copy(update={"job_id": "job-of-a-dead-process"}))
    assert find_job("job-of-a-dead-process", job_service(manila)) is None
    with caplog.at_level(logging.INFO, logger="quantum.ibm.journal"):
        job = sampler.run([bell()], shots=SHOTS)
    assert (
        "job-of-a-dead-process on fake_manila" in caplog.text and "submitting its PUBs again" in caplog.text
    )
    assert job.job_id() != "job-of-a-dead-process"
    assert [e.job_id for e in journal.entries()] == [job.job_id()]
    assert sum(job.result()[0].data.meas.get_counts().values()) == SHOTS


def _fails() -> None:
    raise RuntimeError("the QPU dropped the job")


def test_a_failed_job_is_forgotten_and_submitted_again(
    manila: BackendV2, journal: JobJournal, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = qpu_jobs(manila, journal)
    pubs = [SamplerPub.coerce(bell(), SHOTS)]
    failed = LocalRuntimeJob(function=_fails, backend=manila, primitive="sampler", inputs={})
    failed._submit()  # what the local service does with every job: run it in a thread
    jobs.submit("sampler", pubs, lambda tags: failed)
    with pytest.raises(RuntimeError, match="dropped"):
        failed.result()
    sampler = sampler_for(qpu_placement(), backend=manila)  # no journal of its own: QpuJobs journals it here
    job = jobs.submit("sampler", pubs, lambda tags: sampler.run(pubs))
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"{failed.job_id()} on fake_manila" in m and "ended ERROR" in m for m in warned)
    assert job.job_id() != failed.job_id()
    assert [e.job_id for e in journal.entries()] == [job.job_id()]


def test_a_dropped_job_is_reattached_by_a_new_primitive(manila: BackendV2, journal: JobJournal) -> None:
    def submit_and_crash() -> str:
        job = sampler_for(qpu_placement(), backend=manila, journal=journal).run([bell()], shots=SHOTS)
        return job.job_id()  # the caller never waits; the job and its primitive go out of scope

    job_id = submit_and_crash()
    gc.collect()
    job = sampler_for(qpu_placement(), backend=manila, journal=journal).run([bell()], shots=SHOTS)
    assert job.job_id() == job_id
    assert sum(job.result()[0].data.meas.get_counts().values()) == SHOTS


def test_jobs_carry_their_key_as_a_tag_for_the_service(
    manila: BackendV2, journal: JobJournal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tag reaches the service with the job's runtime options, as `QiskitRuntimeService._run` receives them."""
    service_run = QiskitRuntimeLocalService._run
    tags_sent: list[list[str] | None] = []

    def run_and_note_tags(self: QiskitRuntimeLocalService, *args: Any, **kwargs: Any) -> Any:
        tags_sent.append(kwargs["options"]["job_tags"])
        return service_run(self, *args, **kwargs)

    monkeypatch.setattr(QiskitRuntimeLocalService, "_run", run_and_note_tags)
    sampler = sampler_for(qpu_placement(), backend=manila, journal=journal)
    sampler.run([bell()], shots=SHOTS).result()
    (entry,) = journal.entries()
    assert entry.tag is not None and entry.tag.startswith(f"qcflow-{entry.key[:24]}-")
    assert tags_sent == [[entry.tag]] and len(entry.tag) < 64


def test_a_job_submitted_but_never_journaled_is_found_by_its_tag(
    manila: BackendV2, journal: JobJournal, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    record = JobJournal.record

    def crash_after_submitting(self: JobJournal, entry: JournalEntry) -> None:
        if entry.job_id is not None:
            raise OSError("the run died between the service taking the job and journaling its id")
        record(self, entry)

    with monkeypatch.context() as patched:
        patched.setattr(JobJournal, "record", crash_after_submitting)
        with pytest.raises(OSError, match="died"):
            sampler_for(qpu_placement(), backend=manila, journal=journal).run([bell()], shots=SHOTS)
    (left,) = journal.entries()
    assert left.job_id is None and left.state == "SUBMITTING"
    with (
        submissions_recorded() as submissions,
        caplog.at_level(logging.WARNING, logger="quantum.ibm.journal"),
    ):
        job = sampler_for(qpu_placement(), backend=manila, journal=journal).run([bell()], shots=SHOTS)
    assert [(s.job_id, s.reattached) for s in submissions] == [(job.job_id(), True)]
    assert "found by its tag" in caplog.text
    assert [e.job_id for e in journal.entries()] == [job.job_id()]
    assert sum(job.result()[0].data.meas.get_counts().values()) == SHOTS


def test_a_submission_that_never_reached_the_service_is_made_again(
    manila: BackendV2, journal: JobJournal
) -> None:
    pubs = [SamplerPub.coerce(QuantumCircuit(1, 1, name="never-sent"), SHOTS)]  # a key no job carries
    jobs = qpu_jobs(manila, journal)

    def refused(tags: list[str]) -> Any:
        raise ConnectionError("the service could not be reached")

    with pytest.raises(ConnectionError):
        jobs.submit("sampler", pubs, refused)
    assert [e.job_id for e in journal.entries()] == [None]
    sampler = sampler_for(qpu_placement(), backend=manila)
    with submissions_recorded() as submissions:
        job = jobs.submit("sampler", pubs, lambda tags: sampler.run(pubs))
    assert {(s.job_id, s.reattached) for s in submissions} == {
        (job.job_id(), False)
    }  # the inner sampler's too
    assert [e.job_id for e in journal.entries()] == [job.job_id()]


def test_a_retry_after_a_failed_submission_never_picks_up_an_older_job(
    manila: BackendV2, journal: JobJournal
) -> None:
    """Deleting an entry forces a new job, even when the next submission fails once and is retried: the tag is new
    to each submission, so the old job of the same request does not match it."""
    pubs = [SamplerPub.coerce(bell(), SHOTS)]
    jobs = qpu_jobs(manila, journal)
    sampler = sampler_for(qpu_placement(), backend=manila)
    old = jobs.submit("sampler", pubs, lambda tags: sampler.run(pubs))
    (entry,) = journal.entries()
    journal.forget(entry.key)

    def refused(tags: list[str]) -> Any:
        raise ConnectionError("the service could not be reached")

    with pytest.raises(ConnectionError):
        jobs.submit("sampler", pubs, refused)
    new = jobs.submit("sampler", pubs, lambda tags: sampler.run(pubs))
    assert new.job_id() != old.job_id()
    assert [e.job_id for e in journal.entries()] == [new.job_id()]


def test_a_client_side_timeout_is_retried_by_reattaching(
    manila: BackendV2, journal: JobJournal, tmp_path: Path
) -> None:
    submitted: list[str] = []

    def run(sampler: Any) -> Any:
        job = sampler.run([bell()], shots=SHOTS)
        submitted.append(job.job_id())
        if len(submitted) == 1:
            raise TimeoutError("gave up waiting for the job")  # the client's wait, not the job, failed
        return job.result()

    history = ExecutionHistory(tmp_path / "records.jsonl")
    result, record = run_with_fallback(
        [qpu_placement()],
        run,
        prepare=lambda p: sampler_for(p, backend=manila, journal=journal),
        history=history,
    )
    assert submitted[0] == submitted[1] == record.job_id
    assert record.reattached and record.retries == 1
    assert sum(result[0].data.meas.get_counts().values()) == SHOTS
    assert history.records()[0].reattached


def test_records_carry_the_submitted_job_id_and_reattached_ones_teach_no_times(
    manila: BackendV2, tmp_path: Path
) -> None:
    placement = qpu_placement(options={})  # a real QPU's records would teach the broker
    history = ExecutionHistory(tmp_path / "records.jsonl", loaded_per_core=math.inf)  # any load

    def run(sampler: Any) -> Any:
        return sampler.run([bell()], shots=SHOTS).result()

    def prepare(p: SimplePlacement) -> Any:
        return sampler_for(p, backend=manila, journal=tmp_path / "qpu_jobs")

    _, first = run_with_fallback([placement], run, prepare=prepare, history=history)
    _, second = run_with_fallback([placement], run, prepare=prepare, history=history)
    assert first.job_id and first.job_id == second.job_id
    assert (first.reattached, second.reattached) == (False, True)
    assert history.correction("fake_manila", "qpu")[1] == 1  # the re-attached run is left out


def test_without_a_journal_the_record_still_names_the_job(manila: BackendV2) -> None:
    sampler = sampler_for(qpu_placement(), backend=manila)
    _, record = run_with_fallback([qpu_placement()], lambda p: sampler.run([bell()], shots=SHOTS).result())
    assert record.job_id and not record.reattached


def _key_of_bell_and_rotation() -> str:
    circuit = rotated()
    pubs = [
        SamplerPub.coerce(bell(), SHOTS),
        SamplerPub.coerce((circuit.measure_all(inplace=False), [0.3]), 10),
    ]
    return submission_key("fake_manila", "sampler", pubs, {"optimization_level": 1})


@pytest.mark.slow
def test_submission_keys_are_the_same_in_another_process() -> None:
    code = "from test_job_journal import _key_of_bell_and_rotation as k; print(k())"
    here = Path(__file__).resolve().parent
    other = subprocess.run(
        [sys.executable, "-c", code], cwd=here, capture_output=True, text=True, check=True, timeout=120
    )
    assert other.stdout.strip() == _key_of_bell_and_rotation()


def test_unreadable_entries_are_skipped(journal: JobJournal) -> None:
    journal.folder.mkdir(parents=True)
    (journal.folder / "broken.json").write_text("{not json", encoding="utf-8")
    assert journal.entry("broken") is None and journal.entries() == []


def test_old_entries_are_pruned_when_a_new_job_is_journaled(manila: BackendV2, journal: JobJournal) -> None:
    journal.folder.mkdir(parents=True)
    old = journal.folder / "an-old-key.json"
    old.write_text("{}", encoding="utf-8")
    month_ago = time.time() - 31 * 86_400
    os.utime(old, (month_ago, month_ago))
    sampler_for(qpu_placement(), backend=manila, journal=journal).run([bell()], shots=SHOTS).result()
    assert not old.exists() and len(journal.entries()) == 1


def _age(path: Path, days: float) -> None:
    then = time.time() - days * 86_400
    os.utime(path, (then, then))


def _enters_within(journal: JobJournal, key: str, seconds: float) -> tuple[threading.Thread, threading.Event]:
    """A thread that takes the key's lock and sets the event once inside; the event is waited on for `seconds`."""
    entered = threading.Event()

    def run() -> None:
        with journal.locked(key):
            entered.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    entered.wait(seconds)
    return thread, entered


def test_prune_keeps_a_lock_file_a_run_holds(journal: JobJournal) -> None:
    key = "a" * 64
    with journal.locked(key):
        pass
    lock = journal.folder / f"{key}.lock"
    _age(lock, 31)  # created a month ago by an earlier run: its mtime stays its creation time
    with journal.locked(key):
        assert journal.prune() == 0 and lock.exists()
        thread, entered = _enters_within(journal, key, 0.5)
        assert not entered.is_set()  # the second run still waits for the first
    thread.join(5)
    assert entered.is_set()
    _age(lock, 31)
    assert journal.prune() == 1 and not lock.exists()  # nobody holds it now


def test_a_run_whose_lock_file_was_replaced_locks_the_new_one(journal: JobJournal) -> None:
    key = "b" * 64
    lock = journal.folder / f"{key}.lock"
    with journal.locked(key):
        pass
    with lock.open("a") as old:  # held the way prune holds a lock file it removes
        fcntl.flock(old, fcntl.LOCK_EX)
        thread, entered = _enters_within(journal, key, 0.3)  # opens the old file and waits for it
        lock.unlink()
        with lock.open("a") as new:  # another run creates the file anew and holds it
            fcntl.flock(new, fcntl.LOCK_EX)
            fcntl.flock(old, fcntl.LOCK_UN)
            entered.wait(0.5)
            assert not entered.is_set()  # the old file's lock excluded no one: it waits for the new one
            fcntl.flock(new, fcntl.LOCK_UN)
    thread.join(5)
    assert entered.is_set()
