"""The cost model on circuits unlike its calibration set (issue 18): classical control, mid-circuit measurement and
resets, capped MPS trials, and widths where 2.0 ** qubits overflows a float (issue 16)."""

from __future__ import annotations

import math

import pytest
from qiskit import QuantumCircuit, qasm2

from quantum.circuit_families import ghz, hardware_efficient, qaoa
from quantum.cost.aer_estimates import AER_METHODS, estimate_method, method_support
from quantum.cost.aer_memory import MAX_MEMORY_BYTES, human_bytes
from quantum.cost.aer_time import seconds
from quantum.cost.mps_trial import MpsTrial, escalated_trials, saturated, tightened_by_trial
from quantum.cost.profiles import QuantumSegment, profile_segment
from quantum.cost.stabilizer_entanglement import clifford_mps_path


def counterfeit_coin_qasm(num_qubits: int) -> str:
    """A counterfeit-coin circuit in OpenQASM 2 (the structure of QASMBench's cc_n*): a parity query onto an
    ancilla, the ancilla measured mid-circuit, then gates conditioned on the register (`if(c==...)`). Clifford."""
    ancilla = num_qubits - 1
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{num_qubits}];", f"creg c[{num_qubits}];"]
    lines += [f"h q[{i}];" for i in range(ancilla)] + [f"cx q[{i}],q[{ancilla}];" for i in range(ancilla)]
    lines += [
        f"measure q[{ancilla}] -> c[{ancilla}];",
        f"if(c==0) x q[{ancilla}];",
        f"if(c==0) h q[{ancilla}];",
    ]
    lines += [f"if(c=={2**ancilla}) h q[{i}];" for i in range(ancilla)]
    lines += [f"if(c==0) cx q[1],q[{ancilla}];"] + [f"if(c==0) h q[{i}];" for i in range(ancilla)]
    lines += [f"measure q[{i}] -> c[{i}];" for i in range(ancilla)]
    return "\n".join(lines)


def sampler_profile(circuit: QuantumCircuit, shots: int = 1000):  # type: ignore[no-untyped-def]
    return profile_segment(QuantumSegment("unseen", [circuit], "sampler", shots=shots))


def test_clifford_gates_under_classical_control_keep_the_circuit_clifford() -> None:
    # Aer's stabilizer method runs if_else; the conditional h, x and cx are Clifford gates like any other.
    circuit = qasm2.loads(counterfeit_coin_qasm(8))
    profile = sampler_profile(circuit)
    assert profile.is_clifford and profile.non_clifford_gates == 0 and not profile.sampled_once
    assert method_support(profile, "stabilizer") is None
    assert profile.two_qubit_gates == 8  # seven queries and the conditional cx, counted inside the if_else
    from qiskit_aer import AerSimulator

    result = AerSimulator(method="stabilizer").run(circuit, shots=50, seed_simulator=1).result()
    assert result.success and sum(result.get_counts().values()) == 50


def test_builder_control_flow_is_opened_both_branches_and_loop_iterations() -> None:
    circuit = QuantumCircuit(3, 1)
    circuit.h(0)
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], 1)) as otherwise:
        circuit.cx(1, 2)
    with otherwise:
        circuit.s(2)
    with circuit.for_loop(range(3)):
        circuit.h(1)
    profile = sampler_profile(circuit, shots=10)
    assert profile.is_clifford and profile.control_flow_ops == 2
    assert (profile.one_qubit_gates, profile.two_qubit_gates) == (1 + 1 + 3, 1)
    circuit.t(0)  # a non-Clifford gate anywhere still rules the stabilizer out
    assert method_support(sampler_profile(circuit, shots=10), "stabilizer") is not None
    # Aer's extended stabilizer rejects the jumps control flow compiles to.
    assert "control flow" in (method_support(sampler_profile(circuit, shots=10), "extended_stabilizer") or "")


