"""The resource broker: where each quantum segment runs, why, and what it is expected to cost (no Prefect).

`place` profiles the segment, estimates time, memory, cost, fidelity and energy on every resource and method of
the catalog, drops what breaks the policy's limits, and keeps the best by the policy's objective; the others are
the runners-up, in order, and serve as fallbacks. A segment that fits nowhere raises `PlacementRefused` before
anything is allocated; the exception carries a `Placement` whose `refused` says why and what would make it fit.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from qiskit.exceptions import QiskitError

from quantum.estimates import (
    estimate_method,
    fusion_may_slow,
    human_bytes,
    method_support,
    single_precision_allowed,
)
from quantum.execution import ExecutionHistory, time_model_of
from quantum.mps_trial import tightened_by_trial
from quantum.profiles import CircuitProfile, QuantumSegment, profile_segment
from quantum.runtime import estimate_qpu
from workflows.catalog import Resource, ResourceCatalog
from workflows.placement_reasons import explain_choice, what_would_fit
from workflows.settings import QcflowSettings

logger = logging.getLogger(__name__)

# Below this estimated fidelity a QPU's output is treated as noise unless the policy sets its own minimum.
USEFUL_FIDELITY_FLOOR = 0.01
# GPU speed relative to the calibrated CPU, for methods Aer runs on a GPU. Assumption until execution records
# correct it (none is calibrated here: this machine has no GPU).
GPU_SPEEDUP = 20.0
GPU_FIXED_SECONDS = 0.5
# Execution records correct a method's estimates only after this many comparable runs: one millisecond run is
# mostly noise, and correcting one method but not the others would tip a choice between them on it.
MIN_RUNS_TO_CORRECT = 3
# The MPS cost of a circuit depends on the entanglement it really builds, which no static bound captures, so the
# broker times an MPS trial of non-Clifford segments of TRIAL_MIN_QUBITS or more: one unmeasured run with the bond
# dimension capped at TRIAL_BOND_CAP, then (below the cap) sampling runs of a tenth of and all of at most
# TRIAL_SHOTS shots. It runs only when the best estimate exceeds both TRIAL_WORTH_SECONDS and the trial's own
# estimated cost, so it can pay off; at 20-100 qubits it takes ~10-60 ms here.
TRIAL_BOND_CAP = 16
TRIAL_BOND_LOG2 = 4
TRIAL_SHOTS = 400
TRIAL_MIN_QUBITS = 16
TRIAL_WORTH_SECONDS = 0.02


class Policy(BaseModel):
    """What to optimise and the limits a placement must respect (a misspelt limit is an error, not ignored)."""

    model_config = ConfigDict(extra="forbid")

    objective: Literal["time", "cost", "fidelity", "energy"] = "time"
    deadline_seconds: float | None = Field(None, gt=0)
    budget_usd: float | None = Field(None, ge=0)
    min_fidelity: float | None = Field(None, ge=0, le=1)
    allowed_resources: list[str] | None = None
    qpu_mode: Literal["job", "batch", "session"] = "job"


class Estimate(BaseModel):
    """Expected outcome of running a segment on one resource with one method."""

    resource: str
    method: str
    device: str
    seconds: float
    memory_bytes: int
    cost_usd: float
    fidelity: float
    energy_joules: float
    feasible: bool
    why_not: str | None = None
    policy_limit: str | None = Field(None, description="the policy limit that ruled it out, when one did")
    model_seconds: float | None = Field(None, description="the model's time before corrections from history")
    options: dict[str, Any] = Field(default_factory=dict)

    def label(self) -> str:
        """Short name, e.g. 'aer-cpu/statevector'."""
        return f"{self.resource}/{self.method}"


class Placement(BaseModel):
    """The chosen resource and run options, its estimate, the runners-up, and the reasons in plain words."""

    segment: str
    resource: str
    method: str
    device: str
    options: dict[str, Any]
    estimate: Estimate
    runners_up: list[Estimate]
    reasons: list[str]
    refused: str | None = None

    def label(self) -> str:
        """Short name for task-run names and tags, e.g. 'aer-cpu/statevector'."""
        return "refused" if self.refused else f"{self.resource}/{self.method}"


class PlacementRefused(Exception):
    """No resource can run the segment within the policy; `placement.refused` says what would make it fit."""

    def __init__(self, placement: Placement) -> None:
        super().__init__(placement.refused)
        self.placement = placement


def _aer_estimate(
    profile: CircuitProfile,
    resource: Resource,
    method: str,
    precision: str,
    settings: QcflowSettings,
    fusion: bool = True,
) -> Estimate:
    cores = resource.cores if resource.device == "CPU" else 2
    raw = estimate_method(profile, method, cores=cores, precision=precision, fusion=fusion)  # type: ignore[arg-type]
    seconds = raw.seconds
    if resource.device == "GPU":
        seconds = GPU_FIXED_SECONDS + seconds / GPU_SPEEDUP
    options: dict[str, Any] = {"method": method, "device": resource.device, "precision": precision}
    if resource.device == "CPU":
        options["max_parallel_threads"] = resource.cores
    if not fusion:
        options["fusion_enable"] = False
    why = raw.why_unsupported
    usable = int(resource.memory_free_bytes * settings.memory_headroom)
    if why is None and raw.memory_bytes > usable:
        why = (
            f"{method} ({precision}) needs {human_bytes(raw.memory_bytes)}, "
            f"{human_bytes(resource.memory_free_bytes)} free on {resource.name}"
        )
    return Estimate(
        resource=resource.name,
        method=method,
        device=resource.device,
        seconds=seconds,
        memory_bytes=raw.memory_bytes,
        cost_usd=seconds * resource.price_per_second_usd,
        fidelity=raw.fidelity,
        energy_joules=seconds * resource.power_watts,
        feasible=why is None,
        why_not=why,
        options=options,
    )


def _aer_estimates(
    profile: CircuitProfile, resource: Resource, settings: QcflowSettings
) -> tuple[list[Estimate], list[str]]:
    """One estimate per Aer method of the resource, and notes on run options the broker changed: single precision
    only where double does not fit; on the CPU, statevector gate fusion off where nearly every gate has a sparse
    kernel in Aer (`fusion_may_slow`; QFT and GHZ ran 1.03-3.3x faster unfused in every calibration run here)."""
    estimates, notes = [], []
    unfused = resource.device == "CPU" and fusion_may_slow(profile)
    for method in resource.methods:
        fusion = not (unfused and method == "statevector")
        estimate = _aer_estimate(profile, resource, method, "double", settings, fusion)
        if (
            not estimate.feasible
            and method == "statevector"
            and single_precision_allowed(profile)
            and "needs" in (estimate.why_not or "")
        ):
            single = _aer_estimate(profile, resource, method, "single", settings, fusion)
            estimate = single if single.feasible else estimate
        estimates.append(estimate)
    if unfused and any(e.method == "statevector" and e.feasible for e in estimates):
        notes.append(
            f"statevector on {resource.name} is estimated, and would run, with Aer's gate fusion off: nearly every "
            "gate has a sparse kernel (cx, cz, controlled phases), which fused dense blocks would slow down"
        )
    return estimates, notes


def _qpu_estimate(
    segment: QuantumSegment, profile: CircuitProfile, resource: Resource, backend: Any, policy: Policy
) -> Estimate:
    options: dict[str, Any] = {"backend": resource.name, "mode": policy.qpu_mode, "optimization_level": 1}
    options["what_if"] = resource.what_if
    base = {"resource": resource.name, "method": segment.primitive, "device": "QPU", "options": options}
    zero = {"seconds": 0.0, "memory_bytes": 0, "cost_usd": 0.0, "fidelity": 0.0, "energy_joules": 0.0}
    if resource.max_qubits is not None and profile.num_qubits > resource.max_qubits:
        why = f"{profile.num_qubits} qubits needed, {resource.name} has {resource.max_qubits}"
        return Estimate(**base, **zero, feasible=False, why_not=why)
    try:
        qpu = estimate_qpu(
            segment.circuits,
            backend,
            primitive=segment.primitive,
            shots=segment.shots,
            parameter_sets=segment.parameter_sets,
            observables=segment.observables,
            precision=segment.precision,
            queue_seconds=resource.queue_seconds,
        )
    except QiskitError as exc:  # no mapping onto the device, or no duration for control flow
        why = f"Qiskit could not prepare the circuit for {resource.name}: {str(exc).strip()[:200]}"
        return Estimate(**base, **zero, feasible=False, why_not=why)
    floor = policy.min_fidelity if policy.min_fidelity is not None else USEFUL_FIDELITY_FLOOR
    why = None
    if qpu.fidelity < floor:
        why = (
            f"estimated fidelity {qpu.fidelity:.2g} on {resource.name} ({qpu.transpiled_two_qubit_gates} two-qubit "
            f"gates after transpilation) is below {floor:g}: the output would be mostly noise"
        )
    return Estimate(
        **base,
        seconds=qpu.seconds,
        memory_bytes=0,
        cost_usd=qpu.usage_seconds * resource.price_per_second_usd,
        fidelity=qpu.fidelity,
        energy_joules=qpu.usage_seconds * resource.power_watts,
        feasible=why is None,
        why_not=why,
    )


def _apply_policy_limits(estimate: Estimate, policy: Policy) -> Estimate:
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


def _corrected(estimate: Estimate, history: ExecutionHistory | None) -> tuple[Estimate, str | None]:
    if history is None or not math.isfinite(estimate.seconds):
        return estimate, None
    model = time_model_of(estimate.method, estimate.options) or estimate.method
    factor, count = history.correction(estimate.resource, model, estimate.seconds)
    if count < MIN_RUNS_TO_CORRECT or factor == 1.0:
        return estimate, None
    update: dict[str, Any] = {
        k: getattr(estimate, k) * factor for k in ("seconds", "cost_usd", "energy_joules")
    }
    update["model_seconds"] = estimate.seconds
    note = f"time estimates for {estimate.label()} scaled by {factor:.2f} from {count} past runs"
    return estimate.model_copy(update=update), note


def estimate_all(
    segment: QuantumSegment,
    catalog: ResourceCatalog,
    policy: Policy,
    *,
    profile: CircuitProfile | None = None,
    history: ExecutionHistory | None = None,
    settings: QcflowSettings | None = None,
) -> tuple[list[Estimate], list[str]]:
    """Estimates for every resource and method in the catalog, with the policy's limits applied."""
    profile = profile or profile_segment(segment)
    settings = settings or QcflowSettings()
    estimates: list[Estimate] = []
    notes: list[str] = []
    for resource in catalog.resources:
        if resource.kind == "simulator":
            found, option_notes = _aer_estimates(profile, resource, settings)
            notes.extend(option_notes)
        else:
            found = [_qpu_estimate(segment, profile, resource, catalog.backend(resource.name), policy)]
        for estimate in found:
            corrected, note = _corrected(estimate, history)
            estimates.append(_apply_policy_limits(corrected, policy))
            if note and corrected.feasible:
                notes.append(note)
    exact_fits = any(e.feasible and e.device != "QPU" and e.fidelity == 1.0 for e in estimates)
    if exact_fits:
        why = "an exact method fits, so the approximate extended stabilizer is not used"
        estimates = [
            e.model_copy(update={"feasible": False, "why_not": why})
            if e.method == "extended_stabilizer" and e.feasible and e.fidelity < 1.0
            else e
            for e in estimates
        ]
    return estimates, notes


