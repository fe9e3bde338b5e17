"""Executors: Aer primitives per method, the fake-backend runtime path, execution records and fallback."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_ibm_runtime.exceptions import IBMRuntimeError
from simple_placements import SimpleEstimate, SimplePlacement, qpu_placement

from broker.fallback import ExecutionFailed, run_with_fallback
from broker.records import ExecutionHistory, ExecutionRecord
from quantum.executors import estimator_for, sampler_for


def bell() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    return circuit


def test_stabilizer_sampler_translates_clifford_rotations() -> None:
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.rx(np.pi / 2, 1)  # Clifford angle, not in the stabilizer basis: translated before running
    circuit.cx(0, 2)
    circuit.measure_all()
    result = sampler_for(SimplePlacement("stabilizer"), seed=7).run([circuit], shots=400).result()
    counts = result[0].data.meas.get_counts()
    assert sum(counts.values()) == 400
    # Qubits 0 and 2 are perfectly correlated (bit strings are little-endian: q2 first, q0 last).
    assert all(bits[0] == bits[2] for bits in counts)


@pytest.mark.parametrize("method", ["statevector", "matrix_product_state", "density_matrix"])
def test_estimators_agree_with_exact_statevector(method: str) -> None:
    ansatz = efficient_su2(4, entanglement="linear", reps=1)
    values = np.random.default_rng(5).uniform(0, np.pi, (3, ansatz.num_parameters))
    observable = SparsePauliOp(["ZZII", "IXXI", "YIIY"], coeffs=[1.0, 0.5, -0.25])
    result = estimator_for(SimplePlacement(method)).run([(ansatz, observable, values)]).result()
    exact = [Statevector(ansatz.assign_parameters(v)).expectation_value(observable).real for v in values]
    np.testing.assert_allclose(result[0].data.evs, exact, atol=1e-8)


def test_fake_backend_sampler_and_estimator_in_batch_and_session_mode() -> None:
    circuit = bell()
    circuit.measure_all()
    for mode in ("batch", "session"):
        placement = SimplePlacement(
            "sampler", resource="fake_manila", device="QPU", options={"backend": "fake_manila", "mode": mode}
        )
        counts = sampler_for(placement, default_shots=500).run([circuit]).result()[0].data.meas.get_counts()
        assert sum(counts.values()) == 500
        # Noisy Bell state on a real calibration snapshot: mostly 00 and 11.
        assert counts.get("00", 0) + counts.get("11", 0) > 400
    placement = SimplePlacement(
        "estimator", resource="fake_manila", device="QPU", options={"backend": "fake_manila"}
    )
    evs = estimator_for(placement).run([(bell(), SparsePauliOp("ZZ"))]).result()[0].data.evs
    assert 0.7 < float(evs) <= 1.0  # ideal <ZZ> = 1 for a Bell state, lowered by readout and gate errors


def test_real_qpu_placement_without_backend_says_how_to_fix() -> None:
    placement = SimplePlacement(
        "sampler", resource="ibm_torino", device="QPU", options={"backend": "ibm_torino"}
    )
    with pytest.raises(ValueError, match="pass backend="):
        sampler_for(placement)


def test_fallback_after_injected_out_of_memory_failure(tmp_path: Path) -> None:
    ansatz = efficient_su2(18, entanglement="linear", reps=1)
    ansatz.measure_all()
    values = np.full(ansatz.num_parameters, 0.2)
    # A real failure: Aer refuses a statevector larger than max_memory_mb (1 MB here; 18 qubits need 4 MB).
    failing = SimplePlacement("statevector", options={"max_memory_mb": 1})
    fallback = SimplePlacement("matrix_product_state", estimate=SimpleEstimate(seconds=0.05))
    history = ExecutionHistory(tmp_path / "records.jsonl")
    result, record = run_with_fallback(
        [failing, fallback],
        lambda p: sampler_for(p, seed=1).run([(ansatz, values)], shots=50).result(),
        history=history,
    )
    assert sum(result[0].data.meas.get_counts().values()) == 50
    assert record.succeeded and record.method == "matrix_product_state"
    assert record.fallbacks == ["aer-cpu/statevector"]
    assert "Insufficient memory" in record.errors[0]
    assert record.attempts == 2 and record.measured_seconds is not None
    assert [r.method for r in history.records()] == ["matrix_product_state"]


def test_transient_errors_are_retried_and_total_failure_is_recorded(tmp_path: Path) -> None:
    calls: list[str] = []

    def flaky(placement: SimplePlacement) -> str:
        calls.append(placement.method)
        if len(calls) == 1:
            raise ConnectionError("service unavailable")
        return "ok"

    result, record = run_with_fallback([SimplePlacement("statevector")], flaky, retries=2)
    assert result == "ok" and record.retries == 1 and record.fallbacks == []

    def broken(placement: SimplePlacement) -> str:
        raise RuntimeError(f"{placement.method} crashed")

    history = ExecutionHistory(tmp_path / "records.jsonl")
    with pytest.raises(ExecutionFailed) as failure:
        run_with_fallback(
            [SimplePlacement("statevector"), SimplePlacement("stabilizer")], broken, history=history
        )
    assert failure.value.record.fallbacks == ["aer-cpu/statevector", "aer-cpu/stabilizer"]
    assert not history.records()[0].succeeded


def _record(measured: float, predicted: float, **extra: Any) -> ExecutionRecord:
    return ExecutionRecord(
        segment="s", resource="aer-cpu", method="statevector", device="CPU", succeeded=True,
        predicted_seconds=predicted, measured_seconds=measured, **extra,
    )  # fmt: skip


def test_history_correction_is_geometric_mean_of_comparable_runs(tmp_path: Path) -> None:
    history = ExecutionHistory(tmp_path / "deep" / "records.jsonl")
    assert history.correction("aer-cpu", "statevector") == (1.0, 0)
    history.append(_record(2.0, 1.0))
    history.append(_record(8.0, 1.0))
    history.append(_record(100.0, 1000.0))  # not comparable with a 1 s prediction
    history.append(_record(50.0, 1.0, what_if=True))  # fake backends say nothing of real timing
    factor, count = history.correction("aer-cpu", "statevector", model_seconds=1.0)
    assert count == 2 and math.isclose(factor, 4.0)
    assert history.correction("aer-cpu", "stabilizer") == (1.0, 0)
    # Runs with fusion off were predicted by another time model: they correct only that model.
    history.append(_record(3.0, 1.0, time_model="statevector_unfused"))
    assert history.correction("aer-cpu", "statevector", model_seconds=1.0) == (factor, 2)
    unfused, used = history.correction("aer-cpu", "statevector_unfused", model_seconds=1.0)
    assert used == 1 and math.isclose(unfused, 3.0)


def test_mps_trial_measures_bonds_and_times_the_method_on_the_circuit() -> None:
    from quantum.circuit_families import ghz, qft_of_ghz
    from quantum.cost.aer_estimates import estimate_method
    from quantum.cost.mps_trial import mps_trial, tightened_by_trial
    from quantum.cost.profiles import QuantumSegment, profile_segment

    # A GHZ state has Schmidt rank 2 across every cut (bond dimension exactly 2).
    trial = mps_trial([ghz(20)], cap=16, shots=100)
    assert trial is not None and not trial.capped
    assert trial.max_bond == 2 and set(trial.bond_log2) == {1}
    assert trial.timed_shots == 10 and trial.seconds > 0 and trial.seconds_per_shot >= 0

    segment = QuantumSegment("qft", [qft_of_ghz(18)], "sampler", shots=300)
    profile = profile_segment(segment)
    tightened, note = tightened_by_trial(segment.circuits, profile, cap=16, shots=300)  # type: ignore[misc]
    assert tightened.max_bond_dimension_log2 < profile.max_bond_dimension_log2 and "loose" in note
    expected = (
        tightened.mps_trial_seconds  # type: ignore[operator]
        + (300 - tightened.mps_trial_shots) * tightened.mps_trial_seconds_per_shot
    )
    assert estimate_method(tightened, "matrix_product_state").seconds == pytest.approx(expected)


def test_mps_trial_reports_the_cap_on_an_entangled_circuit() -> None:
    from qiskit.circuit.random import random_circuit

    from quantum.cost.mps_trial import mps_trial

    trial = mps_trial([random_circuit(14, 14, max_operands=2, seed=3)], cap=4, shots=100)
    assert trial is not None and trial.capped and trial.timed_shots == 0


def test_estimator_seed_makes_aer_precision_noise_reproducible() -> None:
    circuit = QuantumCircuit(1)
    circuit.h(0)

    def noisy_value(seed: int) -> float:
        estimator = estimator_for(SimplePlacement("statevector"), seed=seed)
        return float(estimator.run([(circuit, SparsePauliOp("X"))], precision=0.1).result()[0].data.evs)

    assert noisy_value(7) == noisy_value(7)
    assert noisy_value(7) != noisy_value(8)


def _custom_gate(name: str, *gates: str) -> Any:
    """A two-qubit gate with no standard name (no Aer method knows it untranslated): H on 0, CX, then `gates` on 1."""
    block = QuantumCircuit(2, name=name)
    block.h(0)
    block.cx(0, 1)
    for gate in gates:
        getattr(block, gate)(1)
    return block.to_gate()


@pytest.mark.parametrize("method", ["statevector", "density_matrix", "matrix_product_state", "stabilizer"])
def test_custom_gates_inside_control_flow_are_translated(method: str) -> None:
    flip = QuantumCircuit(1, name="flip")
    flip.x(0)
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], 1)):  # qubit 0 is |1>: H then CX gives (|00> - |11>) / sqrt 2
        circuit.append(
            _custom_gate("bell_then_s", "s") if method == "stabilizer" else _custom_gate("bell_then_t", "t"),
            [0, 1],
        )
    with circuit.for_loop(range(2)):  # two flips: no change
        circuit.append(flip.to_gate(), [1])
    circuit.measure([0, 1], [0, 1])
    result = sampler_for(SimplePlacement(method), seed=11).run([circuit], shots=800).result()
    counts = result[0].data.c.get_counts()
    # Outcome 0 (probability 1/2) leaves 00; outcome 1 gives 00 or 11 with probability 1/2 each.
    assert set(counts) == {"00", "11"}
    assert abs(counts["00"] / 800 - 0.75) < 0.06  # 4 standard deviations of 800 shots


@pytest.mark.parametrize("mode", ["batch", "session"])
def test_qpu_primitives_close_the_batch_or_session_they_opened(mode: str) -> None:
    circuit = bell()
    circuit.measure_all()
    placement = qpu_placement(options={"what_if": True, "mode": mode})
    with sampler_for(placement, default_shots=50) as sampler:
        assert sum(sampler.run([circuit]).result()[0].data.meas.get_counts().values()) == 50
    with pytest.raises(IBMRuntimeError, match="closed"):  # closed on leaving the block: no new jobs
        sampler.run([circuit])
    estimator = estimator_for(placement)
    estimator.run([(bell(), SparsePauliOp("ZZ"))], precision=0.1).result()
    estimator.close()
    with pytest.raises(IBMRuntimeError, match="closed"):
        estimator.run([(bell(), SparsePauliOp("ZZ"))], precision=0.1)


def test_closing_job_mode_and_aer_primitives_changes_nothing() -> None:
    circuit = bell()
    circuit.measure_all()
    for placement in (qpu_placement(), SimplePlacement("statevector")):
        sampler = sampler_for(placement, default_shots=50)
        sampler.close()
        assert sum(sampler.run([circuit]).result()[0].data.meas.get_counts().values()) == 50
