"""Classical cost models: which executor, how many workers, and refusals, on catalogs of known size and load."""

from __future__ import annotations

import math

import pytest

from broker.models import PlacementRefused, Policy, Resource, ResourceCatalog
from broker.place import place
from broker.records import ExecutionHistory, ExecutionRecord
from classical.cost.executors import STAGE_SECONDS
from classical.cost.ml_potential_cost_model import (
    BYTES_PER_ATOM,
    MAX_TASKS,
    STATIC_SECONDS,
    STATIC_SECONDS_PER_ATOM,
    TYPICAL_RELAX_STEPS,
)
from classical.segments import ClimateEnsemble, MLPotentialBatch

GIB = 2**30


def local(executor: str, cores: int = 2, load: float = 0.0, free_gib: float = 16) -> Resource:
    """A local classical resource as discovery reports it: `cores` workers, `load` cores busy elsewhere."""
    return Resource(
        name=f"local-{executor}",
        kind="classical",
        device="CPU",
        methods=["ml_potential", "climate_ensemble"],
        cores=cores,
        memory_total_bytes=int(32 * GIB),
        memory_free_bytes=int(free_gib * GIB),
        price_per_second_usd=1e-5,
        power_watts=20.0,
        executor=executor,  # type: ignore[arg-type]
        workers=cores,
        load=load,
    )


def catalog(cores: int = 2, load: float = 0.0, free_gib: float = 16) -> ResourceCatalog:
    return ResourceCatalog(
        resources=[local("threads", cores, load, free_gib), local("processes", cores, load, free_gib)]
    )


def test_many_relaxations_go_to_parallel_processes_on_idle_cores() -> None:
    segment = MLPotentialBatch(name="relax", atoms=[8] * 64, relax_steps=200)
    placement = place(segment, catalog(cores=2))
    assert placement.resource == "local-processes" and placement.options["workers"] == 2
    assert placement.options["executor"] == "processes"
    threads = next(
        e for e in placement.runners_up if e.resource == "local-threads" and e.options["workers"] == 1
    )
    # two processes cut the time by a third even after paying ~20 s to start a cluster and load two models
    assert placement.estimate.seconds < 0.75 * threads.seconds
    assert any("runner-up local-threads" in r for r in placement.reasons)


def test_a_few_static_energies_stay_in_the_flows_own_thread() -> None:
    placement = place(MLPotentialBatch(name="static", atoms=[8] * 8), catalog(cores=2))
    assert placement.resource == "local-threads" and placement.options["workers"] == 1
    # the subflow, one task of 8 structures, each its atoms' share of a prediction: nothing to start up
    expected = STAGE_SECONDS + 8 * (STATIC_SECONDS + 8 * STATIC_SECONDS_PER_ATOM)
    assert placement.estimate.seconds == pytest.approx(expected, rel=0.5)


def test_other_programs_slow_every_local_option_and_shrink_the_gain_of_workers() -> None:
    segment = MLPotentialBatch(name="relax", atoms=[8] * 64, relax_steps=200)

    def seconds(load: float, workers: int) -> float:
        placement = place(segment, catalog(load=load), Policy(allowed_resources=["local-processes"]))
        return next(
            e.seconds for e in [placement.estimate, *placement.runners_up] if e.options["workers"] == workers
        )

    assert seconds(2.0, 1) > 1.4 * seconds(0.0, 1)  # a fair share of 2 cores among 3 runnable programs
    gain_idle, gain_busy = seconds(0.0, 1) / seconds(0.0, 2), seconds(2.0, 1) / seconds(2.0, 2)
    assert 1.0 < gain_busy < gain_idle  # a second worker still wins back some share, but less


def test_batch_size_keeps_the_task_count_in_the_hundreds() -> None:
    placement = place(MLPotentialBatch(name="static", atoms=[8] * 10_000), catalog(cores=2))
    tasks = math.ceil(10_000 / placement.options["batch_size"])
    assert tasks <= MAX_TASKS
    assert tasks >= 2 * placement.options["workers"]  # enough tasks to balance the workers
    few = place(MLPotentialBatch(name="static", atoms=[8] * 20), catalog(cores=2))
    assert few.options["batch_size"] == 8  # batched calls are faster than one structure per task


def test_a_relaxation_that_fits_no_memory_is_refused_with_what_would_fit() -> None:
    segment = MLPotentialBatch(name="huge", atoms=[8, 8, 1_000_000], relax_steps=200)
    with pytest.raises(PlacementRefused) as refused:
        place(segment, catalog(free_gib=16))
    message = refused.value.placement.refused or ""
    assert "fits no resource" in message and "largest cell 1,000,000" in message
    most = int((16 * GIB * 0.9 - 600 * 2**20) // BYTES_PER_ATOM["relax"])
    assert f"cells of at most {most:,} atoms" in message


def test_policy_limits_apply_to_classical_segments() -> None:
    segment = MLPotentialBatch(name="relax", atoms=[8] * 64, relax_steps=200)
    placement = place(segment, catalog(), Policy(allowed_resources=["local-threads"]))
    assert placement.resource == "local-threads"
    assert all(
        e.why_not and "allowed_resources" in e.why_not
        for e in placement.runners_up
        if e.resource != "local-threads"
    )


def test_execution_records_correct_classical_estimates(tmp_path) -> None:
    segment = MLPotentialBatch(name="relax", atoms=[8] * 64, relax_steps=200)
    before = place(segment, catalog())
    history = ExecutionHistory(tmp_path / "records.jsonl")
    for _ in range(3):  # three runs measured at 3x the model's time
        history.append(
            ExecutionRecord(
                segment="relax", kind="ml_potential", resource=before.resource, method=before.method,
                device="CPU", succeeded=True, predicted_seconds=before.estimate.seconds,
                measured_seconds=3 * before.estimate.seconds,
            )
        )  # fmt: skip
    after = place(segment, catalog(), history=history)
    corrected = next(e for e in [after.estimate, *after.runners_up] if e.label() == before.estimate.label())
    assert corrected.seconds == pytest.approx(3 * before.estimate.seconds)
    assert corrected.model_seconds == pytest.approx(before.estimate.seconds)


def test_a_relaxation_is_expected_to_stop_at_the_typical_step_count() -> None:
    def seconds(steps: int) -> float:
        return place(
            MLPotentialBatch(name="r", atoms=[8] * 64, relax_steps=steps), catalog()
        ).estimate.seconds

    assert seconds(5) < seconds(TYPICAL_RELAX_STEPS)  # a lower step limit stops it sooner
    assert seconds(500) == pytest.approx(seconds(TYPICAL_RELAX_STEPS))  # a higher one is rarely reached


def test_climate_ensembles_fit_in_memory_or_are_refused_with_a_member_count() -> None:
    small = place(ClimateEnsemble(name="c", scenarios=3, members=1000, years=351), catalog())
    assert small.resource == "local-threads" and small.estimate.memory_bytes < 2**30
    with pytest.raises(PlacementRefused) as refused:
        place(ClimateEnsemble(name="c", scenarios=3, members=10**9, years=351), catalog(free_gib=16))
    assert "members per scenario (now 1,000,000,000)" in (refused.value.placement.refused or "")


def test_unknown_segment_kind_is_named() -> None:
    class Unknown:
        name = "x"
        kind = "weather"

    with pytest.raises(ValueError, match="segment kind 'weather' has no cost model; known kinds: quantum"):
        place(Unknown(), catalog())
