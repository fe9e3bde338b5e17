"""Entanglement across the cuts of a circuit's linear qubit order, and the MPS work it implies.

The bond dimension across a cut can grow by at most the operator Schmidt rank of each two-qubit gate that crosses
it (2 for controlled gates, 4 for a general two-qubit gate), and never beyond 2^min(k, n-k) for a cut with k qubits
on its left. For Clifford circuits the bond dimensions are exact, from the stabilizer tableau
(`quantum.stabilizer_entanglement`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit

from quantum.gate_sets import NON_GATE_INSTRUCTIONS, SCHMIDT_RANK_TWO, circuit_operations
from quantum.stabilizer_entanglement import clifford_mps_path


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


def _gate_qubits(circuit: QuantumCircuit) -> Iterator[tuple[int, str, list[int]]]:
    """(top-level instruction index, name, qubit indices) of every gate, control flow opened (a conditional gate
    counts as if it ran), skipping measurements, resets, barriers and global phases."""
    for operation in circuit_operations(circuit):
        if operation.name not in NON_GATE_INSTRUCTIONS and operation.qubits:
            yield operation.index, operation.name, list(operation.qubits)


def cut_bounds(circuit: QuantumCircuit) -> CutBounds:
    """Per cut (k | k+1): crossing two-qubit gates and log2 of the bond-dimension bound, plus MPS work.

    The work follows the running bound gate by gate: span * chi^3 for a multi-qubit gate (an SVD of a 2chi x 2chi
    matrix after swapping its qubits together), chi^2 for a one-qubit gate, chi the bound at its cuts.
    """
    n = circuit.num_qubits
    crossings = np.zeros(max(n - 1, 0), dtype=np.int64)
    log_rank = np.zeros(max(n - 1, 0), dtype=np.int64)
    cap = np.minimum(np.arange(1, n), np.arange(n - 1, 0, -1))
    gate_work = 0.0
    for _, name, qubits in _gate_qubits(circuit):
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


def clifford_cut_bounds(circuit: QuantumCircuit, crossings: list[int]) -> CutBounds | None:
    """Exact bond dimensions and MPS work of a Clifford circuit, from its stabilizer tableau along the way.

    Cuts follow the qubit order Aer's MPS method keeps (`clifford_mps_path`). Each contraction costs chi^3 with
    chi the larger bond dimension of the checkpoints around it; a one-qubit gate chi^2. The bond dimension reported
    per cut is the largest seen at any checkpoint. None when the circuit is too wide or a gate is not handled.
    """
    try:
        path = clifford_mps_path(circuit)
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
