"""Processes: nothing outlives a killed `qcflow`, two runs at once on a loaded machine both finish, and a server that
does not start in time is reported with the variable to set (issue 16). Real `qcflow` processes, real Prefect."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
QCFLOW = [sys.executable, "-m", "workflows.cli"]
SMALL_CLIMATE = ["climate", "--members", "50", "--shots", "256", "--scenario", "ssp126"]
EARLIER = '{"earlier": "results"}'


def _environment(home: Path, **extra: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "QCFLOW_HOME": str(home),
        "PREFECT_HOME": str(home / "prefect"),
        "QCFLOW_PROGRESS_BAR": "false",
        **extra,
    }


def _children() -> dict[int, int]:
    """pid -> parent pid of every process now (Linux /proc)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    return parents


def _descendants(pid: int) -> set[int]:
    parents = _children()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _gone_within(pids: set[int], seconds: float) -> set[int]:
    """The pids still alive after waiting up to `seconds` for them to end."""
    deadline = time.monotonic() + seconds
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.5)
    return _alive(pids)


def _wait_for_server(process: subprocess.Popen[bytes], seconds: float) -> bool:
    """Whether the qcflow process started its embedded Prefect server (a uvicorn child) within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        for pid in _descendants(process.pid):
            try:
                if b"uvicorn" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return True
            except OSError:
                pass
        time.sleep(0.3)
    return False


def _start(command: list[str], home: Path, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    """A qcflow process with its output in `log` (a file: a pipe nobody reads would block it when full)."""
    with log.open("wb") as output:
        return subprocess.Popen(
            command, cwd=REPO, env=_environment(home, **extra), stdout=output, stderr=subprocess.STDOUT
        )


def _follow(process: subprocess.Popen[bytes], seconds: float) -> set[int]:
    """Wait for the process to end (killing it after `seconds`); every process it started meanwhile."""
    family: set[int] = set()
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        family |= _descendants(process.pid)
        time.sleep(0.3)
    if process.poll() is None:
        process.kill()
    process.wait()
    return family


def _kill_mid_run(process: subprocess.Popen[bytes], out: Path, delay: float) -> tuple[bool, set[int]]:
    """SIGKILL the process `delay` s after its embedded server started (as the OOM killer would): whether the
    server had started and the earlier results file is intact, and the processes of its family still alive 30 s
    later."""
    served = _wait_for_server(process, 420)
    time.sleep(delay)
    family = _descendants(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return served and out.read_text() == EARLIER, _gone_within(family, 30)


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="/proc and the parent-death signal are Linux's"
)
@pytest.mark.slow
def test_killed_concurrent_and_slow_starting_runs(tmp_path: Path, tally: object) -> None:
    """Five qcflow processes at once on a machine they load themselves (2 cores here):

    - `qcflow screen` and `qcflow climate`, each killed with SIGKILL at a random point after its embedded Prefect
      server started: every process each started is gone within 30 s, and an earlier results file is intact;
    - two `qcflow climate` runs sharing PREFECT_HOME, QCFLOW_HOME and --out: both finish (no start-up timeout
      under load), the file is one whole report, nothing is left running;
    - a run whose server cannot start in its window (1 s): one message naming the variable to set, exit 1, and
      no server left.
    """
    rng = random.Random(1616)
    for folder in ("kill-screen", "kill-climate", "shared"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "results.json").write_text(EARLIER)
    shared_out = tmp_path / "shared" / "results.json"
    victims = {
        name: (
            _start(
                [*QCFLOW, *command, "--out", str(tmp_path / name / "results.json")],
                tmp_path / name / "home",
                tmp_path / f"{name}.log",
            ),
            tmp_path / name / "results.json",
        )
        for name, command in (("kill-screen", ["screen"]), ("kill-climate", SMALL_CLIMATE))
    }
    pair = [
        _start(
            [*QCFLOW, *SMALL_CLIMATE, "--out", str(shared_out)],
            tmp_path / "shared" / "home",
            tmp_path / f"pair-{i}.log",
        )
        for i in range(2)
    ]
    variable = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
    slow_start = _start(
        [*QCFLOW, *SMALL_CLIMATE], tmp_path / "slow" / "home", tmp_path / "slow.log", **{variable: "1"}
    )

    failures = []
    for name, (process, out) in victims.items():
        intact, left = _kill_mid_run(process, out, rng.uniform(0.0, 6.0))
        survived = intact and not left
        tally.fault(
            f"kill -9 of qcflow {name.removeprefix('kill-')} mid-run: nothing left, file intact",
            survived=survived,
        )
        if not survived:
            failures.append(f"{name}: server started and file intact {intact}, left {sorted(left)}")

    left = _gone_within(_follow(slow_start, 300), 30)
    said = (tmp_path / "slow.log").read_text()
    survived = (
        slow_start.returncode == 1 and f"set {variable}=300" in said and "Traceback" not in said and not left
    )
    tally.fault("embedded server slower than its start-up window: told what to set", survived=survived)
    if not survived:
        failures.append(
            f"slow start: status {slow_start.returncode}, left {sorted(left)}, said {said[-600:]!r}"
        )

    families = [_follow(run, 480) for run in pair]
    left = _gone_within(set().union(*families), 30)
    codes = [run.returncode for run in pair]
    whole = "ssp126" in json.dumps(json.loads(shared_out.read_text()))
    survived = codes == [0, 0] and whole and not left
    tally.fault(
        "two climate runs at once on a loaded machine: both finish, one whole report", survived=survived
    )
    if not survived:
        logs = [(tmp_path / f"pair-{i}.log").read_text()[-600:] for i in range(2)]
        failures.append(f"pair: status {codes}, whole report {whole}, left {sorted(left)}, logs {logs}")
    assert not failures, "\n".join(failures)
