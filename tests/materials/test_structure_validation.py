"""Each kind of structure problem is found, named in plain words, before any surrogate call."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Species, Structure

from materials.surrogate import CHGNET_ELEMENTS
from materials.validation import validate_structure


def test_valid_structure_passes(rocksalt_mgo: Structure) -> None:
    assert validate_structure(rocksalt_mgo, CHGNET_ELEMENTS) is None


def test_oxidation_state_decorated_structure_passes(rocksalt_mgo: Structure) -> None:
    decorated = rocksalt_mgo.copy()
    decorated.add_oxidation_state_by_element({"Mg": 2, "O": -2})
    assert isinstance(decorated[0].specie, Species)
    assert validate_structure(decorated, CHGNET_ELEMENTS) is None


def test_empty_cell() -> None:
    empty = Structure(Lattice.cubic(4.0), [], [])
    assert "no atoms" in validate_structure(empty, CHGNET_ELEMENTS)


def test_partial_occupancy_names_the_site(rocksalt_mgo: Structure) -> None:
    disordered = rocksalt_mgo.copy()
    disordered.replace(3, {"Mg": 0.5, "Ca": 0.5})
    problem = validate_structure(disordered, CHGNET_ELEMENTS)
    assert "site 3" in problem and "partial occupancy" in problem and "Ca:0.5" in problem


def test_vacancy_occupancy_is_partial(rocksalt_mgo: Structure) -> None:
    vacant = rocksalt_mgo.copy()
    vacant.replace(0, {"Mg": 0.9})
    assert "site 0 has partial occupancy" in validate_structure(vacant, CHGNET_ELEMENTS)


def test_oversized_cell(rocksalt_mgo: Structure) -> None:
    problem = validate_structure(rocksalt_mgo * (2, 2, 2), CHGNET_ELEMENTS, max_sites=63)
    assert "the cell has 64 sites, more than the 63 qcflow screens" in problem
    assert "primitive cell" in problem and "max_sites" not in problem  # advice a user can follow
    assert validate_structure(rocksalt_mgo * (2, 2, 2), CHGNET_ELEMENTS, max_sites=64) is None


def test_overlapping_atoms_name_both_sites_and_distance() -> None:
    crowded = Structure(Lattice.cubic(5.0), ["Na", "Cl"], [[0, 0, 0], [0.3, 0, 0]], coords_are_cartesian=True)
    problem = validate_structure(crowded, CHGNET_ELEMENTS)
    assert "site 0 (Na)" in problem and "1 (Cl)" in problem and "0.300 Å" in problem
    assert validate_structure(crowded, CHGNET_ELEMENTS, min_distance=0.2) is None


def test_atoms_on_the_same_spot_overlap() -> None:
    stacked = Structure(Lattice.cubic(5.0), ["Na", "Na"], [[0.1, 0.1, 0.1], [0.1, 0.1, 0.1]])
    assert "0.000 Å apart" in validate_structure(stacked, CHGNET_ELEMENTS)


def test_overlap_across_the_periodic_boundary() -> None:
    straddling = Structure(Lattice.cubic(5.0), ["Na", "Cl"], [[0.01, 0, 0], [0.99, 0, 0]])
    assert "0.100 Å apart" in validate_structure(straddling, CHGNET_ELEMENTS)


def test_atom_overlapping_its_own_image() -> None:
    tiny = Structure(Lattice.cubic(0.4), ["Na"], [[0, 0, 0]])
    assert "its own periodic image" in validate_structure(tiny, CHGNET_ELEMENTS)


def test_unsupported_elements_are_named() -> None:
    polonium = Structure(Lattice.cubic(3.35), ["Po"], [[0, 0, 0]])  # alpha-Po, simple cubic
    assert "Po" in validate_structure(polonium, CHGNET_ELEMENTS)
    problem = validate_structure(
        Structure(Lattice.cubic(5.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]), frozenset({"Na"})
    )
    assert "Cl" in problem and "not covered" in problem


def test_zero_volume_cell() -> None:
    flat = Structure(Lattice([[3, 0, 0], [0, 3, 0], [3, 3, 0]]), ["Na"], [[0, 0, 0]])
    assert "volume" in validate_structure(flat, CHGNET_ELEMENTS)


def test_nan_coordinates() -> None:
    broken = Structure(Lattice.cubic(4.0), ["Na"], [[np.nan, 0, 0]])
    assert "NaN" in validate_structure(broken, CHGNET_ELEMENTS)


@pytest.mark.parametrize("min_distance", [0.5, 1.0])
def test_large_clean_cell_passes(rocksalt_mgo: Structure, min_distance: float) -> None:
    big = rocksalt_mgo * (3, 3, 2)  # 144 sites, none closer than a/2 = 2.1 Å
    assert validate_structure(big, CHGNET_ELEMENTS, min_distance=min_distance) is None
