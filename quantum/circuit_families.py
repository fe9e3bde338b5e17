"""Benchmark circuit families: GHZ, hardware-efficient ansatz, QAOA, random Clifford, graph state,
Bernstein-Vazirani, quantum volume, QFT of GHZ.

Plain qiskit circuits, deterministic for a seed, with every parameter bound (angles drawn uniformly from
[0, 2 pi) rad) and every qubit measured, so they run as they are on any sampler. The broker benchmark
(`benchmarks/broker.py`), the broker-benchmark flow and the tests all build their circuits here.
"""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit


def bind_and_measure(circuit: QuantumCircuit, seed: int, name: str | None = None) -> QuantumCircuit:
    """A copy with its parameters bound to seeded uniform angles in [0, 2 pi) rad and measure_all if unmeasured.

    It is named '<name[:16]>-<qubits>' (`name` defaults to the circuit's): short, since Aer repeats a circuit's
    name in its error messages.
    """
    rng = np.random.default_rng(seed)
    bound = circuit.assign_parameters(rng.uniform(0, 2 * np.pi, circuit.num_parameters))
    if bound.num_clbits == 0:
        bound.measure_all()
    bound.name = f"{(name or circuit.name)[:16]}-{circuit.num_qubits}"
    return bound


def _ghz_preparation(num_qubits: int, name: str) -> QuantumCircuit:
    """H on qubit 0 and a CNOT chain along the line: (|0...0> + |1...1>)/sqrt(2), unmeasured."""
    circuit = QuantumCircuit(num_qubits, name=name)
    circuit.h(0)
    for qubit in range(num_qubits - 1):
        circuit.cx(qubit, qubit + 1)
    return circuit


def ghz(num_qubits: int) -> QuantumCircuit:
    """GHZ state (|0...0> + |1...1>)/sqrt(2), measured: Clifford, bond dimension 2 across every cut."""
    return bind_and_measure(_ghz_preparation(num_qubits, "ghz"), 0)


def hardware_efficient(num_qubits: int, seed: int = 1, reps: int = 2) -> QuantumCircuit:
    """EfficientSU2 ansatz (RY/RZ layers, linear CNOT entanglement) with `reps` repetitions and random angles."""
    from qiskit.circuit.library import efficient_su2

    return bind_and_measure(
        efficient_su2(num_qubits, entanglement="linear", reps=reps), seed, "efficient_su2"
    )


def qaoa(num_qubits: int, seed: int = 2, regular: bool = False, reps: int = 2) -> QuantumCircuit:
    """QAOA ansatz for MaxCut-like ZZ terms on a line of qubits (or a seeded random 3-regular graph), random angles.

    The 3-regular graph needs networkx (installed with pymatgen) and an even `num_qubits` of at least 4.
    """
    from qiskit.circuit.library import qaoa_ansatz
    from qiskit.quantum_info import SparsePauliOp

    if regular:
        import networkx as nx

        edges = list(nx.random_regular_graph(3, num_qubits, seed=seed).edges())
    else:
        edges = [(qubit, qubit + 1) for qubit in range(num_qubits - 1)]
    cost = SparsePauliOp.from_sparse_list([("ZZ", list(edge), 1.0) for edge in edges], num_qubits)
    return bind_and_measure(qaoa_ansatz(cost, reps=reps), seed, "qaoa")


def random_clifford_circuit(num_qubits: int, seed: int = 3) -> QuantumCircuit:
    """A uniformly random Clifford operator (qiskit `random_clifford`) synthesised as a circuit, measured."""
    from qiskit.quantum_info import random_clifford

    return bind_and_measure(random_clifford(num_qubits, seed=seed).to_circuit(), seed, "clifford")


def bernstein_vazirani(num_qubits: int, seed: int = 5) -> QuantumCircuit:
    """Bernstein-Vazirani for a seeded random hidden string on num_qubits - 1 query qubits and one ancilla, the
    queries measured: Clifford, and a product state throughout (each oracle CNOT kicks a phase back onto |->)."""
    rng = np.random.default_rng(seed)
    queries = num_qubits - 1
    circuit = QuantumCircuit(num_qubits, queries, name="bernstein_vazirani")
    circuit.x(queries)
    circuit.h(range(num_qubits))
    for qubit in np.flatnonzero(rng.integers(0, 2, queries)):
        circuit.cx(int(qubit), queries)
    circuit.h(range(queries))
    circuit.measure(range(queries), range(queries))
    circuit.name = f"bernstein_vazir-{num_qubits}"
    return circuit


def graph_state(num_qubits: int, seed: int = 6, degree: int = 2) -> QuantumCircuit:
    """Graph state of a seeded random `degree`-regular graph (H on every qubit, CZ per edge), measured: Clifford,
    with an entanglement across cuts set by the graph's cut rank, so the MPS cost varies with the graph."""
    import networkx as nx

    circuit = QuantumCircuit(num_qubits, name="graph_state")
    circuit.h(range(num_qubits))
    for a, b in nx.random_regular_graph(degree, num_qubits, seed=seed).edges():
        circuit.cz(a, b)
    return bind_and_measure(circuit, seed)


def quantum_volume(num_qubits: int, seed: int = 4) -> QuantumCircuit:
    """Quantum-volume model circuit: `num_qubits` layers of random SU(4) blocks on random qubit pairs, measured."""
    from qiskit.circuit.library import quantum_volume as quantum_volume_circuit

    return bind_and_measure(quantum_volume_circuit(num_qubits, seed=seed), seed, "quantum_volume")


def qft_of_ghz(num_qubits: int) -> QuantumCircuit:
    """A QFT applied to a GHZ state (MQT Bench's 'qftentangled' built with qiskit alone), measured.

    The state stays a sum of two product states, yet the QFT's controlled phases cross every cut: the
    structural bond-dimension bound is loose here, which an MPS trial reveals.
    """
    from qiskit.circuit.library import QFTGate

    circuit = _ghz_preparation(num_qubits, "qft_of_ghz")
    circuit.append(QFTGate(num_qubits), range(num_qubits))
    return bind_and_measure(circuit, 5)
