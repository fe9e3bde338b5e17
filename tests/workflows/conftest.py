"""Settings for flow tests (the Prefect API fixture, `prefect_api`, is in tests/conftest.py: one per session)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

QCFLOW_TEST_HOME = Path(tempfile.mkdtemp(prefix="qcflow-test-home-"))
os.environ.setdefault("QCFLOW_HOME", str(QCFLOW_TEST_HOME))
os.environ.setdefault("QCFLOW_PROGRESS_BAR", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# A loaded machine must not fail a test at start-up (Prefect's 20 s default did, in test_resume.py): flows run in
# this process and `qcflow` processes the tests start wait this long (s) for their embedded Prefect server.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
