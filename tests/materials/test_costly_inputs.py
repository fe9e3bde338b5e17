"""Inputs that made a cheap check expensive: validation wraps sites into the cell and knows each check's cost
before it starts, so far-out coordinates, huge, thin or dense cells are handled or refused within a small memory
budget; and the bounded pair search finds exactly the pairs pymatgen's neighbour list finds."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from materials.candidates import bundled_candidates
from materials.periodic_pairs import MAX_PAIR_DISTANCES, close_pairs, pair_search_cost
from materials.surrogate import CHGNET_ELEMENTS
from materials.validation import validate_structure, wrapped_structure

MGO_A = 4.212  # Å, rocksalt MgO (Wyckoff, Crystal Structures, vol. 1, 1963)


# (case, lattice, species, fractional coordinates, words of the problem or None when accepted)
COSTLY = [
    ("coordinate-1e3", Lattice.cubic(MGO_A), ["Mg", "O"], [[0, 0, 0], [1000.5, 0.5, 0.5]], None),
    ("coordinate-1e6", Lattice.cubic(MGO_A), ["Mg", "O"], [[0, 0, 0], [1e6 + 0.5, 0.5, 0.5]], None),
    ("coordinate-minus-1e7", Lattice.cubic(MGO_A), ["Mg", "O"], [[0, 0, 0], [0.5, -1e7 + 0.5, 0.5]], None),
    ("coordinate-1e9", Lattice.cubic(MGO_A), ["Mg", "O"], [[0, 0, 0], [1e9, 0.5, 0.5]], "cells out"),
    ("coordinate-1e300", Lattice.cubic(MGO_A), ["Mg", "O"], [[0, 0, 0], [1e300, 0.5, 0.5]], "cells out"),
    ("coordinate-nan", Lattice.cubic(MGO_A), ["Mg", "O"], [[0, 0, 0], [np.nan, 0.5, 0.5]], "NaN"),
    ("cell-400", Lattice.cubic(400), ["Na", "Cl"], [[0, 0, 0], [0.006, 0, 0]], None),  # 2.4 Å apart
    ("cell-1000", Lattice.cubic(1000), ["Na", "Cl"], [[0, 0, 0], [0.0024, 0, 0]], "lattice vector a"),
    ("cell-1e8", Lattice.cubic(1e8), ["Na"], [[0, 0, 0]], "lattice vector a"),
    ("thin-0.01", Lattice.orthorhombic(0.01, 10, 10), ["Na"], [[0, 0, 0]], "own periodic image"),
    ("thin-1e-4", Lattice.orthorhombic(1e-4, 400, 400), ["Na"], [[0, 0, 0]], "own periodic image"),
    ("skewed", Lattice([[5, 0, 0], [499.9, 0.05, 0], [0, 0, 5]]), ["Na"], [[0, 0, 0]], "own periodic image"),
    ("dense", Lattice.cubic(1.0), ["Na"], [[0, 0, 0]], "covalent radii"),
    ("nan-lattice", Lattice([[np.nan, 0, 0], [0, 4, 0], [0, 0, 4]]), ["Na"], [[0, 0, 0]], "NaN"),
]


def _structure(lattice: Lattice, species: list[str], coords: list[list[float]]) -> Structure:
    return Structure(lattice, species, coords, validate_proximity=False)


def _problem(case: tuple) -> str | None:
    _, lattice, species, coords, _ = case
    return validate_structure(_structure(lattice, species, coords), CHGNET_ELEMENTS)


@pytest.mark.parametrize("case", COSTLY, ids=[case[0] for case in COSTLY])
def test_costly_input_is_handled_or_refused(case: tuple) -> None:
    problem, words = _problem(case), case[4]
    if words is None:
        assert problem is None, problem
    else:
        assert problem is not None and words in problem, problem


_UNDER_A_MEMORY_LIMIT = """
import json, resource, sys
sys.path.insert(0, sys.argv[2])
import test_costly_inputs as t
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
print(json.dumps({case[0]: t._problem(case) for case in t.COSTLY}))
"""


def test_costly_inputs_fit_a_small_memory_budget() -> None:
    """Every costly case validated in a child process whose address space is capped (3 GiB, imports included):
    the 1e6 coordinate alone asked pymatgen's neighbour list for 22.7 GB before."""
    limit = 3 * 2**30
    if resource.getrlimit(resource.RLIMIT_AS)[1] not in (resource.RLIM_INFINITY,) and (
        resource.getrlimit(resource.RLIMIT_AS)[1] < limit
    ):
        pytest.skip("the address-space limit is already below 3 GiB")
    here = Path(__file__).resolve().parent
    done = subprocess.run(
        [sys.executable, "-c", _UNDER_A_MEMORY_LIMIT, str(limit), str(here)],
        cwd=here.parents[1],
        capture_output=True,
        text=True,
        env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    problems = json.loads(done.stdout.strip().splitlines()[-1])
    assert problems == {case[0]: _problem(case) for case in COSTLY}


def test_thin_cell_beyond_the_pair_budget_is_refused_by_name() -> None:
    thin = _structure(
        Lattice([[6, 0, 0], [0, 6, 0], [5.9, 5.9, 0.02]]),
        ["Na"] * 40,
        np.random.default_rng(0).random((40, 3)),
    )
    assert pair_search_cost(thin, 2.0) > MAX_PAIR_DISTANCES
    with pytest.raises(ValueError, match="distances"):
        close_pairs(thin, 2.0)


def test_wrapping_keeps_the_crystal() -> None:
    far = _structure(Lattice.cubic(MGO_A), ["Mg", "O"], [[3, -2, 7], [1000.5, 0.5, -0.5]])
    wrapped = wrapped_structure(far)
    assert np.allclose(wrapped.frac_coords, [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert np.isclose(wrapped.get_distance(0, 1), far.get_distance(0, 1))


def _pairs(structure: Structure, cutoff: float) -> list[tuple[int, int, float]]:
    i, j, d = close_pairs(structure, cutoff)
    return sorted(zip(i.tolist(), j.tolist(), np.round(d, 6).tolist(), strict=True))


def _pymatgen_pairs(structure: Structure, cutoff: float) -> list[tuple[int, int, float]]:
    i, j, _, d = structure.get_neighbor_list(r=cutoff)
    keep = d < cutoff
    return sorted(zip(i[keep].tolist(), j[keep].tolist(), np.round(d[keep], 6).tolist(), strict=True))


@pytest.mark.parametrize("cutoff", [0.5, 2.0, 3.1])
def test_pair_search_matches_pymatgen_on_the_bundled_candidates(cutoff: float) -> None:
    for candidate in bundled_candidates()[::4]:
        assert _pairs(candidate.structure, cutoff) == _pymatgen_pairs(candidate.structure, cutoff), (
            candidate.source
        )


def test_pair_search_matches_pymatgen_on_skewed_random_cells() -> None:
    rng = np.random.default_rng(7)
    for _ in range(10):
        matrix = np.diag(rng.uniform(2.5, 6, 3)) + np.triu(rng.uniform(-3, 3, (3, 3)), 1)
        structure = _structure(Lattice(matrix), ["Si"] * 5, rng.random((5, 3)) * 3 - 1)
        assert _pairs(structure, 2.5) == _pymatgen_pairs(wrapped_structure(structure), 2.5)
