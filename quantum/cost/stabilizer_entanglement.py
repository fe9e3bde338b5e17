"""Exact entanglement of Clifford circuits across every cut of the qubit line, read from the stabilizer tableau.

A Clifford circuit keeps the state a stabilizer state at every step, and a stabilizer state's entanglement
entropy across a cut is an integer number of ebits: S(A) = rank_GF(2)(stabilizers restricted to A) - |A|
(Fattal, Cubitt, Yamamoto, Bravyi, Chuang, arXiv:quant-ph/0406168, theorem 1). The Schmidt rank across the cut,
which is the bond dimension an exact MPS simulation holds there, is 2^S(A). So for Clifford circuits the MPS cost
is known exactly instead of bounded by the gates crossing each cut, which overshoots by up to 2^n (a
Bernstein-Vazirani circuit stays a product state although every query gate crosses the cuts to the ancilla).

One Gaussian elimination gives every cut at once: with the columns ordered x_0, z_0, x_1, z_1, ..., the rank of the
first 2k columns is the number of pivots among them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import Clifford

from quantum.cost.gate_sets import LABELLED_GATES, NON_GATE_INSTRUCTIONS, CircuitOperation, circuit_operations

# Widest circuit handled exactly: elimination costs about n^3 / 8 byte operations per checkpoint.
MAX_EXACT_QUBITS = 512
# Longest circuit followed gate by gate (about 16 us per instruction here: a random 250-qubit Clifford circuit of
# 62,000 instructions took 1.0 s); beyond, the structural bound stands, so placement stays within seconds.
MAX_EXACT_INSTRUCTIONS = 100_000
# States inspected along the circuit: the MPS cost of a gate is taken from the checkpoints around it.
CHECKPOINTS = 16


def gf2_pivots(matrix: np.ndarray) -> np.ndarray:
    """Rank over GF(2) of the first c columns of a boolean matrix, for c = 0..columns (row reduction, packed bits)."""
    rows = np.packbits(matrix, axis=1)
    columns = matrix.shape[1]
    pivots_before = np.zeros(columns + 1, dtype=int)
    rank = 0
    for column in range(columns):
        byte, mask = column // 8, np.uint8(0x80 >> (column % 8))
        candidates = np.flatnonzero(rows[rank:, byte] & mask) + rank
        if candidates.size:
            pivot = candidates[0]
            rows[[rank, pivot]] = rows[[pivot, rank]]
            others = np.flatnonzero(rows[:, byte] & mask)
            others = others[others != rank]
            rows[others] ^= rows[rank]
            rank += 1
        pivots_before[column + 1] = rank
    return pivots_before


def stabilizer_cut_entropies(stab_x: np.ndarray, stab_z: np.ndarray) -> list[int]:
    """Entanglement (ebits) across cuts (k | k+1), k = 0..n-2, of the stabilizer state with these generators."""
    n = stab_x.shape[0]
    interleaved = np.empty((n, 2 * n), dtype=bool)
    interleaved[:, 0::2] = stab_x
    interleaved[:, 1::2] = stab_z
    pivots_before = gf2_pivots(interleaved)
    return [int(pivots_before[2 * (k + 1)]) - (k + 1) for k in range(n - 1)]


def random_outcomes(stab_x: np.ndarray) -> int:
    """How many of the n outcomes are random when every qubit of the stabilizer state is measured in Z: the GF(2)
    rank of the generators' X part (a Z-basis state has rank 0, a GHZ state 1, a graph state n)."""
    return int(gf2_pivots(stab_x.astype(bool))[-1])


@functools.cache
def _symplectic_map(name: str, params: tuple[float, ...], width: int) -> np.ndarray:
    """The gate's action on Pauli bits (x_1..x_k, z_1..z_k) -> bits, phases dropped (they never change entropy)."""
    gate = get_standard_gate_name_mapping()[name]
    if params:
        gate = type(gate)(*params)
    if gate.num_qubits != width:
        raise ValueError(f"gate {name!r} acts on {gate.num_qubits} qubits, not {width}")
    tableau = Clifford(gate)
    destabilizers = np.hstack([tableau.destab_x, tableau.destab_z])
    stabilizers = np.hstack([tableau.stab_x, tableau.stab_z])
    return np.vstack([destabilizers, stabilizers]).astype(np.uint8)


def _apply_gate(
    x: np.ndarray, z: np.ndarray, name: str, params: tuple[float, ...], qubits: list[int]
) -> None:
    """Conjugate every generator (rows of x | z) by one Clifford gate, in place."""
    if name == "h":
        (q,) = qubits
        x[:, q], z[:, q] = z[:, q].copy(), x[:, q].copy()
    elif name in ("s", "sdg"):
        z[:, qubits[0]] ^= x[:, qubits[0]]
    elif name in ("x", "y", "z", "pauli"):
        return
    elif name == "cx":
        control, target = qubits
        x[:, target] ^= x[:, control]
        z[:, control] ^= z[:, target]
    elif name == "cz":
        a, b = qubits
        z[:, a] ^= x[:, b]
        z[:, b] ^= x[:, a]
    elif name == "swap":
        a, b = qubits
        x[:, [a, b]] = x[:, [b, a]]
        z[:, [a, b]] = z[:, [b, a]]
    else:
        local = np.concatenate([x[:, qubits], z[:, qubits]], axis=1)
        mapped = (local @ _symplectic_map(name, params, len(qubits))) & 1
        x[:, qubits] = mapped[:, : len(qubits)]
        z[:, qubits] = mapped[:, len(qubits) :]


