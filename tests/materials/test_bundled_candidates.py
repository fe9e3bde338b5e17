"""The bundled default candidate set, substitutions on prototypes and the experimental enthalpy table."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Element, Structure
from pymatgen.core.molecule_structure_comparator import CovalentRadius

from materials.candidates import (
    aflow_prototypes,
    bundled_candidates,
    elemental_crystals,
    experimental_formation_enthalpies,
    shipped_aflow_prototypes,
    substitute_species,
)
from materials.prototype_corrections import CORRECTED_PROTOTYPES, DROPPED_PROTOTYPES
from materials.surrogate import CHGNET_ELEMENTS
from materials.validation import validate_structure

# 1 eV = 96.485 kJ/mol (CODATA 2018: e * N_A).
KJ_PER_MOL_PER_EV = 96.485


@pytest.fixture(scope="module")
def bundled() -> list:
    return bundled_candidates()


def test_size_and_unique_sources(bundled: list) -> None:
    assert 30 <= len(bundled) <= 60
    sources = [c.source for c in bundled]
    assert len(set(sources)) == len(sources)
    assert all(source.startswith("bundled:") for source in sources)


def test_every_bundled_candidate_is_valid_and_small(bundled: list) -> None:
    for candidate in bundled:
        assert candidate.error is None
        assert validate_structure(candidate.structure, CHGNET_ELEMENTS) is None, candidate.source
        assert len(candidate.structure) <= 16
        assert 2 <= len(candidate.structure.composition.elements) <= 3


def test_includes_the_reference_oxide_and_halides(bundled: list) -> None:
    formulas = {c.formula for c in bundled}
    assert {"MgO", "NaCl", "LiF", "KCl", "SrTiO3"} <= formulas


def test_deterministic(bundled: list) -> None:
    again = bundled_candidates()
    assert [c.source for c in again] == [c.source for c in bundled]
    for first, second in zip(bundled, again, strict=True):
        assert np.allclose(first.structure.lattice.matrix, second.structure.lattice.matrix)


def test_substitution_scales_the_volume(bundled: list) -> None:
    by_formula = {c.formula: c.structure for c in bundled}
    # Experimental rocksalt lattice constants (Å), Wyckoff, Crystal Structures vol. 1 (1963):
    # NaCl 5.640, KCl 6.293, MgO 4.212, LiF 4.027. The radius-ratio guess should land within 8 %.
    for formula, a_exp in {"KCl": 6.293, "MgO": 4.212, "LiF": 4.027}.items():
        structure = by_formula[formula]
        a_conventional = (8 * structure.volume / len(structure)) ** (1 / 3)  # 8 atoms per cube
        assert a_conventional == pytest.approx(a_exp, rel=0.08), formula
    assert by_formula["KCl"].volume > by_formula["NaCl"].volume > by_formula["MgO"].volume


def test_substitution_of_an_absent_element_is_refused(rocksalt_mgo: Structure) -> None:
    with pytest.raises(ValueError, match="Na"):
        substitute_species(rocksalt_mgo, {"Na": "K"})


def test_prototype_library_is_read_from_pymatgen() -> None:
    prototypes = aflow_prototypes()
    labels = {(p.formula, p.aflow_label) for p in prototypes}
    assert ("NaCl", "AB_cF8_225_a_b") in labels and ("CsCl", "AB_cP2_221_b_a") in labels
    assert all(p.structure.is_ordered for p in prototypes)


def test_experimental_enthalpies_are_per_atom() -> None:
    enthalpies = experimental_formation_enthalpies()
    # NIST-JANAF (Chase 1998): MgO(cr) -601.60 kJ/mol, NaCl(cr) -411.12 kJ/mol, per formula unit of 2 atoms.
    assert enthalpies["MgO"] == pytest.approx(-601.60 / KJ_PER_MOL_PER_EV / 2, abs=0.01)
    assert enthalpies["NaCl"] == pytest.approx(-411.12 / KJ_PER_MOL_PER_EV / 2, abs=0.01)


def test_elemental_trial_crystals() -> None:
    silicon = elemental_crystals("Si")
    assert {"bcc", "fcc", "hcp", "diamond"} <= set(silicon)
    diamond = silicon["diamond"]
    nearest = np.min(diamond.distance_matrix[np.triu_indices(2, k=1)])
    assert nearest == pytest.approx(2 * 1.1, rel=1e-6)  # 2 x pymatgen's atomic radius of Si (1.1 Å)
    magnesium = elemental_crystals("Mg")
    assert "diamond" not in magnesium and "AFLOW A_hP2_194_c" in magnesium
    for structure in [*silicon.values(), *magnesium.values()]:
        assert validate_structure(structure, CHGNET_ELEMENTS) is None


def _distances(structure: Structure, first: str, second: str, cutoff: float = 3.0) -> list[float]:
    """Sorted distinct first-second distances (Å) up to cutoff, periodic images included."""
    centers, neighbors, _, distances = structure.get_neighbor_list(r=cutoff)
    found = {
        round(float(d), 3)
        for i, j, d in zip(centers, neighbors, distances, strict=True)
        if {structure[int(i)].specie.symbol, structure[int(j)].specie.symbol} == {first, second}
    }
    return sorted(found)


def _crowding(structure: Structure) -> float:
    """Closest approach of two atoms as a fraction of the sum of their covalent radii (Cordero et al. 2008)."""
    centers, neighbors, _, distances = structure.get_neighbor_list(r=8.0)
    radii = np.array([CovalentRadius.radius[site.specie.symbol] for site in structure])
    return float(np.min(distances / (radii[centers] + radii[neighbors])))


def _swelling(structure: Structure) -> float:
    """Volume per atom over the composition-weighted volume per atom of the elements (pymatgen molar volumes)."""
    composition = structure.composition
    elemental = sum(Element(el).molar_volume * amount for el, amount in composition.items())
    return structure.volume / len(structure) / (elemental / composition.num_atoms * 1e24 / 6.02214076e23)


@pytest.fixture(scope="module")
def library() -> dict[str, Structure]:
    return {p.identifier: p.structure for p in aflow_prototypes()}


def test_corrections_and_drops_name_entries_pymatgen_ships(library: dict[str, Structure]) -> None:
    shipped = {p.identifier for p in shipped_aflow_prototypes()}
    assert set(CORRECTED_PROTOTYPES) <= shipped and set(DROPPED_PROTOTYPES) <= shipped
    assert set(CORRECTED_PROTOTYPES) <= set(library) and not set(DROPPED_PROTOTYPES) & set(library)
    for identifier, build in CORRECTED_PROTOTYPES.items():
        old = next(p.structure for p in shipped_aflow_prototypes() if p.identifier == identifier)
        assert build().composition.reduced_formula == old.composition.reduced_formula, identifier
        assert len(build()) == len(old), identifier  # same cell size, so the bundled filters select the same


def test_cooperite_pts_has_its_measured_density(library: dict[str, Structure]) -> None:
    pts = library["PtS-AB_tP4_131_c_e"]
    # Cooperite, a = 3.47, c = 6.1096 Å, 2 PtS per cell (AFLOW AB_tP4_131_c_e-001): 18.39 Å^3/atom, Pt-S 2.31 Å.
    assert pts.volume / len(pts) == pytest.approx(3.47**2 * 6.1096 / 4, rel=1e-6)
    assert _distances(pts, "Pt", "S") == [pytest.approx(2.312, abs=0.001)]


def test_anatase_has_its_octahedra(library: dict[str, Structure]) -> None:
    # Anatase TiO6 octahedron: Ti-O 1.934 Å x 4 and 1.980 Å x 2 (Burdett et al., J. Am. Chem. Soc. 109, 3639 (1987)).
    anatase = library["TiO2-A2B_tI12_141_e_a"]
    titanium = next(site for site in anatase if site.specie.symbol == "Ti")
    bonds = sorted(round(n.nn_distance, 3) for n in anatase.get_neighbors(titanium, 2.2))
    assert bonds == pytest.approx([1.934] * 4 + [1.980] * 2, abs=0.002)


def test_brookite_titanium_is_sixfold_at_measured_distances(library: dict[str, Structure]) -> None:
    # Brookite: a distorted TiO6 octahedron, Ti-O 1.86-2.05 Å, 10.7 Å^3/atom (Baur, Acta Cryst. 14, 214 (1961)).
    brookite = library["TiO2-A2B_oP24_61_2c_c"]
    titanium = next(site for site in brookite if site.specie.symbol == "Ti")
    bonds = [n.nn_distance for n in brookite.get_neighbors(titanium, 2.3)]
    assert len(bonds) == 6 and all(1.85 < bond < 2.06 for bond in bonds)
    assert brookite.volume / len(brookite) == pytest.approx(10.70, abs=0.01)


def test_b19_prime_niti_keeps_b2_like_distances(library: dict[str, Structure]) -> None:
    # B2 NiTi, a = 3.015 Å: Ni-Ti = a sqrt(3)/2 = 2.611 Å; the martensite keeps Ni-Ti and Ni-Ni near that.
    niti = library["TiNi-AB_mP4_11_e_e"]
    assert min(_distances(niti, "Ni", "Ti")) > 2.5
    assert min(_distances(niti, "Ni", "Ni")) == pytest.approx(2.61, abs=0.01)


def test_feb_has_boron_chains(library: dict[str, Structure]) -> None:
    feb = library["FeB-AB_oP8_62_c_c"]  # B27: zigzag B chains, B-B 1.77 Å; Fe-B 2.12-2.23 Å
    assert _distances(feb, "B", "B", 2.0) == [pytest.approx(1.77, abs=0.01)]
    assert min(_distances(feb, "Fe", "B")) > 2.1


def test_elemental_trials_with_repaired_lattices(library: dict[str, Structure]) -> None:
    silicon = library["Si-A_cI16_206_c"]  # BC8 Si, a = 6.636 Å, 16 atoms per cube: 18.27 Å^3/atom
    assert silicon.volume / len(silicon) == pytest.approx(6.636**3 / 16, rel=1e-6)
    assert _distances(silicon, "Si", "Si", 2.5) == pytest.approx([2.306, 2.392], abs=0.002)
    indium = library[
        "In-A_tI2_139_a"
    ]  # In, 7.31 g/cm^3 (CRC Handbook): 114.82 u / 7.31 g/cm^3 = 26.1 Å^3/atom
    assert indium.volume / len(indium) == pytest.approx(26.1, rel=0.01)


def test_no_library_prototype_fails_the_close_contact_check(library: dict[str, Structure]) -> None:
    for identifier, structure in library.items():
        elements = frozenset(el.symbol for el in structure.composition)
        problem = validate_structure(structure, elements, max_sites=10_000)
        assert problem is None or "covalent" not in problem, identifier


def test_compounds_qcflow_uses_are_neither_crowded_nor_swollen(
    library: dict[str, Structure], bundled: list
) -> None:
    """Bundled candidates and the benchmark's compounds: no pair closer than 0.75 of its covalent-radius sum (the
    closest real one is U-U in U3Si, 0.77) and no cell 1.3 times roomier than its elements (HgBr2 and CdSb 1.10;
    ionic solids pack far denser, MgO 0.36). Shipped PtS was 1.80, TiNi 0.51, FeB 0.74, brookite 0.68."""
    measured = experimental_formation_enthalpies()
    compounds = {c.source: c.structure for c in bundled}
    compounds |= {
        identifier: structure
        for identifier, structure in library.items()
        if len(structure.composition) > 1 and structure.composition.reduced_formula in measured
    }
    for name, structure in compounds.items():
        assert _crowding(structure) > 0.75, name
        assert _swelling(structure) < 1.3, name


def test_elemental_prototypes_have_plausible_volumes(library: dict[str, Structure]) -> None:
    """AFLOW crystals of the elements (reference trials): 0.35-1.5 times the element's molar volume (high-pressure
    Li cI16 is 0.42; shipped BC8 Si was 0.22 and bct In 2.00)."""
    for identifier, structure in library.items():
        elements = structure.composition.elements
        if len(elements) == 1 and elements[0].molar_volume:
            assert 0.35 < _swelling(structure) < 1.5, identifier
