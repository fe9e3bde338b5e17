"""The surrogate stage of a screening: one ML-potential segment, placed by the broker and run on the task runner
its placement names (the flow's threads, a Dask LocalCluster of processes, or a Dask cluster)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.exceptions import MissingContextError
from prefect.futures import as_completed
from prefect.utilities.annotations import unmapped
from pydantic import BaseModel
from pymatgen.core import Structure
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from broker.models import Placement
from broker.records import ExecutionRecord
from classical.runners import ExecutorSettings, surrogate_for_worker
from classical.segments import MLPotentialBatch
from config.files import write_atomically
from config.settings import get_settings
from materials.screening import ScreenedInput, SurrogateEnergy
from workflows.execution.caching import RESUMABLE
from workflows.execution.placed_runs import run_placed
from workflows.execution.task_runners import task_runner_for

log = logging.getLogger(__name__)

# The optimizer's step limit of a screening relaxation (materials.surrogate: FIRE, fmax 0.1 eV/Å).
RELAX_STEPS = 200


class BatchRef(BaseModel):
    """A batch of valid structures written to a file named by the hash of its content."""

    path: str
    digest: str
    count: int


def write_batches(items: list[ScreenedInput], size: int, folder: Path) -> list[BatchRef]:
    """Write the structures in batches of `size` (JSON, each file named by its content's SHA-256, written
    atomically); the same batch in a later run gets the same file and the same cache key."""
    folder.mkdir(parents=True, exist_ok=True)
    refs = []
    for start in range(0, len(items), size):
        batch = items[start : start + size]
        text = json.dumps([item.model_dump(mode="json") for item in batch], sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        path = folder / f"{digest}.json"
        if not path.exists():
            write_atomically(path, text)
        refs.append(BatchRef(path=str(path), digest=digest, count=len(batch)))
    return refs


def read_batch(ref: BatchRef) -> list[ScreenedInput]:
    """The structures of a batch file, checked against its digest (a changed file is an error, not new input)."""
    text = Path(ref.path).read_text()
    if hashlib.sha256(text.encode()).hexdigest() != ref.digest:
        raise ValueError(f"batch file {ref.path} does not match its digest; delete it and run again")
    return [ScreenedInput.model_validate(item) for item in json.loads(text)]


def _energies_one_by_one(
    surrogate: Any, structures: Sequence[Structure], relax: bool
) -> list[SurrogateEnergy]:
    """Isolate the structure that broke a batch: each one alone, errors kept per structure."""
    results = []
    for structure in structures:
        try:
            results.extend(_energies(surrogate, [structure], relax))
        except Exception as error:  # one bad candidate must not sink the batch
            results.append(SurrogateEnergy(source="", energy_per_atom=None, relaxed=relax, error=str(error)))
    return results


def _energies(surrogate: Any, structures: Sequence[Structure], relax: bool) -> list[SurrogateEnergy]:
    if relax:
        energies = [r.energy_per_atom for r in surrogate.relax(structures)]
    else:
        energies = surrogate.energies_per_atom(structures)
    return [SurrogateEnergy(source="", energy_per_atom=float(e), relaxed=relax) for e in energies]


@task(name="surrogate-energies", cache_policy=RESUMABLE - "execution", persist_result=True, retries=1)
def surrogate_energies(
    batch: BatchRef, relax: bool, surrogate_name: str, execution: dict[str, Any] | None = None
) -> list[SurrogateEnergy]:
    """Energies of one batch of valid structures in one batched surrogate call (eV/atom).

    The task takes a reference to its batch (a content-addressed file), not the structures: its inputs stay small
    for the API and the cache key, whatever the cell sizes.

    `execution` holds the placement's executor settings (workers, torch threads): with several workers each
    thread has a model instance of its own, so no lock serialises what the placement parallelised. It is left
    out of the cache key, so a run resumed on another executor reuses every finished batch.
    """
    started = time.thread_time()
    settings = ExecutorSettings.from_options(execution or {})
    surrogate = surrogate_for_worker(
        surrogate_name,
        settings.torch_threads,
        shared=settings.workers == 1 and settings.executor == "threads",
    )
    items = read_batch(batch)
    structures = [Structure.from_dict(item.structure) for item in items if item.structure]
    # BLAS threads too: OpenBLAS spreads the 3x3 matrix functions of ASE's cell filter over every core, which
    # made a 14-step relaxation 7x slower (8.7 s against 1.2 s with one thread) on a busy 2-core machine.
    with threadpool_limits(limits=settings.torch_threads):
        try:
            results = _energies(surrogate, structures, relax)
        except Exception as error:
            log.warning("batch failed (%s); retrying its structures one by one", error)
            results = _energies_one_by_one(surrogate, structures, relax)
    cpu_seconds = (time.thread_time() - started) / max(len(items), 1)
    return [
        r.model_copy(update={"source": item.source, "cpu_seconds": cpu_seconds})
        for r, item in zip(results, items, strict=True)
    ]


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
    batches: list[BatchRef], relax: bool, surrogate: str, execution: dict[str, Any]
) -> list[SurrogateEnergy]:
    """Batched surrogate tasks on the placement's task runner, with a progress artifact in the UI and a progress
    bar on the terminal; a batch finished by an earlier run comes from its persisted result."""
    total = sum(b.count for b in batches)
    progress_id = create_progress_artifact(
        0.0, key="surrogate-progress", description=f"{surrogate} energies of {total} structures"
    )
    label = str(execution.get("placement", "surrogate"))
    futures = surrogate_energies.with_options(tags=["classical", label]).map(
        batches, relax=relax, surrogate_name=surrogate, execution=unmapped(execution)
    )
    energies: list[SurrogateEnergy] = []
    bar = tqdm(
        total=total, desc="surrogate", unit="structure", disable=not get_settings().screening.progress_bar
    )
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
            result_storage=get_settings().paths.results,
        )
        batches = write_batches(valid, size, get_settings().paths.results / "batches")
        return stage(batches, relax, surrogate, execution.model_dump() | {"placement": where.label()})

    energies, record, _ = run_placed(placement, run, reused_of=lambda found: any(e.from_cache for e in found))
    return energies, record
