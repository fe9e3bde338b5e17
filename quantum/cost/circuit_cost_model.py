"""The cost model of quantum segments: Aer methods on each device, and QPUs from their calibration.

For every resource of the catalog it estimates a segment's time, memory, cost, fidelity and energy: each Aer
method with its run options (precision, threads, gate fusion), and each QPU from its calibration over the
transpiled circuit. For wide non-Clifford circuits it times a short MPS trial on the circuit itself, because what
an MPS run costs depends on the entanglement the circuit really builds, which no static bound captures.
"""

from __future__ import annotations

from typing import Any

from qiskit.exceptions import QiskitError

from broker.cost_models import Adjust, Estimates
from broker.models import Estimate, Policy, Resource, ResourceCatalog
from config.settings import QcflowSettings
from quantum.cost.aer_estimates import AER_METHODS, estimate_method, method_support, single_precision_allowed
from quantum.cost.aer_memory import (
    human_bytes,
    largest_bond_log2,
    largest_statevector_qubits,
    samples_memory_bytes,
)
from quantum.cost.aer_time import fusion_may_slow
from quantum.cost.mps_trial import TRIAL_BUDGET_SECONDS, predicted_trial_seconds, tightened_by_trial
from quantum.cost.profiles import CircuitProfile, QuantumSegment, profile_segment
from quantum.ibm.runtime import estimate_qpu

# Below this estimated fidelity a QPU's output is treated as noise unless the policy sets its own minimum.
USEFUL_FIDELITY_FLOOR = 0.01
# GPU speed relative to the calibrated CPU, for methods Aer runs on a GPU. Assumption until execution records
# correct it (none is calibrated here: this machine has no GPU).
GPU_SPEEDUP = 20.0
GPU_FIXED_SECONDS = 0.5
# The MPS cost of a circuit depends on the entanglement it really builds, which no static bound captures, so the
# broker times an MPS trial of non-Clifford segments of TRIAL_MIN_QUBITS or more: one unmeasured run with the bond
# dimension capped at TRIAL_BOND_CAP (repeated at 4x the cap while it saturates and the budget allows; one still
# capped gives an extrapolated estimate, quantum.cost.mps_trial), then sampling runs of at most TRIAL_SHOTS shots. It
# runs only when the best estimate exceeds both TRIAL_WORTH_SECONDS and the trial's predicted cost, and that cost
# fits mps_trial.TRIAL_BUDGET_SECONDS; at 20-100 qubits it takes ~10-60 ms here.
TRIAL_BOND_CAP = 16
TRIAL_SHOTS = 400
TRIAL_MIN_QUBITS = 16
TRIAL_WORTH_SECONDS = 0.02


class QuantumCostModel:
    """Estimates of a `QuantumSegment` on every simulator and QPU of the catalog (the broker's 'quantum' kind)."""

    kind = "quantum"

    def estimate(
        self,
        segment: QuantumSegment,
        catalog: ResourceCatalog,
        policy: Policy,
        adjust: Adjust,
        settings: QcflowSettings,
    ) -> Estimates:
        """Every estimate, after a timed MPS trial where one could change the choice."""
        profile = profile_segment(segment)
        found = _estimates(segment, profile, catalog, policy, adjust, settings)
        if _trial_worthwhile(segment, profile, found.estimates):
            trial = tightened_by_trial(
                segment.circuits,
                profile,
                TRIAL_BOND_CAP,
                min(profile.shots or 0, TRIAL_SHOTS),
                budget_seconds=TRIAL_BUDGET_SECONDS,
            )
            if trial is not None:
                profile, note = trial
                found = _estimates(segment, profile, catalog, policy, adjust, settings)
                found.notes.insert(0, note)
        return found

    def what_would_fit(
        self,
        segment: QuantumSegment,
        found: Estimates,
        catalog: ResourceCatalog,
        ranked: list[Estimate],
        settings: QcflowSettings,
    ) -> list[str]:
        """Fewer qubits, shots or entanglement, a Clifford circuit, or a QPU: what would make the circuit fit."""
        return _circuit_ideas(found.profile, catalog, ranked, settings)


def _estimates(
    segment: QuantumSegment,
    profile: CircuitProfile,
    catalog: ResourceCatalog,
    policy: Policy,
    adjust: Adjust,
    settings: QcflowSettings,
) -> Estimates:
    """Estimates for every simulator method and QPU in the catalog, each adjusted (history, policy limits)."""
    estimates: list[Estimate] = []
    notes: list[str] = []
    for resource in catalog.of_kind("simulator", "qpu"):
        if resource.kind == "simulator" and not set(resource.methods) & set(AER_METHODS):
            continue  # a simulator of another kind of circuit (ffsim: number-conserving fermionic circuits)
        if resource.kind == "simulator":
            found, option_notes = _aer_estimates(profile, resource, settings)
            notes.extend(option_notes)
        else:
            found = [_qpu_estimate(segment, profile, resource, catalog.backend(resource.name), policy)]
        for estimate in found:
            adjusted, note = adjust(estimate)
            estimates.append(adjusted)
            if note:
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
    return Estimates(estimates=estimates, summary=profile.summary(), notes=notes, profile=profile)


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
    usable = int(resource.memory_free_bytes * settings.broker.memory_headroom)
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


def _trial_worthwhile(segment: QuantumSegment, profile: CircuitProfile, estimates: list[Estimate]) -> bool:
    """Whether a timed MPS trial could change the choice: a wide non-Clifford circuit MPS can run, a trial whose
    predicted cost fits its budget (the structural model underestimates long-range circuits ~100x, so the trial's
    own swap-aware prediction is used), and a best time above that cost (or nothing that fits)."""
    if (
        profile.num_qubits < TRIAL_MIN_QUBITS
        or profile.is_clifford
        or method_support(profile, "matrix_product_state") is not None
    ):
        return False  # a Clifford circuit runs exactly on the stabilizer tableau in polynomial time
    trial_cost = predicted_trial_seconds(segment.circuits, TRIAL_BOND_CAP)
    if trial_cost > TRIAL_BUDGET_SECONDS:
        return False
    exact = [e.seconds for e in estimates if e.feasible and e.fidelity == 1.0 and e.device != "QPU"]
    return not exact or min(exact) >= max(TRIAL_WORTH_SECONDS, trial_cost)


def _circuit_ideas(
    profile: CircuitProfile, catalog: ResourceCatalog, ranked: list[Estimate], settings: QcflowSettings
) -> list[str]:
    """What change to the circuit (or a QPU) would make it fit somewhere, in plain words."""
    ideas: list[str] = []
    for resource in (r for r in catalog.of_kind("simulator") if set(r.methods) & set(AER_METHODS)):
        usable = int(resource.memory_free_bytes * settings.broker.memory_headroom)
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
    return ideas


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
