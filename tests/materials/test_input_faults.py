"""Bad candidate files beside good ones: each bad one is refused with a message naming the file and the field (or
handled as the crystal it describes), none raises, and the good ones beside it are kept.

`.venv/bin/pytest -q -s tests/materials/test_input_faults.py` prints the tally: inputs tried / refused clearly /
tracebacks / good work lost.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from input_fault_cases import ARGON, CIF, Case, all_cases
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Poscar

from materials.structures import candidate_path_problem, read_candidates
from materials.surrogate import CHGNET_ELEMENTS
from materials.validation import duplicate_problems, validate_structure

CASES = all_cases()
# NaCl and LiF rocksalt, a = 5.64 and 4.03 Å (Wyckoff, Crystal Structures, vol. 1, 1963): good candidates beside
# every bad one.
NACL = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
LIF = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.03), ["Li", "F"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def screen(paths: list[Path]) -> dict[str, tuple[str | None, str | None]]:
    """Source -> (formula, problem) of every record, as the screening's load-and-validate step makes them. A
    reader's refusal names the file itself; a validation problem is about the structure of the record's source."""
    candidates = read_candidates(paths)
    problems = [c.error or validate_structure(c.structure, CHGNET_ELEMENTS) for c in candidates]
    for candidate in candidates:
        if candidate.error is not None:
            assert Path(candidate.source.split("#")[0]).name in candidate.error, candidate.error
    repeats = duplicate_problems(
        [c.structure if p is None else None for c, p in zip(candidates, problems, strict=True)],
        [c.source for c in candidates],
    )
    return {c.source: (c.formula, p or r) for c, p, r in zip(candidates, problems, repeats, strict=True)}


def try_case(case: Case, folder: Path) -> dict[str, object]:
    """Screen the case's file in a folder with two good candidates; what happened, for the tally."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "good_nacl.json").write_text(NACL.to_json())
    Poscar(LIF).write_file(folder / "POSCAR_good")
    bad = folder / case.filename
    bad.write_bytes(case.content)
    try:
        records = screen([folder])
    except Exception:  # the outcome under test: a traceback is counted, not raised
        return {"traceback": traceback.format_exc(), "clear": False, "lost": 2, "records": {}}
    mine = {source: record for source, record in records.items() if source.startswith(str(bad))}
    goods = [records.get(str(folder / name)) for name in ("good_nacl.json", "POSCAR_good")]
    lost = sum(good is None or good[1] is not None for good in goods)
    messages = [problem or "" for _, problem in mine.values()]
    if case.refused:
        clear = bool(mine) and all(messages) and all(any(word in m for m in messages) for word in case.expect)
    else:
        clear = bool(mine) and all(p is None and f in case.expect for f, p in mine.values())
    return {"traceback": None, "clear": clear, "lost": lost, "records": mine}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_is_refused_clearly_and_good_work_kept(case: Case, tmp_path: Path) -> None:
    outcome = try_case(case, tmp_path / "inputs")
    assert outcome["traceback"] is None, outcome["traceback"]
    assert outcome["lost"] == 0, f"good candidates lost beside {case.name}"
    assert outcome["clear"], f"{case.name}: expected {case.expect} in {outcome['records']}"


def test_tally(tmp_path: Path) -> None:
    """The figures of the whole set at once (printed with -s)."""
    outcomes = [try_case(case, tmp_path / case.name) for case in CASES]
    refused = sum(o["clear"] for o, c in zip(outcomes, CASES, strict=True) if c.refused)
    handled = sum(o["clear"] for o, c in zip(outcomes, CASES, strict=True) if not c.refused)
    tracebacks = sum(o["traceback"] is not None for o in outcomes)
    lost = sum(o["lost"] for o in outcomes)
    print(
        f"\nmaterials input faults: {len(CASES)} bad or unusual inputs tried, {refused} refused clearly, "
        f"{handled} handled as the crystal they describe, {tracebacks} tracebacks, {lost} good candidates lost"
    )
    assert len(CASES) >= 60
    assert (refused + handled, tracebacks, lost) == (len(CASES), 0, 0)


def test_every_block_of_a_multi_block_cif_gets_a_record(tmp_path: Path) -> None:
    broken = CIF.replace("data_MgO", "data_broken").replace(
        "_cell_length_a   4.21200000", "_cell_length_a   -1"
    )
    metadata = "data_global\n_publ_section_title 'a paper'\n"
    path = tmp_path / "many.cif"
    path.write_text("\n".join([metadata, CIF, broken, CIF, CIF.replace("data_MgO", "data_")]))
    records = screen([path])
    assert list(records) == [f"{path}#{n}" for n in range(1, 6)]
    problems = [problem for _, problem in records.values()]
    assert "block 1 (data_global)" in problems[0] and "no cell and no atom sites" in problems[0]
    assert problems[1] is None
    assert "block 3 (data_broken)" in problems[2] and "_cell_length_a is -1" in problems[2]
    assert f"the same structure as {path}#2" in problems[3]  # a repeated block (same name) is a repeat
    assert f"the same structure as {path}#2" in problems[4]


@pytest.mark.parametrize("layout", ["empty", "only-notes", "nested-empty"])
def test_folder_without_structure_files_is_an_error_naming_it(layout: str, tmp_path: Path) -> None:
    folder = tmp_path / "inputs"
    folder.mkdir()
    if layout == "only-notes":
        (folder / "notes.txt").write_text("no structures here")
    if layout == "nested-empty":
        (folder / "a" / "b").mkdir(parents=True)
    assert str(folder) in candidate_path_problem(folder)
    with pytest.raises(FileNotFoundError, match="holds no CIF"):
        read_candidates([folder])


def test_noble_gases_are_refused_with_the_reason() -> None:
    for symbol in ("He", "Ne", "Ar", "Kr", "Xe"):
        solid = ARGON.copy()
        solid.replace_species({"Ar": symbol})
        problem = validate_structure(solid, CHGNET_ELEMENTS)
        assert symbol in problem and "noble gas" in problem and "dispersion" in problem
    compound = Structure(Lattice.cubic(6.0), ["Xe", "F", "F"], [[0, 0, 0], [0, 0, 0.33], [0, 0, 0.67]])
    assert "Xe" in validate_structure(compound, CHGNET_ELEMENTS)
