"""Two Prefect 3.9.1 timing faults that cost every stage seconds, each worked around without changing what Prefect
sends or enforces (`install`, called where the flows build their task runners).

Heartbeats that stop as soon as the run ends. Prefect's heartbeat thread (`prefect.flow_engine._send_heartbeats`)
sleeps in uninterruptible 1-s steps and the run's end joins it (for up to 2 s), so every flow and subflow run ended
on a whole second after its heartbeat thread started: a stage subflow of 0.2 s of work took 1.1 s, one of 1.2 s took
2.1 s. qcflow runs every placed stage as a subflow, so the broker's estimates of short stages missed by up to a
second. `prompt_heartbeats` is the same context manager waiting on its stop event instead of sleeping: heartbeats go
out exactly as before (the zombie-run automation in `workflows.server_automations` still sees them).

Tag-concurrency checks that do not collide. Every task run with tags asks the API for concurrency slots on its
tags (`increment-with-lease`), and the client remembers for 5 s that the tags have no limit. On the embedded SQLite
API that request reads the limits, then writes in the same deferred transaction; when another write lands between
the two, SQLite refuses the upgrade at once ("database is locked"), the API answers 503, and the client retries after
2 s (measured: 1.7-2.4 s, in most stages longer than 5 s). `remember_tags_without_limits` keeps that memory for
TAGS_WITHOUT_LIMITS_SECONDS instead, so a stage asks about once a minute: a tag limit created during a run applies
from its next minute rather than within 5 s. Tags with a limit are asked about every time, as before.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

import prefect.concurrency.services as concurrency_services
import prefect.flow_engine as flow_engine

JOIN_SECONDS = 2.0  # Prefect's own bound on waiting for a heartbeat being sent when the run ends
TAGS_WITHOUT_LIMITS_SECONDS = 60.0


@contextmanager
def prompt_heartbeats(engine: Any, join_on_exit: bool = True) -> Generator[None, None, None]:
    """Prefect's `_send_heartbeats` (same events, same interval, same context) with an interruptible wait."""
    interval = engine.heartbeat_seconds
    if interval is None:
        yield
        return
    interval = max(interval, flow_engine.MINIMUM_HEARTBEAT_INTERVAL)
    resource, related = engine._build_heartbeat_event_template()
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            state = engine.flow_run.state if engine.flow_run else None
            if state is not None and state.is_final():
                return
            try:
                engine._emit_flow_run_heartbeat(resource, related)
            except Exception:
                engine.logger.debug("Failed to emit heartbeat", exc_info=True)
            stop.wait(interval)

    context = contextvars.copy_context()  # the thread reports to the run's own API, as Prefect's does
    thread = threading.Thread(target=context.run, args=(beat,), daemon=True, name="qcflow-heartbeat")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        if join_on_exit:
            thread.join(timeout=JOIN_SECONDS)


def end_heartbeats_promptly() -> bool:
    """Install `prompt_heartbeats` as Prefect's flow-run heartbeat context; False when this Prefect has none (a
    version that changed it: its own is then used unchanged)."""
    engine = getattr(flow_engine, "BaseFlowRunEngine", None)
    used = ("heartbeat_seconds", "_build_heartbeat_event_template", "_emit_flow_run_heartbeat")
    replaceable = callable(getattr(flow_engine, "_send_heartbeats", None)) and engine is not None
    if not replaceable or not hasattr(flow_engine, "MINIMUM_HEARTBEAT_INTERVAL"):
        return False
    if not all(hasattr(engine, name) for name in used):
        return False
    flow_engine._send_heartbeats = prompt_heartbeats
    return True


def remember_tags_without_limits(seconds: float = TAGS_WITHOUT_LIMITS_SECONDS) -> bool:
    """Remember tag sets without concurrency limits for `seconds` (Prefect: 5 s); False when this Prefect keeps no
    such memory (its own behaviour is then unchanged)."""
    cache = getattr(concurrency_services, "_no_limits_cache", None)
    if not all(hasattr(cache, name) for name in ("ttl", "maxsize")):
        return False
    if cache.ttl != seconds:  # a cachetools.TTLCache: its ttl is fixed at creation
        concurrency_services._no_limits_cache = type(cache)(maxsize=cache.maxsize, ttl=seconds)
    return True


def install() -> dict[str, bool]:
    """Both workarounds, for this process; which of them this Prefect accepted."""
    return {"heartbeats": end_heartbeats_promptly(), "tag_concurrency": remember_tags_without_limits()}
