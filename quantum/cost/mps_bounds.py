"""Entanglement across the cuts of a circuit's linear qubit order, and the MPS work it implies.

The bond dimension across a cut can grow by at most the operator Schmidt rank of each two-qubit gate that crosses
it (2 for controlled gates, 4 for a general two-qubit gate), and never beyond 2^min(k, n-k) for a cut with k qubits
on its left. For Clifford circuits the bond dimensions are exact, from the stabilizer tableau
(`quantum.cost.stabilizer_entanglement`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit

from quantum.cost.gate_sets import (
    NON_GATE_INSTRUCTIONS,
    SCHMIDT_RANK_TWO,
    CircuitOperation,
    circuit_operations,
)
from quantum.cost.stabilizer_entanglement import clifford_mps_path

# Circuits of more gates take the final bound for every gate's work: one pass of array operations instead of a
# numpy update per gate (about 15 us each here), so placement stays within seconds.
RUNNING_BOUND_MAX_GATES = 20_000


def _schmidt_rank_log2(name: str) -> int:
    return 1 if name in SCHMIDT_RANK_TWO else 2


@dataclass
class CutBounds:
    """Entanglement bounds across the cuts of the linear qubit order, and the MPS work they imply."""

    crossings: list[int]
    bond_log2: list[int]
    gate_work: float
    shot_work: float
    exact: bool = False
    deterministic_outcomes: int | None = None


def _one_qubit_work(position: int, bond_log2: Sequence[int]) -> float:
    """MPS work of a one-qubit gate: chi^2, chi the larger bond beside its qubit."""
    near = [int(bond_log2[k]) for k in (position - 1, position) if 0 <= k < len(bond_log2)]
    return 4.0 ** min(max(near, default=0), 30)


def _contraction_work(bond: int) -> float:
    """MPS work of one two-qubit contraction and SVD across a cut of bond dimension 2^bond: chi^3."""
    return 8.0 ** min(bond, 30)


def mps_shot_work(bond_log2: list[int], num_qubits: int) -> float:
    """MPS work of sampling one shot: chi^2 per cut of the final state, plus one per qubit."""
    return float(sum(4.0 ** min(b, 30) for b in bond_log2)) + num_qubits


def _gate_qubits(
    circuit: QuantumCircuit, operations: Sequence[CircuitOperation] | None = None
) -> Iterator[tuple[int, str, tuple[int, ...]]]:
    """(top-level instruction index, name, qubit indices) of every gate, control flow opened (a conditional gate
    counts as if it ran), skipping measurements, resets, barriers and global phases."""
    for operation in circuit_operations(circuit) if operations is None else operations:
        if operation.name not in NON_GATE_INSTRUCTIONS and operation.qubits:
            yield operation.index, operation.name, operation.qubits


def cut_bounds(circuit: QuantumCircuit, operations: Sequence[CircuitOperation] | None = None) -> CutBounds:
    """Per cut (k | k+1): crossing two-qubit gates and log2 of the bond-dimension bound, plus MPS work.

    The work follows the running bound gate by gate: span * chi^3 for a multi-qubit gate (an SVD of a 2chi x 2chi
    matrix after swapping its qubits together), chi^2 for a one-qubit gate, chi the bound at its cuts. Past
    RUNNING_BOUND_MAX_GATES gates it takes the final bound for every gate (`_final_cut_bounds`), an upper bound.
    """
    n = circuit.num_qubits
    gates = list(_gate_qubits(circuit, operations))
    if len(gates) > RUNNING_BOUND_MAX_GATES:
        return _final_cut_bounds(n, gates)
    crossings = np.zeros(max(n - 1, 0), dtype=np.int64)
    log_rank = np.zeros(max(n - 1, 0), dtype=np.int64)
    cap = np.minimum(np.arange(1, n), np.arange(n - 1, 0, -1))
    gate_work = 0.0
    for _, name, qubits in gates:
        low, high = min(qubits), max(qubits)
        if len(qubits) < 2:
            gate_work += _one_qubit_work(low, log_rank)
            continue
        rank_log2 = _schmidt_rank_log2(name) if len(qubits) == 2 else 2 * (len(qubits) - 1)
        crossings[low:high] += 1
        bonds = log_rank[low:high]  # a view: updated in place
        np.minimum(bonds + rank_log2, cap[low:high], out=bonds)
        gate_work += (high - low) * _contraction_work(int(bonds.max()))
    bond_log2 = log_rank.tolist()
    return CutBounds(crossings.tolist(), bond_log2, gate_work, mps_shot_work(bond_log2, n))


def _final_cut_bounds(n: int, gates: list[tuple[int, str, tuple[int, ...]]]) -> CutBounds:
    """The bounds of `cut_bounds` in a few array operations: crossings and ranks summed per cut by difference
    arrays, and each gate's work taken at the final bound (never below the running one), the largest bond over a
    gate's cuts read from a sparse table of maxima."""
    cuts = max(n - 1, 0)
    low = np.array([min(q) for _, _, q in gates], dtype=np.int64)
    high = np.array([max(q) for _, _, q in gates], dtype=np.int64)
    width = np.array([len(q) for _, _, q in gates], dtype=np.int64)
    rank = np.array([_schmidt_rank_log2(name) for _, name, _ in gates], dtype=np.int64)
    rank = np.where(width == 2, rank, 2 * (width - 1))
    multi = width >= 2
    crossings = _per_cut_sum(low[multi], high[multi], np.ones(int(multi.sum()), dtype=np.int64), cuts)
    cap = np.minimum(np.arange(1, n), np.arange(n - 1, 0, -1))
    log_rank = np.minimum(_per_cut_sum(low[multi], high[multi], rank[multi], cuts), cap)
    padded = np.concatenate(
        [[0], log_rank, [0]]
    )  # a one-qubit gate reads the cuts on both sides of its qubit
    one = ~multi
    one_qubit_bond = np.maximum(padded[low[one]], padded[low[one] + 1])
    widest = _range_maxima(log_rank, low[multi], high[multi])
    gate_work = float(np.sum(4.0 ** np.minimum(one_qubit_bond, 30)))
    gate_work += float(np.sum((high[multi] - low[multi]) * 8.0 ** np.minimum(widest, 30)))
    bond_log2 = log_rank.tolist()
    return CutBounds(crossings.tolist(), bond_log2, gate_work, mps_shot_work(bond_log2, n))


