"""Bundled candidates: AFLOW prototypes shipped with pymatgen, element substitutions on them, elemental crystals.

The prototypes come from pymatgen's copy of the AFLOW Library of Crystallographic Prototypes (Mehl et al.,
Comput. Mater. Sci. 136, S1 (2017)), `pymatgen/analysis/prototypes/aflow_prototypes.json.gz`, with the broken
entries corrected or left out (materials/prototype_corrections.py); the experimental formation enthalpies from
pymatgen's `pymatgen/analysis/compatibility/exp_compounds.json.gz`. Everything is read from the installed
pymatgen: nothing is downloaded.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pymatgen.core import Composition, Element, Lattice, Structure
from pymatgen.core.structure_prediction.volume_predictor import RLSVolumePredictor

from materials.prototype_corrections import CORRECTED_PROTOTYPES, DROPPED_PROTOTYPES
from materials.structures import Candidate

# Bundled default set: binary and ternary prototypes of at most this many sites whose compound has a measured
# formation enthalpy (so screening results can be checked), elements up to Bi (Z = 83): no Po-Pu.
BUNDLED_MAX_SITES = 6
BUNDLED_MAX_Z = 83

# Substitutions on bundled prototypes: (prototype formula, AFLOW label, {old: new element}).
BUNDLED_SUBSTITUTIONS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("NaCl", "AB_cF8_225_a_b", {"Na": "K"}),
    ("NaCl", "AB_cF8_225_a_b", {"Na": "Li", "Cl": "F"}),
    ("NaCl", "AB_cF8_225_a_b", {"Cl": "F"}),
    ("NaCl", "AB_cF8_225_a_b", {"Na": "Mg", "Cl": "O"}),
    ("NaCl", "AB_cF8_225_a_b", {"Na": "Ca", "Cl": "O"}),
    ("CaTiO3", "AB3C_cP5_221_a_c_b", {"Ca": "Sr"}),
    ("CaTiO3", "AB3C_cP5_221_a_c_b", {"Ca": "Ba"}),
    ("CaF2", "AB2_cF12_225_a_c", {"Ca": "Sr"}),
)


@dataclass(frozen=True)
class Prototype:
    """One AFLOW prototype as pymatgen ships it: its decorated structure and its labels."""

    aflow_label: str  # e.g. "AB_cF8_225_a_b"
    mineral: str  # e.g. "Halite, Rock Salt"; may be empty
    structure: Structure

    @property
    def formula(self) -> str:
        """Reduced formula of the decorated prototype, e.g. "NaCl"."""
        return self.structure.composition.reduced_formula

    @property
    def identifier(self) -> str:
        """Unique name in the bundled set: "<formula>-<AFLOW label>"."""
        return f"{self.formula}-{self.aflow_label}"


def _pymatgen_data(package: str, name: str) -> Any:
    """A gzipped JSON file shipped inside a pymatgen package, found without importing that package (importing
    pymatgen.analysis.prototypes parses the whole library with bibtex references: ~4 s)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"pymatgen package {package} is not installed; reinstall pymatgen")
    path = Path(next(iter(spec.submodule_search_locations))) / name
    return json.loads(gzip.decompress(path.read_bytes()))


@functools.cache
def shipped_aflow_prototypes() -> tuple[Prototype, ...]:
    """Every ordered prototype in pymatgen's AFLOW library exactly as shipped, some with broken geometry (see
    materials/prototype_corrections.py); use `aflow_prototypes` for work."""
    records = _pymatgen_data("pymatgen.analysis.prototypes", "aflow_prototypes.json.gz")
    prototypes = []
    for record in records:
        structure = Structure.from_dict(record["snl"])
        if structure.is_ordered:
            tags = record["tags"]
            prototypes.append(Prototype(tags["aflow"], tags.get("mineral") or "", structure))
    return tuple(prototypes)


@functools.cache
def aflow_prototypes() -> tuple[Prototype, ...]:
    """The ordered prototypes of pymatgen's AFLOW library in its order, with the entries of CORRECTED_PROTOTYPES
    rebuilt and those of DROPPED_PROTOTYPES left out (wrong lattice constants or Wyckoff parameters as shipped)."""
    prototypes = []
    for prototype in shipped_aflow_prototypes():
        if prototype.identifier in DROPPED_PROTOTYPES:
            continue
        if prototype.identifier in CORRECTED_PROTOTYPES:
            prototype = replace(prototype, structure=CORRECTED_PROTOTYPES[prototype.identifier]())
        prototypes.append(prototype)
    return tuple(prototypes)


