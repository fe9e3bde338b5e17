"""Placements with only the attributes quantum/executors.py and quantum/execution.py read (workflows.broker.Placement
has more)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SimpleEstimate:
    seconds: float = 0.1
    memory_bytes: int = 1000
    cost_usd: float = 0.001
    energy_joules: float = 1.0


@dataclass
class SimplePlacement:
    """A placement with only the attributes executors read (workflows.broker.Placement has more)."""

    method: str
    resource: str = "aer-cpu"
    device: str = "CPU"
    segment: str = "test"
    options: dict[str, Any] = field(default_factory=dict)
    estimate: SimpleEstimate = field(default_factory=SimpleEstimate)

    def __post_init__(self) -> None:
        if self.device != "QPU":
            self.options = {"method": self.method, "device": self.device, **self.options}

    def label(self) -> str:
        return f"{self.resource}/{self.method}"


def qpu_placement(**changes: Any) -> SimplePlacement:
    """A what-if placement on IBM Manila's calibration snapshot (a fake backend run in local testing mode)."""
    fields: dict[str, Any] = {
        "method": "qpu", "resource": "fake_manila", "device": "QPU", "segment": "bell",
        "options": {"what_if": True}, "estimate": SimpleEstimate(1.0, 0, 1.6, 25_000.0),
    }  # fmt: skip
    return SimplePlacement(**(fields | changes))