def test_mid_circuit_measurement_and_reset_project_the_tableau() -> None:
    # GHZ-4 holds one ebit across every cut; measuring one of its qubits in Z leaves a product state.
    circuit = ghz(4).remove_final_measurements(inplace=False)
    measured = QuantumCircuit(4, 4)
    measured.compose(circuit, inplace=True)
    measured.measure(0, 0)
    measured.h(0)  # a gate after the measurement: mid-circuit
    assert clifford_mps_path(measured).checkpoints[-1][1] == [0, 0, 0]
    reset = circuit.copy()
    reset.reset(3)
    assert clifford_mps_path(reset).checkpoints[-1][1] == [0, 0, 0]
    final = ghz(4)  # measured at the end only: Aer samples the final state, which keeps its entanglement
    assert clifford_mps_path(final).checkpoints[-1][1] == [1, 1, 1]


def test_shot_by_shot_runs_pay_the_instruction_set_up_once() -> None:
    # Measured here (Aer 0.18.2 stabilizer, the 151-qubit counterfeit coin): 1.08 s for 100 shots, 2.32 s for 1,000.
    circuit = qasm2.loads(counterfeit_coin_qasm(151))
    few, many = (seconds(sampler_profile(circuit, shots), "stabilizer") for shots in (100, 1000))
    assert many < 4 * few


def test_an_mps_trial_of_a_shot_by_shot_circuit_is_not_counted_per_shot_again() -> None:
    # The trial timed its shots as Aer runs them (each one re-running the gates): 0.5 s for 100 shots and 1 ms per
    # further shot make 1.4 s for 1,000 shots, not 1,000 times that (a 151-qubit case was estimated at 49,000 s).
    profile = sampler_profile(qasm2.loads(counterfeit_coin_qasm(20)))
    trial = profile.model_copy(
        update={"mps_trial_seconds": 0.5, "mps_trial_seconds_per_shot": 1e-3, "mps_trial_shots": 100}
    )
    assert estimate_method(trial, "matrix_product_state").seconds == pytest.approx(1.4, rel=0.05)


@pytest.mark.parametrize("num_qubits", [512, 1100])
def test_estimates_stay_finite_at_any_width(num_qubits: int) -> None:
    for circuit in (ghz(num_qubits), hardware_efficient(num_qubits, reps=1)):
        profile = sampler_profile(circuit)
        for method in AER_METHODS:
            estimate = estimate_method(profile, method)
            assert math.isfinite(estimate.seconds) and 0 <= estimate.memory_bytes <= MAX_MEMORY_BYTES
            assert human_bytes(estimate.memory_bytes).endswith("B")
    assert human_bytes(16 * 2**1100) == "2^1104 B" and human_bytes(float("inf")) == "inf B"


def pairs_across_the_middle(num_qubits: int = 60, pairs: int = 5, rounds: int = 3) -> QuantumCircuit:
    """Entangled pairs across the middle cut, undone and made again `rounds` times: the gate-crossing bound
    saturates (2^30 at 60 qubits), while the state never holds more than 2^pairs there."""
    circuit = QuantumCircuit(num_qubits)
    middle = num_qubits // 2
    for round_ in range(rounds + 1):
        for i in range(pairs):
            circuit.h(middle - 1 - i)
            circuit.rz(0.3, middle - 1 - i)  # not Clifford: the broker times an MPS trial
            circuit.cx(middle - 1 - i, middle + i)
        for i in reversed(range(pairs) if round_ < rounds else []):
            circuit.cx(middle - 1 - i, middle + i)
            circuit.rz(-0.3, middle - 1 - i)
            circuit.h(middle - 1 - i)
    circuit.measure_all()
    return circuit


def test_a_capped_mps_trial_is_repeated_with_a_larger_cap_instead_of_refused() -> None:
    circuit = pairs_across_the_middle()
    profile = sampler_profile(circuit)
    assert estimate_method(profile, "matrix_product_state").memory_bytes > 1e18  # the structural bound
    # A generous budget, so that a loaded test machine still allows the second trial.
    trials = escalated_trials([circuit], cap=16, shots=0, budget_seconds=60)
    assert [(cap, trial.capped) for cap, trial in trials] == [(16, True), (64, False)]
    assert trials[-1][1].max_bond == 32
    tightened, note = tightened_by_trial([circuit], profile, cap=16, shots=200, budget_seconds=60)  # type: ignore[misc]
    estimate = estimate_method(tightened, "matrix_product_state")
    assert estimate.memory_bytes < 1e8 and math.isfinite(estimate.seconds) and "capped at 64" in note


