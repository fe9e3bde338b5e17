"""`place`: where a segment runs, why, and what it is expected to cost (no Prefect).

The segment's cost model estimates time, memory, cost, fidelity and energy on every resource and option of the
catalog; `place` corrects each estimate from the execution history, drops what breaks the policy's limits, and
keeps the best by the policy's objective. The others are the runners-up, in order, and serve as fallbacks. A
segment that fits nowhere raises `PlacementRefused` before anything is allocated; the exception carries a
`Placement` whose `refused` says why and what would make it fit.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from broker.cost_models import Estimates, cost_model_for
from broker.models import Estimate, Placement, PlacementRefused, Policy, ResourceCatalog, Segment
from broker.reasons import explain_choice, policy_ideas
from broker.records import ExecutionHistory, time_model_of
from config.settings import QcflowSettings, get_settings

logger = logging.getLogger(__name__)

# Execution records correct a method's estimates only after this many comparable runs: one millisecond run is
# mostly noise, and correcting one method but not the others would tip a choice between them on it.
MIN_RUNS_TO_CORRECT = 3


def apply_policy_limits(estimate: Estimate, policy: Policy) -> Estimate:
    """The estimate, ruled out (with the limit named) when it breaks one of the policy's limits."""
    if not estimate.feasible:
        return estimate
    why = limit = None
    if policy.allowed_resources is not None and estimate.resource not in policy.allowed_resources:
        why = f"{estimate.resource} is not in the policy's allowed_resources {policy.allowed_resources}"
        limit = "allowed_resources"
    elif policy.deadline_seconds is not None and estimate.seconds > policy.deadline_seconds:
        why = f"would take {estimate.seconds:.3g} s, beyond the deadline of {policy.deadline_seconds:g} s"
        limit = "deadline_seconds"
    elif policy.budget_usd is not None and estimate.cost_usd > policy.budget_usd:
        why = f"would cost ${estimate.cost_usd:.3g}, beyond the budget of ${policy.budget_usd:g}"
        limit = "budget_usd"
    elif policy.min_fidelity is not None and estimate.fidelity < policy.min_fidelity:
        why = f"fidelity {estimate.fidelity:.3g} is below the policy's minimum {policy.min_fidelity:g}"
        limit = "min_fidelity"
    if why is None:
        return estimate
    return estimate.model_copy(update={"feasible": False, "why_not": why, "policy_limit": limit})


def corrected(estimate: Estimate, history: ExecutionHistory | None) -> tuple[Estimate, str | None]:
    """The estimate scaled by what comparable past runs measured (after MIN_RUNS_TO_CORRECT of them)."""
    if history is None or not math.isfinite(estimate.seconds):
        return estimate, None
    model = estimate.options.get("time_model") or time_model_of(estimate.method, estimate.options)
    factor, count = history.correction(estimate.resource, model or estimate.method, estimate.seconds)
    if count < MIN_RUNS_TO_CORRECT or factor == 1.0:
        return estimate, None
    update: dict[str, Any] = {
        k: getattr(estimate, k) * factor for k in ("seconds", "cost_usd", "energy_joules")
    }
    update["model_seconds"] = estimate.seconds
    note = f"time estimates for {estimate.label()} scaled by {factor:.2f} from {count} past runs"
    return estimate.model_copy(update=update), note


def estimate_all(
    segment: Segment,
    catalog: ResourceCatalog,
    policy: Policy | None = None,
    *,
    history: ExecutionHistory | None = None,
    settings: QcflowSettings | None = None,
) -> Estimates:
    """Every estimate of the segment's cost model, corrected from history, with the policy's limits applied."""
    policy = policy or Policy()

    def adjust(estimate: Estimate) -> tuple[Estimate, str | None]:
        better, note = corrected(estimate, history)
        return apply_policy_limits(better, policy), note if better.feasible else None

    return cost_model_for(segment.kind).estimate(segment, catalog, policy, adjust, settings or get_settings())


def objective_key(policy: Policy) -> Any:
    """Sort key for estimates under the policy's objective (ties broken by time)."""
    if policy.objective == "cost":
        return lambda e: (e.cost_usd, e.seconds)
    if policy.objective == "fidelity":
        return lambda e: (-e.fidelity, e.seconds)
    if policy.objective == "energy":
        return lambda e: (e.energy_joules, e.seconds)
    return lambda e: (e.seconds, e.cost_usd)


def place(
    segment: Segment,
    catalog: ResourceCatalog,
    policy: Policy | None = None,
    *,
    history: ExecutionHistory | None = None,
    settings: QcflowSettings | None = None,
) -> Placement:
    """Choose where the segment runs; raise PlacementRefused (with a refused Placement) if it fits nowhere."""
    policy = policy or Policy()
    settings = settings or get_settings()
    found = estimate_all(segment, catalog, policy, history=history, settings=settings)
    key = objective_key(policy)
    feasible = sorted((e for e in found.estimates if e.feasible), key=key)
    infeasible = sorted((e for e in found.estimates if not e.feasible), key=lambda e: e.seconds)
    if not feasible:
        if not found.estimates:
            raise ValueError(
                f"segment {segment.name!r}: the catalog has no resource for {segment.kind} segments"
            )
        closest = min(found.estimates, key=lambda e: (e.device == "QPU", e.memory_bytes))
        ranked = sorted(found.estimates, key=key)
        ideas = policy_ideas(ranked) + cost_model_for(segment.kind).what_would_fit(
            segment, found, catalog, ranked, settings
        )
        refused = f"segment {segment.name!r} fits no resource: {found.summary}. Would fit with: " + "; ".join(
            ideas
        )
        reasons = [found.summary, *[f"{e.label()}: {e.why_not}" for e in infeasible]]
        logger.info("segment %s refused: %s", segment.name, refused)
        raise PlacementRefused(
            Placement.on(segment.name, segment.kind, closest, infeasible, reasons, refused)
        )
    best, runners_up = feasible[0], [*feasible[1:], *infeasible]
    reasons = [found.summary, *explain_choice(best, runners_up, policy, catalog), *found.notes]
    logger.info("segment %s placed on %s", segment.name, best.label())
    return Placement.on(segment.name, segment.kind, best, runners_up, reasons)
