"""SQD's classical segments placed by the broker and run where placed: on a LocalCluster of worker processes the
diagonalization (every batch a task) and the CASCI reference give the energies they give on the flow's threads;
placements, execution records and the plan name where each segment ran."""

from __future__ import annotations

import argparse
import asyncio
import json

import pytest

from quantum.chemistry.active_space import ReferenceEnergy
from workflows.sqd.flow import SQDParameters, sqd_plan
from workflows.sqd.stages import ProblemShape, diagonalization_segment, expected_strings, place_stages

WATER = "O 0 0 0; H 0 0.757 0.587; H 0 -0.757 0.587"  # experimental geometry, Å (NIST CCCBDB)


def test_the_expected_subspace_is_bounded_by_samples_enlargement_max_dim_and_the_sector() -> None:
    settings = SQDParameters(atom=WATER, samples_per_batch=10, max_dim=300).settings()
    # (10e,16o): 4,368 strings per spin; 10 samples with their 55 singles each reach 560, capped at 300
    assert expected_strings(16, 5, settings) == 300
    assert expected_strings(6, 4, settings) == 15  # the whole sector of (8e,6o)
    none = settings.model_copy(update={"enlargement": "none"})
    assert expected_strings(16, 5, none) == 10
    segment = diagonalization_segment(ProblemShape("n2", 16, 5, 5), settings)
    assert segment.dimension == 90_000 and segment.batches == 3 and segment.iterations == 3


def test_plan_places_sampling_diagonalization_and_reference() -> None:
    from workflows.execution.qpu_access import flow_catalog

    params = SQDParameters(atom=WATER, basis="sto-3g", frozen_core=True)
    plan = sqd_plan(params, flow_catalog())
    assert [p.kind for p in plan] == [
        "fermionic_sampling",
        "subspace_diagonalization",
        "subspace_diagonalization",
    ]
    assert [p.method for p in plan[1:]] == ["sci", "casci"]
    assert all(not p.refused and p.reasons for p in plan)
    forced = sqd_plan(params.model_copy(update={"classical_executor": "processes"}), flow_catalog())
    assert {p.resource for p in forced[1:]} == {"local-processes"}


def test_place_stages_places_both_classical_segments_or_says_why_the_reference_is_skipped() -> None:
    from workflows.execution.qpu_access import flow_catalog

    catalog = flow_catalog()
    settings = SQDParameters(atom=WATER).settings()
    lif = ProblemShape("LiF", 7, 3, 3)  # the screening's (6e,7o) fragment: 35 x 35 = 1,225 determinants
    diagonalization, reference = place_stages(lif, settings, 10_000, catalog)
    assert (diagonalization.segment, diagonalization.kind) == (
        "sqd-diagonalization-LiF",
        "subspace_diagonalization",
    )
    assert diagonalization.method.startswith("sci") and diagonalization.reasons
    assert not isinstance(reference, ReferenceEnergy)
    assert (reference.segment, reference.method) == ("casci-reference-LiF", "casci")

    _, skipped = place_stages(lif, settings, 1_000, catalog)
    assert isinstance(skipped, ReferenceEnergy) and skipped.energy is None
    assert skipped.reason == "CASCI not computed: 1,225 determinants exceed the limit of 1,000"

    forced = place_stages(lif, settings, 10_000, catalog, "processes")
    assert {placement.resource for placement in forced} == {"local-processes"}


def test_the_screening_places_the_segments_of_the_sqd_flow() -> None:
    from workflows.execution.qpu_access import flow_catalog
    from workflows.screening.quantum_refinement import place_sqd, sqd_settings
    from workflows.sqd.stages import ProblemShape

    placements = place_sqd("LiF", 7, 6, flow_catalog())
    expected = diagonalization_segment(ProblemShape.closed_shell("LiF", 7, 6), sqd_settings())
    assert placements.diagonalization.segment == expected.name == "sqd-diagonalization-LiF"
    assert placements.diagonalization.estimate.seconds > 0
    assert placements.sampling.kind == "fermionic_sampling"
    assert not isinstance(placements.reference, ReferenceEnergy) and placements.reference.method == "casci"


async def _task_run_names(flow_run_id: str) -> set[str]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId, TaskRunFilter

    async with get_client() as client:
        subflows = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id]))
        )
        ids = [run.id for run in subflows]
        runs = await client.read_task_runs(
            task_run_filter=TaskRunFilter(flow_run_id={"any_": ids}) if ids else None
        )
    return {run.name for run in runs}


@pytest.mark.slow
def test_diagonalization_on_worker_processes_gives_the_energy_of_threads(
    prefect_api: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from workflows.sqd.flow import active_space_sqd

    run = {"atom": WATER, "basis": "sto-3g", "frozen_core": True, "shots": 2000, "seed": 3, "batches": 2}
    run["iterations"] = 2
    threads = active_space_sqd(**run, classical_executor="threads")
    state = active_space_sqd(**run, classical_executor="processes", return_state=True)
    processes = state.result()
    assert processes.energy == pytest.approx(threads.energy, abs=1e-9)
    assert processes.reference_energy == pytest.approx(threads.reference_energy, abs=1e-9)
    for result, resource in ((threads, "local-threads"), (processes, "local-processes")):
        assert {name: p["resource"] for name, p in result.placements.items()} == {
            "diagonalization": resource,
            "reference": resource,
        }
        for record in result.executions.values():
            assert record["succeeded"] and record["fallbacks"] == [] and record["total_seconds"] > 0
    # every batch of every iteration was a task of the diagonalization subflow, on the worker processes
    names = asyncio.run(_task_run_names(str(state.state_details.flow_run_id)))
    assert {"iteration-1-batch-1", "iteration-1-batch-2", "iteration-2-batch-1"} <= names
    assert any(name.startswith("casci") for name in names)

    # the plan on the command line, as JSON
    from workflows.cli import add_flow_command
    from workflows.sqd.cli import SQD

    parser = argparse.ArgumentParser()
    add_flow_command(parser.add_subparsers(), SQD)
    args = parser.parse_args(["sqd", "--atom", WATER, "--frozen-core", "--plan", "--json"])
    capsys.readouterr()
    assert args.handler(args) == 0
    segments = json.loads(capsys.readouterr().out)["segments"]
    assert [s["kind"] for s in segments][1:] == ["subspace_diagonalization"] * 2
