"""Flow-run heartbeats end with the run: still sent, on Prefect's interval, and stopped when the run ends."""

from __future__ import annotations

import threading
from typing import Any

import prefect.flow_engine as flow_engine
import pytest
from prefect import flow
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

import workflows.execution.task_runners  # noqa: F401  # installs the prompt heartbeats, as every flow module does
from workflows.execution.heartbeats import end_heartbeats_promptly, prompt_heartbeats

pytestmark = pytest.mark.usefixtures("prefect_api")


def heartbeat_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "qcflow-heartbeat"]


def test_importing_the_task_runners_installs_the_prompt_heartbeats() -> None:
    assert flow_engine._send_heartbeats is prompt_heartbeats
    assert end_heartbeats_promptly() is True


def test_a_flow_run_sends_heartbeats_while_it_runs_and_stops_them_when_it_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[dict[str, Any]] = []
    alive_during: list[int] = []
    monkeypatch.setattr(
        flow_engine.FlowRunEngine,
        "_emit_flow_run_heartbeat",
        lambda self, resource=None, related=None: sent.append(resource or {}),
    )

    @flow(name="heartbeat-probe")
    def probe() -> str:
        alive_during.append(len(heartbeat_threads()))
        return "done"

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 30}):
        assert probe() == "done"
    assert alive_during == [1]
    assert heartbeat_threads() == []
    assert len(sent) == 1  # the first heartbeat goes out at the start; the next was 30 s away
    assert sent[0]["prefect.resource.id"].startswith("prefect.flow-run.")


def test_no_heartbeat_setting_sends_none(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[object] = []
    monkeypatch.setattr(
        flow_engine.FlowRunEngine, "_emit_flow_run_heartbeat", lambda self, *a, **k: sent.append(a)
    )

    @flow(name="heartbeat-probe-off")
    def probe() -> int:
        return len(heartbeat_threads())

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        assert probe() == 0
    assert sent == []
