"""The bundled default candidate set, substitutions on prototypes and the experimental enthalpy table."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Structure

from materials.candidates import (
    aflow_prototypes,
    bundled_candidates,
    elemental_crystals,
    experimental_formation_enthalpies,
    substitute_species,
)
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
