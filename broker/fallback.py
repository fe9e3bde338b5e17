"""Running a segment through its placements: retries, fallback to the runners-up, and one record per run.

`run_with_fallback` runs a chain of placements (the choice, then the runners-up, from `fallback_placements`),
retrying transient errors, and returns the result with an `ExecutionRecord`; the record is appended to the history
whether the run succeeded or not.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from broker.models import Placement
from broker.records import ExecutionHistory, ExecutionRecord, load_per_core, time_model_of
from quantum.ibm.journal import Submission, submissions_recorded
from quantum.ibm.journal_store import JournalUnreadable

logger = logging.getLogger(__name__)
T = TypeVar("T")


class ExecutionFailed(RuntimeError):
    """Every placement in the chain failed; `record` holds the errors."""

    def __init__(self, record: ExecutionRecord) -> None:
        super().__init__(
            f"segment {record.segment!r} failed on every placement: " + " | ".join(record.errors)
        )
        self.record = record


def _record_for(placement: Placement, **fields: Any) -> ExecutionRecord:
    estimate = placement.estimate
    return ExecutionRecord(
        time_model=time_model_of(placement.method, placement.options),
        segment=placement.segment,
        resource=placement.resource,
        method=placement.method,
        device=placement.device,
        kind=placement.kind,
        predicted_seconds=estimate.seconds,
        model_seconds=estimate.model_seconds,
        predicted_memory_bytes=estimate.memory_bytes,
        what_if=bool(placement.options.get("what_if", False)),
        **fields,
    )


def run_with_fallback(
    placements: Sequence[Placement],
    run: Callable[[Any], T],
    *,
    prepare: Callable[[Placement], Any] | None = None,
    retries: int = 1,
    transient: tuple[type[BaseException], ...] | None = None,
    history: ExecutionHistory | None = None,
    calls_of: Callable[[T], int] | None = None,
    hold: Callable[[Placement], AbstractContextManager[Any]] | None = None,
    reused_of: Callable[[T], bool] | None = None,
) -> tuple[T, ExecutionRecord]:
    """Run `run(placement)` on the first placement; retry transient errors, then fall back to the next.

    With `prepare`, the call is `run(prepare(placement))` and only `run` is timed (build the primitive in
    `prepare`: its one-off set-up would otherwise teach the broker wrong times). Returns the result and the record
    of the placement that succeeded (failed ones in `fallbacks`); raises ExecutionFailed when all fail. The
    record is appended to `history` either way. `transient` defaults to `transient_errors()`. A QPU job that was
    submitted and then only timed out or lost its connection may still run, and is paid for: the chain stops
    there (a rerun re-attaches to the journaled job) rather than paying again on the next placement.
    `calls_of(result)` counts the primitive calls a run made (VQE, QAOA): the record then holds the time per
    call, which is what the placement estimated, and the count. `hold(placement)` is a context held around
    preparing and running on that placement, untimed where it waits (a QPU slot of a global concurrency limit).
    `reused_of(result)` says when part of the result came from a cache: its time then teaches no estimate.
    """
    if not placements:
        raise ValueError("placements is empty; pass the broker's placement chain (fallback_placements)")
    transient = transient_errors() if transient is None else transient
    errors: list[str] = []
    failed: list[str] = []
    attempts = 0
    for placement in placements:
        for attempt in range(retries + 1):
            attempts += 1
            submissions: list[Submission] = []
            argument: Any = None
            try:
                with hold(placement) if hold is not None else contextlib.nullcontext():
                    argument = prepare(placement) if prepare is not None else placement
                    load = load_per_core()
                    started = time.perf_counter()
                    with submissions_recorded() as submissions:
                        result = run(argument)
                    measured = time.perf_counter() - started
            except Exception as error:
                errors.append(f"{placement.label()}: {type(error).__name__}: {error}"[:500])
                logger.warning("segment %s failed on %s: %s", placement.segment, placement.label(), error)
                if isinstance(error, transient) and attempt < retries:
                    continue
                failed.append(placement.label())
                if isinstance(error, transient) and placement.device == "QPU" and submissions:
                    errors.append(_job_may_still_run(placement, submissions[-1]))
                    raise _failed(placement, attempts, failed, errors, history) from error
                if isinstance(error, JournalUnreadable):  # a job may exist: never pay for it again elsewhere
                    raise _failed(placement, attempts, failed, errors, history) from error
                break
            finally:
                if prepare is not None:
                    _close(argument)
            calls = max(calls_of(result), 1) if calls_of is not None else 1
            record = _record_for(
                placement, succeeded=True, measured_seconds=measured / calls, attempts=attempts, retries=attempt,
                fallbacks=failed, errors=errors, calls=calls, load_per_core=load, total_seconds=measured,
                reused=bool(reused_of and reused_of(result)),
                **_job_fields(result, submissions), **_scaled_costs(placement, measured, calls),
            )  # fmt: skip
            _append(history, record)
            return result, record
    raise _failed(placements[-1], attempts, failed, errors, history)


def _close(primitive: Any) -> None:
    """Close a primitive `prepare` built (the Batch or Session it opened on a QPU; nothing for Aer), untimed."""
    close = getattr(primitive, "close", None)
    if callable(close):
        try:
            close()
        except Exception as error:  # a close that fails must not lose the result
            logger.warning("could not close %s: %s", type(primitive).__name__, error)


def _failed(
    placement: Placement,
    attempts: int,
    failed: list[str],
    errors: list[str],
    history: ExecutionHistory | None,
) -> ExecutionFailed:
    """The failure to raise, with its record (appended to `history`)."""
    record = _record_for(placement, succeeded=False, attempts=attempts, fallbacks=failed, errors=errors)
    _append(history, record)
    return ExecutionFailed(record)


def _append(history: ExecutionHistory | None, record: ExecutionRecord) -> None:
    """Append the record; a history that cannot be written (full or read-only disk) costs a warning, never the
    result already computed."""
    if history is None:
        return
    try:
        history.append(record)
    except OSError as error:
        logger.warning("could not append the execution record to %s: %s", history.path, error)


def _job_may_still_run(placement: Placement, submission: Submission) -> str:
    return (
        f"{placement.label()}: QPU job {submission.job_id} was submitted and may still be running (and billed); "
        "not falling back to another resource. Run again to re-attach to it through the job journal"
    )


def transient_errors() -> tuple[type[BaseException], ...]:
    """Errors worth a retry on the same placement: network trouble and client-side timeouts (Qiskit's
    JobTimeoutError, which qiskit-ibm-runtime raises from `job.result(timeout=...)`, and IBM's API errors). A
    retry of a QPU placement re-attaches to its journaled job instead of submitting another."""
    from qiskit.providers import JobTimeoutError

    found: list[type[BaseException]] = [ConnectionError, TimeoutError, JobTimeoutError]
    try:
        from qiskit_ibm_runtime.api.exceptions import RequestsApiError

        found.append(RequestsApiError)
    except ImportError:  # qiskit-ibm-runtime is optional for simulator-only use
        pass
    return tuple(found)


def _scaled_costs(placement: Placement, measured: float, calls: int = 1) -> dict[str, float | None]:
    """Cost and energy of the whole run (`measured` seconds over `calls` calls of the estimated kind), scaled
    from the per-call estimate by measured / predicted time; on a QPU the estimate's own per call, since IBM bills
    QPU usage, not the wall time the client waited (queue included, or nothing for a re-attached job)."""
    estimate = placement.estimate
    if placement.device == "QPU":
        return {"cost_usd": estimate.cost_usd * calls, "energy_joules": estimate.energy_joules * calls}
    if not estimate.seconds or not math.isfinite(estimate.seconds) or estimate.seconds <= 0:
        return {"cost_usd": None, "energy_joules": None}
    scale = measured / estimate.seconds
    return {"cost_usd": estimate.cost_usd * scale, "energy_joules": estimate.energy_joules * scale}


def _job_fields(result: Any, submissions: list[Submission]) -> dict[str, Any]:
    """job_id (the last QPU job of the run, else one the result carries) and whether a job was re-attached."""
    if submissions:
        return {"job_id": submissions[-1].job_id, "reattached": any(s.reattached for s in submissions)}
    job_id = getattr(result, "job_id", None)
    return {"job_id": job_id() if callable(job_id) else job_id}


def fallback_placements(placement: Placement) -> list[Placement]:
    """The placement followed by each feasible runner-up as a placement of its own, in order."""
    chain = [placement]
    feasible = [e for e in placement.runners_up if e.feasible]
    for index, estimate in enumerate(feasible):
        reason = f"fallback: runner-up {index + 1} after {placement.label()} failed"
        chain.append(
            Placement.on(placement.segment, placement.kind, estimate, feasible[index + 1 :], [reason])
        )
    return chain
