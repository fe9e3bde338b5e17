"""The one settings object: QCFLOW_* variables, checked before any command starts work."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from workflows.cli import main
from workflows.settings import QcflowSettings, get_settings


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
