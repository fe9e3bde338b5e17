"""Generated candidates: N distinct, valid, charge-balanced substitutions, the same for the same seed."""

from __future__ import annotations

import pytest

from materials.generation import generated_candidates, substitution_prototypes
from materials.surrogate import CHGNET_ELEMENTS
from materials.validation import validate_structure


def test_the_same_seed_gives_the_same_candidates_and_another_seed_others() -> None:
    first = generated_candidates(40, seed=3, supported=CHGNET_ELEMENTS)
    again = generated_candidates(40, seed=3, supported=CHGNET_ELEMENTS)
    other = generated_candidates(40, seed=4, supported=CHGNET_ELEMENTS)
    assert [c.source for c in first] == [c.source for c in again]
    assert [c.structure for c in first] == [c.structure for c in again]
    assert {c.source.split(":", 2)[2] for c in first} != {c.source.split(":", 2)[2] for c in other}


def test_candidates_are_distinct_valid_and_charge_balanced_where_ionic() -> None:
    candidates = generated_candidates(300, seed=0, supported=CHGNET_ELEMENTS)
    assert len(candidates) == 300 and len({c.source for c in candidates}) == 300
    keys = {
        (c.source.rsplit("-", 1)[-1], c.structure.composition.reduced_formula, len(c.structure))
        for c in candidates
    }
    assert len(keys) > 250  # distinct structures, not one prototype relabelled
    ionic_prototypes = {p.source for p in substitution_prototypes() if p.ionic}
    assert len(ionic_prototypes) >= 20
    for candidate in candidates:
        assert validate_structure(candidate.structure, CHGNET_ELEMENTS) is None, candidate.source
        prototype = candidate.source.split(":", 2)[2].split("-", 1)[1]
        if prototype in ionic_prototypes:  # same oxidation states as the prototype: a neutral compound
            assert candidate.structure.composition.oxi_state_guesses(max_sites=-1), candidate.source


def test_ionic_substitution_scales_the_cell_with_the_ionic_radii() -> None:
    from pymatgen.core import Species

    rocksalt = next(p for p in substitution_prototypes() if p.source.startswith("NaCl-AB_cF8"))
    generated = [
        c
        for c in generated_candidates(3000, seed=1, supported=CHGNET_ELEMENTS)
        if c.source.endswith(rocksalt.source)
    ]
    assert generated, "expected rocksalt substitutions among 3,000 candidates"
    for candidate in generated[:5]:
        (cation, anion) = sorted(candidate.structure.composition.elements, key=lambda el: el.X)
        ratio = candidate.structure.volume / rocksalt.structure.volume
        expected = (
            Species(cation.symbol, 1).ionic_radius ** 3 + Species(anion.symbol, -1).ionic_radius ** 3
        ) / (Species("Na", 1).ionic_radius ** 3 + Species("Cl", -1).ionic_radius ** 3)
        assert ratio == pytest.approx(float(expected), rel=1e-6), candidate.source


def test_a_count_outside_the_range_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="generate=0: give a number of candidates from 1 to"):
        generated_candidates(0)
