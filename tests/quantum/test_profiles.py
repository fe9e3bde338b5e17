"""Circuit profiles: gate counts, Clifford detection and the cut-crossing entanglement bound."""

from __future__ import annotations

import math

import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import random_clifford

from quantum.circuit_families import (
    ghz,
    hardware_efficient,
    qaoa,
    qft_of_ghz,
    quantum_volume,
    random_clifford_circuit,
)
from quantum.cost.aer_time import fusion_may_slow
from quantum.cost.gate_sets import is_clifford_instruction
from quantum.cost.mps_bounds import cut_bounds
from quantum.cost.profiles import CircuitProfile, QuantumSegment, profile_segment


def test_ghz_profile_counts_gates_and_bounds_every_cut_by_one_cnot() -> None:
    profile = profile_segment(QuantumSegment("ghz", [ghz(5)], "sampler", shots=100))
    assert profile.num_qubits == 5
    assert (profile.one_qubit_gates, profile.two_qubit_gates, profile.measurements) == (1, 4, 5)
    assert profile.is_clifford and profile.non_clifford_gates == 0
    # A GHZ chain crosses each cut of the line once; a CNOT has operator Schmidt rank 2 (bond dimension 2).
    assert profile.max_cut_crossings == 1
    assert profile.bond_dimension_log2 == [1, 1, 1, 1]
    assert profile.max_gate_span == 1 and profile.connectivity_edges == 4
    assert profile.shots == 100 and profile.primitive == "sampler"


def test_clifford_detection_judges_angles_and_unbound_parameters() -> None:
    theta = Parameter("theta")
    assert is_clifford_instruction("h", [])
    assert is_clifford_instruction("rz", [math.pi / 2])
    assert is_clifford_instruction("rzz", [-math.pi])
    assert is_clifford_instruction("cp", [math.pi])
    assert not is_clifford_instruction("cp", [math.pi / 2])  # controlled-S is not Clifford
    assert not is_clifford_instruction("rz", [0.3])
    assert not is_clifford_instruction("t", [])
    assert not is_clifford_instruction("rz", [theta])  # unknown until bound: judged not Clifford

    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.rz(theta, 0)
    circuit.cx(0, 1)
    unbound = profile_segment(QuantumSegment("p", [circuit], "estimator"))
    bound = profile_segment(QuantumSegment("p", [circuit.assign_parameters([math.pi])], "estimator"))
    assert not unbound.is_clifford and unbound.num_parameters == 1
    assert bound.is_clifford


def test_random_clifford_is_clifford_and_t_gate_makes_it_extended_stabilizer_ready() -> None:
    clifford = random_clifford(8, seed=3).to_circuit()
    assert profile_segment(QuantumSegment("c", [clifford], "sampler")).is_clifford
    clifford.t(0)
    profile = profile_segment(QuantumSegment("c", [clifford], "sampler"))
    assert not profile.is_clifford and profile.non_clifford_gates == 1
    assert profile.extended_stabilizer_ready


def test_long_range_gate_crosses_every_cut_between_its_qubits() -> None:
    circuit = QuantumCircuit(4)
    circuit.cx(0, 3)
    cuts = cut_bounds(circuit)
    assert cuts.crossings == [1, 1, 1]
    assert cuts.bond_log2 == [1, 1, 1]
    profile = profile_segment(QuantumSegment("long", [circuit], "estimator"))
    assert profile.max_gate_span == 3


def test_bond_bound_is_capped_by_the_smaller_side_of_the_cut() -> None:
    circuit = QuantumCircuit(4)
    for _ in range(10):
        circuit.cx(1, 2)
        circuit.swap(0, 3)
    cuts = cut_bounds(circuit)
    # Cut k has k+1 qubits on the left and n-k-1 on the right: the bond dimension is at most 2^min(k+1, n-k-1).
    assert cuts.crossings == [10, 20, 10]
    assert cuts.bond_log2 == [1, 2, 1]


def test_library_blocks_are_decomposed_and_linear_ansatz_has_low_crossings() -> None:
    ansatz = efficient_su2(10, entanglement="linear", reps=2)
    profile = profile_segment(QuantumSegment("su2", [ansatz], "estimator", parameter_sets=3))
    # EfficientSU2 with reps r: 2 rotation layers x (r+1) on n qubits and r linear CNOT chains of n-1 gates.
    assert profile.one_qubit_gates == 2 * 3 * 10
    assert profile.two_qubit_gates == 2 * 9
    assert profile.max_cut_crossings == 2
    assert not profile.is_clifford and profile.num_parameters == ansatz.num_parameters
    assert profile.parameter_sets == 3


