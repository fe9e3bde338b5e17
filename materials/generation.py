"""Candidates at scale: element substitution over the bundled prototypes, reproducible from a seed.

Each bundled prototype keeps its structure type; its elements are replaced by others that can play the same
part. In an ionic prototype (integer oxidation states from pymatgen's `oxi_state_guesses`) each element is
replaced by one with the same common oxidation state and a known Shannon ionic radius, so every candidate is
charge-balanced; the lattice is scaled by the cube root of the ratio of summed ionic volumes. In an intermetallic
prototype each element is replaced by one of similar Pauling electronegativity (within 0.35), scaled by atomic
radii. Candidates that fail validation (close contacts after scaling, ...) are skipped, so `generated_candidates`
returns exactly the number asked for whenever the substitution space holds that many valid ones.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Element, Species, Structure

from materials.candidates import bundled_candidates
from materials.structures import Candidate
from materials.validation import validate_structure

log = logging.getLogger(__name__)

# Elements a substitution may bring in: Z <= 83 without noble gases, hydrogen (molecular, not a lattice ion),
# the radioactive Tc and Pm, and the lanthanides after La (4f energies are where universal potentials are least
# reliable: CHGNet's MPtrj holds few of them).
EXCLUDED = frozenset({"H", "He", "Ne", "Ar", "Kr", "Xe", "Tc", "Pm"}) | frozenset(
    Element.from_Z(z).symbol for z in range(58, 72)
)
POOL: tuple[str, ...] = tuple(
    Element.from_Z(z).symbol for z in range(1, 84) if Element.from_Z(z).symbol not in EXCLUDED
)
ELECTRONEGATIVITY_WINDOW = 0.35  # Pauling units; intermetallic substitutes stay chemically close
MAX_GENERATED = 100_000


@dataclass(frozen=True)
class Prototype:
    """A bundled structure type and, per element, the elements that may replace it (with radii)."""

    source: str
    structure: Structure
    elements: tuple[str, ...]
    substitutes: tuple[tuple[str, ...], ...]
    radii: tuple[dict[str, float], ...]
    ionic: bool


def _ionic_substitutes(element: str, state: int) -> dict[str, float]:
    """Elements of the pool with `state` among their common oxidation states, and their ionic radii (Å)."""
    found = {}
    for symbol in POOL:
        candidate = Element(symbol)
        if state not in candidate.common_oxidation_states:
            continue
        try:
            with (
                warnings.catch_warnings()
            ):  # pymatgen warns for every radius it lacks; a missing one is skipped
                warnings.simplefilter("ignore")
                radius = Species(symbol, state).ionic_radius
        except ValueError:
            radius = None
        if radius:
            found[symbol] = float(radius)
    return found


def _metallic_substitutes(element: str) -> dict[str, float]:
    """Elements of the pool within the electronegativity window of `element`, and their atomic radii (Å)."""
    reference = Element(element).X
    found = {}
    for symbol in POOL:
        candidate = Element(symbol)
        radius = candidate.atomic_radius
        if radius and abs(candidate.X - reference) <= ELECTRONEGATIVITY_WINDOW:
            found[symbol] = float(radius)
    return found


@cache
def substitution_prototypes() -> tuple[Prototype, ...]:
    """Every bundled prototype with the substitutes of each of its elements."""
    prototypes = []
    for candidate in bundled_candidates():
        structure = candidate.structure
        elements = tuple(sorted(el.symbol for el in structure.composition.elements))
        guesses = structure.composition.oxi_state_guesses(max_sites=-1)
        states = guesses[0] if guesses else {}
        ionic = bool(states) and all(float(v).is_integer() for v in states.values())
        options = [
            _ionic_substitutes(el, int(states[el])) if ionic else _metallic_substitutes(el) for el in elements
        ]
        if any(el not in option for el, option in zip(elements, options, strict=True)):
            continue  # the prototype's own element must be describable the same way, or the scaling is meaningless
        prototypes.append(
            Prototype(
                source=candidate.source.removeprefix("bundled:"),
                structure=structure,
                elements=elements,
                substitutes=tuple(tuple(sorted(option)) for option in options),
                radii=tuple(options),
                ionic=ionic,
            )
        )
    return tuple(prototypes)


def _substituted(prototype: Prototype, chosen: Sequence[str]) -> Structure:
    """The prototype with its elements replaced, its volume scaled by the summed cubed radii."""
    mapping = dict(zip(prototype.elements, chosen, strict=True))
    radius = {el: prototype.radii[i][el] for i, el in enumerate(prototype.elements)}
    new_radius = {mapping[el]: prototype.radii[i][mapping[el]] for i, el in enumerate(prototype.elements)}
    structure = prototype.structure.copy()
    old_volume = sum(radius[site.specie.symbol] ** 3 for site in structure)
    structure.replace_species({Element(k): Element(v) for k, v in mapping.items() if k != v})
    new_volume = sum(new_radius[site.specie.symbol] ** 3 for site in structure)
    structure.scale_lattice(structure.volume * new_volume / old_volume)
    return structure


def _keys(seed: int) -> list[tuple[int, tuple[str, ...]]]:
    """Every (prototype, substitution) with distinct elements, in an order shuffled by `seed`."""
    keys = [
        (index, combo)
        for index, prototype in enumerate(substitution_prototypes())
        for combo in itertools.product(*prototype.substitutes)
        if len(set(combo)) == len(combo) and combo != prototype.elements
    ]
    order = np.random.default_rng(seed).permutation(len(keys))
    return [keys[i] for i in order]


def iter_generated(seed: int = 0, supported: frozenset[str] | None = None) -> Iterator[Candidate]:
    """Valid substituted candidates, one at a time, in the seed's order (each distinct: prototype + elements)."""
    prototypes = substitution_prototypes()
    matcher = StructureMatcher()
    kept: dict[tuple[int, str], list[Structure]] = {}
    made = 0
    for index, combo in _keys(seed):
        prototype = prototypes[index]
        structure = _substituted(prototype, combo)
        problem = validate_structure(structure, supported) if supported is not None else None
        if problem:
            log.debug("skipping %s on %s: %s", combo, prototype.source, problem)
            continue
        same = kept.setdefault((index, structure.composition.reduced_formula), [])
        if any(matcher.fit(structure, other) for other in same):
            continue  # elements swapped between symmetry-equivalent sites (a Heusler's 4a and 4b): the same crystal
        same.append(structure)
        made += 1
        formula = structure.composition.reduced_formula
        yield Candidate(
            f"generated:{seed}/{made}:{formula}-{prototype.source}", structure, valid_for=supported
        )


def generated_candidates(
    count: int, seed: int = 0, supported: frozenset[str] | None = None
) -> list[Candidate]:
    """`count` distinct valid candidates by substitution over the bundled prototypes, reproducibly from `seed`.

    `supported` restricts them to the elements the surrogate covers (validation then runs on each).
    """
    if not 1 <= count <= MAX_GENERATED:
        raise ValueError(f"generate={count}: give a number of candidates from 1 to {MAX_GENERATED:,}")
    found = list(itertools.islice(iter_generated(seed, supported), count))
    if len(found) < count:
        raise ValueError(
            f"generate={count}: the bundled prototypes give only {len(found):,} valid substitutions; ask for fewer"
        )
    return found
