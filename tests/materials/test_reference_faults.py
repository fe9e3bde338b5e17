"""The elemental-reference cache and the plausibility of energies under faults: wrong-shaped, corrupt and
implausible cache files, an unwritable cache folder, noble gases, a run killed during the references, and
surrogate energies outside any real material's range."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pymatgen.core import Composition

from materials.reference_cache import read_reference_cache, write_reference_entry
from materials.stability import assess_stability, elemental_reference_energies, elemental_references
from materials.surrogate import load_surrogate

GOOD = {"energy_per_atom": -1.9, "structure": "bcc", "converged": True}
# (case, file bytes, valid entries left): each bad file is set aside and its valid entries kept.
CACHE_FAULTS = [
    ("empty", b"", {}),
    ("binary", b"\x00\x01\xfe garbage", {}),
    ("truncated", json.dumps({"Li": GOOD, "Na": GOOD}).encode()[:25], {}),
    ("an-int", b"5", {}),
    ("a-list", b"[1, 2]", {}),
    ("null", b"null", {}),
    ("a-string", b'"references"', {}),
    ("latin1", '{"Li": "\u00e9"}'.encode("latin-1"), {}),
    ("huge", b" " * (2**20 + 1) + b"{}", {}),
    ("entry-int", json.dumps({"Li": GOOD, "F": 5}).encode(), {"Li": GOOD}),
    ("entry-list", json.dumps({"Li": GOOD, "F": [-1.9]}).encode(), {"Li": GOOD}),
    (
        "energy-string",
        json.dumps({"Li": GOOD, "F": {**GOOD, "energy_per_atom": "-1.9"}}).encode(),
        {"Li": GOOD},
    ),
    (
        "energy-nan",
        json.dumps({"Li": GOOD, "F": {**GOOD, "energy_per_atom": math.nan}}).encode(),
        {"Li": GOOD},
    ),
    ("energy-bool", json.dumps({"Li": GOOD, "F": {**GOOD, "energy_per_atom": True}}).encode(), {"Li": GOOD}),
    ("energy-missing", json.dumps({"Li": GOOD, "F": {"structure": "F2"}}).encode(), {"Li": GOOD}),
    (
        "energy-too-low",
        json.dumps({"Li": GOOD, "F": {**GOOD, "energy_per_atom": -123.0}}).encode(),
        {"Li": GOOD},
    ),
    (
        "argon-positive",
        json.dumps({"Li": GOOD, "Ar": {**GOOD, "energy_per_atom": 7.75}}).encode(),
        {"Li": GOOD},
    ),
    ("not-an-element", json.dumps({"Li": GOOD, "Xx": GOOD}).encode(), {"Li": GOOD}),
    ("structure-number", json.dumps({"Li": GOOD, "F": {**GOOD, "structure": 5}}).encode(), {"Li": GOOD}),
    ("converged-text", json.dumps({"Li": GOOD, "F": {**GOOD, "converged": "yes"}}).encode(), {"Li": GOOD}),
]


@pytest.mark.parametrize(("case", "content", "kept"), CACHE_FAULTS, ids=[c[0] for c in CACHE_FAULTS])
def test_bad_cache_is_set_aside_named_and_rebuilt(
    case: str, content: bytes, kept: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "references.json"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="materials.reference_cache"):
        assert read_reference_cache(path) == kept
    (aside,) = tmp_path.glob("references.json.corrupt-*")
    assert aside.read_bytes() == content  # nothing destroyed
    assert str(path) in caplog.text and str(aside) in caplog.text
    if kept:
        assert json.loads(path.read_text()) == kept  # the valid entries stay in place
    else:
        assert not path.exists()
    assert read_reference_cache(path) == kept  # the rebuilt file reads clean, with no new warning
    assert len(list(tmp_path.glob("references.json.corrupt-*"))) == 1


def test_entries_are_merged_one_by_one_atomically(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "references.json"
    write_reference_entry(path, "Li", GOOD)
    write_reference_entry(path, "Na", {**GOOD, "energy_per_atom": -1.3})
    assert set(json.loads(path.read_text())) == {"Li", "Na"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["references.json", "references.json.lock"]


_CONCURRENT_WRITER = """
import sys
from pathlib import Path
from pymatgen.core import Element
from materials.reference_cache import write_reference_entry
first = int(sys.argv[2])
for z in range(first, 61, 3):  # each writer its own 20 elements, each written once
    write_reference_entry(Path(sys.argv[1]), Element.from_Z(z).symbol, {"energy_per_atom": -1.0, "structure": "bcc"})
