"""A run whose worker died is marked Crashed: the automation scripts/server.sh creates (prefect#16746)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from workflows.server_automations import (
    HEARTBEAT_EVENT,
    HEARTBEATS_MISSED,
    ZOMBIE_AUTOMATION_NAME,
    ensure_zombie_automation,
    heartbeat_seconds,
    zombie_automation,
)

REPO = Path(__file__).resolve().parents[2]


def test_the_automation_crashes_a_run_after_three_missed_heartbeats() -> None:
    from prefect.client.schemas.objects import StateType
    from prefect.events.schemas.automations import Posture

    automation = zombie_automation(180)  # Prefect 3.9.1's default heartbeat (flows.heartbeat_frequency)
    trigger = automation.trigger
    assert trigger.posture == Posture.Proactive and trigger.threshold == 1
    assert trigger.after == {HEARTBEAT_EVENT}
    assert trigger.expect == {
        HEARTBEAT_EVENT,
        *(f"prefect.flow-run.{s}" for s in ("Completed", "Failed", "Cancelled", "Crashed")),
    }
    assert trigger.for_each == {"prefect.resource.id"}
    assert trigger.match.model_dump() == {"prefect.resource.id": ["prefect.flow-run.*"]}
    assert trigger.within == timedelta(seconds=HEARTBEATS_MISSED * 180) >= timedelta(seconds=3 * 180)
    (action,) = automation.actions
    assert action.type == "change-flow-run-state" and action.state == StateType.CRASHED


def test_the_window_follows_the_heartbeat_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    assert heartbeat_seconds() == 180  # the default in 3.9.1
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 45}):
        assert zombie_automation().trigger.within == timedelta(seconds=3 * 45)


def test_server_sh_creates_the_automation() -> None:
    script = (REPO / "scripts" / "server.sh").read_text()
    assert "ensure_zombie_automation" in script


@pytest.mark.slow
def test_a_run_whose_heartbeats_stop_is_marked_crashed(prefect_api: None, tally: object) -> None:
    """On a real server: the automation is created once (a second call changes nothing), and a Running flow run
    that sent one heartbeat and then nothing (its worker died) is Crashed once the window has passed."""
    from prefect import flow
    from prefect.automations import Automation
    from prefect.client.orchestration import get_client
    from prefect.events import emit_event
    from prefect.states import Running

    assert ensure_zombie_automation(180).startswith("created")
    assert ensure_zombie_automation(180).endswith("already up to date")
    stored = Automation.read(name=ZOMBIE_AUTOMATION_NAME)
    assert stored.trigger == zombie_automation(180).trigger

    short = zombie_automation(5)  # a 15 s window, so the test sees the automation act
    short.name = "qcflow-test-short-window"
    short.create()

    @flow(name="worker-dies")
    def worker_dies() -> None: ...

    with get_client(sync_client=True) as client:
        run = client.create_flow_run(worker_dies, state=Running())
        emit_event(
            HEARTBEAT_EVENT,
            resource={"prefect.resource.id": f"prefect.flow-run.{run.id}"},
        )
        deadline = time.monotonic() + 90
        state = client.read_flow_run(run.id).state
        while state.type.value != "CRASHED" and time.monotonic() < deadline:
            time.sleep(2)
            state = client.read_flow_run(run.id).state
    survived = state.type.value == "CRASHED"
    tally.fault("worker dies mid-run: run marked Crashed from missed heartbeats", survived=survived)
    assert survived, f"the run stayed {state.type.value}"
