"""Aer's simulation methods and what each needs for a profiled segment: whether it can run the segment at all,
its memory (`quantum.cost.aer_memory`), its time (`quantum.cost.aer_time`) and its result's fidelity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from quantum.cost.aer_memory import EXTENDED_STABILIZER_ERROR, memory_bytes
from quantum.cost.aer_time import CALIBRATION_CORES, seconds
from quantum.cost.profiles import CircuitProfile

AerMethod = Literal[
    "statevector", "density_matrix", "matrix_product_state", "stabilizer", "extended_stabilizer"
]
AER_METHODS: tuple[AerMethod, ...] = (
    "statevector",
    "density_matrix",
    "matrix_product_state",
    "stabilizer",
    "extended_stabilizer",
)

# Single precision is offered only for estimator targets at least this loose (float32 epsilon ~ 1.2e-7 relative).
SINGLE_PRECISION_MIN_TARGET = 1e-5
# Aer's own limit for the extended-stabilizer and MPS methods (AerSimulator configuration n_qubits, 0.18.2).
EXTENDED_STABILIZER_MAX_QUBITS = 63


@dataclass(frozen=True)
class MethodEstimate:
    """What one Aer method needs for a segment: bytes of memory, seconds, and result fidelity (1 = exact)."""

    method: AerMethod
    precision: Literal["double", "single"]
    memory_bytes: int
    seconds: float
    fidelity: float
    supported: bool
    why_unsupported: str | None = None


def method_support(profile: CircuitProfile, method: AerMethod) -> str | None:
    """Why `method` cannot run the segment at all (independent of memory), or None when it can."""
    if method == "stabilizer" and not profile.is_clifford:
        return f"stabilizer runs Clifford circuits only; this one has {profile.non_clifford_gates} non-Clifford gates"
    if method == "stabilizer" and profile.noisy:
        return "stabilizer takes Pauli noise only; a device noise model has non-Pauli (thermal relaxation) errors"
    if method == "extended_stabilizer":
        if profile.is_clifford:
            return "extended stabilizer is approximate; a Clifford circuit runs exactly with the stabilizer method"
        if not profile.extended_stabilizer_ready:
            return "extended stabilizer takes only t, tdg, ccx, ccz and bound rz/p/u1 as non-Clifford gates"
        if profile.num_qubits > EXTENDED_STABILIZER_MAX_QUBITS:
            return f"extended stabilizer is limited to {EXTENDED_STABILIZER_MAX_QUBITS} qubits in Aer"
        if profile.control_flow_ops:  # Aer 0.18.2: "invalid instructions {mark, jump}" for this method
            return "extended stabilizer does not run classical control flow (if_else, loops) in Aer"
        if profile.primitive == "estimator" or profile.noisy:
            return "extended stabilizer only samples noiseless circuits (no expectation values)"
    if method == "statevector" and profile.noisy and profile.primitive == "estimator":
        return (
            "a noisy expectation value needs the density matrix (statevector would be one noisy trajectory)"
        )
    if method == "matrix_product_state" and profile.noisy and profile.primitive == "estimator":
        return "a noisy expectation value needs the density matrix (MPS would be one noisy trajectory)"
    return None


def estimate_method(
    profile: CircuitProfile,
    method: AerMethod,
    cores: int = CALIBRATION_CORES,
    precision: str = "double",
    fusion: bool = True,
) -> MethodEstimate:
    """Memory, time and fidelity of one Aer method for the segment, and whether the method applies at all."""
    why = method_support(profile, method)
    # Approximate even on Clifford circuits: Aer samples it by a Markov chain (extended_stabilizer_mixing_time).
    fidelity = 1.0 - EXTENDED_STABILIZER_ERROR if method == "extended_stabilizer" else 1.0
    return MethodEstimate(
        method=method,
        precision=precision,  # type: ignore[arg-type]
        memory_bytes=memory_bytes(profile, method, precision),
        seconds=seconds(profile, method, cores, precision, fusion),
        fidelity=fidelity,
        supported=why is None,
        why_unsupported=why,
    )


def single_precision_allowed(profile: CircuitProfile) -> bool:
    """Whether single precision is accurate enough: no target standard error, or one >= 1e-5."""
    return profile.precision is None or profile.precision >= SINGLE_PRECISION_MIN_TARGET
