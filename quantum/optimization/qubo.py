"""QUBO energies and the exact minimum by brute force (numpy only): what QAOA's samples and the portfolio are
checked against.

A QUBO is E(x) = x^T Q x + offset over x in {0,1}^n, Q upper triangular or full (the pair (i, j) then counts
Q_ij + Q_ji); bit i of an assignment is variable i.
"""

from __future__ import annotations

import math

import numpy as np

# 2^20 assignments take 0.5 s in chunks of 2^14 here (2 shared cores); the flows' QAOA stops at 14 qubits.
MAX_BRUTE_FORCE_VARIABLES = 20
ENERGY_TOLERANCE = 1e-9  # relative: energies this close to the optimum count as optimal


def qubo_energies(matrix: np.ndarray, offset: float, bits: np.ndarray) -> np.ndarray:
    """E = y^T Q y + offset for each row y of ``bits`` (shape (m, n) of 0/1)."""
    y = np.asarray(bits, dtype=float)
    return np.einsum("mi,ij,mj->m", y, np.asarray(matrix, dtype=float), y) + offset


def brute_force_minimum(matrix: np.ndarray, offset: float = 0.0) -> tuple[np.ndarray, float]:
    """One optimal assignment and the minimum energy, enumerating all 2^n assignments (n <= 20) in chunks of 2^14."""
    n = matrix.shape[0]
    if n > MAX_BRUTE_FORCE_VARIABLES:
        raise ValueError(
            f"the QUBO has {n} variables; brute force enumerates at most {MAX_BRUTE_FORCE_VARIABLES}: "
            "use fewer variables (for a portfolio: fewer options or a coarser cost unit, so fewer slack bits)"
        )
    powers = 1 << np.arange(n)
    best_bits, best_energy = np.zeros(n, dtype=int), math.inf
    chunk = 1 << min(n, 14)
    for start in range(0, 1 << n, chunk):
        bits = ((np.arange(start, start + chunk)[:, None] & powers) > 0).astype(np.int8)
        energies = qubo_energies(matrix, offset, bits)
        index = int(np.argmin(energies))
        if energies[index] < best_energy:
            best_bits, best_energy = bits[index].astype(int), float(energies[index])
    return best_bits, best_energy


def is_optimal(energies: np.ndarray | float, optimum: float) -> np.ndarray:
    """Whether each energy reaches the optimum, within ENERGY_TOLERANCE relative to it (bool(...) of one energy)."""
    return np.asarray(energies) <= optimum + ENERGY_TOLERANCE * max(1.0, abs(optimum))
