"""The elemental-references stage of a screening: the relaxations of every element's trial structures that the
reference cache does not hold yet, placed by the broker and run on the task runner its placement names.

A screening of generated candidates can meet 60 elements at once, each with up to five trial structures relaxed
for up to 200 steps: minutes to an hour of work that used to run serially in the flow's process, with no progress
shown. Each element is one task; the flow's process writes each reference to the cache as soon as its task ends,
so a killed run keeps every element it finished and a later run computes only the rest.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.exceptions import MissingContextError
from prefect.futures import as_completed
from prefect.utilities.annotations import unmapped
from pydantic import BaseModel
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from broker.models import Placement, Policy, ResourceCatalog
from broker.place import place
from broker.records import ExecutionRecord
from classical.runners import ExecutorSettings, surrogate_for_worker
from classical.segments import MLPotentialBatch
from config.settings import get_settings
from materials.reference_cache import write_reference_entry
from materials.stability import (
    ElementalReferences,
    cached_references,
    computed_reference,
    reference_cache_file,
    reference_trials,
)
from materials.surrogate import surrogate_version
from workflows.execution.placed_runs import execution_history, run_placed
from workflows.execution.task_runners import task_runner_for
from workflows.schemas import SegmentRun

log = logging.getLogger(__name__)

# The relaxation settings of every reference (materials.stability's defaults, part of the cache file's name).
REFERENCE_FMAX = 0.1
REFERENCE_STEPS = 200


class ReferenceOutcome(BaseModel):
    """One element's reference: its cache entry, or why it has none; and the CPU seconds its relaxations took."""

    element: str
    entry: dict[str, Any] | None = None
    problem: str | None = None
    cpu_seconds: float = 0.0


@task(name="elemental-reference", retries=1)
def element_reference(element: str, surrogate_name: str, execution: dict[str, Any]) -> ReferenceOutcome:
    """Relax the element's trial structures with this worker's model instance and keep the lowest energy."""
    started = time.thread_time()
    settings = ExecutorSettings.from_options(execution)
    surrogate = surrogate_for_worker(
        surrogate_name,
        settings.torch_threads,
        shared=settings.workers == 1 and settings.executor == "threads",
    )
    # One BLAS thread per worker, as in the surrogate stage: ASE's cell filter is 3x3 matrix functions.
    with threadpool_limits(limits=settings.torch_threads):
        entry, problem = computed_reference(element, surrogate, REFERENCE_FMAX, REFERENCE_STEPS)
    return ReferenceOutcome(
        element=element, entry=entry, problem=problem, cpu_seconds=time.thread_time() - started
    )


@flow(name="elemental-references")
def references_stage(
    elements: list[str], surrogate: str, cache_file: str, execution: dict[str, Any]
) -> list[ReferenceOutcome]:
    """One task per element on the placement's task runner; each reference is cached as soon as it arrives, with a
    progress artifact in the UI and a progress bar on the terminal."""
    progress_id = create_progress_artifact(
        0.0, key="references-progress", description=f"{surrogate} references of {len(elements)} elements"
    )
    label = str(execution.get("placement", "references"))
    futures = element_reference.with_options(tags=["classical", label]).map(
        elements, surrogate_name=surrogate, execution=unmapped(execution)
    )
    outcomes: list[ReferenceOutcome] = []
    bar = tqdm(
        total=len(elements),
        desc="references",
        unit="element",
        disable=not get_settings().screening.progress_bar,
    )
    with bar:
        for future in as_completed(list(futures)):
            outcome = future.result()
            if outcome.entry is not None:
                write_reference_entry(Path(cache_file), outcome.element, outcome.entry)
            outcomes.append(outcome)
            bar.update(1)
            update_progress_artifact(progress_id, 100.0 * len(outcomes) / max(len(elements), 1))
    return outcomes


def reference_segment(elements: list[str], surrogate: str) -> MLPotentialBatch:
    """The relaxations of the elements' trial structures as a segment the broker can place."""
    atoms = [len(structure) for element in elements for structure, _ in reference_trials(element).values()]
    return MLPotentialBatch(
        name=f"{surrogate}-elemental-references", atoms=atoms, relax_steps=REFERENCE_STEPS, model=surrogate
    )


def _cache_file(surrogate: str) -> Path:
    """The settings' reference cache for this surrogate and the screening's relaxation settings."""
    version = surrogate_version(surrogate)
    return reference_cache_file(
        get_settings().paths.references, surrogate, version, REFERENCE_FMAX, REFERENCE_STEPS
    )


def missing_references(elements: list[str], surrogate: str) -> list[str]:
    """The elements whose reference the cache does not hold (untrusted ones left out: they are never computed)."""
    return cached_references(elements, _cache_file(surrogate))[1]


def elemental_references_placed(
    elements: list[str],
    surrogate: str,
    catalog: ResourceCatalog,
    policy: Policy | None = None,
) -> tuple[ElementalReferences, SegmentRun | None, float]:
    """The references of `elements`: read from the cache, the missing ones computed where the broker places
    their relaxations (its runners-up as fallbacks). Also the segment run (None when the cache held them all) and
    the CPU seconds the relaxations took."""
    try:
        logger: logging.Logger | logging.LoggerAdapter = get_run_logger()
    except MissingContextError:  # called outside a flow run (a benchmark or a test)
        logger = log
    cache_file = _cache_file(surrogate)
    found, missing = cached_references(elements, cache_file)
    if not missing:
        return found, None, 0.0
    placement = place(reference_segment(missing, surrogate), catalog, policy, history=execution_history())
    logger.info(
        "elemental references of %d elements (%s) placed on %s: %s",
        len(missing),
        ", ".join(missing),
        placement.label(),
        placement.reasons[1] if len(placement.reasons) > 1 else placement.reasons[0],
    )

    def run(where: Placement) -> list[ReferenceOutcome]:
        execution = ExecutorSettings.from_options(where.options)
        _, still_missing = cached_references(
            missing, cache_file
        )  # a fallback keeps what the failed try cached
        stage = references_stage.with_options(
            task_runner=task_runner_for(execution), flow_run_name=f"references-{where.label()}"
        )
        return stage(
            still_missing, surrogate, str(cache_file), execution.model_dump() | {"placement": where.label()}
        )

    outcomes, record, _ = run_placed(placement, run)
    for outcome in outcomes:
        if outcome.problem is not None:
            found.problems[outcome.element] = outcome.problem
    computed, _ = cached_references(missing, cache_file)
    found.energies.update(computed.energies)
    return found, _segment_run(placement, record), sum(o.cpu_seconds for o in outcomes)


def _segment_run(placement: Placement, record: ExecutionRecord) -> SegmentRun:
    return SegmentRun(
        segment=placement.segment,
        kind=placement.kind,
        placement=placement.model_dump(mode="json"),
        execution=record.model_dump(mode="json"),
    )
