"""Exact entanglement of Clifford circuits from the stabilizer tableau, in the qubit order Aer's MPS keeps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector, random_clifford

from quantum.circuit_families import ghz, graph_state
from quantum.cost.aer_time import seconds
from quantum.cost.profiles import QuantumSegment, profile_segment
from quantum.cost.stabilizer_entanglement import clifford_mps_path, random_outcomes, stabilizer_cut_entropies


def schmidt_rank_log2(state: Statevector, num_qubits: int) -> list[int]:
    """log2 Schmidt rank across each cut (qubits 0..k | k+1..n-1), by SVD of the reshaped amplitudes."""
    ranks = []
    for k in range(num_qubits - 1):
        # Qiskit is little-endian: qubits 0..k are the fastest-varying index (the columns here).
        matrix = state.data.reshape(2 ** (num_qubits - k - 1), 2 ** (k + 1))
        singular = np.linalg.svd(matrix, compute_uv=False)
        ranks.append(round(math.log2(int((singular > 1e-9).sum()))))
    return ranks


@pytest.mark.parametrize("seed", range(8))
def test_tableau_entropies_equal_the_schmidt_ranks_of_the_state(seed: int) -> None:
    # Independent reference: the SVD of the 6-qubit statevector of the same random Clifford.
    clifford = random_clifford(6, seed=seed)
    exact = schmidt_rank_log2(Statevector(clifford.to_circuit()), 6)
    assert stabilizer_cut_entropies(clifford.stab_x, clifford.stab_z) == exact


def test_every_checkpoint_matches_the_statevector_including_gates_through_their_tableau() -> None:
    # Nearest-neighbour gates only, so Aer's qubit order stays the natural one and the statevector's cuts apply.
    rng = np.random.default_rng(5)
    circuit = QuantumCircuit(6)
    for _ in range(12):
        a = int(rng.integers(0, 5))
        [circuit.h, circuit.s, circuit.sx][int(rng.integers(0, 3))](int(rng.integers(0, 6)))
        choice = int(rng.integers(0, 8))
        if choice == 7:
            circuit.u(math.pi / 2, math.pi, -math.pi / 2, a)
        elif choice == 0:
            circuit.rz(math.pi / 2, a)
        elif choice == 1:
            circuit.rzz(math.pi / 2, a, a + 1)
        elif choice == 2:
            circuit.cp(math.pi, a, a + 1)
        else:
            [circuit.cx, circuit.cy, circuit.iswap, circuit.ecr][choice - 3](a, a + 1)
    path = clifford_mps_path(circuit, checkpoints=len(circuit.data))
    assert all(len(cuts) <= 1 for _, _, cuts in path.gate_cuts)  # no internal swap happened
    assert len(path.checkpoints) == len(circuit.data) + 1
    for index, entropies in path.checkpoints:
        prefix = circuit.copy_empty_like()
        for instruction in circuit.data[:index]:
            prefix.append(instruction)
        assert entropies == schmidt_rank_log2(Statevector(prefix), 6), index


def _aer_final_bonds_log2(circuit: QuantumCircuit) -> list[int]:
    """The bond dimensions Aer's MPS method ends with, in its own qubit order (from its `mps_log_data`)."""
    from qiskit_aer import AerSimulator

    result = AerSimulator(method="matrix_product_state", mps_log_data=True).run(circuit, shots=1).result()
    log = str(result.results[0].metadata["MPS_log_data"])
    last = log.rsplit("BD=[", 1)[1].split("]")[0].split()
    return [round(math.log2(int(value))) for value in last]


@pytest.mark.parametrize(
    "circuit",
    [graph_state(16, seed=1), graph_state(12, seed=2, degree=3), ghz(9)],
    ids=["graph2", "graph3", "ghz"],
)
def test_bonds_follow_the_qubit_order_aer_keeps_and_match_its_own_log(circuit: QuantumCircuit) -> None:
    # Reference: Aer's own MPS log of the same run. Aer swaps distant qubits together and leaves them there, so a
    # random graph state is far less entangled in Aer's order than across the cuts of the natural line.
    path = clifford_mps_path(circuit)
    assert path.checkpoints[-1][1] == _aer_final_bonds_log2(circuit)


def test_long_range_gate_entangles_only_the_neighbours_aer_makes_of_its_qubits() -> None:
    circuit = QuantumCircuit(4)
    circuit.h(0)
    circuit.cx(0, 3)  # Aer moves qubit 3 next to qubit 0: order 0, 3, 1, 2
    path = clifford_mps_path(circuit)
    assert path.checkpoints[-1][1] == [1, 0, 0]
    # Qubit 0 stays at position 0; Aer swaps qubit 3 across cuts 2 and 1, then contracts across cut 0.
    assert path.gate_cuts[-1] == (1, 0, range(0, 3))


def test_bernstein_vazirani_is_a_product_state_so_mps_costs_little() -> None:
    # Every query CNOT targets the ancilla in |->: phase kickback, no entanglement (Bernstein & Vazirani 1997).
    n = 40
    circuit = QuantumCircuit(n, n - 1)
    circuit.x(n - 1)
    circuit.h(range(n))
    for qubit in range(0, n - 1, 2):
        circuit.cx(qubit, n - 1)
    circuit.h(range(n - 1))
    circuit.measure(range(n - 1), range(n - 1))
    profile = profile_segment(QuantumSegment("bv", [circuit], "sampler", shots=1000))
    assert profile.bond_dimension_exact and profile.max_bond_dimension_log2 == 0
    assert profile.max_cut_crossings == n // 2  # the structural bound alone would say 2^20
    assert "exact from the stabilizer tableau" in profile.summary()
    assert seconds(profile, "matrix_product_state") < 1.0


def test_non_clifford_circuits_keep_the_structural_bound() -> None:
    circuit = ghz(6).remove_final_measurements(inplace=False)
    circuit.t(2)
    profile = profile_segment(QuantumSegment("t", [circuit], "sampler"))
    assert not profile.bond_dimension_exact
    with pytest.raises(ValueError, match="not a Clifford gate"):
        clifford_mps_path(circuit)


@pytest.mark.parametrize("seed", range(6))
def test_random_outcomes_count_the_support_of_the_z_distribution(seed: int) -> None:
    # Independent reference: a stabilizer state's Z-basis distribution is uniform over 2^r outcomes, r the number of
    # random outcomes; count the nonzero probabilities of the statevector.
    clifford = random_clifford(6, seed=seed)
    support = int((Statevector(clifford.to_circuit()).probabilities() > 1e-9).sum())
    assert 2 ** random_outcomes(clifford.stab_x) == support


def test_ghz_has_one_random_outcome_and_a_graph_state_only_random_ones() -> None:
    ghz_profile = profile_segment(QuantumSegment("ghz", [ghz(12)], "sampler", shots=100))
    graph_profile = profile_segment(QuantumSegment("graph", [graph_state(12, seed=1)], "sampler", shots=100))
    assert ghz_profile.deterministic_outcomes == 11 and graph_profile.deterministic_outcomes == 0