def _per_cut_sum(low: np.ndarray, high: np.ndarray, values: np.ndarray, cuts: int) -> np.ndarray:
    """Per cut k, the sum of values of the gates with low <= k < high."""
    steps = np.zeros(cuts + 1, dtype=np.int64)
    np.add.at(steps, low, values)
    np.add.at(steps, high, -values)
    return np.cumsum(steps)[:cuts]


def _range_maxima(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """max(values[low:high]) per pair (high > low), from a sparse table of maxima over power-of-two windows."""
    table = [values]
    while 2 ** len(table) <= len(values):
        previous, half = table[-1], 2 ** (len(table) - 1)
        table.append(np.maximum(previous[:-half], previous[half:]))
    level = np.floor(np.log2(np.maximum(high - low, 1))).astype(np.int64)
    result = np.zeros(len(low), dtype=values.dtype)
    for k in np.unique(level):
        chosen = level == k
        window = table[k]
        result[chosen] = np.maximum(window[low[chosen]], window[high[chosen] - 2**k])
    return result


def clifford_cut_bounds(
    circuit: QuantumCircuit, crossings: list[int], operations: Sequence[CircuitOperation] | None = None
) -> CutBounds | None:
    """Exact bond dimensions and MPS work of a Clifford circuit, from its stabilizer tableau along the way.

    Cuts follow the qubit order Aer's MPS method keeps (`clifford_mps_path`). Each contraction costs chi^3 with
    chi the larger bond dimension of the checkpoints around it; a one-qubit gate chi^2. The bond dimension reported
    per cut is the largest seen at any checkpoint. None when the circuit is too wide or a gate is not handled.
    """
    try:
        path = clifford_mps_path(circuit, operations=operations)
    except ValueError:
        return None
    checkpoints = path.checkpoints
    peak = [max(values) for values in zip(*(e for _, e in checkpoints), strict=True)]
    gate_work, slice_index = 0.0, 0
    for index, first, cuts in path.gate_cuts:
        if slice_index == 0 or checkpoints[slice_index][0] <= index:
            while checkpoints[slice_index][0] <= index:
                slice_index += 1
            before, after = checkpoints[slice_index - 1][1], checkpoints[slice_index][1]
            bond = [max(a, b) for a, b in zip(before, after, strict=True)]
            # Contraction work summed over the cuts left of each position: a gate's cuts are a range.
            left_of = np.concatenate([[0.0], np.cumsum([_contraction_work(b) for b in bond])])
        if cuts:
            gate_work += float(left_of[cuts.stop] - left_of[cuts.start])
        else:
            gate_work += _one_qubit_work(first, bond)
    return CutBounds(
        crossings, peak, gate_work, mps_shot_work(checkpoints[-1][1], circuit.num_qubits), exact=True,
        deterministic_outcomes=circuit.num_qubits - path.random_outcomes,
    )  # fmt: skip


def merged_cut_bounds(per_circuit: list[CutBounds]) -> CutBounds:
    """The bounds of a segment's circuits together: the largest per cut, the work summed, the costliest shot.

    Exact only when every circuit's is; deterministic outcomes then the most of any circuit.
    """
    exact = all(cuts.exact for cuts in per_circuit)
    deterministic = [c.deterministic_outcomes for c in per_circuit if c.deterministic_outcomes is not None]
    return CutBounds(
        crossings=_elementwise_max([cuts.crossings for cuts in per_circuit]),
        bond_log2=_elementwise_max([cuts.bond_log2 for cuts in per_circuit]),
        gate_work=sum(cuts.gate_work for cuts in per_circuit),
        shot_work=max((cuts.shot_work for cuts in per_circuit), default=0.0),
        exact=exact,
        deterministic_outcomes=max(deterministic) if exact and deterministic else None,
    )


def _elementwise_max(rows: list[list[int]]) -> list[int]:
    """Per position, the largest value of any row; shorter rows count as zeros there."""
    width = max((len(row) for row in rows), default=0)
    return [max((row[k] for row in rows if k < len(row)), default=0) for k in range(width)]
