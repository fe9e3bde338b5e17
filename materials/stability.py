"""Thermodynamic stability: formation energies and energies above the convex hull (eV/atom).

Every energy in one phase diagram must come from the same surrogate with the same settings, elemental references
included. With CHGNet (Deng et al., Nat. Mach. Intell. 5, 1031 (2023)) all energies are on the Materials Project
MP2020-corrected scale, because CHGNet was trained on MPtrj energies with the MP2020 anion and +U corrections
applied: formation energies are then comparable with measured enthalpies (pymatgen's exp_compounds.json.gz)
without further corrections. Reference energies are computed once per (surrogate, version, settings, element) and
cached as JSON on disk, so re-runs are instant.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition, Lattice, Structure

from materials.candidates import elemental_crystals
from materials.plausibility import (
    UNTRUSTED_ELEMENTS,
    energy_problem,
    formation_energy_problem,
    reference_problem,
)
from materials.reference_cache import read_reference_cache, write_reference_entry
from materials.surrogate import Surrogate

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = Path.home() / ".cache" / "qcflow"

# Experimental bond lengths (Å) of the diatomic elements, NIST CCCBDB (cccbdb.nist.gov, "experimental bond
# lengths"); the starting geometry of each molecule, relaxed with the surrogate in a cubic box.
DIATOMIC_BOND_LENGTHS = {"H": 0.741, "N": 1.098, "O": 1.208, "F": 1.412, "Cl": 1.988, "Br": 2.281, "I": 2.666}
# Gases at room temperature: their reference is the molecule alone. Br and I also try crystals.
MOLECULAR_ONLY = frozenset({"H", "N", "O", "F", "Cl"})
# Box edge (Å): CHGNet's atom-graph cutoff is 6 Å, so a molecule 12 Å from its images does not see them.
MOLECULE_BOX = 12.0
# Part of the cache key: bump it when the trial structures or the way they are relaxed change.
REFERENCE_RECIPE = "trials-v2"


@dataclass(frozen=True)
class StabilityResult:
    """Stability of one candidate within the phase diagram of all candidates plus elemental references."""

    formation_energy_per_atom: float  # eV/atom, relative to the elemental references
    energy_above_hull: float  # eV/atom, 0 for a candidate on the convex hull
    decomposition: tuple[
        str, ...
    ] = ()  # reduced formulas of the hull phases it decomposes into (itself if stable)
    # Why the energies are implausible (outside materials.plausibility's bounds), else None. Such a candidate is
    # left out of every hull and gets energy_above_hull = inf, so it is never ranked as stable.
    problem: str | None = None


@dataclass(frozen=True)
class ElementalReferences:
    """Reference energies (eV/atom) of the elements that have a plausible one, and why each other has none."""

    energies: dict[str, float] = field(default_factory=dict)
    problems: dict[str, str] = field(
        default_factory=dict
    )  # element -> reason (untrusted, failed, implausible)


def diatomic_molecule(element: str) -> Structure:
    """The element's diatomic molecule at its experimental bond length, centred in a MOLECULE_BOX cube."""
    bond = DIATOMIC_BOND_LENGTHS[element]
    centre = MOLECULE_BOX / 2
    return Structure(
        Lattice.cubic(MOLECULE_BOX),
        [element, element],
        [[centre - bond / 2, centre, centre], [centre + bond / 2, centre, centre]],
        coords_are_cartesian=True,
    )


def elemental_reference_energies(
    elements: Iterable[str],
    surrogate: Surrogate,
    *,
    cache_dir: str | Path | None = None,
    fmax: float = 0.1,
    steps: int = 200,
) -> dict[str, float]:
    """Reference energy (eV/atom) of each element: the lowest relaxed energy over its trial structures.

    H, N, O, F, Cl: the diatomic molecule in a box (positions relaxed). Other elements: bcc, fcc, hcp (diamond for
    group 14) and pymatgen's AFLOW prototypes of the element, cell relaxed (Br and I also try the molecule).
    Results are cached in `cache_dir` (default ~/.cache/qcflow) per surrogate name, version, fmax and steps, each
    element as soon as it is done. Raises ValueError naming every element without a plausible reference (see
    `elemental_references`, which reports them instead).
    """
    references = elemental_references(elements, surrogate, cache_dir=cache_dir, fmax=fmax, steps=steps)
    if references.problems:
        raise ValueError("; ".join(references.problems.values()))
    return references.energies