"""


def test_three_writers_at_once_keep_every_element(tmp_path: Path) -> None:
    # Without the merge lock, one trial here kept 23 of the 60 elements (read-merge-replace races).
    path = tmp_path / "references.json"
    root = Path(__file__).resolve().parents[2]
    writers = [
        subprocess.Popen([sys.executable, "-c", _CONCURRENT_WRITER, str(path), str(first)], cwd=root)
        for first in (1, 2, 3)
    ]
    assert [writer.wait() for writer in writers] == [0, 0, 0]
    assert len(read_reference_cache(path)) == 60
    assert not list(tmp_path.glob("*.corrupt-*")) and not list(tmp_path.glob("*.tmp"))


def test_unwritable_cache_costs_a_warning_not_the_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="materials.reference_cache"):
        write_reference_entry(blocker / "references.json", "Li", GOOD)
    assert "could not save the reference of Li" in caplog.text and str(blocker) in caplog.text


@pytest.fixture(scope="module")
def chgnet():
    return load_surrogate("chgnet")


def test_wrong_shaped_cache_is_rebuilt_by_the_references(
    chgnet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = elemental_reference_energies(["F"], chgnet, cache_dir=tmp_path)
    (cache_file,) = (tmp_path / "elemental_references").glob("*.json")
    cache_file.write_text("5")  # "'int' object is not subscriptable" in every screening before
    with caplog.at_level(logging.WARNING, logger="materials.reference_cache"):
        again = elemental_reference_energies(["F"], chgnet, cache_dir=tmp_path)
    assert again["F"] == pytest.approx(first["F"], abs=1e-6)
    assert str(cache_file) in caplog.text and ".corrupt-" in caplog.text
    assert set(json.loads(cache_file.read_text())) == {"F"}


def test_implausible_cached_reference_is_recomputed(chgnet, tmp_path: Path) -> None:
    first = elemental_reference_energies(["F"], chgnet, cache_dir=tmp_path)
    (cache_file,) = (tmp_path / "elemental_references").glob("*.json")
    stored = json.loads(cache_file.read_text())
    stored["F"]["energy_per_atom"] = -123.0
    cache_file.write_text(json.dumps(stored))
    assert elemental_reference_energies(["F"], chgnet, cache_dir=tmp_path)["F"] == pytest.approx(first["F"])


@pytest.mark.parametrize("gas", ["He", "Ne", "Ar", "Kr", "Xe"])
def test_noble_gas_references_are_refused_before_any_surrogate_call(chgnet, gas: str, tmp_path: Path) -> None:
    references = elemental_references([gas], chgnet, cache_dir=tmp_path)
    assert references.energies == {} and "noble gas" in references.problems[gas]
    assert not (tmp_path / "elemental_references").exists()  # nothing computed, nothing cached
    with pytest.raises(ValueError, match=f"no reference for {gas}"):
        elemental_reference_energies([gas, "F"], chgnet, cache_dir=tmp_path)


_KILLED_RUN = """
import sys
from materials.stability import elemental_reference_energies
from materials.surrogate import load_surrogate
elemental_reference_energies(["F", "Li", "Na", "K"], load_surrogate("chgnet"), cache_dir=sys.argv[1])
"""


@pytest.mark.slow
def test_run_killed_during_references_keeps_each_finished_element(chgnet, tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_RUN, str(tmp_path)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    folder = tmp_path / "elemental_references"
    try:
        deadline = time.monotonic() + 600  # a guard against a hung child, not a timing assertion
        while time.monotonic() < deadline and child.poll() is None:
            files = list(folder.glob("*.json")) if folder.exists() else []
            if files and "F" in read_reference_cache(files[0]):
                break
            time.sleep(0.2)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)  # as the OOM killer does
        child.wait()
    (cache_file,) = folder.glob("*.json")
    stored = json.loads(cache_file.read_text())
    assert "F" in stored
    stored["F"][
        "energy_per_atom"
    ] = -7.123  # plausible, and no relaxation gives it: proves F is not recomputed
    cache_file.write_text(json.dumps(stored))
    assert elemental_references(["F"], chgnet, cache_dir=tmp_path).energies == {"F": -7.123}


def test_argon_with_a_positive_reference_is_flagged_and_kept_off_the_hull() -> None:
    # The reported case: solid Ar's CHGNet reference +7.75 eV/atom (measured), its candidate about 0, so a
    # formation energy of -7.8 eV/atom that topped the shortlist. MgO beside it is unaffected.
    references = {"Ar": 7.75, "Mg": -1.6, "O": -4.9}
    argon, mgo = assess_stability([Composition("Ar4"), Composition("MgO")], [-0.05, -5.9], references)
    assert "reference energy of Ar is 7.75" in argon.problem and argon.energy_above_hull == math.inf
    assert mgo.problem is None and mgo.energy_above_hull == 0.0


@pytest.mark.parametrize(
    ("energy", "words"),
    [
        (-9.0, "formation energy of LiF is -7.5"),  # below the most negative measured (CeF3 -4.49)
        (3.6, "formation energy of LiF is 5.1"),
        (-40.0, "surrogate energy of LiF is -40"),
        (30.0, "surrogate energy of LiF is 30"),
    ],
)
def test_implausible_energies_are_flagged_and_do_not_push_others_off_the_hull(
    energy: float, words: str
) -> None:
    references = {"Li": -2.0, "F": -1.0}  # formation = energy + 1.5 eV/atom
    broken, real = assess_stability([Composition("LiF"), Composition("LiF")], [energy, -4.5], references)
    assert words in broken.problem and broken.energy_above_hull == math.inf
    assert real.problem is None and real.energy_above_hull == 0.0 and real.decomposition == ("LiF",)


def test_most_negative_measured_formation_energy_is_plausible() -> None:
    # CeF3, -4.489 eV/atom in pymatgen's exp_compounds.json.gz, the most negative there.
    (result,) = assess_stability([Composition("CeF3")], [-4.489 - 1.0], {"Ce": -1.0, "F": -1.0})
    assert result.problem is None and result.formation_energy_per_atom == pytest.approx(-4.489)
