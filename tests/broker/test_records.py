"""Execution records: history that load cannot poison, and a records file that damage cannot break."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.records import LOADED_PER_CORE, ExecutionHistory, ExecutionRecord


def record(measured: float, predicted: float = 1.0, load: float | None = None) -> ExecutionRecord:
    return ExecutionRecord(
        segment="s", resource="aer-cpu", method="statevector", device="CPU", succeeded=True,
        predicted_seconds=predicted, measured_seconds=measured, load_per_core=load,
    )  # fmt: skip


def test_runs_on_a_loaded_machine_teach_nothing(tmp_path: Path) -> None:
    history = ExecutionHistory(tmp_path / "records.jsonl")
    for _ in range(3):
        history.append(record(1.1, load=0.2))
    for _ in range(10):  # 40-114x slower than predicted on a busy machine (issue 18's case)
        history.append(record(80.0, load=LOADED_PER_CORE + 3))
    factor, count = history.correction("aer-cpu", "statevector", model_seconds=1.0)
    assert count == 3 and factor == pytest.approx(1.1)


def test_a_few_outliers_cannot_move_the_median(tmp_path: Path) -> None:
    history = ExecutionHistory(tmp_path / "records.jsonl")
    for measured in (1.0, 1.2, 0.9, 1.1, 1.0, 60.0, 90.0):  # load unknown: two runs hit by something else
        history.append(record(measured))
    factor, count = history.correction("aer-cpu", "statevector", model_seconds=1.0)
    assert count == 7 and factor == pytest.approx(1.1, rel=0.01)


def test_binary_bytes_and_a_torn_line_are_skipped_and_appending_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    history = ExecutionHistory(path)
    history.append(record(2.0))
    with path.open("ab") as handle:
        handle.write(b"\x00\xff\xfe garbage")  # a torn write (a kill mid-line) or disk damage
    history.append(record(2.0))
    history.append(record(2.0))
    assert len(history.records()) == 3
    assert history.correction("aer-cpu", "statevector", model_seconds=1.0) == (pytest.approx(2.0), 3)


def test_an_unreadable_qpu_journal_entry_stops_the_fallback_chain(tmp_path: Path) -> None:
    from broker.fallback import ExecutionFailed, run_with_fallback
    from broker.models import Estimate, Placement
    from quantum.ibm.journal_store import JournalUnreadable

    def qpu(name: str) -> Placement:
        estimate = Estimate(
            resource=name, method="sampler", device="QPU", seconds=10.0, memory_bytes=0, cost_usd=16.0,
            fidelity=0.9, energy_joules=1.0, feasible=True,
        )  # fmt: skip
        return Placement.on("bell", "quantum", estimate, [], ["test"])

    ran_on: list[str] = []

    def run(placement: Placement) -> None:
        ran_on.append(placement.resource)
        raise JournalUnreadable(f"journal entry for {placement.resource} is unreadable")

    with pytest.raises(ExecutionFailed):
        run_with_fallback([qpu("ibm_a"), qpu("ibm_b")], run, history=ExecutionHistory(tmp_path / "h.jsonl"))
    assert ran_on == ["ibm_a"]  # a job may exist for the request: no second QPU is paid for it
