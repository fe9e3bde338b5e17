"""The one settings object: QCFLOW_* variables, checked before any command starts work."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import QcflowSettings, get_settings
from workflows.cli import main


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_broker_rates_and_paths_come_from_one_settings_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCFLOW_QPU_PRICE_PER_SECOND_USD", "2.5")
    monkeypatch.setenv("QCFLOW_BATCH_SIZE", "4")
    settings = QcflowSettings()
    assert settings.qpu_price_per_second_usd == 2.5
    assert settings.batch_size == 4


def test_unknown_surrogate_is_refused_before_any_work(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fresh_settings: None
) -> None:
    monkeypatch.setenv("QCFLOW_SURROGATE", "not-a-model")
    assert main(["resources"]) == 2
    error = capsys.readouterr().err
    assert "QCFLOW_SURROGATE='not-a-model' is unknown" in error
    assert "chgnet" in error and "Traceback" not in error


def test_bad_settings_name_the_variable_and_an_unusable_home_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fresh_settings: None, tmp_path: Path
) -> None:
    monkeypatch.setenv("QCFLOW_MEMORY_HEADROOM", "plenty")
    assert main(["resources"]) == 2
    assert "QCFLOW_MEMORY_HEADROOM: Input should be a valid number" in capsys.readouterr().err
    monkeypatch.delenv("QCFLOW_MEMORY_HEADROOM")
    get_settings.cache_clear()
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("QCFLOW_HOME", str(tmp_path / "a-file" / "home"))
    assert main(["resources"]) == 2
    error = capsys.readouterr().err
    assert "cannot create the results folder" in error and "QCFLOW_HOME" in error
    assert "Traceback" not in error


def screen_parameters_of(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> dict:
    """The parameters `qcflow screen` hands the flow (the flow itself is not run)."""
    handed: dict = {}

    def record(command: str, flow: object, parameters: dict) -> None:
        handed.update(parameters)

    monkeypatch.setattr("workflows.cli.prepare_embedded_prefect", lambda: None)
    monkeypatch.setattr("workflows.cli.run_flow", record)
    assert main(["screen", *argv]) == 1  # run_flow returned no report
    return handed


def test_qcflow_batch_size_sets_the_surrogate_batches_unless_the_flag_is_given(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    from workflows.screening.flow import ScreeningParameters  # reads the settings when first imported

    monkeypatch.setenv("QCFLOW_BATCH_SIZE", "1")
    get_settings.cache_clear()
    assert screen_parameters_of(["--shortlist", "0"], monkeypatch)["batch_size"] == 1
    assert screen_parameters_of(["--batch-size", "3"], monkeypatch)["batch_size"] == 3
    assert ScreeningParameters().batch_size == 1  # the flow's own parameters read the setting too
