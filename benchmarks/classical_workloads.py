"""Workloads of the classical placement benchmark: validated screening inputs and climate parameters.

ML-potential inputs are pymatgen's bundled candidates (materials.candidates.bundled_candidates, 2-6 sites),
validated as the screening validates them; where a workload needs more structures, or a relaxation needs work
to do, it takes strained and perturbed copies (isotropic strain of a few %, sites moved by up to 0.05 Å, seeded).
Supercells of 54-64 atoms are diagonal multiples of bundled cells.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from pymatgen.core import Structure

from materials.candidates import bundled_candidates
from materials.screening import ScreenedInput
from materials.surrogate import CHGNET_ELEMENTS
from materials.validation import validate_structure

STRAIN = 0.03  # isotropic strain of the copies (3 %): FIRE then takes ~15-40 steps on a bundled cell
PERTURB_ANGSTROM = 0.05  # largest displacement of a site in the copies (Å)
SUPERCELL_ATOMS = (54, 64)  # the range of atoms of the large cells


@dataclass
class Workload:
    """One benchmark workload: an ML-potential batch (structures, relax) or climate ensembles (members)."""

    name: str
    kind: str  # "ml_potential" or "climate_ensemble"
    structures: list[ScreenedInput] = field(default_factory=list)
    relax: bool = False
    members: int = 0
    note: str = ""


def _screened(source: str, structure: Structure) -> ScreenedInput | None:
    """The structure as the screening's validation passes it on, or None when validation rejects it."""
    if validate_structure(structure, CHGNET_ELEMENTS):
        return None
    formula = structure.composition.reduced_formula
    return ScreenedInput(source=source, formula=formula, structure=structure.as_dict(), error=None)


def bundled_inputs() -> list[ScreenedInput]:
    """Every bundled candidate that passes validation, in the bundled order."""
    found = (_screened(c.source, c.structure) for c in bundled_candidates() if c.structure is not None)
    return [s for s in found if s is not None]


def strained_copy(item: ScreenedInput, copy: int) -> ScreenedInput | None:
    """A strained (+STRAIN, alternating sign per copy) and perturbed copy of a validated input."""
    structure = Structure.from_dict(item.structure or {})
    sign = 1.0 if copy % 2 == 0 else -1.0
    structure.apply_strain(sign * STRAIN * (1 + copy // 2 * 0.3))
    structure.perturb(PERTURB_ANGSTROM, seed=copy)
    return _screened(f"{item.source}#strained{copy}", structure)


def strained_inputs(base: list[ScreenedInput], count: int, first_copy: int = 0) -> list[ScreenedInput]:
    """`count` strained copies of the inputs, cycling through them (copy number first_copy, first_copy+1, ...)."""
    found: list[ScreenedInput] = []
    for number, item in enumerate(itertools.cycle(base)):
        if len(found) == count or number > 10 * count:
            break
        made = strained_copy(item, first_copy + number // len(base))
        if made is not None:
            found.append(made)
    return found


def padded_inputs(base: list[ScreenedInput], count: int) -> list[ScreenedInput]:
    """The first `count` inputs, padded with strained copies when there are fewer."""
    return base[:count] + strained_inputs(base, max(0, count - len(base)))


def supercells(base: list[ScreenedInput], count: int) -> list[ScreenedInput]:
    """`count` diagonal supercells of 54-64 atoms, each from a bundled cell of a different size where possible."""
    low, high = SUPERCELL_ATOMS
    scalings = sorted(
        {(a, b, c) for a in range(1, 5) for b in range(1, 5) for c in range(1, 5) if a >= b >= c},
        key=lambda s: -min(s),
    )
    found: list[ScreenedInput] = []
    sizes_used: set[int] = set()
    for pass_number in range(2):
        for item in base:
            structure = Structure.from_dict(item.structure or {})
            sites = len(structure)
            if len(found) == count or (pass_number == 0 and sites in sizes_used):
                continue
            scaling = next((s for s in scalings if low <= sites * s[0] * s[1] * s[2] <= high), None)
            if scaling is None or any(f.source.startswith(f"{item.source}x") for f in found):
                continue
            made = _screened(f"{item.source}x{'x'.join(map(str, scaling))}", structure * scaling)
            if made is not None:
                found.append(made)
                sizes_used.add(sites)
    return found


def ml_workloads(quick: bool, relax_sizes: list[int], compare: int) -> tuple[list[Workload], Workload]:
    """The ML-potential workloads and the relaxation batch of the old-vs-broker comparison."""
    base = bundled_inputs()
    if quick:
        workloads = [Workload("static-16", "ml_potential", base[:16])]
    else:
        workloads = [
            Workload("static-16", "ml_potential", base[:16]),
            Workload("static-64", "ml_potential", padded_inputs(base, 64), note=_padding_note(base, 64)),
            Workload("static-supercells-4", "ml_potential", supercells(base, 4)),
        ]
        for size in relax_sizes:
            copies = strained_inputs(base, size, first_copy=1)
            workloads.append(Workload(f"relax-{size}", "ml_potential", copies, relax=True, note="strained"))
    comparison = Workload(
        f"relax-{compare}-old-vs-broker",
        "ml_potential",
        padded_inputs(base, compare),
        relax=True,
        note=_padding_note(base, compare),
    )
    return workloads, comparison


def _padding_note(base: list[ScreenedInput], count: int) -> str:
    if count <= len(base):
        return f"the first {count} bundled candidates"
    return f"{len(base)} bundled candidates + {count - len(base)} strained/perturbed copies"


def climate_workloads(members: list[int]) -> list[Workload]:
    """Climate ensembles of the three default scenarios at each member count."""
    return [Workload(f"climate-{m}", "climate_ensemble", members=m) for m in members]


def describe(workload: Workload) -> dict[str, Any]:
    """What a saved row records of its workload."""
    atoms = [len(s.structure["sites"]) for s in workload.structures if s.structure]
    return {
        "workload": workload.name,
        "kind": workload.kind,
        "structures": len(atoms),
        "atoms": sum(atoms),
        "relax": workload.relax,
        "members": workload.members,
        "note": workload.note,
    }
