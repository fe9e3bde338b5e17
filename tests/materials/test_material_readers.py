"""Reading candidates from CIF, POSCAR and pymatgen JSON files and folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Structure
from pymatgen.io.cif import CifWriter
from pymatgen.io.vasp import Poscar

from materials.structures import Candidate, read_candidates


def _same_structure(a: Structure, b: Structure) -> bool:
    return (
        a.composition == b.composition
        and np.allclose(a.lattice.matrix, b.lattice.matrix, atol=1e-4)
        and np.allclose(a.frac_coords % 1, b.frac_coords % 1, atol=1e-4)
    )


def _write_all_formats(structure: Structure, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"cif": folder / "mgo.cif", "poscar": folder / "POSCAR", "json": folder / "mgo.json"}
    CifWriter(structure).write_file(paths["cif"])
    Poscar(structure).write_file(paths["poscar"])
    paths["json"].write_text(json.dumps(structure.as_dict()))
    return paths


@pytest.mark.parametrize("kind", ["cif", "poscar", "json"])
def test_reads_each_format(kind: str, rocksalt_mgo: Structure, tmp_path: Path) -> None:
    path = _write_all_formats(rocksalt_mgo, tmp_path)[kind]
    (candidate,) = read_candidates([path])
    assert candidate.error is None
    assert candidate.source == str(path)
    assert candidate.formula == "MgO"
    assert _same_structure(candidate.structure, rocksalt_mgo)


def test_vasp_suffix_and_contcar_are_poscars(rocksalt_mgo: Structure, tmp_path: Path) -> None:
    Poscar(rocksalt_mgo).write_file(tmp_path / "mgo.vasp")
    Poscar(rocksalt_mgo).write_file(tmp_path / "CONTCAR_relaxed")
    candidates = read_candidates([tmp_path])
    assert [Path(c.source).name for c in candidates] == ["CONTCAR_relaxed", "mgo.vasp"]
    assert all(c.error is None and c.formula == "MgO" for c in candidates)


def test_folder_is_searched_recursively_in_sorted_order(rocksalt_mgo: Structure, tmp_path: Path) -> None:
    _write_all_formats(rocksalt_mgo, tmp_path / "b" / "deeper")
    CifWriter(rocksalt_mgo).write_file(tmp_path / "a.cif")
    (tmp_path / "notes.txt").write_text("not a structure")
    candidates = read_candidates([tmp_path])
    relative = [str(Path(c.source).relative_to(tmp_path)) for c in candidates]
    assert relative == ["a.cif", "b/deeper/POSCAR", "b/deeper/mgo.cif", "b/deeper/mgo.json"]
    assert all(c.error is None for c in candidates)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("broken.cif", "data_x\n_cell_length_a banana\nthis is not a cif\n", "CIF file broken.cif: block 1"),
        ("POSCAR", "garbage\nnot a number\n", "POSCAR file POSCAR: the file stops after 2 line"),
        ("broken.json", "{not json", "pymatgen JSON file broken.json: not valid JSON"),
        ("list.json", "[1, 2, 3]", "pymatgen JSON file list.json: expected one pymatgen Structure"),
    ],
)
def test_garbage_file_becomes_candidate_with_error(
    name: str, content: str, expected: str, tmp_path: Path
) -> None:
    (tmp_path / name).write_text(content)
    (candidate,) = read_candidates([tmp_path / name])
    assert candidate.structure is None
    assert candidate.error is not None and candidate.error.startswith(expected)


def test_one_bad_file_does_not_stop_the_others(rocksalt_mgo: Structure, tmp_path: Path) -> None:
    CifWriter(rocksalt_mgo).write_file(tmp_path / "good.cif")
    (tmp_path / "bad.cif").write_text("nonsense")
    candidates = read_candidates([tmp_path])
    assert [(Path(c.source).name, c.error is None) for c in candidates] == [
        ("bad.cif", False),
        ("good.cif", True),
    ]


def test_explicit_file_of_unknown_type_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "structure.xyz"
    path.write_text("2\n\nH 0 0 0\nH 0 0 0.74\n")
    (candidate,) = read_candidates([path])
    assert candidate.structure is None
    assert "unsupported file type" in candidate.error and "structure.xyz" in candidate.error


def test_missing_path_raises_before_reading(rocksalt_mgo: Structure, tmp_path: Path) -> None:
    good = _write_all_formats(rocksalt_mgo, tmp_path)["cif"]
    missing = tmp_path / "nowhere" / "absent.cif"
    with pytest.raises(FileNotFoundError, match=r"absent\.cif"):
        read_candidates([good, missing])


def test_cif_with_two_blocks_gives_two_candidates(make_rocksalt, tmp_path: Path) -> None:
    text = (
        str(CifWriter(make_rocksalt("Mg", "O", 4.212)))
        + "\n"
        + str(CifWriter(make_rocksalt("Na", "Cl", 5.64)))
    )
    path = tmp_path / "two.cif"
    path.write_text(text)
    candidates = read_candidates([path])
    assert [c.source for c in candidates] == [f"{path}#1", f"{path}#2"]
    assert [c.formula for c in candidates] == ["MgO", "NaCl"]


def test_candidate_round_trips_through_json(rocksalt_mgo: Structure) -> None:
    candidate = Candidate("bundled:MgO", rocksalt_mgo)
    restored = Candidate.from_dict(json.loads(json.dumps(candidate.as_dict())))
    assert restored.source == candidate.source and restored.error is None
    assert _same_structure(restored.structure, rocksalt_mgo)
    failed = Candidate("x.cif", None, "unparsable CIF: empty")
    assert Candidate.from_dict(json.loads(json.dumps(failed.as_dict()))) == failed
