"""Shared test fixtures: tiny real inputs, no mocks.

Loaded for every test, the domain tests too, so it imports nothing from Prefect at module level: the Prefect API
fixture imports Prefect when a flow test asks for it (tests/test_layers.py checks both). It stays here, not in
tests/workflows/ or tests/reliability/, because both use it and one harness per session is the limit."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

# A Prefect home of the session's own, set before Prefect is imported: the test harness's server subprocess does not
# inherit the harness's temporary database setting here, so without this it opened ~/.prefect/prefect.db, shared by
# every test session on the machine (a QPU slot leaked by a killed run elsewhere then blocked this run's QPU tests).
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="qcflow-test-prefect-"))


def _rocksalt(cation: str, anion: str, a: float) -> Structure:
    """Conventional rocksalt (B1) cell, 8 atoms, lattice constant a in Å."""
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]])


@pytest.fixture
def make_rocksalt() -> Callable[[str, str, float], Structure]:
    """Builder of conventional rocksalt cells: make_rocksalt("Na", "Cl", 5.64)."""
    return _rocksalt


@pytest.fixture
def rocksalt_mgo() -> Structure:
    """MgO rocksalt, 8 atoms, a = 4.212 Å (experimental; Wyckoff, Crystal Structures, vol. 1, 1963)."""
    return _rocksalt("Mg", "O", 4.212)


@pytest.fixture(scope="session")
def qcflow_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A per-session cache folder, so tests never write to ~/.cache/qcflow."""
    return tmp_path_factory.mktemp("qcflow-cache")


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """A real, temporary Prefect API (prefect_test_harness: a server on SQLite), one for the whole session: a second
    harness in the same process left threads and the main thread on different servers, so a QPU slot taken on one
    was waited for on the other."""
    from prefect.testing.utilities import prefect_test_harness

    startup = int(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180"))
    with prefect_test_harness(server_startup_timeout=startup):
        yield