@functools.cache
def experimental_formation_enthalpies() -> dict[str, float]:
    """Measured formation enthalpies (eV/atom) by reduced formula, from pymatgen's exp_compounds.json.gz.

    The file gives eV per formula unit of its "formula" (e.g. MgO -6.24 eV, i.e. -601.6 kJ/mol); this divides by
    the atoms of that formula.
    """
    records = _pymatgen_data("pymatgen.analysis.compatibility", "exp_compounds.json.gz")
    enthalpies = {}
    for record in records:
        composition = Composition(record["formula"])
        enthalpies[composition.reduced_formula] = record["exp energy"] / composition.num_atoms
    return enthalpies


def substitute_species(structure: Structure, substitutions: Mapping[str, str]) -> Structure:
    """The structure with elements replaced (e.g. {"Na": "K"}) and its volume rescaled for the new atoms.

    The volume follows pymatgen's reference-lattice scaling (RLSVolumePredictor: ionic radii where bond valence
    assigns oxidation states, atomic radii otherwise), so the substituted cell starts near its relaxed size.
    """
    unknown = sorted(set(substitutions) - {el.symbol for el in structure.composition.elements})
    if unknown:
        raise ValueError(
            f"substitutions={dict(substitutions)} replace {unknown}, which the structure "
            f"{structure.composition.reduced_formula} does not hold; use its elements as keys"
        )
    substituted = structure.copy()
    substituted.replace_species(dict(substitutions))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        volume = RLSVolumePredictor(check_isostructural=False).predict(substituted, structure)
    substituted.scale_lattice(volume)
    return substituted


def bundled_candidates() -> list[Candidate]:
    """The default screening set (57 candidates), deterministic and offline.

    49 AFLOW prototypes (binary/ternary, at most 6 sites, measured enthalpy available, Z <= 83) plus 8
    substitutions on rocksalt, cubic perovskite and fluorite (KCl, LiF, NaF, MgO, CaO, SrTiO3, BaTiO3, SrF2).
    Sources are "bundled:<formula>-<AFLOW label>".
    """
    enthalpies = experimental_formation_enthalpies()
    candidates = []
    for prototype in aflow_prototypes():
        elements = prototype.structure.composition.elements
        if (
            2 <= len(elements) <= 3
            and len(prototype.structure) <= BUNDLED_MAX_SITES
            and max(element.Z for element in elements) <= BUNDLED_MAX_Z
            and prototype.formula in enthalpies
        ):
            candidates.append(Candidate(f"bundled:{prototype.identifier}", prototype.structure.copy()))
    by_identifier = {prototype.identifier: prototype for prototype in aflow_prototypes()}
    for formula, label, substitutions in BUNDLED_SUBSTITUTIONS:
        structure = substitute_species(by_identifier[f"{formula}-{label}"].structure, substitutions)
        candidates.append(Candidate(f"bundled:{structure.composition.reduced_formula}-{label}", structure))
    return candidates


# Largest AFLOW elemental prototype tried for a reference energy (keeps alpha-S, 32 sites).
ELEMENTAL_MAX_SITES = 32


def elemental_crystals(element: str) -> dict[str, Structure]:
    """Trial crystals of one element: bcc, fcc, hcp (ideal c/a), diamond for group 14, plus every AFLOW prototype
    of that element with at most ELEMENTAL_MAX_SITES sites. Keys name the structure ("bcc", "AFLOW A_hP2_194_c").

    The prototypes matter where no simple packing is near the ground state: alpha-S (S8 rings, 32 sites) lies
    1.15 eV/atom below bcc S with CHGNet (-4.14 vs -2.99 eV/atom).
    """
    # Initial sizes of the simple crystals come from pymatgen's atomic radius r (Å): touching spheres.
    radius = float(Element(element).atomic_radius or Element(element).average_ionic_radius or 1.5)
    crystals = {
        "bcc": Structure(
            Lattice.cubic(4 * radius / math.sqrt(3)), [element] * 2, [[0, 0, 0], [0.5, 0.5, 0.5]]
        ),
        "fcc": Structure(
            Lattice.cubic(2 * math.sqrt(2) * radius),
            [element] * 4,
            [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
        ).get_primitive_structure(),
        "hcp": Structure(
            Lattice.hexagonal(2 * radius, 2 * radius * math.sqrt(8 / 3)),
            [element] * 2,
            [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]],
        ),
    }
    if Element(element).group == 14:
        half = 4 * radius / math.sqrt(3)  # half the cubic lattice constant a = 8r/sqrt(3)
        crystals["diamond"] = Structure(
            Lattice([[0, half, half], [half, 0, half], [half, half, 0]]),
            [element] * 2,
            [[0, 0, 0], [0.25, 0.25, 0.25]],
        )
    for prototype in aflow_prototypes():
        elements = prototype.structure.composition.elements
        if [el.symbol for el in elements] == [element] and len(prototype.structure) <= ELEMENTAL_MAX_SITES:
            crystals[f"AFLOW {prototype.aflow_label}"] = prototype.structure.copy()
    return crystals