def elemental_references(
    elements: Iterable[str],
    surrogate: Surrogate,
    *,
    cache_dir: str | Path | None = None,
    fmax: float = 0.1,
    steps: int = 200,
) -> ElementalReferences:
    """Like `elemental_reference_energies`, but an element without a plausible reference is reported, not raised:
    untrusted elements (noble gases) are refused before any surrogate call, and a reference outside
    materials.plausibility's bounds is neither used nor cached. Each element is cached as soon as it is done."""
    cache_file = reference_cache_file(cache_dir, surrogate.name, surrogate.version, fmax, steps)
    result, missing = cached_references(elements, cache_file)
    for element in missing:
        entry, problem = computed_reference(element, surrogate, fmax, steps)
        if entry is None:
            result.problems[element] = str(problem)
            continue
        write_reference_entry(cache_file, element, entry)
        result.energies[element] = float(entry["energy_per_atom"])
    return result


def reference_cache_file(
    cache_dir: str | Path | None,
    surrogate_name: str,
    surrogate_version: str,
    fmax: float = 0.1,
    steps: int = 200,
) -> Path:
    """The cache file of one surrogate, version and relaxation setting (default folder ~/.cache/qcflow)."""
    key = f"{surrogate_name}_{surrogate_version}_fmax{fmax:g}_steps{steps}_{REFERENCE_RECIPE}"
    folder = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR
    return folder / "elemental_references" / (re.sub(r"[^A-Za-z0-9._-]+", "-", key) + ".json")


def cached_references(elements: Iterable[str], cache_file: Path) -> tuple[ElementalReferences, list[str]]:
    """What the cache already answers (energies, and the untrusted elements' problems) and the sorted elements
    still to compute."""
    cached = read_reference_cache(cache_file)
    result = ElementalReferences()
    missing = []
    for element in sorted(set(elements)):
        if element in UNTRUSTED_ELEMENTS:
            result.problems[element] = f"no reference for {element}: {UNTRUSTED_ELEMENTS[element]}"
        elif element in cached:
            result.energies[element] = float(cached[element]["energy_per_atom"])
        else:
            missing.append(element)
    return result, missing


def computed_reference(
    element: str, surrogate: Surrogate, fmax: float = 0.1, steps: int = 200
) -> tuple[dict[str, object] | None, str | None]:
    """The element's reference entry (lowest relaxed trial), or None and why: no trial relaxed, or the energy is
    outside materials.plausibility's bounds (the surrogate is outside its domain, so the value is not kept)."""
    try:
        entry = _reference(element, surrogate, fmax, steps)
    except ValueError as error:
        return None, str(error)
    problem = reference_problem(element, float(entry["energy_per_atom"]))
    if problem:
        return None, f"{problem}; {surrogate.name} cannot be trusted with {element}"
    return entry, None


def reference_trials(element: str) -> dict[str, tuple[Structure, bool]]:
    """The element's trial structures by name, each with whether its cell is relaxed: the diatomic molecule
    (positions only) where one is listed, and the elemental crystals unless the element is molecular only."""
    trials: dict[str, tuple[Structure, bool]] = {}
    if element in DIATOMIC_BOND_LENGTHS:
        trials[f"{element}2 molecule"] = (diatomic_molecule(element), False)
    if element not in MOLECULAR_ONLY:
        trials.update({name: (crystal, True) for name, crystal in elemental_crystals(element).items()})
    return trials


def _reference(element: str, surrogate: Surrogate, fmax: float, steps: int) -> dict[str, object]:
    """Relax every trial structure of the element and keep the lowest energy (a failed trial is skipped)."""
    if element not in surrogate.supported_elements:
        raise ValueError(f"element {element!r} is not covered by surrogate {surrogate.name}; remove it")
    trials = reference_trials(element)
    best: dict[str, object] | None = None
    for name, (structure, relax_cell) in trials.items():
        try:
            (relaxation,) = surrogate.relax([structure], fmax=fmax, steps=steps, relax_cell=relax_cell)
        except Exception as error:  # e.g. a cell that blew up until atoms were isolated
            log.warning("reference trial %s of %s failed: %s", name, element, error)
            continue
        log.debug(
            "%s %s: %.4f eV/atom after %d steps", element, name, relaxation.energy_per_atom, relaxation.steps
        )
        if math.isfinite(relaxation.energy_per_atom) and (
            best is None or relaxation.energy_per_atom < best["energy_per_atom"]
        ):
            best = {
                "energy_per_atom": relaxation.energy_per_atom,
                "structure": name,
                "converged": relaxation.converged,
            }
    if best is None:
        raise ValueError(f"no trial structure of element {element!r} could be relaxed with {surrogate.name}")
    log.info("reference %s: %.4f eV/atom (%s)", element, best["energy_per_atom"], best["structure"])
    return best


