"""Extended SQD's subspaces: qiskit-addon-sqd's standard schedule, each subspace's strings joined by their single
(and double) excitations, parents first, so a `max_dim` truncation keeps the excitations of the most important
strings. Imported by `quantum.chemistry.sqd.diagonalize` when it runs (qiskit-addon-sqd brings jax, seconds)."""

from __future__ import annotations

import itertools

import numpy as np
from qiskit_addon_sqd.fermion import StandardPolicy, SubspaceRequest, enlarge_batch_from_transitions


def excitation_transitions(norb: int, rank: int) -> np.ndarray:
    """All rank-fold excitations of one spin sector as qiskit-addon-sqd transition strings ('+', '-', 'I').

    Ordered by the orbital-index gap they bridge (sum created - sum annihilated): RHF canonical orbitals come in
    ascending orbital energy, so low-lying excitations come first and a `max_dim` truncation drops the high ones.
    """
    moves = [
        (annihilated, created)
        for annihilated in itertools.combinations(range(norb), rank)
        for created in itertools.combinations([p for p in range(norb) if p not in annihilated], rank)
    ]
    moves.sort(key=lambda move: sum(move[1]) - sum(move[0]))
    rows = np.full((len(moves), norb), "I")
    for row, (annihilated, created) in zip(rows, moves, strict=True):
        row[[norb - 1 - p for p in annihilated]] = "-"  # column j of a bitstring holds orbital norb-1-j
        row[[norb - 1 - p for p in created]] = "+"
    return rows


def enlarged_strings(strings: np.ndarray, norb: int, max_rank: int) -> np.ndarray:
    """The CI strings, then their new excitations parent by parent (single, then double), duplicates dropped.

    Parent order is kept, so a later truncation to `max_dim` keeps the excitations of the most important strings.
    """
    powers = np.int64(1) << np.arange(norb - 1, -1, -1, dtype=np.int64)
    transitions = np.concatenate([excitation_transitions(norb, rank) for rank in range(1, max_rank + 1)])
    parts = [strings]
    for string in strings:
        bits = ((string & powers) != 0)[None, :]
        excited = np.asarray(enlarge_batch_from_transitions(bits, transitions)).reshape(-1, norb)
        parts.append(excited @ powers)
    return _ordered_union(*parts)


class EnlargedSubspacePolicy(StandardPolicy):
    """qiskit-addon-sqd's standard schedule, each subspace's strings joined by their excitations (extended SQD).

    The strings the standard schedule picks (carryover from the last iteration by weight, then the sampled ones
    by frequency) come first, then their excitations in the same parent order: the order the loop's `max_dim`
    truncation keeps. Exciting the carryover lets the subspace grow, iteration by iteration, along the strings
    the last diagonalization found important, as selected CI does.
    """

    def __init__(self, max_rank: int, carryover_threshold: float = 1e-4) -> None:
        super().__init__(carryover_threshold=carryover_threshold)
        self.max_rank = max_rank

    def prepare_subspaces(self, request: SubspaceRequest) -> list[tuple[np.ndarray, np.ndarray]]:
        subspaces = []
        for strings_a, strings_b in super().prepare_subspaces(request):
            enlarged_a = enlarged_strings(_ordered_union(strings_a), request.norb, self.max_rank)
            if request.symmetrize_spin:
                subspaces.append((enlarged_a, enlarged_a))
            else:
                enlarged_b = enlarged_strings(_ordered_union(strings_b), request.norb, self.max_rank)
                subspaces.append((enlarged_a, enlarged_b))
        return subspaces


def _ordered_union(*arrays: np.ndarray) -> np.ndarray:
    merged = np.concatenate(arrays)
    _, first = np.unique(merged, return_index=True)
    return merged[np.sort(first)]
