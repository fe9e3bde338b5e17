"""The fault suite's fixtures: a tally of every bad input and fault tried, printed at the end of the session.

Each test records what it tried (`tally.input(...)`, `tally.fault(...)`) and asserts on it too; the summary says
inputs tried / refused clearly / tracebacks / good work lost, and faults survived / lost.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

RELIABILITY_HOME = Path(tempfile.mkdtemp(prefix="qcflow-reliability-home-"))
os.environ.setdefault("QCFLOW_HOME", str(RELIABILITY_HOME))
os.environ.setdefault("QCFLOW_PROGRESS_BAR", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# A loaded machine must not fail a test at start-up: Prefect's 20 s default did (issue 16).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


@dataclass
class Tally:
    """What the suite tried and how each attempt ended."""

    inputs: list[tuple[str, bool, bool, bool]] = field(default_factory=list)  # name, clear, traceback, lost
    faults: list[tuple[str, bool]] = field(default_factory=list)  # name, survived

    def input(self, name: str, *, clear: bool, traceback: bool = False, lost: bool = False) -> None:
        self.inputs.append((name, clear, traceback, lost))

    def fault(self, name: str, *, survived: bool) -> None:
        self.faults.append((name, survived))

    def lines(self) -> list[str]:
        clear = sum(c for _, c, _, _ in self.inputs)
        tracebacks = sum(t for _, _, t, _ in self.inputs)
        lost = sum(lo for _, _, _, lo in self.inputs)
        survived = sum(s for _, s in self.faults)
        lines = [
            f"inputs tried {len(self.inputs)} / refused clearly {clear} / tracebacks {tracebacks} / good work lost {lost}",
            f"faults tried {len(self.faults)} / survived {survived} / lost {len(self.faults) - survived}",
        ]
        lines += [f"  unclear input: {n}" for n, c, _, _ in self.inputs if not c]
        lines += [f"  fault lost: {n}" for n, s in self.faults if not s]
        return lines


TALLY = Tally()


@pytest.fixture(scope="session")
def tally() -> Tally:
    return TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY.inputs or TALLY.faults:
        terminalreporter.section("qcflow reliability tally")
        for line in TALLY.lines():
            terminalreporter.write_line(line)
