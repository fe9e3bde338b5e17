"""The screening flow keeps good candidates when others are outside the surrogate's domain (issue 16)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from materials.screening import ScreenedInput, SurrogateEnergy, elements_to_reference, score_candidates
from materials.stability import elemental_references
from materials.surrogate import load_surrogate


def _candidate(source: str, formula: str) -> ScreenedInput:
    return ScreenedInput(source=source, formula=formula, structure=None, error=None)


@pytest.mark.slow
def test_a_bad_reference_or_implausible_energy_rejects_only_its_candidates(
    prefect_api: None, tally: object, qcflow_cache_dir: Path
) -> None:
    """Solid argon has no trustworthy reference (CHGNet gave +7.75 eV/atom) and a MgO2 at -12 eV/atom has a
    formation energy no compound has: each is rejected with its reason, and MgO beside them is scored."""
    screened = [_candidate("ar.cif", "Ar"), _candidate("mgo.cif", "MgO"), _candidate("mgo2.cif", "MgO2")]
    energies = [
        SurrogateEnergy(source="ar.cif", energy_per_atom=-0.06, relaxed=False),
        # MgO near CHGNet's own energy: formation -3.106 eV/atom vs -3.118 measured (pymatgen's exp_compounds.json.gz;
        # tests/materials/test_phase_stability.py, docs/architecture.md's reference figures)
        SurrogateEnergy(source="mgo.cif", energy_per_atom=-6.3, relaxed=False),
        SurrogateEnergy(source="mgo2.cif", energy_per_atom=-12.0, relaxed=False),
    ]
    elements = elements_to_reference(screened, energies)
    references = elemental_references(elements, load_surrogate("chgnet"), cache_dir=qcflow_cache_dir)
    results = score_candidates(screened, energies, references)
    argon, mgo, peroxide = results["ar.cif"], results["mgo.cif"], results["mgo2.cif"]
    assert argon.status == "rejected" and "no reference for Ar" in argon.error
    assert argon.energy_above_hull is None and argon.formation_energy_per_atom is None
    assert peroxide.status == "rejected" and "formation energy of MgO2" in peroxide.error
    assert peroxide.energy_above_hull is None and peroxide.formation_energy_per_atom is None
    assert mgo.status == "ok" and mgo.error is None
    assert math.isfinite(mgo.energy_above_hull) and -5.0 < mgo.formation_energy_per_atom < 0.0
    tally.input("screen: solid argon beside MgO", clear=True, lost=mgo.status != "ok")
    tally.input("screen: MgO2 at -12 eV/atom beside MgO", clear=True, lost=mgo.status != "ok")
