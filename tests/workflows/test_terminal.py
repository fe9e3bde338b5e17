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

    for module in ("workflows.cli", "workflows.climate_cli"):
        monkeypatch.setattr(f"{module}.run_flow", must_not_run)
        monkeypatch.setattr(f"{module}.prepare_embedded_prefect", must_not_run)


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