def test_a_capped_trial_is_extrapolated_with_bounded_growth_where_it_saturated_few_cuts() -> None:
    local = MpsTrial(bond_log2=[1] * 27 + [4, 4, 4] + [1] * 29, max_bond=16, capped=True, seconds=0.01)
    everywhere = MpsTrial(bond_log2=[1, 2, 3] + [4] * 53 + [3, 2, 1], max_bond=16, capped=True, seconds=0.01)
    assert not saturated(local, 16) and saturated(everywhere, 16)
    profile = sampler_profile(pairs_across_the_middle())
    from quantum.cost.mps_trial import _extrapolated

    extrapolated, note = _extrapolated(profile, [(16, local)])
    assert extrapolated.max_bond_dimension_log2 == 6 and extrapolated.mps_trial_seconds == pytest.approx(0.64)
    assert "at most 64" in note
    # Saturated: the structural bound stands for memory, and the time is at least the trial's times chi^3.
    widely, note = _extrapolated(profile, [(16, everywhere)])
    assert widely.bond_dimension_log2 == profile.bond_dimension_log2 and "most cuts" in note
    assert estimate_method(widely, "matrix_product_state").seconds >= 0.64


def test_a_trial_predicted_to_exceed_its_budget_is_not_run() -> None:
    # QAOA on a random 3-regular graph: every rzz spans ~n/3 qubits, each swap an SVD (measured: 18.5 s at 200
    # qubits with the bond dimension capped at 16). Placement must answer in seconds, so no trial runs.
    circuit = qaoa(200, regular=True)
    assert escalated_trials([circuit], cap=16, shots=0, budget_seconds=2.0) == []
    assert tightened_by_trial([circuit], sampler_profile(circuit), cap=16, shots=400) is None


def test_a_clifford_circuit_too_long_to_follow_keeps_the_stabilizer_and_the_structural_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Placement must answer in seconds: past MAX_EXACT_INSTRUCTIONS the tableau is not followed gate by gate.
    import quantum.cost.stabilizer_entanglement as tableau

    monkeypatch.setattr(tableau, "MAX_EXACT_INSTRUCTIONS", 10)
    profile = sampler_profile(ghz(20))
    assert profile.is_clifford and not profile.bond_dimension_exact
    assert method_support(profile, "stabilizer") is None


def test_long_circuits_take_the_final_bound_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    # Past RUNNING_BOUND_MAX_GATES the bounds come from array operations: the same crossings and bonds, and a work
    # never below the running bound's.
    from qiskit.circuit.random import random_circuit

    import quantum.cost.mps_bounds as bounds

    circuit = random_circuit(15, 10, max_operands=3, seed=2)
    running = bounds.cut_bounds(circuit)
    monkeypatch.setattr(bounds, "RUNNING_BOUND_MAX_GATES", 10)
    final = bounds.cut_bounds(circuit)
    assert (final.crossings, final.bond_log2) == (running.crossings, running.bond_log2)
    assert running.gate_work <= final.gate_work <= 1.1 * running.gate_work


def test_a_trial_drops_only_the_measurements_that_end_the_circuit() -> None:
    from quantum.cost.mps_trial import without_final_measurements

    circuit = QuantumCircuit(2, 3)
    circuit.h(0)
    circuit.measure(0, 0)  # mid-circuit: x follows on the same qubit
    circuit.x(0)
    circuit.measure(0, 1)
    circuit.barrier()
    circuit.measure(1, 2)
    assert [i.name for i in without_final_measurements(circuit).data] == ["h", "measure", "x", "barrier"]
