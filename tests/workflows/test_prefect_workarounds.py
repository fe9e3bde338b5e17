"""Prefect workarounds: heartbeats still sent and stopped when the run ends; tag concurrency limits still enforced,
tags without limits asked about once per window."""

from __future__ import annotations

import threading
from typing import Any

import prefect.concurrency.services as concurrency_services
import prefect.flow_engine as flow_engine
import pytest
from prefect import flow, task
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

import workflows.execution.task_runners  # noqa: F401  # installs the workarounds, as every flow module does
from workflows.execution.prefect_workarounds import (
    TAGS_WITHOUT_LIMITS_SECONDS,
    end_heartbeats_promptly,
    install,
    prompt_heartbeats,
)

pytestmark = pytest.mark.usefixtures("prefect_api")


def heartbeat_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "qcflow-heartbeat"]


def test_importing_the_task_runners_installs_both_workarounds() -> None:
    assert flow_engine._send_heartbeats is prompt_heartbeats
    assert end_heartbeats_promptly() is True
    assert concurrency_services._no_limits_cache.ttl == TAGS_WITHOUT_LIMITS_SECONDS
    assert install() == {"heartbeats": True, "tag_concurrency": True}


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


@task
def tagged_step(value: int) -> int:
    return value + 1


def count_slot_requests(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The tag-concurrency requests the task runs make to the API, by tag set."""
    asked: list[list[str]] = []
    original = PrefectClient.increment_concurrency_slots_with_lease

    async def counted(self: PrefectClient, *args: Any, **kwargs: Any) -> Any:
        asked.append(list(kwargs.get("names") or args[0]))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(PrefectClient, "increment_concurrency_slots_with_lease", counted)
    return asked


def test_tags_without_limits_are_asked_about_once_per_window(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = count_slot_requests(monkeypatch)
    concurrency_services._no_limits_cache.clear()

    @flow(name="tags-without-limits")
    def steps() -> list[int]:
        return [tagged_step.with_options(tags=["qcflow-unlimited"])(i) for i in range(3)]

    assert steps() == [1, 2, 3]
    assert asked == [["tag:qcflow-unlimited"]]  # the two later task runs knew the tag has no limit


def test_a_tag_limit_is_still_asked_for_on_every_task_run(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "tag:qcflow-limited"
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
    asked = count_slot_requests(monkeypatch)

    @flow(name="tag-with-limit")
    def steps() -> list[int]:
        return [tagged_step.with_options(tags=["qcflow-limited"])(i) for i in range(3)]

    try:
        assert steps() == [1, 2, 3]
        assert asked == [[name]] * 3
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(name)
        assert limit.active_slots == 0  # every slot taken was given back
    finally:
        with get_client(sync_client=True) as client:
            client.delete_global_concurrency_limit_by_name(name)


def test_a_prefect_that_changed_what_they_replace_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    def its_own(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(flow_engine, "_send_heartbeats", its_own)
    monkeypatch.delattr(flow_engine.BaseFlowRunEngine, "_emit_flow_run_heartbeat")
    assert end_heartbeats_promptly() is False
    assert flow_engine._send_heartbeats is its_own

    plain: dict[frozenset[str], bool] = {}
    monkeypatch.setattr(concurrency_services, "_no_limits_cache", plain)
    assert install() == {"heartbeats": False, "tag_concurrency": False}
    assert concurrency_services._no_limits_cache is plain
