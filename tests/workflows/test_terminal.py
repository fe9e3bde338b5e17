"""What `qcflow` commands print before any work starts: one line and exit status 2 for input they cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflows.cli import main


@pytest.fixture
def flows_must_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a command gets as far as starting Prefect or running its flow."""

    def must_not_run(*args: object) -> None:
        raise AssertionError("the command started work it should have refused")

    monkeypatch.setattr("workflows.cli.run_flow", must_not_run)
    monkeypatch.setattr("workflows.cli.prepare_embedded_prefect", must_not_run)


@pytest.mark.parametrize("command", ["screen", "climate"])
def test_an_unusable_out_is_refused_in_one_line_before_any_work(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], flows_must_not_run: None
) -> None:
    (tmp_path / "a-file").write_text("")
    refusals = {
        tmp_path: f"is a folder; give a file in it, e.g. --out {tmp_path / 'results.json'}",
        tmp_path / "a-file" / "x.json": f"cannot write in {tmp_path / 'a-file'} (",
    }
    if Path("/proc/self").is_dir():  # Linux: nothing can be created under /proc
        refusals[Path("/proc/nope/x.json")] = "cannot write in /proc/nope (No such file or directory)"
    for out, reason in refusals.items():
        assert main([command, "--out", str(out)]) == 2
        error = capsys.readouterr().err
        assert error.startswith(f"qcflow {command}: --out {out}") and reason in error
        assert len(error.strip().splitlines()) == 1 and "Traceback" not in error


def test_write_json_replaces_the_file_whole_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pydantic import BaseModel

    from workflows.terminal import write_json

    class Report(BaseModel):
        energies: list[float]

    out = tmp_path / "new-folder" / "results.json"
    assert write_json(Report(energies=[1.5, -2.0]), out, "screen") == 0
    assert Report.model_validate_json(out.read_text()) == Report(energies=[1.5, -2.0])
    assert (out.stat().st_mode & 0o777) == 0o666 & ~_umask()  # like any file the user creates
    assert sorted(p.name for p in out.parent.iterdir()) == ["results.json"]  # no temporary file left
    assert f"Results written to {out}" in capsys.readouterr().out


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_no_embedded_server_is_started_when_a_server_is_named() -> None:
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from workflows.terminal import start_embedded_api

    before = dict(SubprocessASGIServer._instances)  # other tests in this process may have started one
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        assert start_embedded_api() is None
    assert SubprocessASGIServer._instances == before


EARLY_SERVER_SCRIPT = """
import httpx
from prefect.server.api.server import SubprocessASGIServer
from workflows.terminal import spawn_embedded_api, start_embedded_api

spawn_embedded_api()
server = SubprocessASGIServer._instances[None]
early = server.early_process.pid
assert start_embedded_api() is None
assert server.server_process.pid == early, "start() launched a second server instead of adopting the early one"
assert httpx.get(server.api_url + "/health", timeout=30).status_code == 200
print("adopted", early)
"""


@pytest.mark.slow
def test_a_server_launched_early_is_the_one_the_run_uses(tmp_path: Path) -> None:
    """`qcflow screen/climate/sqd` launch the embedded server before importing their flow; start() adopts it."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    done = subprocess.run(
        [sys.executable, "-c", EARLY_SERVER_SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "adopted" in done.stdout
