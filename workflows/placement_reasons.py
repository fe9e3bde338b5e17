"""Placement reasons in plain words: why the broker's choice won, and what would make a refused segment fit.

The broker (`workflows.broker`) ranks the estimates; this module only reads them, with the policy and catalog,
and writes the sentences a placement or refusal carries (and the Prefect artifact shows).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from quantum.estimates import (
    human_bytes,
    largest_bond_log2,
    largest_statevector_qubits,
    samples_memory_bytes,
    single_precision_allowed,
)
from quantum.profiles import CircuitProfile
from workflows.catalog import ResourceCatalog
from workflows.settings import QcflowSettings

if TYPE_CHECKING:
    from collections.abc import Callable

    from workflows.broker import Estimate, Policy

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


def what_would_fit(
    name: str,
    profile: CircuitProfile,
    catalog: ResourceCatalog,
    ranked: list[Estimate],
    settings: QcflowSettings | None = None,
) -> str:
    """A refusal in plain words: why nothing fits and what change would make the segment fit somewhere.

    `ranked` holds every estimate, best first by the policy's objective: the first one each policy limit
    ruled out says how far that limit would have to move.
    """
    settings = settings or QcflowSettings()
    ideas: list[str] = []
    for limit, words in _LIMIT_WORDS.items():
        blocked = next((e for e in ranked if e.policy_limit == limit), None)
        if blocked is not None:
            ideas.append(f"{words(blocked)} ({blocked.label()})")
    for resource in (r for r in catalog.resources if r.kind == "simulator"):
        usable = int(resource.memory_free_bytes * settings.memory_headroom)
        widest = largest_statevector_qubits(
            usable, "single" if single_precision_allowed(profile) else "double"
        )
        samples = samples_memory_bytes(profile, "statevector")
        if samples > usable:  # the shots alone do not fit
            most = profile.shots * usable // samples  # type: ignore[operator]
            ideas.append(f"at most {most:,} shots on {resource.name} (now {profile.shots:,})")
        if profile.num_qubits > widest:  # advice the circuit already meets would only confuse
            ideas.append(
                f"at most {widest} qubits for statevector on {resource.name} (now {profile.num_qubits})"
            )
        bond = largest_bond_log2(usable, profile.num_qubits)
        if "matrix_product_state" in resource.methods and profile.max_bond_dimension_log2 > bond:
            ideas.append(
                f"less entanglement for matrix_product_state: bond dimension <= 2^{bond}, i.e. about {bond} "
                f"controlled gates across any cut of the qubit line (now 2^{profile.max_bond_dimension_log2}, "
                f"{profile.max_cut_crossings} gates)"
            )
    if not profile.is_clifford:
        ideas.append(
            f"a Clifford circuit (now {profile.non_clifford_gates} non-Clifford gates) for the stabilizer"
        )
    if not any(e.policy_limit for e in ranked):  # something runs but for the policy: a QPU would not help
        ideas += _qpu_ideas(profile, catalog, ranked)
    return f"segment {name!r} fits no resource: {profile.summary()}. Would fit with: " + "; ".join(ideas)


def _qpu_ideas(profile: CircuitProfile, catalog: ResourceCatalog, estimates: list[Estimate]) -> list[str]:
    """What a QPU would need: enough qubits, or (when wide enough but too noisy) far fewer two-qubit gates."""
    qpus = [e for e in estimates if e.device == "QPU"]
    wide = [
        e for e in qpus if (catalog.get(e.resource).max_qubits or profile.num_qubits) >= profile.num_qubits
    ]
    if not wide:
        return [f"a QPU with >= {profile.num_qubits} qubits (set QISKIT_IBM_TOKEN, or fake backends to plan)"]
    # A wide-enough QPU ruled out by itself rather than by a policy limit: its fidelity is below the floor.
    if all(not e.feasible and e.policy_limit is None for e in wide):
        best = max(wide, key=lambda e: e.fidelity)
        return [
            f"far fewer two-qubit gates for a QPU (best estimated fidelity {best.fidelity:.2g} on {best.resource})"
        ]
    return []
