"""CIF files read block by block and checked against their own text.

A CIF may hold several data blocks. Each block is split off here and parsed on its own, so every block yields a
record: a structure, or the reason it could not be built (pymatgen's parser keys blocks by name, so a repeated
name silently replaced the earlier block, and a broken block was dropped with a warning). Before pymatgen sees a
block, its cell is checked (lengths positive and finite, angles between 0 and 180 degrees that close a cell) and
its atom list bounded; after, the structure's elements and stoichiometry are checked against the block's formula.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass

from pymatgen.core import Element, Structure
from pymatgen.io.cif import CifParser

from materials.structure_text import StructureFileError, parse_number
from materials.validation import MAX_SITES

_DATA_LINE = re.compile(r"^data_(\S*)", re.IGNORECASE)
CELL_LENGTHS = ("_cell_length_a", "_cell_length_b", "_cell_length_c")
CELL_ANGLES = ("_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma")


@dataclass(frozen=True)
class CifBlock:
    """One data block of a CIF: its name, its 1-based position in the file and its text."""

    name: str
    index: int
    text: str


@dataclass(frozen=True)
class CifRecord:
    """What one block gave: its structure, or why none (the message names the block and the field)."""

    block: CifBlock
    structure: Structure | None
    error: str | None


def cif_blocks(text: str) -> list[CifBlock]:
    """The data blocks of a CIF text, in file order, repeated names included. A line of a semicolon text field
    that starts with data_ is not a block; it gets a '> ' in front, because pymatgen splits at any such line."""
    starts: list[tuple[int, str]] = []
    lines = text.splitlines(keepends=True)
    in_text_field = False
    for number, line in enumerate(lines):
        if line.startswith(";"):
            in_text_field = not in_text_field
        elif in_text_field and _DATA_LINE.match(line):
            lines[number] = "> " + line
        elif match := _DATA_LINE.match(line):
            starts.append((number, match.group(1)))
    if not starts:
        raise StructureFileError(
            "the file has no 'data_' line, so no CIF data block; is it a CIF? (a CIF starts with data_<name>)"
        )
    ends = [start for start, _ in starts[1:]] + [len(lines)]
    return [
        CifBlock(name=name or "(unnamed)", index=index, text="".join(lines[start:end]))
        for index, ((start, name), end) in enumerate(zip(starts, ends, strict=True), start=1)
    ]


def read_cif_blocks(text: str) -> list[CifRecord]:
    """A record for every block of the CIF text; raises StructureFileError only when there is no block."""
    return [_read_block(block) for block in cif_blocks(text)]


def _read_block(block: CifBlock) -> CifRecord:
    where = f"block {block.index} (data_{block.name})"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            parser = _block_parser(block.text)
            data = next(iter(parser.as_dict().values()), {})
            _check_block_fields(data)
            structures = parser.parse_structures(primitive=False, on_error="warn")
    except StructureFileError as error:
        return CifRecord(block, None, f"{where}: {error}")
    except Exception as error:  # pymatgen's own failure: keep its words, say where and what to do
        reasons = "; ".join(_first_line(w.message) for w in caught if "No structure parsed" in str(w.message))
        detail = reasons or f"{type(error).__name__}: {_first_line(error)}"
        return CifRecord(
            block,
            None,
            f"{where}: no structure could be built ({detail}); check its cell, symmetry and _atom_site_ loop",
        )
    structure = structures[0]
    unknown = sorted({sp.symbol for sp in structure.composition if not Element.is_valid_symbol(sp.symbol)})
    if unknown:
        return CifRecord(
            block,
            None,
            f"{where}: atom site type(s) {', '.join(map(repr, unknown))} are not element symbols; correct "
            "_atom_site_type_symbol (or the site labels it is read from)",
        )
    mismatch = parser.check(structure)
    if mismatch:
        return CifRecord(
            block,
            None,
            f"{where}: the structure built from the atom sites ({structure.composition.reduced_formula}) does not "
            f"match the block's formula ({' '.join(mismatch.split())}); restore the missing atom sites (is the "
            "file truncated?) or correct _chemical_formula_sum",
        )
    return CifRecord(block, structure, None)


def _block_parser(text: str) -> CifParser:
    """pymatgen's parser of one block; its failures to read the text (not to build a structure) explained."""
    try:
        return CifParser.from_str(text)
    except Exception as error:
        raise StructureFileError(
            f"the block's text cannot be read as CIF ({type(error).__name__}: {_first_line(error)}); a loop_ "
            "whose values do not fill whole rows (a truncated file?) or an unclosed quote or ; text field are "
            "the usual causes"
        ) from error


def _check_block_fields(data: dict[str, object]) -> None:
    """The cell and the size of the atom list, before pymatgen builds anything; raises StructureFileError."""
    missing = [key for key in CELL_LENGTHS + CELL_ANGLES if key not in data]
    if missing and not any(key.startswith(("_atom_site", "_cell_")) for key in data):
        raise StructureFileError(
            "the block holds no cell and no atom sites (a metadata-only block?): it gives no structure"
        )
    if missing:
        raise StructureFileError(f"the block lacks {', '.join(missing)}; give the full cell")
    lengths = [_cell_value(data, key) for key in CELL_LENGTHS]
    angles = [_cell_value(data, key) for key in CELL_ANGLES]
    for key, length in zip(CELL_LENGTHS, lengths, strict=True):
        if length <= 0:
            raise StructureFileError(f"{key} is {length:g} Å; a cell length must be positive (in Å)")
    for key, angle in zip(CELL_ANGLES, angles, strict=True):
        if not 0 < angle < 180:
            raise StructureFileError(
                f"{key} is {angle:g} degrees; a cell angle lies strictly between 0 and 180"
            )
    cosines = [math.cos(math.radians(angle)) for angle in angles]
    volume_factor = 1 - sum(c * c for c in cosines) + 2 * math.prod(cosines)
    if volume_factor <= 1e-8:
        raise StructureFileError(
            f"the cell angles {'/'.join(f'{a:g}' for a in angles)} degrees (alpha/beta/gamma) close no cell "
            "(each angle must be less than the sum of the other two, and all three less than 360 in total); "
            "check _cell_angle_alpha, _cell_angle_beta and _cell_angle_gamma"
        )
    labels = data.get("_atom_site_fract_x") or data.get("_atom_site_Cartn_x") or []
    if not isinstance(labels, list) or not labels:
        raise StructureFileError("the block has no _atom_site_ loop with coordinates; add the atom sites")
    if len(labels) > MAX_SITES:
        raise StructureFileError(
            f"the _atom_site_ loop lists {len(labels)} sites, more than the {MAX_SITES} sites qcflow screens in "
            "one cell; give a smaller (primitive) cell"
        )
    for axis in ("x", "y", "z"):
        for key in (f"_atom_site_fract_{axis}", f"_atom_site_Cartn_{axis}"):
            values = data.get(key, [])
            for row, value in enumerate(values if isinstance(values, list) else [values], start=1):
                parse_number(str(value), f"{key} of atom site {row}")


def _cell_value(data: dict[str, object], key: str) -> float:
    value = data[key]
    if isinstance(value, list):  # a loop where one value belongs
        raise StructureFileError(f"{key} holds {len(value)} values; give one")
    return parse_number(str(value), key)


def _first_line(message: object) -> str:
    text = str(message).strip()
    lines = [line for line in text.splitlines() if line.strip() and "No structure parsed" not in line]
    return (lines[0] if lines else text.splitlines()[0] if text else type(message).__name__)[:200]
