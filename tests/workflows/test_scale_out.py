"""The screening flow on a Dask LocalCluster of processes: the same results as the thread pool, and a worker
killed mid-run loses nothing, recomputes nothing finished and leaves no task run Running (real Prefect API,
real Dask, real CHGNet)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

N_CANDIDATES = 16
BATCH = 2


@pytest.fixture
def results_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A results folder of this test's own, so no batch is found in another test's cache."""
    from config.settings import settings_override

    folder = tmp_path / "results"
    with settings_override(results_dir=folder):  # reaches the Dask workers through their environment
        yield folder


@pytest.fixture(scope="module")
def candidate_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 strained rocksalt cells of four compounds as CIF files (few elements: the references stay cheap)."""
    from pymatgen.core import Lattice, Structure

    folder = tmp_path_factory.mktemp("scale-candidates")
    for cation, anion, a in (("Mg", "O", 4.21), ("Na", "Cl", 5.64), ("Li", "F", 4.03), ("K", "Cl", 6.29)):
        for strain in (0.97, 0.99, 1.01, 1.03):
            cell = Lattice.cubic(a * strain)
            structure = Structure.from_spacegroup(
                "Fm-3m", cell, [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]]
            )
            structure.to(filename=str(folder / f"{cation}{anion}-{strain}.cif"))
    return folder


def screen(task_runner: str, folder: Path) -> dict[str, tuple[str, float | None]]:
    from workflows.execution.caching import with_result_storage
    from workflows.screening.flow import materials_screening

    report = with_result_storage(materials_screening)(
        candidate_paths=[str(folder)], shortlist_size=0, batch_size=BATCH, task_runner=task_runner
    )
    assert (
        report.segments[0].execution["resource"]
        == {"dask": "local-processes", "threads": "local-threads"}[task_runner]
    )
    return {c.source: (c.status, c.formation_energy_per_atom) for c in report.candidates}


@pytest.mark.slow
def test_dask_processes_give_the_thread_pools_results(
    prefect_api: None,
    results_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    candidate_folder: Path,
) -> None:
    from config.settings import settings_override

    on_dask = screen("dask", candidate_folder)
    with settings_override(results_dir=tmp_path / "threads-results"):  # recompute, no cache
        on_threads = screen("threads", candidate_folder)
    assert on_dask.keys() == on_threads.keys() and len(on_dask) == N_CANDIDATES
    for source, (status, formation) in on_threads.items():
        assert on_dask[source][0] == status, source
        if formation is not None:
            assert on_dask[source][1] == pytest.approx(formation, abs=1e-5), source


def _dask_worker_processes() -> list[psutil.Process]:
    """Dask worker processes started by this test process (multiprocessing spawns them for the nannies)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def _kill_a_worker_after(results: Path, finished: int, killed: list[int]) -> None:
    """Wait until `finished` batch results are persisted, then SIGKILL one Dask worker (as the OOM killer would)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        persisted = [p for p in results.glob("*") if p.is_file()] if results.exists() else []
        workers = _dask_worker_processes()
        if len(persisted) >= finished and workers:
            workers[0].kill()
            killed.append(workers[0].pid)
            return
        time.sleep(0.2)


@pytest.mark.slow
def test_a_killed_worker_recomputes_nothing_finished_and_leaves_nothing_running(
    prefect_api: None, results_dir: Path, candidate_folder: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterName,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    killed: list[int] = []
    killer = threading.Thread(target=_kill_a_worker_after, args=(results_dir, 3, killed), daemon=True)
    killer.start()
    outcome = screen("dask", candidate_folder)
    killer.join(timeout=5)
    assert killed, "no Dask worker was killed: the run ended before three batches were persisted"
    assert len(outcome) == N_CANDIDATES and all(status == "ok" for status, _ in outcome.values())
    with get_client(sync_client=True) as client:
        (stage,) = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_="surrogate-local-processes")),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
        runs = client.read_task_runs(
            task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[stage.id]))
        )
    batches = N_CANDIDATES // BATCH
    states = [r.state.type.value for r in runs if r.state]
    assert "RUNNING" not in states and "PENDING" not in states, states
    surrogate_runs = [r for r in runs if r.name.startswith("surrogate-energies")]
    assert len(surrogate_runs) == batches and all(r.state and r.state.is_completed() for r in surrogate_runs)
    rerun = [r.name for r in surrogate_runs if r.run_count > 1]
    assert len(rerun) <= 1, rerun  # only the batch the killed worker was computing ran again
