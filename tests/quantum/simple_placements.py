"""Real broker placements (`broker.models.Placement`) built in one line, for executor tests that pick a method by
hand instead of asking the broker."""

from __future__ import annotations

from typing import Any

from broker.models import Estimate, Placement


def SimpleEstimate(
    seconds: float = 0.1, memory_bytes: int = 1000, cost_usd: float = 0.001, energy_joules: float = 1.0
) -> dict[str, float]:
    """The figures of an estimate (the placement fills in where it runs)."""
    return {
        "seconds": seconds,
        "memory_bytes": memory_bytes,
        "cost_usd": cost_usd,
        "energy_joules": energy_joules,
    }


def SimplePlacement(
    method: str,
    resource: str = "aer-cpu",
    device: str = "CPU",
    segment: str = "test",
    options: dict[str, Any] | None = None,
    estimate: dict[str, float] | None = None,
) -> Placement:
    """A placement on `resource` with `method`; simulator placements carry Aer's method and device options."""
    options = dict(options or {})
    if device != "QPU":
        options = {"method": method, "device": device, **options}
    figures = estimate or SimpleEstimate()
    chosen = Estimate(
        resource=resource,
        method=method,
        device=device,
        fidelity=1.0,
        feasible=True,
        options=options,
        **figures,
    )
    return Placement.on(segment, "quantum", chosen, [], ["chosen by the test"])


def qpu_placement(**changes: Any) -> Placement:
    """A what-if placement on IBM Manila's calibration snapshot (a fake backend run in local testing mode)."""
    fields: dict[str, Any] = {
        "method": "qpu", "resource": "fake_manila", "device": "QPU", "segment": "bell",
        "options": {"what_if": True}, "estimate": SimpleEstimate(1.0, 0, 1.6, 25_000.0),
    }  # fmt: skip
    return SimplePlacement(**(fields | changes))
