"""The surrogate stage of a screening: one ML-potential segment, placed by the broker and run on the task runner
its placement names (the flow's threads, a Dask LocalCluster of processes, or a Dask cluster)."""

from __future__ import annotations

import logging
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.exceptions import MissingContextError
from prefect.futures import as_completed
from prefect.utilities.annotations import unmapped
from tqdm import tqdm

from broker.models import Placement
from broker.records import ExecutionRecord
from classical.runners import ExecutorSettings
from classical.segments import MLPotentialBatch
from config.settings import get_settings
from workflows.placed_runs import run_placed
from workflows.screening_tasks import ScreenedInput, SurrogateEnergy, surrogate_energies
from workflows.task_runners import task_runner_for

# The optimizer's step limit of a screening relaxation (materials.surrogate: FIRE, fmax 0.1 eV/Å).
RELAX_STEPS = 200


def _batches(items: list[ScreenedInput], size: int) -> list[list[ScreenedInput]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def surrogate_segment(valid: list[ScreenedInput], relax: bool, surrogate: str) -> MLPotentialBatch:
    """The surrogate stage as a segment the broker can place: structures, atoms, relaxation steps."""
    return MLPotentialBatch(
        name=f"{surrogate}-{'relaxations' if relax else 'energies'}",
        atoms=[len(s.structure["sites"]) for s in valid if s.structure],
        relax_steps=RELAX_STEPS if relax else 0,
        model=surrogate,
    )


@flow(name="surrogate-stage", persist_result=True, result_serializer="json")
def surrogate_stage(
    batches: list[list[ScreenedInput]], relax: bool, surrogate: str, execution: dict[str, Any]
) -> list[SurrogateEnergy]:
    """Batched surrogate tasks on the placement's task runner, with a progress artifact in the UI and a progress
    bar on the terminal; a batch finished by an earlier run comes from its persisted result."""
    total = sum(len(b) for b in batches)
    progress_id = create_progress_artifact(
        0.0, key="surrogate-progress", description=f"{surrogate} energies of {total} structures"
    )
    futures = surrogate_energies.map(
        batches, relax=relax, surrogate_name=surrogate, execution=unmapped(execution)
    )
    energies: list[SurrogateEnergy] = []
    bar = tqdm(total=total, desc="surrogate", unit="structure", disable=not get_settings().progress_bar)
    with bar:
        for future in as_completed(list(futures)):
            future.wait()  # the state is final only after wait(); before it the API may still say Pending
            from_cache = future.state.name == "Cached"
            batch_energies = [e.model_copy(update={"from_cache": from_cache}) for e in future.result()]
            energies.extend(batch_energies)
            bar.update(len(batch_energies))
            update_progress_artifact(progress_id, 100.0 * len(energies) / max(total, 1))
    return energies


def allowed_executors(task_runner: str, dask_address: str | None) -> list[str] | None:
    """The classical resources a forced task runner leaves to the broker (None: all of them, for "auto")."""
    if task_runner == "threads":
        return ["local-threads"]
    if task_runner == "dask":
        return ["dask"] if dask_address else ["local-processes", "slurm"]
    return None


def run_surrogate_stage(
    valid: list[ScreenedInput],
    placement: Placement,
    relax: bool,
    surrogate: str,
    batch_size: int | None = None,
) -> tuple[list[SurrogateEnergy], ExecutionRecord]:
    """Run the surrogate stage where the broker placed it (its runners-up as fallbacks); one execution record.

    `batch_size` overrides the placement's structures per task (QCFLOW_BATCH_SIZE or the flow parameter)."""
    try:
        logger: logging.Logger | logging.LoggerAdapter = get_run_logger()
    except MissingContextError:  # called outside a flow run (a benchmark or a test)
        logger = logging.getLogger(__name__)

    def run(where: Placement) -> list[SurrogateEnergy]:
        execution = ExecutorSettings.from_options(where.options)
        size = batch_size or execution.batch_size
        logger.info(
            "surrogate stage on %s: %d batches of up to %d", where.label(), -(-len(valid) // size), size
        )
        stage = surrogate_stage.with_options(
            task_runner=task_runner_for(execution),
            flow_run_name=f"surrogate-{where.label()}",
            result_storage=get_settings().result_storage,
        )
        return stage(_batches(valid, size), relax, surrogate, execution.model_dump())

    energies, record, _ = run_placed(placement, run, reused_of=lambda found: any(e.from_cache for e in found))
    return energies, record
