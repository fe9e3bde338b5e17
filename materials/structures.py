"""Candidate structures read from files: CIF, POSCAR/CONTCAR (VASP) and pymatgen JSON.

Reading never raises for one bad file: the file becomes a `Candidate` whose `error` names the file, the field, the
value and the fix, so a screen of many files reports every unreadable one instead of stopping at the first. Each
reader checks what it read against the file (materials/poscar_reader.py, cif_reader.py, structure_json.py). A path
that does not exist, or a folder without structure files, is a user error and raises before anything is read.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

from materials.cif_reader import read_cif_blocks
from materials.poscar_reader import read_poscar
from materials.structure_json import read_structure_json
from materials.structure_text import StructureFileError, read_structure_text
from materials.validation import MAX_FRACTIONAL_COORDINATE, wrapped_structure

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
    # The surrogate elements the structure was already validated for (the generator validates what it makes), so
    # a screening for the same elements need not validate it again; None: not validated yet.
    valid_for: frozenset[str] | None = None

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


def candidate_path_problem(path: str | Path) -> str | None:
    """Why a path given as candidates cannot be screened (missing, or a folder without structure files), or None."""
    path = Path(path)
    if not path.exists():
        return f"{path} does not exist; pass existing CIF/POSCAR/JSON files or folders that contain them"
    if path.is_dir() and not structure_files_in(path):
        return (
            f"folder {path} holds no CIF, POSCAR/CONTCAR, .vasp, .poscar or .json file (searched recursively); "
            "put the structure files there or pass them by name"
        )
    return None


def structure_files_in(folder: Path) -> list[Path]:
    """Structure files under a folder, recursively, in sorted order (unreadable subfolders are logged, skipped)."""
    found: list[Path] = []
    for root, _, names in os.walk(folder, onerror=lambda error: log.warning("skipping %s", error)):
        found.extend(Path(root) / name for name in names if is_structure_file(Path(root) / name))
    return sorted(path for path in found if path.is_file())


def read_candidates(paths: Sequence[str | Path]) -> list[Candidate]:
    """Read candidate structures from files and folders (searched recursively, in sorted order).

    Files: *.cif, POSCAR/CONTCAR (any suffix), *.vasp, *.poscar, *.json (pymatgen `Structure.as_dict()`).
    Inside folders, other files are skipped; a file named explicitly with another type becomes a Candidate with
    an error. Raises FileNotFoundError, before reading anything, when a path does not exist or is a folder
    without any structure file (the message names it).
    """
    resolved = [Path(path) for path in paths]
    problems = [problem for path in resolved if (problem := candidate_path_problem(path))]
    if problems:
        raise FileNotFoundError("; ".join(problems))
    candidates: list[Candidate] = []
    for path in resolved:
        for file in structure_files_in(path) if path.is_dir() else [path]:
            candidates.extend(read_structure_file(file))
    return candidates


def read_structure_file(path: Path) -> list[Candidate]:
    """Candidates of one file: one per structure (a CIF may hold several blocks: one record each, a block that
    gives no structure carrying its reason), or one carrying the file's error. Never raises."""
    source = str(path)
    if not is_structure_file(path):
        return [
            Candidate(
                source,
                None,
                f"unsupported file type {path.name!r}: use .cif, POSCAR/CONTCAR, .vasp, .poscar or pymatgen .json",
            )
        ]
    kind = _kind(path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            text = read_structure_text(path)
            if kind == "CIF":
                records = [(r.structure, r.error) for r in read_cif_blocks(text)]
            elif kind == "POSCAR":
                records = [(structure, None) for structure in read_poscar(path, text)]
            else:
                records = [(read_structure_json(text), None)]
    except StructureFileError as error:
        return [Candidate(source, None, f"{kind} file {path.name}: {error}")]
    except Exception as error:  # a parser failure no check foresaw is still a property of this one file
        return [Candidate(source, None, f"unparsable {kind} file {path.name}: {_one_line(error)}")]
    for warning in caught:
        log.info("%s: %s", path, _one_line(warning.message))
    sources = [source] if len(records) == 1 else [f"{source}#{n}" for n in range(1, len(records) + 1)]
    return [
        Candidate(name, None, f"{kind} file {path.name}: {error}")
        if structure is None
        else Candidate(name, _inside_cell(structure, name))
        for name, (structure, error) in zip(sources, records, strict=True)
    ]


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in CIF_SUFFIXES:
        return "CIF"
    return "pymatgen JSON" if suffix in JSON_SUFFIXES else "POSCAR"


def _inside_cell(structure: Structure, source: str) -> Structure:
    """The structure with its sites wrapped into the cell (the same crystal), saying so when any was outside."""
    frac = structure.frac_coords
    if not np.isfinite(frac).all() or np.abs(frac).max() > MAX_FRACTIONAL_COORDINATE:
        return structure  # validation refuses it, naming the site
    wrapped = wrapped_structure(structure)
    if wrapped is not structure:
        outside = np.abs(np.floor(structure.frac_coords)).max()
        log.warning(
            "%s: fractional coordinates up to %g cells outside the cell, wrapped into it", source, outside
        )
    return wrapped


def _one_line(message: object) -> str:
    """The first line of an error or warning message, trimmed to 200 characters."""
    text = str(message).strip()
    first = text.splitlines()[0] if text else type(message).__name__
    return first[:200]
