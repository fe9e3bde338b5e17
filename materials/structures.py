"""Candidate structures read from files: CIF, POSCAR/CONTCAR (VASP) and pymatgen JSON.

Reading never raises for one bad file: the file becomes a `Candidate` whose `error` says why, so a screen of many
files reports every unreadable one instead of stopping at the first. A path that does not exist is a user error
and raises before anything is read.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymatgen.core import Structure
from pymatgen.io.cif import CifParser
from pymatgen.io.vasp import Poscar

log = logging.getLogger(__name__)

CIF_SUFFIXES = frozenset({".cif"})
POSCAR_SUFFIXES = frozenset({".vasp", ".poscar"})
JSON_SUFFIXES = frozenset({".json"})
POSCAR_NAMES = ("POSCAR", "CONTCAR")


@dataclass(frozen=True)
class Candidate:
    """A candidate material: where it came from, its structure, or why it could not be read."""

    source: str  # file path (with "#<n>" for the n-th block of a multi-structure CIF), or "bundled:<id>"
    structure: Structure | None  # None when the file could not be read
    error: str | None = None  # why it could not be read ("unparsable CIF: ..."), else None

    @property
    def formula(self) -> str | None:
        """Reduced formula of the structure, or None when there is no structure."""
        return None if self.structure is None else self.structure.composition.reduced_formula

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (the structure as pymatgen's `Structure.as_dict()`)."""
        structure = None if self.structure is None else self.structure.as_dict()
        return {"source": self.source, "structure": structure, "error": self.error}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        """Inverse of `as_dict`."""
        structure = data.get("structure")
        return cls(
            source=data["source"],
            structure=None if structure is None else Structure.from_dict(structure),
            error=data.get("error"),
        )


def is_structure_file(path: Path) -> bool:
    """Whether the file name says CIF, POSCAR/CONTCAR/*.vasp/*.poscar or pymatgen JSON."""
    suffix = path.suffix.lower()
    if suffix in CIF_SUFFIXES | POSCAR_SUFFIXES | JSON_SUFFIXES:
        return True
    return path.name.upper().startswith(POSCAR_NAMES)


def read_candidates(paths: Sequence[str | Path]) -> list[Candidate]:
    """Read candidate structures from files and folders (searched recursively, in sorted order).

    Files: *.cif, POSCAR/CONTCAR (any suffix), *.vasp, *.poscar, *.json (pymatgen `Structure.as_dict()`).
    Inside folders, other files are skipped; a file named explicitly with another type becomes a Candidate with
    an error. Raises FileNotFoundError, before reading anything, when a path does not exist.
    """
    resolved = [Path(path) for path in paths]
    missing = [str(path) for path in resolved if not path.exists()]
    if missing:
        raise FileNotFoundError(
            f"candidate path(s) {', '.join(missing)} do not exist; "
            "pass existing CIF/POSCAR/JSON files or folders that contain them"
        )
    candidates: list[Candidate] = []
    for path in resolved:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and is_structure_file(p))
            if not files:
                log.warning("folder %s holds no CIF, POSCAR or JSON structure file", path)
            for file in files:
                candidates.extend(read_structure_file(file))
        else:
            candidates.extend(read_structure_file(path))
    return candidates


def read_structure_file(path: Path) -> list[Candidate]:
    """Candidates of one file: one per structure (a CIF may hold several), or one carrying the error."""
    source = str(path)
    if not is_structure_file(path):
        return [
            Candidate(
                source,
                None,
                f"unsupported file type {path.name!r}: use .cif, POSCAR/CONTCAR, .vasp, .poscar or pymatgen .json",
            )
        ]
    suffix = path.suffix.lower()
    if suffix in CIF_SUFFIXES:
        kind, reader = "CIF", _read_cif
    elif suffix in JSON_SUFFIXES:
        kind, reader = "pymatgen JSON", _read_json
    else:
        kind, reader = "POSCAR", _read_poscar
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            structures = reader(path)
    except Exception as error:  # any parser failure is a property of this one file
        return [Candidate(source, None, f"unparsable {kind}: {_one_line(error)}")]
    for warning in caught:
        log.info("%s: %s", path, _one_line(warning.message))
    if len(structures) == 1:
        return [Candidate(source, structures[0])]
    return [Candidate(f"{source}#{index}", structure) for index, structure in enumerate(structures, start=1)]


def _read_cif(path: Path) -> list[Structure]:
    structures = CifParser(path).parse_structures(primitive=False)
    if not structures:
        raise ValueError("no structure could be built from the file")
    return structures


def _read_poscar(path: Path) -> list[Structure]:
    return [Poscar.from_file(path).structure]


def _read_json(path: Path) -> list[Structure]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or "lattice" not in data or "sites" not in data:
        raise ValueError("expected one pymatgen Structure.as_dict() object with 'lattice' and 'sites'")
    return [Structure.from_dict(data)]


def _one_line(message: object) -> str:
    """The first line of an error or warning message, trimmed to 200 characters."""
    text = str(message).strip()
    first = text.splitlines()[0] if text else type(message).__name__
    return first[:200]
