"""POSCAR/CONTCAR (VASP) files read and checked against their own text.

pymatgen builds the structure; before it does, the header is read here line by line (scale, lattice, species,
counts, coordinate mode) and the coordinate lines are counted, so a file whose species counts disagree with its
coordinate lines, or whose lattice holds a word or NaN, is refused with the line, the value and the fix, where
pymatgen would raise "list index out of range" or, worse, build a different structure. After pymatgen, the
structure is checked again against the counts and names of the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pymatgen.core import Element, Structure
from pymatgen.io.vasp import Poscar

from materials.structure_text import StructureFileError, parse_number

# pymatgen reads species lines of POSCARs written by VASP for more than 20 groups over up to 10 lines.
_MAX_SPECIES_LINES = 10


@dataclass(frozen=True)
class PoscarHeader:
    """What a POSCAR's header says: element names (None in the VASP 4 format), counts, where coordinates start."""

    symbols: tuple[str, ...] | None
    counts: tuple[int, ...]
    counts_line: int  # 1-based line number of the (first) counts line
    first_coordinate_line: int  # 0-based index into the lines of the first block
    cartesian: bool

    @property
    def atoms(self) -> int:
        return sum(self.counts)


def read_poscar(path: Path, text: str) -> list[Structure]:
    """The one structure of a POSCAR text, checked against the file; raises StructureFileError."""
    lines = _first_block(text)
    header = poscar_header(lines)
    coordinates = _coordinate_lines(lines, header)
    symbols = header.symbols or _vasp4_symbols(path, coordinates, header)
    try:
        poscar = Poscar.from_str(text, default_names=list(symbols), read_velocities=False)
    except Exception as error:  # what the checks above did not foresee: say so, with pymatgen's words
        raise StructureFileError(
            f"pymatgen could not build the structure ({type(error).__name__}: {error}); compare the file with "
            "the VASP POSCAR format (comment, scale, 3 lattice lines, element names, counts, Direct/Cartesian, "
            "one coordinate line per atom)"
        ) from error
    structure = poscar.structure
    expected = [symbol for symbol, count in zip(symbols, header.counts, strict=True) for _ in range(count)]
    read = [site.specie.symbol for site in structure]
    if read != expected:
        raise StructureFileError(
            f"the file names {_counts_text(symbols, header.counts)} but pymatgen read "
            f"{structure.composition.formula}; check the element names and counts lines"
        )
    return [structure]


def _first_block(text: str) -> list[str]:
    """Lines of the first block (up to the first blank line after the header), as pymatgen reads them."""
    lines = text.rstrip().split("\n")
    block: list[str] = []
    for number, line in enumerate(lines):
        if number > 0 and not line.strip():  # line 0, the comment, may be blank
            break
        block.append(line)
    return block


def poscar_header(lines: list[str]) -> PoscarHeader:
    """Scale, lattice, species and counts of a POSCAR (checked); raises StructureFileError naming the line."""
    if len(lines) < 7:
        raise StructureFileError(
            f"the file stops after {len(lines)} line(s); a POSCAR needs a comment, the scale, 3 lattice lines, "
            "the counts (element names above them), the coordinate mode and one coordinate line per atom"
        )
    scale_fields = lines[1].split()
    if len(scale_fields) != 1:
        raise StructureFileError(
            f"line 2 (scale) is {lines[1].strip()!r}; give one number (1.0, or a negative cell volume in Å^3); "
            "per-axis scale factors are not read: multiply them into the lattice lines"
        )
    if parse_number(scale_fields[0], "line 2 (scale)") == 0:
        raise StructureFileError("line 2 (scale) is 0; give 1.0 (or a negative cell volume in Å^3)")
    for number in (2, 3, 4):
        _three_numbers(lines[number], f"line {number + 1} (lattice vector {number - 1})")
    symbols, counts, counts_line, index = _species_and_counts(lines)
    if index < len(lines) and _first_token(lines[index])[:1] in ("s", "S"):
        index += 1  # Selective dynamics
    if index >= len(lines):
        raise StructureFileError(
            "the file stops before the coordinate mode line; add 'Direct' (or 'Cartesian') and one coordinate "
            "line per atom"
        )
    mode = _first_token(lines[index])
    if not mode or mode[0] not in "dDcCkK":
        raise StructureFileError(
            f"line {index + 1} should be the coordinate mode 'Direct' or 'Cartesian', found "
            f"{lines[index].strip()!r}; check the counts line above it"
        )
    return PoscarHeader(
        symbols=None if symbols is None else tuple(symbols),
        counts=tuple(counts),
        counts_line=counts_line,
        first_coordinate_line=index + 1,
        cartesian=mode[0] in "cCkK",
    )


