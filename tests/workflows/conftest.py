"""Fixtures for flow tests: a real Prefect API (prefect_test_harness: a temporary server on SQLite)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

QCFLOW_TEST_HOME = Path(tempfile.mkdtemp(prefix="qcflow-test-home-"))
os.environ.setdefault("QCFLOW_HOME", str(QCFLOW_TEST_HOME))
os.environ.setdefault("QCFLOW_PROGRESS_BAR", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# A loaded machine must not fail a test at start-up (Prefect's 20 s default did, in test_resume.py): flows run in
# this process and `qcflow` processes the tests start wait this long (s) for their embedded Prefect server.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """A real, temporary Prefect API for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(
        server_startup_timeout=int(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])
    ):
        yield
