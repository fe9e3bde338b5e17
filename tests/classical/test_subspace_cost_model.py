"""SQD's classical segments (subspace diagonalization, CASCI reference): time and memory grow with the subspace,
independent batches go to parallel workers where they pay, and what fits nowhere is refused with the fix."""

from __future__ import annotations

import re

import pytest

from broker.models import PlacementRefused, Resource, ResourceCatalog
from broker.place import place
from classical.cost.subspace_cost_model import SUBSPACE_BYTES_PER_DETERMINANT
from classical.segments import SubspaceDiagonalization

GIB = 2**30


def resource(
    name: str, executor: str, cores: int = 2, free_gib: float = 16, workers: int | None = None
) -> Resource:
    """A classical resource as discovery reports it (a Dask cluster's memory is per worker)."""
    return Resource(
        name=name,
        kind="classical",
        device="CPU",
        methods=["ml_potential", "climate_ensemble"],
        cores=cores,
        memory_total_bytes=int(32 * GIB),
        memory_free_bytes=int(free_gib * GIB),
        price_per_second_usd=1e-5,
        power_watts=20.0,
        executor=executor,  # type: ignore[arg-type]
        workers=workers or cores,
        address="tcp://scheduler:8786" if executor == "dask" else None,
    )


def local(cores: int = 2, free_gib: float = 16) -> ResourceCatalog:
    return ResourceCatalog(
        resources=[
            resource("local-threads", "threads", cores, free_gib),
            resource("local-processes", "processes", cores, free_gib),
        ]
    )


def subspaces(
    dimension: int, batches: int = 3, iterations: int = 3, orbitals: int = 16
) -> SubspaceDiagonalization:
    return SubspaceDiagonalization(
        name="sqd",
        orbitals=orbitals,
        n_alpha=5,
        n_beta=5,
        dimension=dimension,
        batches=batches,
        iterations=iterations,
    )


def test_time_and_memory_grow_with_the_subspace_dimension() -> None:
    estimates = [place(subspaces(dimension), local()).estimate for dimension in (10_000, 90_000, 1_000_000)]
    seconds = [e.seconds for e in estimates]
    memory = [e.memory_bytes for e in estimates]
    assert seconds == sorted(seconds) and seconds[0] < seconds[1] < seconds[2]
    assert memory[0] < memory[1] < memory[2]
    # and with the batches diagonalized: three times the batches, about three times the work on one thread
    one = place(subspaces(90_000, batches=1), local(), None).estimate
    three = place(subspaces(90_000, batches=3), local(), None).estimate
    assert three.seconds > 2.5 * (one.seconds - 1.0)


def test_small_subspaces_stay_on_the_flows_threads_and_many_large_batches_go_to_a_dask_cluster() -> None:
    small = place(subspaces(10_000), local())
    assert small.resource == "local-threads"  # starting worker processes costs more than the work
    cluster = ResourceCatalog(
        resources=[*local().resources, resource("dask", "dask", cores=32, free_gib=8, workers=32)]
    )
    large = place(subspaces(4_000_000, batches=8, iterations=5), cluster)
    assert large.resource == "dask" and large.options["workers"] == 8  # one worker per batch
    assert large.options["address"] == "tcp://scheduler:8786"


def test_casci_reference_is_one_diagonalization_over_every_determinant() -> None:
    reference = SubspaceDiagonalization(
        name="casci", orbitals=12, n_alpha=5, n_beta=5, dimension=627_264, method="casci"
    )
    placement = place(reference, local())
    assert placement.method == "casci" and placement.options["workers"] == 1
    # fitted on this machine's CASCI of N2/6-31G (10e,12o): 6.1 CPU-s on one core
    assert 2.0 < placement.estimate.seconds < 10.0
    assert "CASCI reference of (10e,12o)" in reference.summary()


def test_a_subspace_that_fits_no_memory_is_refused_with_the_fix() -> None:
    huge = subspaces(200_000_000)  # 52 GB of Davidson vectors per batch
    with pytest.raises(PlacementRefused) as refused:
        place(huge, local(free_gib=4))
    message = str(refused.value)
    assert re.search(r"max_dim <= [\d,]+ CI strings per spin \(now up to 200,000,000\)", message)
    estimate = refused.value.placement.estimate
    assert not estimate.feasible
    assert re.match(
        r"a subspace of 200,000,000 determinants needs 52 GB, 4\.29 GB free on local-", estimate.why_not or ""
    )
    # the suggested cap fits: max_dim^2 determinants within the free memory
    strings = int(re.search(r"max_dim <= ([\d,]+)", message).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert SUBSPACE_BYTES_PER_DETERMINANT * strings**2 < 4 * GIB
