"""The text of a structure file, read defensively: bounded in size, UTF-8, not binary, not empty.

Every reader of candidate files starts here, so a bad file is refused with its name and what is wrong with it
before any parser sees it, and a file of gigabytes is never read into memory.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

# Largest structure file read (bytes). A 200-site POSCAR is about 10 kB and a CIF of one structure a few kB; a
# multi-block CIF of a thousand structures stays under 16 MiB.
MAX_FILE_BYTES = 16 * 2**20


class StructureFileError(ValueError):
    """A structure file that cannot be taken as it is: the message names the field, the value and the fix."""


def read_structure_text(path: Path) -> str:
    """The file's text; raises StructureFileError for a file too large, empty, binary or not UTF-8."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise StructureFileError(
                f"the file holds {size} bytes, more than the {MAX_FILE_BYTES} read for one structure file; "
                "split it or give the structures as separate files"
            )
        data = path.read_bytes()
    except OSError as error:
        raise StructureFileError(
            f"cannot be read ({error.strerror or error}); check that it is a readable file"
        ) from error
    if not data.strip():
        raise StructureFileError("the file is empty; give the structure's text (did a copy fail?)")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise StructureFileError(
            f"the file is binary (a NUL byte at offset {nul}), not a text structure file; "
            "give the CIF/POSCAR/JSON text"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise StructureFileError(
            f"the file is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from error


_UNCERTAINTY = re.compile(r"^([-+]?[0-9.]+(?:[eE][-+]?\d+)?)\(\d+\)$")


def parse_number(text: str, field: str) -> float:
    """A finite number read from a field of the file (a CIF uncertainty such as 4.212(3) is dropped).

    Raises StructureFileError naming the field and the text when it is not a finite number.
    """
    cleaned = text.strip()
    match = _UNCERTAINTY.match(cleaned)
    if match:
        cleaned = match.group(1)
    try:
        value = float(cleaned)
    except ValueError:
        raise StructureFileError(f"{field} is {text.strip()!r}, not a number; write a plain number") from None
    if not math.isfinite(value):
        raise StructureFileError(f"{field} is {text.strip()!r}, not a finite number; write a finite number")
    return value
