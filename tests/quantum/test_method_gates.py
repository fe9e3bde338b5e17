"""Gates on Aer's stabilizer and extended-stabilizer methods: what the profile calls Clifford (or ready for the
extended stabilizer) runs there, with counts and expectation values that match the exact state."""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import PauliGate
from qiskit.quantum_info import SparsePauliOp, Statevector
from simple_placements import SimplePlacement

from quantum.executors import estimator_for, sampler_for
from quantum.gate_sets import is_clifford_instruction
from quantum.profiles import QuantumSegment, profile_segment


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
