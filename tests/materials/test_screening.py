"""A screening's pure steps: which candidates pass validation, which elements need references, how candidates are
scored or rejected, and which are shortlisted (materials.screening, no Prefect)."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from materials.screening import (
    CandidateScore,
    ScreenedInput,
    StabilityRow,
    SurrogateEnergy,
    elements_to_reference,
    score_candidates,
    screening_candidates,
    shortlisted,
    stability_rows,
    validated_candidates,
)
from materials.stability import ElementalReferences
from materials.structures import Candidate

# The hand-worked Li-F hull of test_phase_stability.py (eV/atom): references Li = -2 and F = -1; LiF at -4.5 has
# formation -3.0 and is on the hull, a LiF polymorph at -4.3 sits 0.2 above it, Li2F at -3.0 sits 2/3 above it.
# LiF3 at -12 would have a formation energy of -10.75, below any real compound's.
REFERENCES = ElementalReferences(
    energies={"Li": -2.0, "F": -1.0},
    problems={"Ar": "no reference for Ar: a noble gas"},
)


def screened(source: str, formula: str | None, error: str | None = None) -> ScreenedInput:
    return ScreenedInput(source=source, formula=formula, structure=None, error=error)


def energy(source: str, value: float | None, error: str | None = None) -> SurrogateEnergy:
    return SurrogateEnergy(source=source, energy_per_atom=value, relaxed=True, error=error, from_cache=True)


def rock_salt(cation: str, anion: str, a: float) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_each_candidate_is_scored_or_rejected_with_its_own_reason() -> None:
    inputs = [
        screened("bad.cif", None, "the cell holds no atoms"),
        screened("lif.cif", "LiF"),
        screened("polymorph.cif", "LiF"),
        screened("li2f.cif", "Li2F"),
        screened("failed.cif", "LiF"),
        screened("arf.cif", "ArF"),
        screened("lif3.cif", "LiF3"),
    ]
    energies = [
        energy("lif.cif", -4.5),
        energy("polymorph.cif", -4.3),
        energy("li2f.cif", -3.0),
        energy("failed.cif", None, "out of memory"),
        energy("arf.cif", -3.0),
        energy("lif3.cif", -12.0),
    ]
    scores = score_candidates(inputs, energies, REFERENCES)
    assert list(scores) == [s.source for s in inputs]
    assert scores["bad.cif"] == CandidateScore(
        formula=None, source="bad.cif", status="rejected", error="the cell holds no atoms"
    )
    lif = scores["lif.cif"]
    assert (lif.status, lif.error, lif.relaxed, lif.from_cache) == ("ok", None, True, True)
    assert lif.formation_energy_per_atom == pytest.approx(-3.0)
    assert lif.energy_above_hull == pytest.approx(0.0)
    assert scores["polymorph.cif"].energy_above_hull == pytest.approx(0.2)
    assert scores["li2f.cif"].energy_above_hull == pytest.approx(2 / 3)
    failed = scores["failed.cif"]
    assert (failed.status, failed.error, failed.energy_per_atom) == (
        "rejected",
        "surrogate failed: out of memory",
        None,
    )
    argon = scores["arf.cif"]
    assert (argon.status, argon.error) == ("rejected", "no reference for Ar: a noble gas")
    assert argon.energy_per_atom == -3.0 and argon.energy_above_hull is None
    implausible = scores["lif3.cif"]
    assert implausible.status == "rejected" and "formation energy" in implausible.error
    assert implausible.energy_above_hull is None and implausible.formation_energy_per_atom is None


def test_stability_is_computed_once_over_the_candidates_left_to_score() -> None:
    calls: list[list[str]] = []

    def recorded(
        formulas: list[str], values: list[float], references: dict[str, float]
    ) -> list[StabilityRow]:
        calls.append(list(formulas))
        return stability_rows(formulas, values, references)

    inputs = [screened("lif.cif", "LiF"), screened("arf.cif", "ArF"), screened("failed.cif", "LiF")]
    energies = [energy("lif.cif", -4.5), energy("arf.cif", -3.0), energy("failed.cif", None, "timeout")]
    scores = score_candidates(inputs, energies, REFERENCES, recorded)
    assert calls == [["LiF"]]
    assert scores["lif.cif"].status == "ok"


def test_nothing_to_score_needs_no_stability() -> None:
    def never(formulas: list[str], values: list[float], references: dict[str, float]) -> list[StabilityRow]:
        raise AssertionError(f"stability called for {formulas}")

    inputs = [screened("failed.cif", "LiF"), screened("arf.cif", "ArF")]
    energies = [energy("failed.cif", None, "timeout"), energy("arf.cif", -3.0)]
    scores = score_candidates(inputs, energies, REFERENCES, never)
    assert [s.status for s in scores.values()] == ["rejected", "rejected"]
    assert score_candidates(inputs, [], REFERENCES, never)["arf.cif"].error is None


def ok(source: str, above_hull: float, formation: float) -> CandidateScore:
    return CandidateScore(
        formula="X",
        source=source,
        status="ok",
        energy_per_atom=-1.0,
        formation_energy_per_atom=formation,
        energy_above_hull=above_hull,
    )


def test_shortlist_ranks_by_hull_then_formation_within_the_threshold() -> None:
    scores = [
        ok("above.cif", 0.15, -3.0),
        ok("near.cif", 0.05, -1.0),
        ok("hull-shallow.cif", 0.0, -1.0),
        ok("hull-deep.cif", 0.0, -2.0),
        CandidateScore(formula="Y", source="rejected.cif", status="rejected", error="implausible"),
    ]
    assert shortlisted(scores, 0.1, 10) == ["hull-deep.cif", "hull-shallow.cif", "near.cif"]
    assert shortlisted(scores, 0.2, 2) == ["hull-deep.cif", "hull-shallow.cif"]
    assert shortlisted(scores, 0.2, 0) == []
    assert shortlisted(scores, 0.0, 10) == ["hull-deep.cif", "hull-shallow.cif"]


def test_references_are_needed_only_for_computed_candidates() -> None:
    inputs = [screened("lif.cif", "LiF"), screened("nacl.cif", "NaCl"), screened("mgo.cif", "MgO")]
    energies = [energy("lif.cif", -4.5), energy("nacl.cif", None, "failed"), energy("mgo.cif", -6.3)]
    assert elements_to_reference(inputs, energies) == ["F", "Li", "Mg", "O"]
    assert elements_to_reference(inputs, []) == []


def test_validation_rejects_unreadable_unsupported_and_repeated_structures() -> None:
    mgo = rock_salt("Mg", "O", 4.21)
    candidates = [
        Candidate(source="unreadable.cif", structure=None, error="not a CIF file"),
        Candidate(source="mgo.cif", structure=mgo, error=None),
        Candidate(source="nacl.cif", structure=rock_salt("Na", "Cl", 5.64), error=None),
        Candidate(source="mgo-copy.json", structure=mgo.copy(), error=None),
    ]
    unreadable, first, nacl, copy = validated_candidates(candidates, frozenset({"Mg", "O"}))
    assert unreadable == screened("unreadable.cif", None, "not a CIF file")
    assert first.error is None and first.formula == "MgO"
    assert Structure.from_dict(first.structure) == mgo
    assert nacl.structure is None and "Cl, Na are not covered by the surrogate" in nacl.error
    assert copy.structure is None and copy.formula == "MgO" and "mgo.cif" in copy.error


def test_the_candidate_set_is_bundled_generated_or_read() -> None:
    supported = frozenset({"Li", "Na", "K", "Mg", "Ca", "O", "F", "Cl", "S"})
    bundled = screening_candidates([], 0, 0, supported)
    assert len(bundled) == 57 and all(c.source.startswith("bundled:") for c in bundled)
    generated = screening_candidates([], 3, 7, supported)
    assert len(generated) == 3 and not any(c.source.startswith("bundled:") for c in generated)
    assert [c.source for c in screening_candidates([], 3, 7, supported)] == [c.source for c in generated]


def test_generated_candidates_are_validated_once_for_the_same_elements() -> None:
    """The generator validates what it makes; the screening trusts that only for the same surrogate elements."""
    import dataclasses

    supported = frozenset({"Li", "Na", "K", "Mg", "Ca", "O", "F", "Cl", "S"})
    generated = screening_candidates([], 20, 3, supported)
    assert all(c.valid_for == supported for c in generated)
    trusted = validated_candidates(generated, supported)
    checked = validated_candidates([dataclasses.replace(c, valid_for=None) for c in generated], supported)
    assert trusted == checked
    # validated for other elements: checked again, and rejected where the surrogate now lacks one
    narrower = supported - {"Cl"}
    again = validated_candidates(generated, narrower)
    with_chlorine = [s for s, c in zip(again, generated, strict=True) if "Cl" in c.formula]
    assert with_chlorine and all("not covered by the surrogate" in s.error for s in with_chlorine)
