"""QPU slots: a Prefect global concurrency limit, so overlapping flow runs never exceed the lab's QPU share.

Every segment placed on a QPU (a real IBM backend or a fake backend standing in for one) runs inside
`qpu_slot(placement)`, which holds one slot of the global limit `qpu` for as long as the segment runs; simulator
placements take no slot. The limit is strict: a missing limit is an error, never a silent "no limit" (Prefect
enforces nothing for a missing limit unless `strict=True`). Slots are leases (300 s, renewed by the client while
held), so a SIGKILLed run gives its slot back when the lease expires, unlike tag-based task limits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

logger = logging.getLogger(__name__)

QPU_LIMIT = "qpu"
"""Name of the global concurrency limit that counts QPU segments running at once."""
DEFAULT_QPU_SLOTS = 1
"""Slots a missing limit is created with: one QPU job at a time (raise it for a larger share)."""


def placement_device(placement: Any) -> str:
    """The device of a placement: a `broker.models.Placement` or its JSON dump ('CPU', 'GPU' or 'QPU')."""
    device = placement.get("device") if isinstance(placement, Mapping) else getattr(placement, "device", None)
    if device is None:
        raise ValueError(
            f"placement has no 'device' (got {type(placement).__name__}); pass the broker's Placement "
            "or its model_dump()"
        )
    return str(device)


def is_qpu_placement(placement: Any) -> bool:
    """True when the placement runs on a QPU (fake backends included: they stand in for one)."""
    return placement_device(placement) == "QPU"


def ensure_qpu_limit(slots: int = DEFAULT_QPU_SLOTS, *, name: str = QPU_LIMIT) -> int:
    """Create the global concurrency limit `name` with `slots` slots if it is missing; return its slot count.

    An existing limit is left as the lab set it (its slot count is returned), with a warning when it is
    inactive, because an inactive limit lets every run through.
    """
    if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
        raise ValueError(f"slots={slots!r}: a QPU limit needs a whole number of slots >= 1; pass e.g. 1")
    with get_client(sync_client=True) as client:
        try:
            existing = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=slots))
                logger.info("created global concurrency limit %r with %d slot(s)", name, slots)
                return slots
            except ObjectAlreadyExists:  # another run created it in between
                existing = client.read_global_concurrency_limit_by_name(name)
    if not existing.active:
        logger.warning(
            "global concurrency limit %r is inactive, so QPU use is not limited; "
            "activate it with `prefect gcl enable %s`",
            name,
            name,
        )
    return existing.limit


@contextmanager
def qpu_slot(
    placement: Any,
    *,
    timeout_seconds: float | None = None,
    create_missing_with: int | None = DEFAULT_QPU_SLOTS,
) -> Iterator[bool]:
    """Hold one slot of the `qpu` limit while the body runs, when the placement is on a QPU; yield whether.

    `create_missing_with` slots are created when the limit does not exist yet (an ephemeral API starts empty);
    pass None to require that the lab created it (a missing limit then raises). `timeout_seconds` bounds the
    wait for a slot (TimeoutError); None waits as long as it takes.
    """
    if not is_qpu_placement(placement):
        yield False
        return
    if create_missing_with is not None:
        ensure_qpu_limit(create_missing_with)
    with concurrency(QPU_LIMIT, occupy=1, timeout_seconds=timeout_seconds, strict=True):
        logger.debug("holding a %r slot", QPU_LIMIT)
        yield True