def formation_energy_per_atom(
    composition: Composition, energy_per_atom: float, references: Mapping[str, float]
) -> float:
    """Formation energy (eV/atom): the energy less the composition-weighted elemental reference energies."""
    fractions = composition.fractional_composition
    return energy_per_atom - sum(amount * references[el.symbol] for el, amount in fractions.items())


def assess_stability(
    compositions: Sequence[Composition],
    energies_per_atom: Sequence[float],
    references: Mapping[str, float],
) -> list[StabilityResult]:
    """Formation energy and energy above hull (eV/atom) of each candidate.

    Each candidate is placed in the phase diagram (pymatgen PhaseDiagram of PDEntry objects) of its own chemical
    system, built from every candidate whose elements lie in that system plus the elemental references, so
    candidates compete with each other (e.g. MgAl2O4 with MgO and Al2O3) without one huge diagram. A candidate
    whose energy, formation energy or elemental references fall outside materials.plausibility's bounds gets a
    `problem`, energy_above_hull = inf and no place in any diagram (so it cannot push others off the hull).
    """
    if len(compositions) != len(energies_per_atom):
        raise ValueError(
            f"compositions ({len(compositions)}) and energies_per_atom ({len(energies_per_atom)}) differ in "
            "length; give one energy per composition"
        )
    bad = [index for index, energy in enumerate(energies_per_atom) if not np.isfinite(energy)]
    if bad:
        raise ValueError(f"energies_per_atom at positions {bad} are not finite; drop those candidates first")
    needed = {el.symbol for composition in compositions for el in composition.elements}
    missing = sorted(needed - set(references))
    if missing:
        raise ValueError(
            f"references lack element(s) {', '.join(missing)}; compute them with elemental_reference_energies"
        )
    entries = [
        PDEntry(composition, float(energy) * composition.num_atoms)
        for composition, energy in zip(compositions, energies_per_atom, strict=True)
    ]
    problems = [_implausibility(entry, references) for entry in entries]
    plausible = _by_system(entry for entry, problem in zip(entries, problems, strict=True) if problem is None)
    diagrams: dict[frozenset[str], PhaseDiagram] = {}
    results = []
    for entry, problem in zip(entries, problems, strict=True):
        formation = formation_energy_per_atom(entry.composition, entry.energy_per_atom, references)
        if problem:
            results.append(StabilityResult(formation, math.inf, (), problem))
            continue
        system = frozenset(el.symbol for el in entry.composition.elements)
        if system not in diagrams:
            diagrams[system] = _phase_diagram(system, plausible, references)
        decomposition, above_hull = diagrams[system].get_decomp_and_e_above_hull(entry, allow_negative=True)
        results.append(
            StabilityResult(
                formation_energy_per_atom=formation,
                energy_above_hull=max(0.0, float(above_hull)),
                decomposition=tuple(sorted(phase.composition.reduced_formula for phase in decomposition)),
            )
        )
    return results


def _implausibility(entry: PDEntry, references: Mapping[str, float]) -> str | None:
    """Why a candidate's energies are implausible (its references, its energy, its formation energy), or None."""
    formula = entry.composition.reduced_formula
    for element in sorted(el.symbol for el in entry.composition.elements):
        problem = reference_problem(element, references[element])
        if problem:
            return f"{formula}: {problem}; recompute it (elemental_references) or leave {element} out"
    problem = energy_problem(entry.energy_per_atom, formula)
    if problem:
        return problem
    formation = formation_energy_per_atom(entry.composition, entry.energy_per_atom, references)
    return formation_energy_problem(formula, formation)


def _by_system(entries: Iterable[PDEntry]) -> dict[frozenset[str], list[PDEntry]]:
    """Entries grouped by their chemical system (the set of their elements)."""
    grouped: dict[frozenset[str], list[PDEntry]] = {}
    for entry in entries:
        grouped.setdefault(frozenset(el.symbol for el in entry.composition.elements), []).append(entry)
    return grouped


def _phase_diagram(
    system: frozenset[str], entries: Mapping[frozenset[str], list[PDEntry]], references: Mapping[str, float]
) -> PhaseDiagram:
    """The diagram of `system` from the entries of every subsystem (2^k lookups, not a scan of all entries, so
    10,000 candidates in thousands of systems stay fast)."""
    elements = sorted(system)
    members = [
        entry
        for size in range(1, len(elements) + 1)
        for subsystem in itertools.combinations(elements, size)
        for entry in entries.get(frozenset(subsystem), [])
    ]
    members += [PDEntry(Composition(element), references[element]) for element in elements]
    return PhaseDiagram(members)
