"""Flow-run heartbeats that stop as soon as the run ends.

Prefect 3.9's heartbeat thread (`prefect.flow_engine._send_heartbeats`) sleeps in uninterruptible 1-s steps and the
run's end joins it (for up to 2 s), so every flow and subflow run ends on a whole second after its heartbeat thread
started: a stage subflow of 0.2 s of work takes 1.1 s, one of 1.2 s takes 2.1 s. qcflow runs every placed stage as
a subflow, so this rounding was up to a second per stage, and the broker's time estimates of short stages missed by
it. `end_heartbeats_promptly` replaces the context manager by the same one waiting on its stop event instead of
sleeping: heartbeats are sent exactly as before (the zombie-run automation in `workflows.server_automations` still
sees them), and the run's end no longer waits for a sleep to finish.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

import prefect.flow_engine as flow_engine

JOIN_SECONDS = 2.0  # Prefect's own bound on waiting for a heartbeat being sent when the run ends


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
    if not callable(getattr(flow_engine, "_send_heartbeats", None)):
        return False
    if not all(hasattr(flow_engine, name) for name in ("MINIMUM_HEARTBEAT_INTERVAL", "BaseFlowRunEngine")):
        return False
    flow_engine._send_heartbeats = prompt_heartbeats
    return True
