"""Each kind of structure problem is found, named in plain words, before any surrogate call; repeats in a batch
are found too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Species, Structure

from materials.candidates import shipped_aflow_prototypes
from materials.structures import read_candidates
from materials.surrogate import CHGNET_ELEMENTS
from materials.validation import duplicate_problems, validate_structure


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
    assert validate_structure(crowded, CHGNET_ELEMENTS, min_distance=0.2, min_covalent_fraction=0) is None


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


def _shipped(identifier: str) -> Structure:
    """An AFLOW prototype exactly as pymatgen ships it (before materials/prototype_corrections.py)."""
    return next(p.structure for p in shipped_aflow_prototypes() if p.identifier == identifier)


def test_atoms_far_inside_their_covalent_radii_name_structure_pair_distance_and_fix() -> None:
    # pymatgen's B19' NiTi: a misread cell setting put Ni 1.45 Å from Ti (covalent radii 1.60 + 1.24 Å).
    problem = validate_structure(_shipped("TiNi-AB_mP4_11_e_e"), CHGNET_ELEMENTS)
    assert problem.startswith("TiNi: site 0 (Ti) and site 2 (Ni) are 1.453 Å apart")
    assert "0.51 of the sum of their covalent radii (2.84 Å" in problem and "above 0.6" in problem
    assert "check them, the cell setting and the origin choice" in problem
    assert (
        validate_structure(_shipped("TiNi-AB_mP4_11_e_e"), CHGNET_ELEMENTS, min_covalent_fraction=0.5) is None
    )


def test_close_contact_with_its_own_image() -> None:
    squeezed = Structure(Lattice.cubic(1.3), ["Ni"], [[0, 0, 0]])  # fcc Ni has 2.49 Å; covalent 2 x 1.24 Å
    problem = validate_structure(squeezed, CHGNET_ELEMENTS)
    assert "site 0 (Ni) and its own periodic image are 1.300 Å apart, 0.52" in problem


def test_element_without_a_covalent_radius_is_not_judged() -> None:
    # Cordero et al. (2008) stop at Cm: a Bk pair 1 Å apart passes this check (the 0.5 Å overlap check still holds).
    berkelium = Structure(
        Lattice.cubic(6.0), ["Bk", "Bk"], [[0, 0, 0], [1.0, 0, 0]], coords_are_cartesian=True
    )
    assert validate_structure(berkelium, frozenset({"Bk"})) is None


@pytest.mark.parametrize(
    ("name", "structure"),
    [
        # LiH rocksalt, a = 4.083 Å (Wyckoff, Crystal Structures vol. 1, 1963): Li-H 2.04 Å.
        (
            "LiH",
            Structure.from_spacegroup(
                "Fm-3m", Lattice.cubic(4.083), ["Li", "H"], [[0, 0, 0], [0.5, 0.5, 0.5]]
            ),
        ),
        # MgH2 rutile, a = 4.5025, c = 3.0123 Å, H 4f x = 0.3040 (Bortz et al., J. Alloys Compd. 287, L4 (1999)).
        (
            "MgH2",
            Structure.from_spacegroup(
                "P4_2/mnm", Lattice.tetragonal(4.5025, 3.0123), ["Mg", "H"], [[0, 0, 0], [0.304, 0.304, 0]]
            ),
        ),
        # TiH2 fluorite, a = 4.454 Å (Yakel, Acta Cryst. 11, 46 (1958)): Ti-H 1.93 Å.
        (
            "TiH2",
            Structure.from_spacegroup(
                "Fm-3m", Lattice.cubic(4.454), ["Ti", "H"], [[0, 0, 0], [0.25, 0.25, 0.25]]
            ),
        ),
        # alpha-U as pymatgen ships it (U-U 2.74 Å, 0.70 of 2 x 1.96 Å): the closest real contacts are actinide bonds.
        ("U", _shipped("U-A_oC4_63_c")),
        ("N2", _shipped("N2-A_cP8_198_2a")),  # solid alpha-N2, N-N 1.05 Å, 0.74 of 2 x 0.71 Å
    ],
)
def test_real_hydrides_actinides_and_triple_bonds_pass(name: str, structure: Structure) -> None:
    assert validate_structure(structure, CHGNET_ELEMENTS) is None, name


def test_a_structure_given_twice_is_reported_once_as_a_duplicate(
    tmp_path: Path, rocksalt_mgo: Structure
) -> None:
    rocksalt_mgo.to(filename=str(tmp_path / "MgO.cif"))
    rocksalt_mgo.to(filename=str(tmp_path / "MgO_dup.cif"))
    candidates = read_candidates([tmp_path / "MgO.cif", tmp_path / "MgO_dup.cif"])
    problems = duplicate_problems([c.structure for c in candidates], [c.source for c in candidates])
    assert problems[0] is None
    assert problems[1].startswith(
        f"the same structure as {tmp_path / 'MgO.cif'} (same composition and geometry)"
    )
    assert "skipped" in problems[1]


def test_duplicates_are_found_across_cell_choices_and_only_for_the_same_crystal(
    rocksalt_mgo: Structure, make_rocksalt
) -> None:
    primitive = rocksalt_mgo.get_primitive_structure()
    cscl_type = Structure(Lattice.cubic(2.66), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    strained = make_rocksalt(
        "Mg", "O", 4.212 * 1.001 ** (1 / 3)
    )  # 0.1 % in volume: a strain series, not a repeat
    structures = [rocksalt_mgo, None, cscl_type, strained, primitive, rocksalt_mgo * (2, 1, 1)]
    problems = duplicate_problems(structures, ["conv", "unreadable", "cscl", "strained", "prim", "super"])
    assert problems[:4] == [None, None, None, None]
    assert "as conv" in problems[4] and "as conv" in problems[5]


def test_duplicates_need_one_source_per_structure(rocksalt_mgo: Structure) -> None:
    with pytest.raises(ValueError, match="2 structures but 1 sources"):
        duplicate_problems([rocksalt_mgo, rocksalt_mgo], ["one"])
