"""Placement reasons in plain words: why the broker's choice won, and which policy limits blocked a refusal.

`broker.place` ranks the estimates; this module only reads them, with the policy and catalog, and writes the
sentences a placement or refusal carries (and the Prefect artifact shows). What a segment itself would have to
change to fit is its cost model's to say.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from broker.models import Estimate, Policy, ResourceCatalog
from quantum.cost.aer_memory import human_bytes

_OBJECTIVE_WORDS: dict[str, tuple[str, Callable[[Estimate], str]]] = {
    "time": ("fastest estimate", lambda e: f"{e.seconds:.3g} s"),
    "cost": ("cheapest estimate", lambda e: f"${e.cost_usd:.3g}"),
    "fidelity": ("highest estimated fidelity", lambda e: f"{e.fidelity:.3g}"),
    "energy": ("lowest estimated energy", lambda e: f"{e.energy_joules:.3g} J"),
}
# What to ask of a policy limit that ruled out an estimate, in words.
_LIMIT_WORDS: dict[str, Callable[[Estimate], str]] = {
    "deadline_seconds": lambda e: f"a deadline of at least {e.seconds:.3g} s",
    "budget_usd": lambda e: f"a budget of at least ${e.cost_usd:.3g}",
    "min_fidelity": lambda e: f"a minimum fidelity of at most {e.fidelity:.3g}",
    "allowed_resources": lambda e: f"allowing {e.resource}",
}


def explain_choice(
    best: Estimate, runners_up: list[Estimate], policy: Policy, catalog: ResourceCatalog
) -> list[str]:
    """Plain-word reasons: why the best estimate won, how the runners-up compare, what was ruled out."""
    words, value = _OBJECTIVE_WORDS[policy.objective]
    if best.device == "QPU":
        need = f"estimated fidelity {best.fidelity:.3g}, cost ${best.cost_usd:.3g}"
    else:
        free = catalog.get(best.resource).memory_free_bytes
        need = f"needs {human_bytes(best.memory_bytes)}, {human_bytes(free)} free"

    def timed(e: Estimate) -> str:
        return value(e) if policy.objective == "time" else f"{value(e)} in {e.seconds:.3g} s"

    reasons = [f"chose {best.label()}: {words} {timed(best)}; {best.method} {need}"]
    for estimate in [e for e in runners_up if e.feasible][:3]:
        ratio = estimate.seconds / best.seconds if best.seconds > 0 else math.inf
        reasons.append(f"runner-up {estimate.label()}: {timed(estimate)} ({ratio:.2g}x the time)")
    for estimate in [e for e in runners_up if not e.feasible][:4]:
        reasons.append(f"ruled out {estimate.label()}: {estimate.why_not}")
    return reasons


def policy_ideas(ranked: list[Estimate]) -> list[str]:
    """For each policy limit that ruled something out, how far it would have to move (best estimate first)."""
    ideas = []
    for limit, words in _LIMIT_WORDS.items():
        blocked = next((e for e in ranked if e.policy_limit == limit), None)
        if blocked is not None:
            ideas.append(f"{words(blocked)} ({blocked.label()})")
    return ideas