def test_benchmark_families_have_their_widths_and_clifford_character() -> None:
    # Every family is bound (no free parameters) and measures every qubit; only GHZ and random Clifford are
    # Clifford (H, S, CNOT products: Aaronson & Gottesman 2004); the others hold generic rotations.
    families = {
        "ghz": (ghz(7), True),
        "clifford": (random_clifford_circuit(7), True),
        "hea": (hardware_efficient(7), False),
        "qaoa": (qaoa(7), False),
        "qaoa_3reg": (qaoa(8, regular=True), False),
        "qv": (quantum_volume(6), False),
        "qft_of_ghz": (qft_of_ghz(7), False),
    }
    for name, (circuit, clifford) in families.items():
        profile = profile_segment(QuantumSegment(name, [circuit], "sampler", shots=10))
        assert profile.num_qubits == circuit.num_clbits == profile.measurements, name
        assert profile.num_parameters == 0 and profile.is_clifford is clifford, name
    assert qaoa(8, regular=True).num_qubits == 8 and ghz(7).name == "ghz-7"
    # A QAOA line of n qubits has n - 1 ZZ terms per layer, each one RZZ (or CX-RZ-CX) across a single cut.
    assert profile_segment(QuantumSegment("q", [qaoa(7)], "sampler")).max_gate_span == 1
    # The same seed gives the same circuit; another seed other angles.
    assert hardware_efficient(5, seed=3) == hardware_efficient(5, seed=3) != hardware_efficient(5, seed=4)


def test_segment_rejects_bad_input_naming_the_field() -> None:
    with pytest.raises(ValueError, match="circuits is empty"):
        QuantumSegment("s", [], "sampler")
    with pytest.raises(ValueError, match="shots=0"):
        QuantumSegment("s", [ghz(2)], "sampler", shots=0)
    with pytest.raises(ValueError, match="primitive='counts'"):
        QuantumSegment("s", [ghz(2)], "counts")  # type: ignore[arg-type]
    assert QuantumSegment("s", [ghz(2)], "sampler").shots == 1024


def test_gates_that_only_permute_or_rephase_amplitudes_are_counted() -> None:
    """GHZ: the h mixes amplitudes, the cx chain permutes them; QFT's controlled phases are diagonal; quantum
    volume's SU(4) blocks mix everything. Only the first two are sparse enough for fusion to cost time."""

    def profiled(circuit: QuantumCircuit) -> CircuitProfile:
        return profile_segment(QuantumSegment(circuit.name, [circuit], "sampler", shots=100))

    ghz_profile = profiled(ghz(16))
    assert (ghz_profile.sparse_kernel_gates, ghz_profile.gates) == (15, 16) and fusion_may_slow(ghz_profile)
    qft = profiled(qft_of_ghz(16))
    assert qft.sparse_kernel_gates >= 0.8 * qft.gates and fusion_may_slow(qft)
    assert not fusion_may_slow(profiled(qft_of_ghz(12)))  # Aer fuses from 14 qubits on
    volume = profiled(quantum_volume(16))
    assert volume.sparse_kernel_gates == 0 and not fusion_may_slow(volume)


def test_a_global_phase_gate_is_no_work_and_the_circuit_still_runs() -> None:
    from qiskit.circuit.library import GlobalPhaseGate
    from simple_placements import SimplePlacement

    from quantum.executors import sampler_for

    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.append(GlobalPhaseGate(math.pi / 4), [])  # zero qubits: profiling took min() of an empty list
    circuit.measure_all()
    profile = profile_segment(QuantumSegment("gp", [circuit], "sampler", shots=100))
    assert profile.gates == 2 and profile.is_clifford and profile.bond_dimension_log2 == [1]
    counts = sampler_for(SimplePlacement("stabilizer")).run([circuit], shots=100).result()[0].data.meas
    assert set(counts.get_counts()) <= {"00", "11"}


def test_segment_fields_are_checked_before_profiling() -> None:
    for bad, field in [({"precision": 0.0}, "precision"), ({"observables": 0}, "observables"),
                       ({"pauli_terms": -3}, "pauli_terms")]:  # fmt: skip
        with pytest.raises(ValueError, match=f"{field}="):
            QuantumSegment("x", [QuantumCircuit(1)], "estimator", **bad)


def test_mid_circuit_measurement_is_estimated_shot_by_shot() -> None:
    # Aer samples every shot from one final state only when nothing but measurements follow the first one;
    # otherwise it re-runs the circuit per shot (measured here: 18 qubits, 300 shots, 0.05 s against 51 s).
    from quantum.cost.aer_time import seconds

    final = efficient_su2(14, reps=2, entanglement="linear")
    final = final.assign_parameters([0.1] * final.num_parameters)
    final.measure_all()
    middle = QuantumCircuit(14, 15)
    middle.measure(0, 14)
    middle.compose(final, clbits=range(14), inplace=True)
    reset = final.copy()
    reset.reset(0)
    control = QuantumCircuit(14, 14)
    control.compose(final.remove_final_measurements(inplace=False), inplace=True)
    with control.if_test((control.clbits[0], 1)):
        control.x(1)
    control.measure(range(14), range(14))
    profiles = {
        name: profile_segment(QuantumSegment(name, [c], "sampler", shots=300))
        for name, c in [("final", final), ("middle", middle), ("reset", reset), ("control", control)]
    }
    assert [p.sampled_once for p in profiles.values()] == [True, False, False, False]
    one_run = seconds(profiles["final"], "statevector")
    assert seconds(profiles["middle"], "statevector") > 50 * one_run
    # MPS re-runs its gates per shot too, but each costs far less than at the first run (measured here: 0.033 s
    # against 0.25 s, 14 qubits, 300 shots).
    assert seconds(profiles["middle"], "matrix_product_state") > 5 * seconds(
        profiles["final"], "matrix_product_state"
    )
