"""Cheap checks that a structure can be given to a surrogate, run before any surrogate call, and the search for
structures given twice in one batch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure
from pymatgen.core.molecule_structure_comparator import CovalentRadius

# A cell below this volume (Å^3) is degenerate: its lattice vectors are (nearly) coplanar.
_MIN_CELL_VOLUME = 1e-6

# Closest approach of two atoms, as a fraction of the sum of their covalent radii (Cordero et al., Dalton Trans.
# 2008, 2832; pymatgen's CovalentRadius), below which a structure is taken as broken. Over pymatgen's AFLOW
# prototype library the shortest contacts in real crystals are the metal-metal bonds of the light actinides
# (beta-U 0.66, alpha-Np 0.68, alpha-Pu 0.69) and triple bonds (solid N2 0.74-0.77); hydrides, oxides and the
# bundled candidates stay at 0.77 or above. The worst entries pymatgen ships sat at 0.39-0.52 (NiSbS, a sigma
# phase, MgNi2, B19' NiTi with Ti-Ni 1.45 Å); milder ones (GeS2, brookite, FeB, Ag2Se at 0.61-0.74) and a cell
# of half the density (PtS) pass this check and are caught by the library tests in test_bundled_candidates.py.
MIN_COVALENT_FRACTION = 0.6


def validate_structure(
    structure: Structure,
    supported_elements: frozenset[str],
    *,
    min_distance: float = 0.5,
    max_sites: int = 200,
    min_covalent_fraction: float = MIN_COVALENT_FRACTION,
) -> str | None:
    """The first problem that stops a surrogate from handling the structure, in plain words, or None.

    Checks in order, cheapest first: empty cell, non-finite or non-positive cell volume, oversized cell
    (more than max_sites), partial occupancy, unsupported elements, overlapping atoms (closer than min_distance Å,
    periodic images included), then atoms closer than min_covalent_fraction of the sum of their covalent radii
    (a wrong lattice constant or Wyckoff position: a surrogate gives such a cell a meaningless energy).
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
    unsupported = sorted({element.symbol for element in structure.composition} - supported_elements)
    if unsupported:
        return (
            f"element(s) {', '.join(unsupported)} are not covered by the surrogate; "
            "remove them or choose a surrogate that covers them"
        )
    problem = _overlap_problem(structure, min_distance)
    return problem or _close_contact_problem(structure, min_covalent_fraction)


def _cell_problem(structure: Structure) -> str | None:
    matrix = structure.lattice.matrix
    if not np.all(np.isfinite(matrix)) or not np.all(np.isfinite(structure.frac_coords)):
        return "the lattice or the coordinates hold NaN or infinite numbers; fix the file"
    volume = abs(float(np.linalg.det(matrix)))
    if volume <= _MIN_CELL_VOLUME:
        return (
            f"the cell volume is {volume:.3g} Å^3 (not positive): the lattice vectors are coplanar; "
            "fix the lattice in the file"
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


def _overlap_problem(structure: Structure, min_distance: float) -> str | None:
    centers, neighbors, _, distances = structure.get_neighbor_list(r=min_distance)
    overlapping = distances < min_distance
    if not np.any(overlapping):
        return None
    first = int(np.argmin(np.where(overlapping, distances, np.inf)))
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
    centers, neighbors, _, distances = structure.get_neighbor_list(r=fraction * 2 * float(np.nanmax(radii)))
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
