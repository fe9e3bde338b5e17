"""Automations a self-hosted Prefect server needs for qcflow (Prefect Cloud ships the equivalent built in).

A flow run whose worker or host dies stays Running forever (prefect#16746): nothing is left to report its end.
Every flow run sends a heartbeat event (every PREFECT_FLOWS_HEARTBEAT_FREQUENCY s, 180 by default in 3.9.1), so a
proactive automation that sees a heartbeat and then neither another heartbeat nor a final state within
HEARTBEATS_MISSED heartbeats marks the run Crashed (Prefect's "detect zombie flows" recipe). `scripts/server.sh`
calls `ensure_zombie_automation()`.
"""

from __future__ import annotations

from datetime import timedelta

from prefect.automations import Automation
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

ZOMBIE_AUTOMATION_NAME = "qcflow-crash-unresponsive-runs"
# Heartbeats a run may miss before it is marked Crashed: one late heartbeat on a loaded machine is not a death.
HEARTBEATS_MISSED = 3
HEARTBEAT_EVENT = "prefect.flow-run.heartbeat"
FINAL_EVENTS = ("Completed", "Failed", "Cancelled", "Crashed")


def heartbeat_seconds() -> int:
    """Seconds between flow-run heartbeats in this environment (Prefect's setting; 180 unless set)."""
    from prefect.settings import get_current_settings

    return get_current_settings().flows.heartbeat_frequency or 180


def zombie_automation(heartbeat_s: int | None = None) -> Automation:
    """The automation that marks a flow run Crashed when HEARTBEATS_MISSED heartbeats in a row do not arrive."""
    heartbeat_s = heartbeat_s or heartbeat_seconds()
    window = timedelta(seconds=HEARTBEATS_MISSED * heartbeat_s)
    return Automation(
        name=ZOMBIE_AUTOMATION_NAME,
        description=(
            f"Marks a flow run Crashed when it sent a heartbeat and then nothing for {window.total_seconds():g} s "
            f"({HEARTBEATS_MISSED} heartbeats of {heartbeat_s} s): its worker or host died (prefect#16746)."
        ),
        trigger=EventTrigger(
            after={HEARTBEAT_EVENT},
            expect={HEARTBEAT_EVENT, *(f"prefect.flow-run.{state}" for state in FINAL_EVENTS)},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=window,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"No heartbeat for {window.total_seconds():g} s: the run's worker or host died.",
            )
        ],
    )


def ensure_zombie_automation(heartbeat_s: int | None = None) -> str:
    """Create the automation on the server PREFECT_API_URL names, or bring an existing one up to date; say which."""
    wanted = zombie_automation(heartbeat_s)
    try:
        existing = Automation.read(name=ZOMBIE_AUTOMATION_NAME)
    except ValueError:  # Prefect's "not found"
        wanted.create()
        return f"created automation {ZOMBIE_AUTOMATION_NAME} (window {wanted.trigger.within})"
    if existing.trigger == wanted.trigger and existing.actions == wanted.actions and existing.enabled:
        return f"automation {ZOMBIE_AUTOMATION_NAME} already up to date"
    existing.delete()
    wanted.create()
    return f"replaced automation {ZOMBIE_AUTOMATION_NAME} (window {wanted.trigger.within})"