def _species_and_counts(lines: list[str]) -> tuple[list[str] | None, list[int], int, int]:
    """Element names (None in the VASP 4 format) and counts from line 6 on, the counts' line number (1-based)
    and the index of the line after them; raises StructureFileError naming the line."""
    symbols: list[str] | None = None
    index = 5
    if not _is_integer(_first_token(lines[5])):
        symbols = []
        while index < min(len(lines), 5 + _MAX_SPECIES_LINES) and not _is_integer(_first_token(lines[index])):
            if symbols and not _is_element(_first_token(lines[index]).split("/")[0].split("_")[0]):
                break  # not a continued species line: the counts line is missing
            symbols.extend(_element_symbol(token, index + 1) for token in lines[index].split())
            index += 1
    counts: list[int] = []
    counts_line = index + 1
    while index < len(lines) and _is_integer(_first_token(lines[index])):
        counts.extend(_count(token, index + 1) for token in lines[index].split())
        index += 1
    if not counts:
        raise StructureFileError(
            f"line {index + 1} should give the number of atoms of each element, found "
            f"{lines[index].strip() if index < len(lines) else 'the end of the file'!r}; add the counts line"
        )
    if symbols is not None and len(symbols) != len(counts):
        raise StructureFileError(
            f"the file names {len(symbols)} element(s) ({' '.join(symbols)}) but gives {len(counts)} count(s) "
            f"({' '.join(map(str, counts))}); give one count per element"
        )
    return symbols, counts, counts_line, index


def _coordinate_lines(lines: list[str], header: PoscarHeader) -> list[list[str]]:
    """The coordinate lines (split), checked: as many as the counts say, three finite numbers each."""
    rows = lines[header.first_coordinate_line :]
    first = header.first_coordinate_line + 1
    extra = [row for row in rows[header.atoms :] if _starts_with_three_numbers(row)]
    if len(rows) < header.atoms or extra:
        found = min(len(rows), header.atoms) + len(extra)
        raise StructureFileError(
            f"line {header.counts_line} (counts) gives {_counts_text(header.symbols, header.counts)}: {header.atoms} atom(s), but "
            f"{found} coordinate line(s) follow from line {first}; make the counts match the coordinate "
            "lines (or restore the missing lines)"
        )
    for offset, row in enumerate(rows[: header.atoms]):
        _three_numbers(row, f"line {first + offset} (coordinates of atom {offset + 1})")
    return [row.split() for row in rows[: header.atoms]]


def _vasp4_symbols(path: Path, coordinates: list[list[str]], header: PoscarHeader) -> tuple[str, ...]:
    """Element names of a VASP 4 POSCAR (counts without names): from a symbol ending each coordinate line."""
    trailing = [row[3] if len(row) > 3 else "" for row in coordinates]
    symbols: list[str] = []
    start = 0
    for count in header.counts:
        group = set(trailing[start : start + count])
        start += count
        if len(group) != 1 or not _is_element(next(iter(group))):
            raise StructureFileError(
                f"line 6 gives counts ({' '.join(map(str, header.counts))}) without element names (VASP 4 "
                "format), and the coordinate lines do not name them either; add a line of element symbols "
                "(e.g. 'Mg O') above the counts"
            )
        symbols.append(next(iter(group)))
    return tuple(symbols)


def _counts_text(symbols: tuple[str, ...] | list[str] | None, counts: tuple[int, ...]) -> str:
    if symbols is None:
        return " ".join(map(str, counts))
    return " ".join(f"{symbol} {count}" for symbol, count in zip(symbols, counts, strict=True))


def _first_token(line: str) -> str:
    fields = line.split()
    return fields[0] if fields else ""


def _is_integer(token: str) -> bool:
    return bool(re.fullmatch(r"[-+]?\d+", token))


def _count(token: str, line_number: int) -> int:
    if not _is_integer(token) or int(token) <= 0:
        raise StructureFileError(
            f"line {line_number} (counts) holds {token!r}; each count must be a positive whole number"
        )
    return int(token)


def _is_element(symbol: str) -> bool:
    return Element.is_valid_symbol(symbol)


def _element_symbol(token: str, line_number: int) -> str:
    """An element name of the species line; VASP 6 writes POTCAR names (Mg_pv, Si/79d9987ad87)."""
    symbol = token.split("/")[0].split("_")[0]
    if not _is_element(symbol):
        raise StructureFileError(
            f"line {line_number} (element names) holds {token!r}, which is not an element symbol; "
            "write symbols such as 'Mg O'"
        )
    return symbol


def _starts_with_three_numbers(line: str) -> bool:
    fields = line.split()
    if len(fields) < 3:
        return False
    try:
        [float(field) for field in fields[:3]]
    except ValueError:
        return False
    return True


def _three_numbers(line: str, field: str) -> list[float]:
    fields = line.split()
    if len(fields) < 3:
        raise StructureFileError(
            f"{field} is {line.strip()!r}; it needs three numbers (is the file truncated or a line missing?)"
        )
    return [parse_number(value, field) for value in fields[:3]]