@dataclass
class CliffordMpsPath:
    """How Aer's MPS method walks a Clifford circuit: entanglement along the way and where each gate costs.

    Aer keeps its own qubit order: for a gate on distant qubits it swaps the farther qubit towards the nearer one
    (option `mps_swap_direction`, default "mps_swap_left") and leaves it there. Cuts are between positions of that
    order. `checkpoints` holds (instruction index, entanglement per cut) at the start and after each slice;
    `gate_cuts` holds (instruction index, position of the gate's first qubit, cuts where a two-qubit contraction
    and SVD happen: one per internal swap plus the gate's own); `random_outcomes` counts the random outcomes of
    measuring every qubit of the final state.
    """

    checkpoints: list[tuple[int, list[int]]]
    gate_cuts: list[tuple[int, int, range]]
    random_outcomes: int = 0


def _move_adjacent(order: np.ndarray, position: np.ndarray, qubits: list[int]) -> range:
    """Swap the farther of two qubits next to the nearer one in Aer's order; return the cuts where a contraction
    happens: one per swap, then the gate's own (all cuts from the nearer qubit's position to the farther's)."""
    low, high = sorted(int(position[q]) for q in qubits)
    if high - low > 1:
        moved = order[high]
        order[low + 2 : high + 1] = order[low + 1 : high].copy()
        order[low + 1] = moved
        position[order[low + 1 : high + 1]] = np.arange(low + 1, high + 1)
    return range(low, high)


def measure_z(x: np.ndarray, z: np.ndarray, qubit: int) -> None:
    """Project the stabilizer state on a Z outcome of `qubit`, in place (a reset too: it then flips the qubit,
    a Pauli). The generators that anticommute with Z are multiplied by one of them, which Z then replaces
    (Aaronson & Gottesman, PRA 70, 052328 (2004), section III); signs, and so the outcome, are dropped: the
    entanglement is the same for either outcome."""
    anticommuting = np.flatnonzero(x[:, qubit])
    if not anticommuting.size:
        return  # a fixed outcome: the state does not change
    first, others = anticommuting[0], anticommuting[1:]
    x[others] ^= x[first]
    z[others] ^= z[first]
    x[first] = 0
    z[first] = 0
    z[first, qubit] = 1


def clifford_mps_path(
    circuit: QuantumCircuit,
    checkpoints: int = CHECKPOINTS,
    operations: Sequence[CircuitOperation] | None = None,
) -> CliffordMpsPath:
    """Entanglement of a Clifford circuit's state along the way, in the qubit order Aer's MPS method keeps.

    Resets and mid-circuit measurements project the state (which lowers the entanglement); a qubit's final
    measurement does not, since Aer samples the final state (and `random_outcomes` counts its cost). Gates inside control flow
    are applied as if their condition held: exact for conditional Paulis, which change no entanglement, and for
    other gates what the shots that take the branch see. Raises ValueError when the circuit is too wide or long to handle
    exactly or holds a gate that is not Clifford.
    """
    n = circuit.num_qubits
    if n > MAX_EXACT_QUBITS:
        raise ValueError(f"{n} qubits: exact stabilizer entanglement is computed up to {MAX_EXACT_QUBITS}")
    operations = list(circuit_operations(circuit)) if operations is None else operations
    if len(operations) > MAX_EXACT_INSTRUCTIONS:
        raise ValueError(f"{len(operations)} instructions: followed exactly up to {MAX_EXACT_INSTRUCTIONS}")
    x = np.zeros((n, n), dtype=np.uint8)
    z = np.eye(n, dtype=np.uint8)
    order, position = np.arange(n), np.arange(n)
    size = len(circuit.data)
    step = max(1, -(-size // max(checkpoints, 1)))
    path = CliffordMpsPath(checkpoints=[(0, [0] * max(n - 1, 0))], gate_cuts=[])
    last_change = {q: k for k, op in enumerate(operations) if op.name != "measure" for q in op.qubits}
    done = 0  # top-level instructions fully applied
    for k, operation in enumerate(operations):
        while operation.index > done:
            _checkpoint(path, x, z, order, done := done + 1, size, step)
        if operation.name == "measure" and k > last_change.get(operation.qubits[0], -1):
            continue  # a final measurement: sampled from the final state
        _apply_operation(path, x, z, order, position, operation)
    while done < size:
        _checkpoint(path, x, z, order, done := done + 1, size, step)
    path.random_outcomes = random_outcomes(x)
    return path


def _apply_operation(
    path: CliffordMpsPath,
    x: np.ndarray,
    z: np.ndarray,
    order: np.ndarray,
    position: np.ndarray,
    operation: CircuitOperation,
) -> None:
    """One instruction on the tableau, and where Aer's MPS contracts for it."""
    name, qubits = operation.name, list(operation.qubits)
    if name in ("measure", "reset"):
        measure_z(x, z, qubits[0])
        return
    if name in NON_GATE_INSTRUCTIONS or not qubits:  # a barrier, or a global phase: nothing changes
        return
    params = () if name in LABELLED_GATES else operation.params
    try:
        _apply_gate(x, z, name, tuple(float(p) for p in params), qubits)
    except Exception as error:  # unknown gate, unbound parameter, or not Clifford
        raise ValueError(f"{name} is not a Clifford gate this model handles: {error}") from error
    cuts = _move_adjacent(order, position, qubits) if len(qubits) == 2 else range(0)
    path.gate_cuts.append((operation.index, int(position[qubits[0]]), cuts))


def _checkpoint(
    path: CliffordMpsPath, x: np.ndarray, z: np.ndarray, order: np.ndarray, done: int, size: int, step: int
) -> None:
    """After `done` top-level instructions: record the entanglement per cut at every step-th and at the last."""
    if done % step == 0 or done == size:
        entropies = stabilizer_cut_entropies(x[:, order].astype(bool), z[:, order].astype(bool))
        path.checkpoints.append((done, entropies))
