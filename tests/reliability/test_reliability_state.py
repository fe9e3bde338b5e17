"""State on disk read defensively: a corrupt QPU journal entry never silently buys a new job, corrupt execution
records never stop placement (issue 16). The QPU is a qiskit-ibm-runtime fake backend in local testing mode."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from qiskit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit.transpiler import generate_preset_pass_manager

from quantum.ibm.journal import JournaledSampler, qpu_jobs, submissions_recorded
from quantum.ibm.journal_store import JobJournal, JournalUnreadable
from quantum.ibm.runtime import fake_backend
from workflows.cli import main

SHOTS = 64


@pytest.fixture(scope="module")
def manila() -> BackendV2:
    """IBM Manila's calibration snapshot (5 qubits), shipped with qiskit-ibm-runtime."""
    return fake_backend("fake_manila")


def _bell(backend: BackendV2) -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return generate_preset_pass_manager(backend=backend, optimization_level=1).run(circuit)


def _sampler(backend: BackendV2, journal: JobJournal) -> JournaledSampler:
    from qiskit_ibm_runtime import SamplerV2

    return JournaledSampler(SamplerV2(mode=backend), qpu_jobs(backend, journal), default_shots=SHOTS)


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "binary bytes": lambda p: p.write_bytes(b"\x00\xff\xfe" * 40),
    "torn JSON (a kill mid-write)": lambda p: p.write_bytes(p.read_bytes()[:37]),
    "empty file": lambda p: p.write_bytes(b""),
    "a JSON list": lambda p: p.write_text("[1, 2, 3]"),
    "a JSON number": lambda p: p.write_text("17"),
    "fields missing": lambda p: p.write_text('{"key": "x"}'),
    "another request's entry": lambda p: p.write_text(p.read_text().replace('"key":"', '"key":"0')),
    "a state of the wrong type": lambda p: p.write_text(p.read_text().replace('"state":"', '"state":["')),
    "deep nesting": lambda p: p.write_text("[" * 100_000 + "]" * 100_000),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_corrupt_journal_entry_is_set_aside_and_no_new_job_is_paid_for(
    corruption: str, manila: BackendV2, tmp_path: Path, tally: object
) -> None:
    journal = JobJournal(tmp_path / "qpu_jobs")
    bell = _bell(manila)
    _sampler(manila, journal).run([bell]).result()  # the first, paid job: journaled
    (entry,) = journal.entries()
    path = journal.folder / f"{entry.key}.json"
    CORRUPTIONS[corruption](path)

    with submissions_recorded() as submitted, pytest.raises(JournalUnreadable) as refusal:
        _sampler(manila, journal).run([bell])
    (aside,) = journal.set_aside(entry.key)
    message = str(refusal.value)
    survived = (
        not submitted
        and not path.exists()
        and aside.name.startswith(f"{entry.key}.json.corrupt-")
        and str(aside) in message
        and f"delete {aside}" in message
    )
    with submissions_recorded() as submitted, pytest.raises(JournalUnreadable):
        _sampler(manila, journal).run([bell])  # still refused on the next run: the user has not decided yet
    again = not submitted
    tally.fault(f"QPU journal entry: {corruption}", survived=survived and again)
    assert survived and again, message

    aside.unlink()  # the user's decision: pay for a new job
    with submissions_recorded() as submitted:
        _sampler(manila, journal).run([bell]).result()
    assert [s.reattached for s in submitted] == [False]


def test_an_unreadable_entry_of_another_request_blocks_nothing_else(
    manila: BackendV2, tmp_path: Path, tally: object
) -> None:
    journal = JobJournal(tmp_path / "qpu_jobs")
    journal.folder.mkdir(parents=True)
    (journal.folder / ("0" * 64 + ".json")).write_bytes(b"\xff")
    with submissions_recorded() as submitted:
        _sampler(manila, journal).run([_bell(manila)]).result()
    ok = [s.reattached for s in submitted] == [False]
    tally.fault("QPU journal: a corrupt entry of another request", survived=ok)
    assert ok


def test_place_works_over_corrupt_execution_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tally: object
) -> None:
    from config.settings import settings_override

    home = tmp_path / "home"
    home.mkdir()
    (home / "execution_records.jsonl").write_bytes(
        b'{"segment": "x"}\n\x00\xff\xfe garbage\n[1,2]\n{"torn": '
    )
    circuit = tmp_path / "bell.qasm"
    circuit.write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0];\ncx q[0],q[1];\n')
    with settings_override(home=home):
        status = main(["place", str(circuit)])
    tally.fault("execution records: binary tail and wrong-shaped lines", survived=status == 0)
    assert status == 0
