"""pymatgen-JSON structure files (one `Structure.as_dict()` object), checked field by field before pymatgen
builds the structure, so a wrong file is refused with the field's path ("sites[3].species[0].element") rather
than a KeyError."""

from __future__ import annotations

import json
import math

from pymatgen.core import Element, Structure

from materials.structure_text import StructureFileError
from materials.validation import MAX_SITES


def read_structure_json(text: str) -> Structure:
    """The structure of a pymatgen-JSON text; raises StructureFileError naming the field, the value and the fix."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise StructureFileError(f"not valid JSON ({error}); give one Structure.as_dict() object") from None
    if not isinstance(data, dict) or "lattice" not in data or "sites" not in data:
        raise StructureFileError(
            f"expected one pymatgen Structure.as_dict() object with 'lattice' and 'sites', found "
            f"{_describe(data)}; write structure.as_dict() with json.dump"
        )
    _check_lattice(data["lattice"])
    sites = data["sites"]
    if not isinstance(sites, list):
        raise StructureFileError(f"'sites' is {_describe(sites)}; give a list of sites")
    if not sites:
        raise StructureFileError("'sites' is empty: the cell holds no atoms; give at least one site")
    if len(sites) > MAX_SITES:
        raise StructureFileError(
            f"'sites' lists {len(sites)} sites, more than the {MAX_SITES} qcflow screens; give a smaller cell"
        )
    for index, site in enumerate(sites):
        _check_site(site, f"sites[{index}]")
    try:
        return Structure.from_dict(data)
    except Exception as error:  # what the checks did not foresee: say so in pymatgen's words
        raise StructureFileError(
            f"pymatgen could not build the structure ({type(error).__name__}: {error}); compare it with "
            "Structure.as_dict() of a known structure"
        ) from error


def _describe(value: object) -> str:
    text = json.dumps(value)[:60] if not isinstance(value, str) else repr(value[:60])
    return f"{type(value).__name__} {text}"


def _numbers(value: object, field: str, shape: tuple[int, ...]) -> None:
    """Raises unless `value` is a nested list of finite numbers of the given shape."""
    if len(shape) == 0:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise StructureFileError(f"{field} is {_describe(value)}; give a finite number")
        return
    if not isinstance(value, list) or len(value) != shape[0]:
        raise StructureFileError(f"{field} is {_describe(value)}; give a list of {shape[0]} numbers or lists")
    for index, item in enumerate(value):
        _numbers(item, f"{field}[{index}]", shape[1:])


def _check_lattice(lattice: object) -> None:
    if not isinstance(lattice, dict) or "matrix" not in lattice:
        raise StructureFileError(
            f"'lattice' is {_describe(lattice)}; give an object with 'matrix' (3 lattice vectors in Å)"
        )
    _numbers(lattice["matrix"], "lattice.matrix", (3, 3))


def _check_site(site: object, field: str) -> None:
    if not isinstance(site, dict):
        raise StructureFileError(f"{field} is {_describe(site)}; give an object with 'species' and 'abc'")
    if "abc" not in site and "xyz" not in site:
        raise StructureFileError(f"{field} has no 'abc' (fractional) or 'xyz' (Cartesian) coordinates")
    key = "abc" if "abc" in site else "xyz"
    _numbers(site[key], f"{field}.{key}", (3,))
    species = site.get("species")
    if not isinstance(species, list) or not species:
        raise StructureFileError(
            f"{field}.species is {_describe(species)}; give a list like [{{'element': 'Mg'}}]"
        )
    for index, entry in enumerate(species):
        where = f"{field}.species[{index}]"
        element = entry.get("element") if isinstance(entry, dict) else None
        if not isinstance(element, str) or not Element.is_valid_symbol(element):
            raise StructureFileError(f"{where}.element is {_describe(element)}, not an element symbol")
        occupancy = entry.get("occu", 1)
        _numbers(occupancy, f"{where}.occu", ())
        if not 0 < occupancy <= 1:
            raise StructureFileError(f"{where}.occu is {occupancy}; an occupancy lies in (0, 1]")
