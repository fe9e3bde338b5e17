"""Gates on Aer's stabilizer and extended-stabilizer methods: what the profile calls Clifford (or ready for the
extended stabilizer) runs there, with counts and expectation values that match the exact state."""

from __future__ import annotations

import math

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import PauliGate
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector
from simple_placements import SimplePlacement

from quantum.cost.gate_sets import is_clifford_instruction
from quantum.cost.profiles import QuantumSegment, profile_segment
from quantum.executors import estimator_for, rz_as_phase, sampler_for


def with_pauli_gate() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.append(PauliGate("XY"), [0, 1])  # Y on qubit 0, X on qubit 1 (labels are little-endian)
    return circuit


def test_pauli_gate_is_clifford_and_profiles_as_such() -> None:
    assert is_clifford_instruction("pauli", ["XY"])
    profile = profile_segment(QuantumSegment("pauli", [with_pauli_gate()], "estimator"))
    assert profile.is_clifford


def test_stabilizer_runs_the_pauli_gate() -> None:
    circuit = with_pauli_gate()
    observables = [SparsePauliOp(label) for label in ("ZZ", "XX", "YY", "ZI")]
    evs = estimator_for(SimplePlacement("stabilizer")).run([(circuit, observables)]).result()[0].data.evs
    exact = [Statevector(circuit).expectation_value(o).real for o in observables]
    np.testing.assert_allclose(evs, exact, atol=1e-9)
    measured = circuit.copy()
    measured.measure_all()
    counts = sampler_for(SimplePlacement("stabilizer"), seed=1).run([measured], shots=200).result()[0]
    # H, CX gives 00 + 11; X on qubit 1 and Y on qubit 0 flip both bits: 11 and 00 again, nothing else.
    assert set(counts.data.meas.get_counts()) <= {"00", "11"}


def test_rz_as_phase_is_the_same_unitary_with_its_global_phase() -> None:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.rz(0.3, 0)
    circuit.cx(0, 1)
    circuit.rz(-1.1, 1)
    rewritten = rz_as_phase(circuit)
    assert "rz" not in rewritten.count_ops() and rewritten.count_ops()["p"] == 2
    assert Operator(rewritten).equiv(Operator(circuit)) and Operator(rewritten) == Operator(circuit)


def test_extended_stabilizer_runs_rz_at_a_non_clifford_angle() -> None:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.rz(1.0, 0)  # Aer's extended stabilizer takes rz only at Clifford angles
    circuit.h(0)
    circuit.h(1)
    circuit.measure_all()
    profile = profile_segment(QuantumSegment("rz", [circuit], "sampler", shots=400))
    assert profile.extended_stabilizer_ready
    # Aer's default Markov chain (5000 steps per shot) takes about 70 ms a shot; 200 steps mix two qubits.
    placement = SimplePlacement(
        "extended_stabilizer", options={"extended_stabilizer_metropolis_mixing_time": 200}
    )
    counts = sampler_for(placement, seed=3).run([circuit], shots=400).result()[0].data.meas.get_counts()
    ones = sum(n for bits, n in counts.items() if bits[-1] == "1")
    # H rz(theta) H gives 1 with probability sin^2(theta / 2) = 0.230 (qubit 1 is a fair coin beside it); the
    # tolerance is 3 standard deviations of 400 shots.
    assert abs(ones / 400 - math.sin(0.5) ** 2) < 0.065
