"""One cost model per segment kind: the small interface through which `broker.place` sees every kind of work.

A cost model knows its kind's resources and options; the broker knows none of them. It applies history
corrections and policy limits, ranks, explains and refuses. A new segment kind is a new cost model registered
here, not an edit of `place`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from broker.models import Estimate, Policy, ResourceCatalog
from config.settings import QcflowSettings

# (estimate) -> the estimate with the history's correction and the policy's limits applied, and a note or None.
Adjust = Callable[[Estimate], tuple[Estimate, str | None]]


@dataclass
class Estimates:
    """A cost model's answer: every estimate (feasible or not), notes for the reasons, and the segment's profile."""

    estimates: list[Estimate]
    summary: str
    notes: list[str] = field(default_factory=list)
    profile: Any = None


class CostModel(Protocol):
    """Estimates time, memory, cost, energy and fidelity of one segment kind on every resource that can run it."""

    kind: str

    def estimate(
        self, segment: Any, catalog: ResourceCatalog, policy: Policy, adjust: Adjust, settings: QcflowSettings
    ) -> Estimates:
        """Every (resource, option) estimate, each passed through `adjust` before any choice depends on it."""
        ...

    def what_would_fit(
        self,
        segment: Any,
        found: Estimates,
        catalog: ResourceCatalog,
        ranked: list[Estimate],
        settings: QcflowSettings,
    ) -> list[str]:
        """Changes to the segment (not the policy) that would make it fit somewhere, in plain words."""
        ...


def adjusted(raw: Iterable[Estimate], adjust: Adjust) -> tuple[list[Estimate], list[str]]:
    """Each estimate through `adjust`, with the notes the adjustments wrote (one loop for every cost model)."""
    estimates, notes = [], []
    for estimate in raw:
        better, note = adjust(estimate)
        estimates.append(better)
        if note:
            notes.append(note)
    return estimates, notes


def cost_model_for(kind: str) -> CostModel:
    """The cost model of a segment kind (imported on first use, so the broker imports no domain code up front)."""
    if kind == "quantum":
        from quantum.cost.circuit_cost_model import QuantumCostModel

        return QuantumCostModel()
    if kind == "fermionic_sampling":
        from quantum.cost.fermionic_cost_model import FermionicSamplingCostModel

        return FermionicSamplingCostModel()
    from classical.cost_models import CLASSICAL_COST_MODELS

    if kind in CLASSICAL_COST_MODELS:
        return CLASSICAL_COST_MODELS[kind]
    known = ["quantum", "fermionic_sampling", *sorted(CLASSICAL_COST_MODELS)]
    raise ValueError(f"segment kind {kind!r} has no cost model; known kinds: {', '.join(known)}")
