"""The one way to run a placed segment, quantum or classical, from a flow, a task or the command line.

`run_placed` runs on the placement and falls back to its runners-up: it holds a slot of the global `qpu`
concurrency limit where the placement is a QPU, builds the primitives outside the timed part (QPU jobs journaled,
so a rerun re-attaches instead of paying twice), retries transient errors, and appends an execution record to the
history every time, so the broker's estimates learn from every run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from broker.fallback import fallback_placements, run_with_fallback
from broker.models import Placement
from broker.records import ExecutionHistory, ExecutionRecord
from config.settings import get_settings
from quantum.executors import estimator_for, sampler_for
from workflows.execution.qpu_access import qpu_backend
from workflows.execution.qpu_slots import qpu_slot

T = TypeVar("T")


def execution_history() -> ExecutionHistory:
    """The execution records of this QCFLOW_HOME, which every run appends to and the broker learns from."""
    return ExecutionHistory(get_settings().paths.execution_records)


def run_placed(
    placement: Placement | dict[str, Any],
    run: Callable[[Any], T],
    *,
    prepare: Callable[[Placement], Any] | None = None,
    calls_of: Callable[[T], int] | None = None,
    retries: int = 1,
    history: ExecutionHistory | None = None,
    reused_of: Callable[[T], bool] | None = None,
) -> tuple[T, ExecutionRecord, Placement]:
    """Run `run(prepare(p))` (or `run(p)`) on the placement, then on each runner-up until one succeeds.

    Returns the result, its execution record and the placement it ran on; raises `ExecutionFailed` when every
    placement failed (the record of the failure is in the history too).
    """
    chain = fallback_placements(Placement.model_validate(placement))
    result, record = run_with_fallback(
        chain,
        run,
        prepare=prepare,
        retries=retries,
        history=history or execution_history(),
        calls_of=calls_of,
        hold=qpu_slot,
        reused_of=reused_of,
    )
    ran_on = next(p for p in chain if p.label() == record.label())
    return result, record, ran_on


def estimator_on(placement: Placement, seed: int | None = None) -> Any:
    """An EstimatorV2 for the placement (Aer method, or a QPU with its jobs journaled)."""
    journal = get_settings().paths.qpu_jobs
    return estimator_for(placement, backend=qpu_backend(placement), seed=seed, journal=journal)


def sampler_on(placement: Placement, shots: int | None = None, seed: int | None = None) -> Any:
    """A SamplerV2 for the placement (Aer method, or a QPU with its jobs journaled)."""
    journal = get_settings().paths.qpu_jobs
    return sampler_for(
        placement, backend=qpu_backend(placement), default_shots=shots, seed=seed, journal=journal
    )


@dataclass
class Primitives:
    """An estimator and a sampler for one placement, closed together (a QPU Batch or Session each)."""

    estimator: Any
    sampler: Any

    def close(self) -> None:
        """Close both primitives (nothing to close on Aer)."""
        for primitive in (self.estimator, self.sampler):
            close = getattr(primitive, "close", None)
            if callable(close):
                close()
