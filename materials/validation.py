"""Cheap checks that a structure can be given to a surrogate, run before any surrogate call, and the search for
structures given twice in one batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure
from pymatgen.core.molecule_structure_comparator import CovalentRadius

from materials.periodic_pairs import close_pairs, pair_search_cost, plane_spacings
from materials.plausibility import UNTRUSTED_ELEMENTS, untrusted_element_problem

# A cell below this volume (Å^3) is degenerate: its lattice vectors are (nearly) coplanar.
_MIN_CELL_VOLUME = 1e-6
# Most sites in one cell qcflow screens (the default of validate_structure's max_sites).
MAX_SITES = 200
# Longest lattice vector (Å). Crystal cells are a few to a few tens of Å, slabs and molecules in a box up to about
# 50; the surrogate's own neighbour search (pymatgen's, 6 Å cutoff) grids the cell into cubes, so its memory grows
# with the cube of the cell length (27 GB for a 1000 Å cell at 0.5 Å, measured here).
MAX_LATTICE_LENGTH = 500.0
# Least volume per atom (Å^3). Diamond has the highest atomic number density of any solid at ambient pressure,
# 5.67 Å^3/atom (a = 3.567 Å, 8 atoms; Kittel, Introduction to Solid State Physics, 8th ed., table 1.3); half of
# it is no material, and it bounds how many neighbours the surrogate's graph gives each atom.
MIN_VOLUME_PER_ATOM = 2.5
# Fractional coordinates further than this many cells out lose precision when wrapped into the cell.
MAX_FRACTIONAL_COORDINATE = 1e8

# Closest approach of two atoms, as a fraction of the sum of their covalent radii (Cordero et al., Dalton Trans.
# 2008, 2832; pymatgen's CovalentRadius), below which a structure is taken as broken. Over pymatgen's AFLOW
# prototype library the shortest contacts in real crystals are the metal-metal bonds of the light actinides
# (beta-U 0.66, alpha-Np 0.68, alpha-Pu 0.69) and triple bonds (solid N2 0.74-0.77); hydrides, oxides and the
# bundled candidates stay at 0.77 or above. The worst entries pymatgen ships sat at 0.39-0.52 (NiSbS, a sigma
# phase, MgNi2, B19' NiTi with Ti-Ni 1.45 Å); milder ones (GeS2, brookite, FeB, Ag2Se at 0.61-0.74) and a cell
# of half the density (PtS) pass this check and are caught by the library tests in test_bundled_candidates.py.
MIN_COVALENT_FRACTION = 0.6


def wrapped_structure(structure: Structure) -> Structure:
    """The structure with every fractional coordinate wrapped into [0, 1): the same crystal, cheap to check."""
    frac = structure.frac_coords
    if np.all((frac >= 0) & (frac < 1)):
        return structure
    return Structure(
        structure.lattice,
        [site.species for site in structure],
        frac % 1.0,
        site_properties=structure.site_properties or None,
    )


def validate_structure(
    structure: Structure,
    supported_elements: frozenset[str],
    *,
    min_distance: float = 0.5,
    max_sites: int = MAX_SITES,
    min_covalent_fraction: float = MIN_COVALENT_FRACTION,
    untrusted_elements: Mapping[str, str] = UNTRUSTED_ELEMENTS,
) -> str | None:
    """The first problem that stops a surrogate from handling the structure, in plain words, or None.

    Checks in order, cheapest first, each bounded in cost before it starts: empty cell, non-finite numbers,
    degenerate or oversized lattice, oversized cell (more than max_sites), partial occupancy, unsupported
    elements, elements the surrogate is not trusted with (noble gases), then, on the structure wrapped into its
    cell, overlapping atoms (closer than min_distance Å, periodic images included), atoms closer than
    min_covalent_fraction of the sum of their covalent radii (a wrong lattice constant or Wyckoff position: a
    surrogate gives such a cell a meaningless energy) and a density beyond any solid's.
    """
    if len(structure) == 0:
        return "the cell holds no atoms; give a structure with at least one site"
    problem = _cell_problem(structure)
    if problem:
        return problem
    if len(structure) > max_sites:
        return (
            f"the cell has {len(structure)} sites, more than the {max_sites} qcflow screens; reduce it to its "
            "primitive cell (pymatgen: structure.get_primitive_structure()) or a smaller supercell"
        )
    problem = _occupancy_problem(structure)
    if problem:
        return problem
    elements = {element.symbol for element in structure.composition}
    unsupported = sorted(elements - supported_elements)
    if unsupported:
        return (
            f"element(s) {', '.join(unsupported)} are not covered by the surrogate; "
            "remove them or choose a surrogate that covers them"
        )
    problem = untrusted_element_problem(elements, untrusted_elements)
    if problem:
        return problem
    wrapped = wrapped_structure(structure)
    problem = _overlap_problem(wrapped, min_distance)
    problem = problem or _close_contact_problem(wrapped, min_covalent_fraction)
    return problem or _density_problem(structure)


def _cell_problem(structure: Structure) -> str | None:
    matrix = structure.lattice.matrix
    if not np.all(np.isfinite(matrix)):
        return "the lattice holds NaN or infinite numbers; fix the lattice in the file"
    frac = structure.frac_coords
    finite = np.isfinite(frac).all(axis=1)
    if not finite.all():
        site = int(np.argmin(finite))
        return f"site {site} has coordinates {frac[site].tolist()} (NaN or infinite); fix the coordinates"
    volume = abs(float(np.linalg.det(matrix)))
    if volume <= _MIN_CELL_VOLUME:
        return (
            f"the cell volume is {volume:.3g} Å^3 (not positive): the lattice vectors are coplanar; "
            "fix the lattice in the file"
        )
    lengths = structure.lattice.abc
    if max(lengths) > MAX_LATTICE_LENGTH:
        axis = "abc"[int(np.argmax(lengths))]
        return (
            f"lattice vector {axis} is {max(lengths):.4g} Å long, more than the {MAX_LATTICE_LENGTH:g} Å qcflow "
            "screens (crystal cells are a few Å to a few tens of Å); check the lattice and its units"
        )
    far = np.abs(frac).max(axis=1)
    if far.max() > MAX_FRACTIONAL_COORDINATE:
        site = int(np.argmax(far))
        return (
            f"site {site} has fractional coordinates {frac[site].tolist()}, more than "
            f"{MAX_FRACTIONAL_COORDINATE:g} cells out (wrapping them into the cell loses precision); are they "
            "Cartesian coordinates marked as fractional? give coordinates within the cell"
        )
    return None


def _density_problem(structure: Structure) -> str | None:
    per_atom = structure.volume / len(structure)
    if per_atom < MIN_VOLUME_PER_ATOM:
        return (
            f"the cell gives {per_atom:.3g} Å^3 per atom, less than the {MIN_VOLUME_PER_ATOM:g} Å^3 of any solid "
            "(diamond, the densest, has 5.67); check the lattice constants, the scale factor and their units"
        )
    return None


def _occupancy_problem(structure: Structure) -> str | None:
    for index, site in enumerate(structure):
        occupancy = site.species.num_atoms
        if len(site.species) != 1 or abs(occupancy - 1) > 1e-6:
            species = ", ".join(f"{sp}:{amount:g}" for sp, amount in site.species.items())
            return (
                f"site {index} has partial occupancy ({species}); order the structure first "
                "(e.g. pymatgen's OrderDisorderedStructureTransformation)"
            )
    return None


def _pairs_or_problem(
    structure: Structure, cutoff: float
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray] | None, str | None]:
    """Close pairs within `cutoff`, or why finding them is refused (a cell too thin to check cheaply)."""
    try:
        return close_pairs(structure, cutoff), None
    except ValueError:
        cost = pair_search_cost(structure, cutoff)
        spacing = float(plane_spacings(structure).min())
        return None, (
            f"the cell is too thin to check for close atoms cheaply ({cost} pair distances within {cutoff:.2f} "
            f"Å; the thinnest lattice planes are about {spacing:.3g} Å apart); give a less skewed, thicker cell "
            "(pymatgen: structure.get_reduced_structure())"
        )


def _overlap_problem(structure: Structure, min_distance: float) -> str | None:
    pairs, problem = _pairs_or_problem(structure, min_distance)
    if pairs is None:
        return problem
    centers, neighbors, distances = pairs
    if not len(distances):
        return None
    first = int(np.argmin(distances))
    i, j, distance = int(centers[first]), int(neighbors[first]), float(distances[first])
    what = "and its own periodic image" if i == j else f"and {j} ({structure[j].specie})"
    return (
        f"atoms overlap: site {i} ({structure[i].specie}) {what} are {distance:.3f} Å apart, "
        f"below min_distance={min_distance} Å; fix the coordinates or the lattice"
    )


def _close_contact_problem(structure: Structure, fraction: float) -> str | None:
    """The closest pair below `fraction` of its covalent-radius sum; elements without a radius are not checked."""
    radii = np.array([CovalentRadius.radius.get(site.specie.symbol, np.nan) for site in structure])
    if fraction <= 0 or np.all(np.isnan(radii)):
        return None
    pairs, problem = _pairs_or_problem(structure, fraction * 2 * float(np.nanmax(radii)))
    if pairs is None:
        return problem
    centers, neighbors, distances = pairs
    ratios = distances / (radii[centers] + radii[neighbors])
    ratios[np.isnan(ratios)] = np.inf
    if not np.any(ratios < fraction):
        return None
    worst = int(np.argmin(ratios))
    i, j, distance = int(centers[worst]), int(neighbors[worst]), float(distances[worst])
    what = "its own periodic image" if i == j else f"site {j} ({structure[j].specie.symbol})"
    return (
        f"{structure.composition.reduced_formula}: site {i} ({structure[i].specie.symbol}) and {what} are "
        f"{distance:.3f} Å apart, {ratios[worst]:.2f} of the sum of their covalent radii "
        f"({radii[i] + radii[j]:.2f} Å; real crystals stay above {fraction:g}); the lattice constants or atomic "
        "positions are wrong: check them, the cell setting and the origin choice against the source"
    )


def duplicate_problems(structures: Sequence[Structure | None], sources: Sequence[str]) -> list[str | None]:
    """For each structure of a batch, why it is skipped as a repeat of an earlier one, or None.

    A repeat is the same crystal up to numerical noise: same reduced formula and, by pymatgen's StructureMatcher
    without rescaling, lattice lengths within 0.01 %, angles within 0.01 deg and sites within 0.001 of
    (volume per atom)^(1/3), in any cell setting or supercell (a CIF and a JSON file of one structure match). A
    deliberately strained copy (0.1 % in volume and up) is a different input and is kept. None entries (unreadable
    or rejected candidates) are skipped; only structures of one formula are compared.
    """
    if len(structures) != len(sources):
        raise ValueError(
            f"{len(structures)} structures but {len(sources)} sources; give one source per structure"
        )
    matcher = StructureMatcher(ltol=1e-4, stol=1e-3, angle_tol=0.01, scale=False)
    kept: dict[str, list[int]] = {}
    problems: list[str | None] = [None] * len(structures)
    for index, structure in enumerate(structures):
        if structure is None:
            continue
        same_formula = kept.setdefault(structure.composition.reduced_formula, [])
        first = next((k for k in same_formula if matcher.fit(structures[k], structure)), None)
        if first is None:
            same_formula.append(index)
        else:
            problems[index] = (
                f"the same structure as {sources[first]} (same composition and geometry), given twice in one "
                f"batch: skipped; see the result of {sources[first]}"
            )
    return problems