def _trial_worthwhile(profile: CircuitProfile, estimates: list[Estimate]) -> bool:
    """Whether a timed MPS trial could change the choice: a wide circuit MPS can run, and a best time above the
    trial's own cost (or nothing that fits)."""
    if (
        profile.num_qubits < TRIAL_MIN_QUBITS
        or profile.is_clifford
        or method_support(profile, "matrix_product_state") is not None
    ):
        return False  # a Clifford circuit runs exactly on the stabilizer tableau in polynomial time
    capped = profile.model_copy(
        update={
            "bond_dimension_log2": [min(b, TRIAL_BOND_LOG2) for b in profile.bond_dimension_log2],
            "shots": min(profile.shots or 0, TRIAL_SHOTS),
        }
    )
    trial_cost = estimate_method(capped, "matrix_product_state").seconds
    exact = [e.seconds for e in estimates if e.feasible and e.fidelity == 1.0 and e.device != "QPU"]
    return not exact or min(exact) >= max(TRIAL_WORTH_SECONDS, trial_cost)


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
    segment: QuantumSegment,
    catalog: ResourceCatalog,
    policy: Policy | None = None,
    *,
    history: ExecutionHistory | None = None,
    settings: QcflowSettings | None = None,
) -> Placement:
    """Choose where the segment runs; raise PlacementRefused (with a refused Placement) if it fits nowhere."""
    policy = policy or Policy()
    profile = profile_segment(segment)
    estimates, notes = estimate_all(
        segment, catalog, policy, profile=profile, history=history, settings=settings
    )
    trial = (
        tightened_by_trial(segment.circuits, profile, TRIAL_BOND_CAP, min(profile.shots or 0, TRIAL_SHOTS))
        if _trial_worthwhile(profile, estimates)
        else None
    )
    if trial is not None:
        profile, note = trial
        estimates, notes = estimate_all(
            segment, catalog, policy, profile=profile, history=history, settings=settings
        )
        notes.insert(0, note)
    key = objective_key(policy)
    feasible = sorted((e for e in estimates if e.feasible), key=key)
    infeasible = sorted((e for e in estimates if not e.feasible), key=lambda e: e.seconds)
    if not feasible:
        closest = min(estimates, key=lambda e: (e.device == "QPU", e.memory_bytes))
        refused = what_would_fit(segment.name, profile, catalog, sorted(estimates, key=key), settings)
        reasons = [profile.summary(), *[f"{e.label()}: {e.why_not}" for e in infeasible]]
        logger.info("segment %s refused: %s", segment.name, refused)
        raise PlacementRefused(_placement_on(segment.name, closest, infeasible, reasons, refused))
    best, runners_up = feasible[0], [*feasible[1:], *infeasible]
    reasons = [profile.summary(), *explain_choice(best, runners_up, policy, catalog), *notes]
    logger.info("segment %s placed on %s", segment.name, best.label())
    return _placement_on(segment.name, best, runners_up, reasons)


def _placement_on(
    segment: str,
    estimate: Estimate,
    runners_up: list[Estimate],
    reasons: list[str],
    refused: str | None = None,
) -> Placement:
    """A placement on the estimate's resource and method, with its run options."""
    return Placement(
        segment=segment,
        resource=estimate.resource,
        method=estimate.method,
        device=estimate.device,
        options=estimate.options,
        estimate=estimate,
        runners_up=runners_up,
        reasons=reasons,
        refused=refused,
    )


def fallback_placements(placement: Placement) -> list[Placement]:
    """The placement followed by each feasible runner-up as a placement of its own, in order."""
    chain = [placement]
    feasible = [e for e in placement.runners_up if e.feasible]
    for index, estimate in enumerate(feasible):
        reason = f"fallback: runner-up {index + 1} after {placement.label()} failed"
        chain.append(_placement_on(placement.segment, estimate, feasible[index + 1 :], [reason]))
    return chain
