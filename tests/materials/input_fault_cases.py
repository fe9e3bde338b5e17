"""Bad and unusual candidate files, generated from two good structures, with what a clear refusal must name.

Each case is a file (name, bytes) and the words its record must contain: a refusal names the file and the field
("line 7", "_cell_length_a", "sites[0].abc", ...). A case whose `refused` is False is handled, not refused: the
file is read as the crystal it describes (e.g. coordinates far outside the cell, wrapped into it).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter
from pymatgen.io.vasp import Poscar

# MgO rocksalt, a = 4.212 Å (Wyckoff, Crystal Structures, vol. 1, 1963); fcc argon, a = 5.26 Å at 4 K (Kittel,
# Introduction to Solid State Physics, 8th ed., table 1.3).
MGO = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.212), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
ARGON = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.26), ["Ar"], [[0, 0, 0]])
POSCAR = Poscar(MGO).get_str()  # lines 1 comment, 2 scale, 3-5 lattice, 6 names, 7 counts, 8 mode, 9-16 atoms
CIF = str(CifWriter(MGO))
JSON = MGO.as_dict()


@dataclass(frozen=True)
class Case:
    """One input file and what its record must say."""

    name: str  # case id
    filename: str
    content: bytes
    expect: tuple[str, ...]  # words the refusal must contain (case-sensitive), or of a handled case's formula
    refused: bool = True


def _replace_line(text: str, number: int, line: str) -> str:
    lines = text.split("\n")
    lines[number - 1] = line
    return "\n".join(lines)


def _poscar(name: str, text: str, *expect: str, refused: bool = True) -> Case:
    return Case(f"poscar-{name}", "POSCAR_" + name, text.encode(), expect, refused)


def poscar_cases() -> list[Case]:
    lines = POSCAR.split("\n")
    cases = [
        _poscar("counts-too-many", _replace_line(POSCAR, 7, "4 5"), "line 7", "9 atom", "8 coordinate line"),
        _poscar("counts-too-few", _replace_line(POSCAR, 7, "4 3"), "7 atom", "8 coordinate line"),
        _poscar("counts-huge", _replace_line(POSCAR, 7, "4 1000000000"), "1000000004 atom"),
        _poscar("count-zero", _replace_line(POSCAR, 7, "4 0"), "line 7 (counts)", "'0'"),
        _poscar("count-negative", _replace_line(POSCAR, 7, "4 -4"), "line 7 (counts)", "'-4'"),
        _poscar("names-vs-counts", _replace_line(POSCAR, 7, "4 4 1"), "2 element(s)", "3 count(s)"),
        _poscar("unknown-element", _replace_line(POSCAR, 6, "Mg Xx"), "line 6", "'Xx'", "not an element"),
        _poscar("scale-word", _replace_line(POSCAR, 2, "one"), "line 2 (scale)", "'one'"),
        _poscar("scale-zero", _replace_line(POSCAR, 2, "0.0"), "line 2 (scale) is 0"),
        _poscar("scale-nan", _replace_line(POSCAR, 2, "nan"), "line 2 (scale)", "'nan'", "finite"),
        _poscar("scale-three", _replace_line(POSCAR, 2, "1.0 1.0 1.0"), "line 2 (scale)", "per-axis"),
        _poscar("lattice-nan", _replace_line(POSCAR, 3, "nan 0 0"), "line 3 (lattice vector 1)", "'nan'"),
        _poscar("lattice-word", _replace_line(POSCAR, 4, "0 four 0"), "line 4 (lattice vector 2)", "'four'"),
        _poscar(
            "lattice-short", _replace_line(POSCAR, 5, "0 0"), "line 5 (lattice vector 3)", "three numbers"
        ),
        _poscar("lattice-zero", POSCAR.replace("4.2119999999999997", "0.0"), "cell volume", "coplanar"),
        _poscar("lattice-coplanar", _replace_line(POSCAR, 5, "4.212 4.212 0"), "cell volume", "coplanar"),
        _poscar("lattice-huge", _replace_line(POSCAR, 2, "10000"), "lattice vector a", "Å long"),
        _poscar("scale-tiny", _replace_line(POSCAR, 2, "0.1"), "overlap"),
        _poscar("coordinate-nan", _replace_line(POSCAR, 9, "nan 0 0"), "line 9", "atom 1", "'nan'"),
        _poscar("coordinate-inf", _replace_line(POSCAR, 12, "0 inf 0"), "line 12", "atom 4", "'inf'"),
        _poscar("coordinate-word", _replace_line(POSCAR, 16, "0.5 zero 0"), "line 16", "atom 8"),
        _poscar("coordinate-short", _replace_line(POSCAR, 13, "0.5 0.5"), "line 13", "three numbers"),
        _poscar("coordinate-1e12", _replace_line(POSCAR, 13, "1e12 0.5 0.5"), "site 4", "cells out"),
        _poscar("mode-missing", "\n".join(lines[:7] + lines[8:]), "line 8", "coordinate mode"),
        _poscar(
            "vasp4-no-names",
            "\n".join([*lines[:5], "4 4", "Direct", *[ln.rsplit(" ", 1)[0] for ln in lines[8:16]]]),
            "VASP 4",
        ),
        _poscar("cartesian-as-direct", POSCAR.replace("0.5000000000000000", "2.1060000000000000"), "overlap"),
        _poscar("same-atom-twice", _replace_line(POSCAR, 10, lines[8]), "atoms overlap", "site 0"),
        _poscar("noble-gas", Poscar(ARGON).get_str(), "Ar", "noble gas"),
        _poscar("supercell-216", Poscar(MGO * (3, 3, 3)).get_str(), "216 sites", "more than the 200"),
        _poscar("coordinate-1e3", _replace_line(POSCAR, 13, "1000.5 0.5 0.5"), "MgO", refused=False),
        _poscar("coordinate-1e6", _replace_line(POSCAR, 13, "1000000.5 0.5 0.5"), "MgO", refused=False),
        _poscar("coordinate-negative", _replace_line(POSCAR, 13, "-3.5 0.5 0.5"), "MgO", refused=False),
        _poscar("crlf", POSCAR.replace("\n", "\r\n"), "MgO", refused=False),
        _poscar(
            "vasp6-potcar-names", _replace_line(POSCAR, 6, "Mg_pv/f474ac0d O/79d99"), "MgO", refused=False
        ),
    ]
    selective = Poscar(MGO, selective_dynamics=[[True, True, False]] * len(MGO)).get_str()
    cartesian = Poscar(MGO).get_str(direct=False)
    volume = f"{-MGO.volume:.6f}"
    cases += [
        _poscar("selective-dynamics", selective, "MgO", refused=False),
        _poscar("cartesian", cartesian, "MgO", refused=False),
        _poscar("negative-scale-is-volume", _replace_line(POSCAR, 2, volume), "MgO", refused=False),
        _poscar("velocities-block", POSCAR.rstrip() + "\n\n" + "0.0 0.0 0.0\n" * 8, "MgO", refused=False),
    ]
    for keep in (1, 3, 5, 6, 7, 8, 10, 12, 15):  # truncated after `keep` lines
        cases.append(_poscar(f"truncated-{keep}", "\n".join(lines[:keep]), "line"))
    return cases


def _cif(name: str, text: str, *expect: str, refused: bool = True) -> Case:
    return Case(f"cif-{name}", f"{name}.cif", text.encode(), expect, refused)


def _cell(field: str, value: str) -> str:
    return "\n".join(
        f"{field}   {value}" if line.startswith(field + " ") else line for line in CIF.split("\n")
    )


def cif_cases() -> list[Case]:
    lines = CIF.split("\n")
    cases = [
        _cif("length-negative", _cell("_cell_length_a", "-4.212"), "_cell_length_a", "-4.212", "positive"),
        _cif("length-zero", _cell("_cell_length_b", "0"), "_cell_length_b", "positive"),
        _cif("length-nan", _cell("_cell_length_c", "nan"), "_cell_length_c", "'nan'"),
        _cif("length-unknown", _cell("_cell_length_a", "?"), "_cell_length_a", "'?'"),
        _cif("length-word", _cell("_cell_length_b", "four"), "_cell_length_b", "'four'"),
        _cif("length-uncertainty", _cell("_cell_length_a", "4.212(3)"), "MgO", refused=False),
        _cif(
            "length-huge",
            _cell("_cell_length_a", "1e5")
            .replace("_cell_length_b   4.21200000", "_cell_length_b   1e5")
            .replace("_cell_length_c   4.21200000", "_cell_length_c   1e5"),
            "lattice vector",
            "Å long",
        ),
        _cif("angle-zero", _cell("_cell_angle_alpha", "0"), "_cell_angle_alpha", "between 0 and 180"),
        _cif("angle-180", _cell("_cell_angle_beta", "180"), "_cell_angle_beta", "between 0 and 180"),
        _cif("angle-200", _cell("_cell_angle_gamma", "200"), "_cell_angle_gamma", "200"),
        _cif("angle-negative", _cell("_cell_angle_gamma", "-90"), "_cell_angle_gamma", "-90"),
        _cif(
            "angles-sum-360",
            _cell("_cell_angle_alpha", "120")
            .replace("_cell_angle_beta   90.00000000", "_cell_angle_beta   120")
            .replace("_cell_angle_gamma   90.00000000", "_cell_angle_gamma   120"),
            "close no cell",
            "120/120/120",
        ),
        _cif(
            "angles-triangle",
            _cell("_cell_angle_alpha", "10").replace(
                "_cell_angle_beta   90.00000000", "_cell_angle_beta   10"
            ),
            "close no cell",
        ),
        _cif(
            "length-missing",
            "\n".join(line for line in lines if not line.startswith("_cell_length_c")),
            "lacks _cell_length_c",
        ),
        _cif("no-data-line", CIF.replace("data_MgO", "MgO"), "no 'data_' line"),
        _cif(
            "formula-mismatch", CIF.replace("'Mg4 O4'", "'Mg4 O8'"), "does not match", "_chemical_formula_sum"
        ),
        _cif(
            "unknown-element", CIF.replace("  O  O", "  Xx  Xx"), "block 1", "'Xx'", "_atom_site_type_symbol"
        ),
        _cif(
            "coordinate-nan",
            CIF.replace("0.50000000  0.50000000  0.50000000", "nan  0.5  0.5"),
            "_atom_site_fract_x of atom site 5",
            "'nan'",
        ),
        _cif("too-many-rows", str(CifWriter(MGO * (4, 4, 4))), "_atom_site_ loop lists 512 sites"),
        _cif("noble-gas", str(CifWriter(ARGON)), "Ar", "noble gas"),
        _cif(
            "same-atom-twice",
            CIF.replace(
                "Mg1  1  0.50000000  0.50000000  0.00000000", "Mg1  1  0.00000000  0.00000000  0.00000000"
            ),
            "block 1",
        ),
    ]
    abstract = "_publ_section_abstract\n;\ndata_not_a_block, inside a text field\n;\n"
    text_field = CIF.replace("data_MgO\n", "data_MgO\n" + abstract)
    cases += [
        _cif("symmetrized", str(CifWriter(MGO, symprec=0.01)), "MgO", refused=False),
        _cif("data-inside-text-field", text_field, "MgO", refused=False),
    ]
    for fraction in (0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95):  # truncated at a fraction of its characters
        cases.append(_cif(f"truncated-{fraction}", CIF[: int(len(CIF) * fraction)], "block 1"))
    return cases


def _json(name: str, data: object, *expect: str, refused: bool = True) -> Case:
    text = data if isinstance(data, str) else json.dumps(data)
    return Case(f"json-{name}", f"{name}.json", text.encode(), expect, refused)


def _with(path: tuple[object, ...], value: object) -> dict:
    data = json.loads(json.dumps(JSON))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def json_cases() -> list[Case]:
    return [
        _json("not-json", "{'lattice': 1}", "not valid JSON"),
        _json("a-list", [JSON, JSON], "expected one pymatgen Structure", "found list"),
        _json("no-sites", {"lattice": JSON["lattice"]}, "'sites'"),
        _json("matrix-2x3", _with(("lattice", "matrix"), [[1, 0, 0], [0, 1, 0]]), "lattice.matrix"),
        _json(
            "matrix-nan", _with(("lattice", "matrix", 0, 0), float("nan")), "lattice.matrix[0][0]", "finite"
        ),
        _json("matrix-string", _with(("lattice", "matrix", 1, 1), "4.2"), "lattice.matrix[1][1]"),
        _json("sites-dict", _with(("sites",), {"a": 1}), "'sites' is dict"),
        _json(
            "site-no-coords",
            _with(("sites", 0), {"species": [{"element": "Mg", "occu": 1}]}),
            "sites[0]",
            "'abc'",
        ),
        _json("site-abc-short", _with(("sites", 2, "abc"), [0.5, 0.5]), "sites[2].abc"),
        _json("site-abc-nan", _with(("sites", 3, "abc", 1), float("nan")), "sites[3].abc[1]"),
        _json("site-no-species", _with(("sites", 1, "species"), []), "sites[1].species"),
        _json(
            "unknown-element",
            _with(("sites", 4, "species", 0, "element"), "Xx"),
            "sites[4].species[0].element",
            "'Xx'",
        ),
        _json("occupancy-two", _with(("sites", 5, "species", 0, "occu"), 2), "sites[5].species[0].occu"),
        _json(
            "partial-occupancy", _with(("sites", 5, "species", 0, "occu"), 0.5), "site 5", "partial occupancy"
        ),
        _json("no-atoms", _with(("sites",), []), "'sites' is empty", "no atoms"),
        _json("deep-nesting", "[" * 100_000 + "]" * 100_000, "not valid JSON"),
        _json("noble-gas", ARGON.as_dict(), "Ar", "noble gas"),
        _json("coordinate-1e6", _with(("sites", 6, "abc", 0), 1e6), "MgO", refused=False),
    ]


def file_level_cases() -> list[Case]:
    garbage = os.urandom(2048)
    return [
        Case("empty-cif", "empty.cif", b"", ("empty",)),
        Case("empty-poscar", "POSCAR_empty", b"", ("empty",)),
        Case("whitespace-json", "blank.json", b"  \n\n \t\n", ("empty",)),
        Case("binary-cif", "binary.cif", b"\x00" + garbage, ("binary", "NUL")),
        Case("binary-poscar", "POSCAR_binary", garbage[:100] + b"\x00" + garbage, ("binary",)),
        Case(
            "latin1-poscar",
            "POSCAR_latin1",
            ("Mg4 O4 \u00e9t\u00e9" + POSCAR[5:]).encode("latin-1"),
            ("not UTF-8", "0xe9"),
        ),
        Case("latin1-cif", "latin1.cif", ("# caf\u00e9\n" + CIF).encode("latin-1"), ("not UTF-8",)),
        Case("utf16-json", "utf16.json", json.dumps(JSON).encode("utf-16"), ("binary",)),
        Case("gzip-as-cif", "compressed.cif", b"\x1f\x8b\x08\x00" + garbage, ("binary",)),
        Case("utf8-bom-cif", "bom.cif", ("\ufeff" + CIF).encode("utf-8"), ("MgO",), refused=False),
    ]


def all_cases() -> list[Case]:
    return poscar_cases() + cif_cases() + json_cases() + file_level_cases()
