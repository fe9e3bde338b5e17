"""Plausibility bounds for surrogate energies, and the elements a universal potential cannot be trusted with.

A universal potential answers for any input, including input far outside its training data, and its answer then
looks as confident as any other. These bounds catch the answers no real material gives, so they are reported as
implausible rather than ranked: solid argon scored a formation energy of -7.8 eV/atom because its elemental
reference came out at +7.75 eV/atom, and would have topped the shortlist.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

# Formation energies (eV/atom). The most negative measured formation enthalpies in pymatgen's
# analysis/compatibility/exp_compounds.json.gz (2135 compounds) are the rare-earth trifluorides at about -4.5
# (CeF3 -4.489, LaF3 -4.487, ErF3 -4.463); the most positive is CuCN at +0.33. CHGNet's formation energies are
# off by about 0.1-0.15 eV/atom on average (README: MAE 0.138 over 91 prototypes), so below -5.0 no real compound
# lies. Above +5.0 the atoms sit far from any configuration of the training set: the broken B19' TiNi prototype
# (Ti-Ni 1.45 Å) scored +7.9 (README), real polymorphs lie within about 1 eV/atom of their hull.
FORMATION_ENERGY_BOUNDS = (-5.0, 5.0)

# Elemental reference energies (eV/atom) on the MP2020-corrected scale of CHGNet's training data. A condensed
# element is bound, so its energy per atom is negative. Measured here with CHGNet 0.3.0 and this module's recipe:
# the least negative metal, Hg, -0.28; Cd -0.92; the most negative, Gd, -14.05 (CHGNet's AtomRef, its fitted
# per-element offsets over MPtrj, bottoms out at Gd too, -15.9); solid Ar +7.75, which no bound element gives.
REFERENCE_ENERGY_BOUNDS = (-20.0, 0.0)

# Total energies per atom (eV/atom) of any compound: the reference bounds widened by the formation-energy bounds.
ENERGY_PER_ATOM_BOUNDS = (
    REFERENCE_ENERGY_BOUNDS[0] + FORMATION_ENERGY_BOUNDS[0],
    REFERENCE_ENERGY_BOUNDS[1] + FORMATION_ENERGY_BOUNDS[1],
)

_NOBLE_GAS_REASON = (
    "a noble gas: its solids and compounds are held by dispersion (van der Waals) forces, which the GGA/GGA+U "
    "data of universal potentials (CHGNet: MPtrj) do not describe, and MPtrj holds almost no noble-gas "
    "compounds; CHGNet gave solid argon a reference energy of +7.75 eV/atom and its candidates -7.8 eV/atom "
    "formation energies"
)
# Elements refused before any surrogate call, with the reason. Rn is not in CHGNet's elements at all.
UNTRUSTED_ELEMENTS: dict[str, str] = {symbol: _NOBLE_GAS_REASON for symbol in ("He", "Ne", "Ar", "Kr", "Xe")}


def untrusted_element_problem(
    elements: set[str] | frozenset[str], untrusted: Mapping[str, str]
) -> str | None:
    """Why a structure with these elements is not given to the surrogate, or None."""
    bad = sorted(set(elements) & set(untrusted))
    if not bad:
        return None
    reasons = sorted({untrusted[element] for element in bad})
    return (
        f"element(s) {', '.join(bad)}: the surrogate is not trustworthy for {'; '.join(reasons)}; "
        "screen them with a method that includes dispersion (e.g. DFT-D) instead"
    )


def _outside(value: float, bounds: tuple[float, float]) -> bool:
    return not (math.isfinite(value) and bounds[0] <= value <= bounds[1])


def _bounds_problem(value: float, bounds: tuple[float, float], subject: str, advice: str) -> str | None:
    """`subject` is `value` eV/atom, outside `bounds`, then `advice`; None when the value is within them."""
    if not _outside(value, bounds):
        return None
    low, high = bounds
    return f"{subject} is {value:.4g} eV/atom, outside the plausible {low:g} to {high:g} eV/atom{advice}"


def energy_problem(energy_per_atom: float, what: str) -> str | None:
    """Why a surrogate energy (eV/atom) of `what` is implausible, or None."""
    return _bounds_problem(
        energy_per_atom,
        ENERGY_PER_ATOM_BOUNDS,
        f"the surrogate energy of {what}",
        ": the structure is outside the surrogate's domain; check the structure",
    )


def reference_problem(element: str, energy_per_atom: float) -> str | None:
    """Why an elemental reference energy (eV/atom) is implausible, or None."""
    return _bounds_problem(
        energy_per_atom,
        REFERENCE_ENERGY_BOUNDS,
        f"the reference energy of {element}",
        " (a condensed element is bound: negative per atom)",
    )


def formation_energy_problem(formula: str, formation_energy_per_atom: float) -> str | None:
    """Why a formation energy (eV/atom) is implausible, or None."""
    return _bounds_problem(
        formation_energy_per_atom,
        FORMATION_ENERGY_BOUNDS,
        f"the formation energy of {formula}",
        " (measured ones span -4.5 to +0.3): the surrogate is outside its domain for this structure or its "
        "elements; not ranked",
    )
