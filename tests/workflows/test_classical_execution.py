"""Classical stages run where the broker placed them: a Dask LocalCluster of processes, fallback when a worker
dies, and `--plan`, which places every segment and runs nothing (real Prefect API, real CHGNet, real Dask)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cloudpickle
import pytest
from prefect import flow, task

from broker.fallback import fallback_placements
from broker.models import Estimate, Placement
from classical.runners import ExecutorSettings
from workflows.execution.placed_runs import run_placed
from workflows.execution.task_runners import task_runner_for

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Dask workers cannot import test modules


def _estimate(resource: str, executor: str, workers: int) -> Estimate:
    return Estimate(
        resource=resource, method=f"static-x{workers}", device="CPU", seconds=1.0, memory_bytes=2**30,
        cost_usd=0.0, fidelity=1.0, energy_joules=1.0, feasible=True,
        options={"executor": executor, "workers": workers, "batch_size": 2, "torch_threads": 1, "device": "cpu"},
    )  # fmt: skip


def processes_then_threads(name: str) -> Placement:
    """Two local worker processes first, the flow's own thread as the runner-up (a broker placement's shape)."""
    first, runner_up = _estimate("local-processes", "processes", 2), _estimate("local-threads", "threads", 1)
    return Placement.on(name, "ml_potential", first, [runner_up], ["chosen by the test"])


@pytest.mark.slow
def test_surrogate_stage_runs_on_a_dask_local_cluster_of_processes(prefect_api: None, tmp_path: Path) -> None:
    from pymatgen.core import Lattice, Structure

    from config.settings import get_settings
    from materials.screening import ScreenedInput
    from materials.surrogate import load_surrogate
    from workflows.screening.surrogate_stage import run_surrogate_stage

    structures = [
        Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
        for a in (4.15, 4.2, 4.25, 4.3)
    ]
    valid = [
        ScreenedInput(source=f"mgo-{i}", formula="MgO", structure=s.as_dict(), error=None)
        for i, s in enumerate(structures)
    ]
    before = set(get_settings().paths.results.iterdir())
    energies, record = run_surrogate_stage(valid, processes_then_threads("dask-stage"), False, "chgnet")
    assert record.label() == "local-processes/static-x2" and record.fallbacks == []
    assert record.kind == "ml_potential" and record.total_seconds and record.total_seconds > 0
    direct = load_surrogate("chgnet").energies_per_atom(structures)  # the same model in this process
    by_source = {e.source: e.energy_per_atom for e in energies}
    assert [by_source[f"mgo-{i}"] for i in range(4)] == pytest.approx(direct, abs=1e-5)
    assert (
        len(set(get_settings().paths.results.iterdir()) - before) >= 2
    )  # each batch persisted by its worker


@task(name="fragile-step", persist_result=False)
def fragile_step(marker: str) -> int:
    """Kills the process it runs in the first time (as the OOM killer would), then returns its pid."""
    if not Path(marker).exists():
        Path(marker).write_text("died once")
        os._exit(1)
    return os.getpid()


@flow(name="fragile-stage")
def fragile_stage(marker: str) -> int:
    return fragile_step.submit(marker).result()


@pytest.mark.slow
def test_a_dead_worker_falls_back_to_the_runner_up(prefect_api: None, tmp_path: Path) -> None:
    import dask

    marker = str(tmp_path / "died")
    placement = processes_then_threads("fragile")
    assert [p.label() for p in fallback_placements(placement)] == [
        "local-processes/static-x2",
        "local-threads/static-x1",
    ]

    def run(where: Placement) -> int:
        runner = task_runner_for(ExecutorSettings.from_options(where.options))
        return fragile_stage.with_options(task_runner=runner)(marker)

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):  # the first death is final
        pid, record, ran_on = run_placed(placement, run, retries=0)
    assert Path(marker).exists()  # a worker process did die
    assert pid == os.getpid()  # the runner-up ran it in this process's thread pool
    assert ran_on.resource == "local-threads" and record.fallbacks == ["local-processes/static-x2"]
    assert any("local-processes/static-x2" in error for error in record.errors)


@pytest.mark.slow
def test_plan_places_every_segment_and_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from config.settings import settings_override
    from workflows.cli import main

    with settings_override(home=tmp_path / "home"):
        assert main(["screen", "--plan", "--json", "--relax"]) == 0
        screening = json.loads(capsys.readouterr().out)
        assert main(["climate", "--plan", "--json"]) == 0
        climate = json.loads(capsys.readouterr().out)
    kinds = [s["kind"] for s in screening["segments"]]
    assert kinds == ["ml_potential", "ml_potential", "quantum"]  # energies, the uncached references, VQE
    assert screening["segments"][1]["segment"] == "chgnet-elemental-references"
    assert [s["kind"] for s in climate["segments"]] == ["climate_ensemble", "quantum"]
    for segment in screening["segments"] + climate["segments"]:
        assert segment["resource"] and segment["refused"] is None
        assert segment["estimate"]["seconds"] > 0 and segment["estimate"]["memory_bytes"] > 0
        assert any(r.startswith("chose ") for r in segment["reasons"])
    surrogate = screening["segments"][0]
    assert (
        surrogate["options"]["executor"] in ("threads", "processes")
        and surrogate["options"]["batch_size"] >= 1
    )
    assert "relaxations" in surrogate["reasons"][0]
    results = tmp_path / "home" / "results"
    assert not results.exists() or not any(results.iterdir())  # nothing persisted
