"""QPU slots: overlapping flow runs share one global concurrency slot for QPU placements, none for simulators."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import pytest
from prefect import flow

from broker.catalog import discover_catalog
from broker.models import Placement, Policy
from broker.place import place
from quantum.circuit_families import ghz
from quantum.cost.profiles import QuantumSegment
from quantum.executors import sampler_for
from workflows.execution.qpu_slots import QPU_LIMIT, ensure_qpu_limit, qpu_slot

SHOTS = 200
HOLD_SECONDS = 0.5  # long enough that two unlimited holders would certainly overlap


class Holders:
    """Who is inside a slot right now, the most at once, and each holder's (enter, leave) times."""

    def __init__(self, parties: int) -> None:
        self.lock = threading.Lock()
        self.inside = 0
        self.most_at_once = 0
        self.intervals: list[tuple[float, float]] = []
        self.active_slots_seen: list[int] = []
        self.start = threading.Barrier(parties, timeout=60)

    def enter(self) -> float:
        with self.lock:
            self.inside += 1
            self.most_at_once = max(self.most_at_once, self.inside)
        return time.monotonic()

    def leave(self, entered: float) -> None:
        with self.lock:
            self.inside -= 1
            self.intervals.append((entered, time.monotonic()))


HOLDERS: Holders | None = None


def active_slots() -> int:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(QPU_LIMIT).active_slots


def delete_qpu_limit() -> None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client, contextlib.suppress(ObjectNotFound):
        client.delete_global_concurrency_limit_by_name(QPU_LIMIT)


@flow(name="qpu-slot-holder")
def hold_a_qpu_slot(placement: dict[str, Any], meet_inside: bool = False) -> int:
    """Run a GHZ circuit on the placement inside `qpu_slot`; return the shots counted."""
    holders = HOLDERS
    assert holders is not None
    holders.start.wait()  # both flow runs ask for the slot at the same moment
    with qpu_slot(placement) as held:
        entered = holders.enter()
        holders.active_slots_seen.append(active_slots())
        if meet_inside:
            holders.start.wait()  # only passes if the other run is inside at the same time
        counts = sampler_for(Placement.model_validate(placement)).run([ghz(3)], shots=SHOTS).result()
        time.sleep(HOLD_SECONDS)
        holders.leave(entered)
    assert held == (placement["device"] == "QPU")
    return sum(counts[0].data.meas.get_counts().values())


def run_two_overlapping(placement: Placement, meet_inside: bool = False) -> Holders:
    global HOLDERS
    HOLDERS = Holders(parties=2)
    shots: list[int] = []
    errors: list[BaseException] = []

    def one_run() -> None:
        try:
            shots.append(hold_a_qpu_slot(placement.model_dump(mode="json"), meet_inside))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert shots == [SHOTS, SHOTS]
    return HOLDERS


@pytest.fixture(scope="module")
def placements() -> dict[str, Placement]:
    catalog = discover_catalog(include_fake_backends=True, fake_backends=["fake_manila"])
    segment = QuantumSegment("ghz", [ghz(3)], "sampler", shots=SHOTS)
    return {
        "qpu": place(segment, catalog, Policy(allowed_resources=["fake_manila"])),
        "simulator": place(segment, catalog, Policy(allowed_resources=["aer-cpu"])),
    }


@pytest.fixture
def one_qpu_slot(prefect_api: None) -> None:
    delete_qpu_limit()
    assert ensure_qpu_limit(1) == 1
    assert ensure_qpu_limit(3) == 1  # an existing limit is the lab's: left as it is


@pytest.mark.slow
def test_overlapping_qpu_runs_hold_the_slot_one_at_a_time(
    one_qpu_slot: None, placements: dict[str, Placement]
) -> None:
    assert placements["qpu"].device == "QPU" and placements["qpu"].resource == "fake_manila"
    holders = run_two_overlapping(placements["qpu"])
    first, second = sorted(holders.intervals)
    assert first[1] <= second[0], f"hold intervals overlap: {first} and {second}"
    assert holders.most_at_once == 1
    assert holders.active_slots_seen == [1, 1]
    assert active_slots() == 0  # both slots given back


@pytest.mark.slow
def test_simulator_runs_take_no_slot_and_overlap(
    one_qpu_slot: None, placements: dict[str, Placement]
) -> None:
    assert placements["simulator"].device == "CPU"
    holders = run_two_overlapping(placements["simulator"], meet_inside=True)
    assert holders.most_at_once == 2
    assert holders.active_slots_seen == [0, 0]


def test_missing_limit_is_an_error_when_not_created(
    prefect_api: None, placements: dict[str, Placement]
) -> None:
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError

    delete_qpu_limit()
    with (
        pytest.raises(ConcurrencySlotAcquisitionError),
        qpu_slot(placements["qpu"], create_missing_with=None, timeout_seconds=120),  # never wait forever
    ):
        pass
    with qpu_slot(placements["qpu"]) as held:  # the default creates the missing limit with one slot
        assert held and active_slots() == 1
    with pytest.raises(ValueError, match="slots=0"):
        ensure_qpu_limit(0)
    with pytest.raises(ValueError, match="device"):
        qpu_slot({"resource": "aer-cpu"}).__enter__()
