"""What the broker counts as other programs' demand for the cores: runnable threads, niced ones left out."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from classical.resources import _runnable_threads, busy_cores

SPIN = "while True: pass"
# Starts the spinner and exits at once, so the spinner is no descendant of this test (busy_cores leaves the
# caller's own process tree out).
LAUNCH = (
    "import subprocess, sys; "
    "print(subprocess.Popen([sys.executable, '-c', sys.argv[1]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid)"
)


def _spinner(nice: int) -> psutil.Process:
    """Another program that keeps one core busy, at the given nice increment over ours."""
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCH, SPIN],
        preexec_fn=lambda: os.nice(nice),
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return psutil.Process(int(launched.stdout))


def _runnable_share(pid: int, nice_limit: int, samples: int = 20) -> float:
    """How often the spinner's thread is counted runnable when it is the only process looked at."""
    seen = 0
    for _ in range(samples):
        others = set(psutil.pids()) - {pid}
        seen += _runnable_threads(others, nice_limit)
        time.sleep(0.01)
    return seen / samples


def test_a_spinning_program_is_counted_and_a_niced_one_is_not() -> None:
    ours = os.nice(0)
    if ours >= 19:
        pytest.skip("this test process runs at nice 19: nothing can be niced below it")
    spinner = _spinner(0)
    try:
        time.sleep(0.2)
        assert _runnable_share(spinner.pid, ours) >= 0.5  # running or waiting for a core nearly always
        assert busy_cores() >= 0.5
    finally:
        spinner.kill()
    background = _spinner(19 - ours)
    try:
        time.sleep(0.2)
        assert _runnable_share(background.pid, ours) == 0.0  # nice 19 > ours: left out
    finally:
        background.kill()
