"""Execution records: what happened when a segment ran, persisted as JSON lines the broker's estimates learn from.

Every run of a placed segment, quantum or classical, appends one `ExecutionRecord` to the history
(`$QCFLOW_HOME/execution_records.jsonl`); `ExecutionHistory.correction` turns comparable past runs into a factor on
the cost model's time estimate.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from broker.models import resource_label

logger = logging.getLogger(__name__)

# Runs that started with more than this load average per core measured contention, not the method: on a busy
# machine runs 40-114x slower than predicted once pushed a method's correction to its cap (issue 18).
LOADED_PER_CORE = 1.5


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
    measured_seconds: float | None = Field(None, description="measured seconds per call (see `calls`)")
    total_seconds: float | None = Field(None, description="measured seconds of the whole run, every call")
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
    reused: bool = Field(False, description="results partly reused from a cache; the time is not the work's")
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    time_model: str | None = Field(
        None, description="the time model of the prediction, where not the method's own (statevector_unfused)"
    )
    kind: str = Field(
        "quantum", description="the segment kind ('quantum', 'ml_potential', 'climate_ensemble')"
    )
    calls: int = Field(
        1, description="primitive calls the run made (VQE, QAOA); times and predictions are per call"
    )
    load_per_core: float | None = Field(
        None, description="the machine's 1-minute load average per core when the run started"
    )

    def label(self) -> str:
        """Short name, e.g. 'aer-cpu/statevector'."""
        return resource_label(self.resource, self.method)


class ExecutionHistory:
    """Execution records persisted as JSON lines; the broker's estimates learn from them."""

    def __init__(self, path: Path | str, loaded_per_core: float | None = None) -> None:
        """`loaded_per_core`: records started above this load average per core teach nothing (default
        LOADED_PER_CORE; `math.inf` keeps every record)."""
        self.path = Path(path)
        self.loaded_per_core = LOADED_PER_CORE if loaded_per_core is None else loaded_per_core

    def append(self, record: ExecutionRecord) -> None:
        """Add one record (the file and its folder are created when missing).

        A record is one line written by one `write` call in append mode, so concurrent runs never interleave
        their lines; a torn last line (a kill mid-write) is skipped on reading.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (record.model_dump_json() + "\n").encode("utf-8")
        with self.path.open("ab") as handle:
            if handle.tell() > 0 and not _ends_with_newline(self.path):
                line = b"\n" + line  # never glue a record onto a torn line
            handle.write(line)

    def records(self) -> list[ExecutionRecord]:
        """All records, oldest first; unreadable lines (binary bytes, torn writes) are skipped with a warning."""
        if not self.path.exists():
            return []
        found = []
        text = self.path.read_bytes().decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
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
        """(factor, records used): the median of measured / modelled time over recent comparable runs (taken in
        log space, so an even count gives the geometric mean of the middle two).

        `method` is the method, or the time model where a run option has its own (`statevector_unfused`).
        Runs count as comparable when their modelled time is within 10x of `model_seconds` (overhead-bound and
        work-bound runs err differently). Runs taken on a loaded machine (load average above
        `loaded_per_core` per core when they started) are left out: they measure the other work, not the
        method. The median, not the mean, so a few slow outliers cannot move it; clipped to [0.05, 20].
        """
        ratios = []
        for record in reversed(self.records()):
            base = record.model_seconds or record.predicted_seconds
            if (
                (record.resource, record.time_model or record.method) != (resource, method)
                or record.what_if
                or record.reattached
                or record.reused
                or not record.succeeded
                or (record.load_per_core or 0.0) > self.loaded_per_core
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
        factor = math.exp(statistics.median(math.log(r) for r in ratios))
        return min(max(factor, 0.05), 20.0), len(ratios)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def load_per_core() -> float | None:
    """The 1-minute load average per usable core now (None where the platform has no load average)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return load / max(cores, 1)


def time_model_of(method: str, options: Mapping[str, Any]) -> str | None:
    """The time model behind an estimate with these run options, where it is not the method's own."""
    return (
        "statevector_unfused" if method == "statevector" and options.get("fusion_enable") is False else None
    )
