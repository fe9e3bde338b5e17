"""Running a segment through its placements: retries, fallback, and the records that teach the estimates.

`run_with_fallback` runs a chain of placements (the choice, then the runners-up), retrying transient errors, and
returns an `ExecutionRecord`; `ExecutionHistory` persists records as JSON lines and turns them into corrections
of the broker's time estimates.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from quantum.executors import PlacementLike
from quantum.job_journal import Submission, submissions_recorded

logger = logging.getLogger(__name__)
T = TypeVar("T")


class ExecutionRecord(BaseModel):
    """What happened when a segment ran: where, predicted vs measured time, retries, fallbacks, errors."""

    segment: str
    resource: str
    method: str
    device: str
    succeeded: bool
    predicted_seconds: float
    model_seconds: float | None = Field(
        None, description="the uncorrected model estimate behind the prediction"
    )
    measured_seconds: float | None = None
    predicted_memory_bytes: int = 0
    cost_usd: float | None = None
    energy_joules: float | None = None
    attempts: int = 1
    retries: int = 0
    fallbacks: list[str] = Field(default_factory=list, description="placements that failed before this one")
    errors: list[str] = Field(default_factory=list)
    what_if: bool = Field(False, description="a fake backend run locally; its time says nothing of the QPU")
    job_id: str | None = Field(None, description="the QPU job, as journaled before waiting on it")
    reattached: bool = Field(False, description="a job an earlier run submitted; the time is not the job's")
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    time_model: str | None = Field(
        None, description="the time model of the prediction, where not the method's own (statevector_unfused)"
    )

    def label(self) -> str:
        """Short name, e.g. 'aer-cpu/statevector'."""
        return f"{self.resource}/{self.method}"


class ExecutionFailed(RuntimeError):
    """Every placement in the chain failed; `record` holds the errors."""

    def __init__(self, record: ExecutionRecord) -> None:
        super().__init__(
            f"segment {record.segment!r} failed on every placement: " + " | ".join(record.errors)
        )
        self.record = record


class ExecutionHistory:
    """Execution records persisted as JSON lines; the broker's estimates learn from them."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def append(self, record: ExecutionRecord) -> None:
        """Add one record (the file and its folder are created when missing)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(record.model_dump_json() + "\n")

    def records(self) -> list[ExecutionRecord]:
        """All records, oldest first; unreadable lines are skipped with a warning."""
        if not self.path.exists():
            return []
        found = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                found.append(ExecutionRecord.model_validate_json(line))
            except ValueError:
                logger.warning("skipping unreadable execution record at %s line %d", self.path, number)
        return found

    def correction(
        self, resource: str, method: str, model_seconds: float | None = None, last: int = 20
    ) -> tuple[float, int]:
        """(factor, records used): geometric mean of measured / modelled time over recent comparable runs.

        `method` is the method, or the time model where a run option has its own (`statevector_unfused`).

        Runs count as comparable when their modelled time is within 10x of `model_seconds` (overhead-bound and
        work-bound runs err differently). The factor is clipped to [0.05, 20].
        """
        ratios = []
        for record in reversed(self.records()):
            base = record.model_seconds or record.predicted_seconds
            if (
                (record.resource, record.time_model or record.method) != (resource, method)
                or record.what_if
                or record.reattached
                or not record.succeeded
            ):
                continue
            if not record.measured_seconds or not base or base <= 0:
                continue
            if model_seconds and not 0.1 <= base / model_seconds <= 10:
                continue
            ratios.append(record.measured_seconds / base)
            if len(ratios) >= last:
                break
        if not ratios:
            return 1.0, 0
        factor = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        return min(max(factor, 0.05), 20.0), len(ratios)


def time_model_of(method: str, options: Mapping[str, Any]) -> str | None:
    """The time model behind an estimate with these run options, where it is not the method's own."""
    return (
        "statevector_unfused" if method == "statevector" and options.get("fusion_enable") is False else None
    )


def _record_for(placement: PlacementLike, **fields: Any) -> ExecutionRecord:
    estimate = placement.estimate
    return ExecutionRecord(
        time_model=time_model_of(placement.method, placement.options),
        segment=placement.segment,
        resource=placement.resource,
        method=placement.method,
        device=placement.device,
        predicted_seconds=estimate.seconds,
        model_seconds=getattr(estimate, "model_seconds", None),
        predicted_memory_bytes=estimate.memory_bytes,
        what_if=bool(placement.options.get("what_if", False)),
        **fields,
    )


def run_with_fallback(
    placements: Sequence[PlacementLike],
    run: Callable[[Any], T],
    *,
    prepare: Callable[[PlacementLike], Any] | None = None,
    retries: int = 1,
    transient: tuple[type[BaseException], ...] | None = None,
    history: ExecutionHistory | None = None,
) -> tuple[T, ExecutionRecord]:
    """Run `run(placement)` on the first placement; retry transient errors, then fall back to the next.

    With `prepare`, the call is `run(prepare(placement))` and only `run` is timed (build the primitive in
    `prepare`: its one-off set-up would otherwise teach the broker wrong times). Returns the result and the record
    of the placement that succeeded (failed ones in `fallbacks`); raises ExecutionFailed when all fail. The
    record is appended to `history` either way. `transient` defaults to `transient_errors()`. A QPU job that was
    submitted and then only timed out or lost its connection may still run, and is paid for: the chain stops
    there (a rerun re-attaches to the journaled job) rather than paying again on the next placement.
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
                argument = prepare(placement) if prepare is not None else placement
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
                break
            finally:
                if prepare is not None:
                    _close(argument)
            record = _record_for(
                placement, succeeded=True, measured_seconds=measured, attempts=attempts, retries=attempt,
                fallbacks=failed, errors=errors, **_job_fields(result, submissions),
                **_scaled_costs(placement, measured),
            )  # fmt: skip
            if history is not None:
                history.append(record)
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
    placement: PlacementLike,
    attempts: int,
    failed: list[str],
    errors: list[str],
    history: ExecutionHistory | None,
) -> ExecutionFailed:
    """The failure to raise, with its record (appended to `history`)."""
    record = _record_for(placement, succeeded=False, attempts=attempts, fallbacks=failed, errors=errors)
    if history is not None:
        history.append(record)
    return ExecutionFailed(record)


def _job_may_still_run(placement: PlacementLike, submission: Submission) -> str:
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


def _scaled_costs(placement: PlacementLike, measured: float) -> dict[str, float | None]:
    """Cost and energy scaled from the estimate by measured / predicted time; on a QPU the estimate's own, since
    IBM bills QPU usage, not the wall time the client waited (queue included, or nothing for a re-attached job)."""
    estimate = placement.estimate
    if placement.device == "QPU":
        return {"cost_usd": estimate.cost_usd, "energy_joules": estimate.energy_joules}
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
