"""Pairs of atoms closer than a cutoff in a periodic cell, at a cost known before any work is done.

pymatgen's neighbour search grids the bounding box of the coordinates into cubes of the cutoff's size, so its
memory grows with the cube of the cell size over the cutoff: a 1000 Å cell at 0.5 Å asked for 27 GB, and one
fractional coordinate of 1e6 in a 4.2 Å cell for 22.7 GB (measured here, pymatgen 2026.10.16). Here the
coordinates are wrapped into the cell first and every pair is compared over the lattice translations that can
bring it within the cutoff: the work is atoms^2 x translations, computed from the lattice before anything else.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from pymatgen.core import Structure

# Pair distances (atoms^2 x translations) one check may compute: about 2 s of numpy on one core.
MAX_PAIR_DISTANCES = 20_000_000
# Distances computed per numpy step (memory: 24 bytes each, about 50 MB).
_CHUNK = 2_000_000


def plane_spacings(structure: Structure) -> np.ndarray:
    """Distance (Å) between neighbouring lattice planes along each axis: d_k = 1/|b_k| (b_k: reciprocal vector
    without 2 pi)."""
    return 1.0 / np.linalg.norm(np.linalg.inv(structure.lattice.matrix), axis=0)


def translation_reach(structure: Structure, cutoff: float) -> tuple[int, ...]:
    """Lattice translations needed along each axis to find every pair within `cutoff` (Å) of wrapped sites: a
    pair within the cutoff differs by at most cutoff/d_k in fractional coordinate k; wrapping adds one."""
    return tuple(math.ceil(cutoff / spacing) + 1 for spacing in plane_spacings(structure))


def pair_search_cost(structure: Structure, cutoff: float) -> int:
    """How many pair distances `close_pairs` computes for this structure and cutoff."""
    reach = translation_reach(structure, cutoff)
    return len(structure) ** 2 * math.prod(2 * r + 1 for r in reach)


def close_pairs(structure: Structure, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, distance) of every pair of sites, periodic images included, closer than `cutoff` (Å).

    Each pair appears in both orders; a site and its own image appear with i == j. Raises ValueError when the
    search would compute more than MAX_PAIR_DISTANCES distances (see `pair_search_cost`).
    """
    cost = pair_search_cost(structure, cutoff)
    if cost > MAX_PAIR_DISTANCES:
        raise ValueError(
            f"finding atoms within {cutoff:.2f} Å needs {cost} distances, more than {MAX_PAIR_DISTANCES}"
        )
    matrix = structure.lattice.matrix
    cartesian = (structure.frac_coords % 1.0) @ matrix
    reach = translation_reach(structure, cutoff)
    shifts = np.array(list(itertools.product(*(range(-r, r + 1) for r in reach))), dtype=float) @ matrix
    zero = int(np.argmin(np.linalg.norm(shifts, axis=1)))
    n = len(structure)
    step = max(1, _CHUNK // max(n * n, 1))
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, len(shifts), step):
        block = shifts[start : start + step]
        # vectors from site i to site j shifted by each translation: (translations, i, j, 3)
        vectors = cartesian[None, None, :, :] + block[:, None, None, :] - cartesian[None, :, None, :]
        distances = np.linalg.norm(vectors, axis=-1)
        close = distances < cutoff
        if start <= zero < start + step:
            np.fill_diagonal(close[zero - start], False)  # a site is not its own neighbour
        translation, i, j = np.nonzero(close)
        found.append((i, j, distances[translation, i, j]))
    return tuple(np.concatenate(parts) for parts in zip(*found, strict=True))  # type: ignore[return-value]
