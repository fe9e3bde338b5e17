"""Memory estimates for running a profiled segment with each Aer simulation method.

Memory follows from the state each method stores (Aer documentation, "Simulation methods"): a statevector holds
2^n complex amplitudes (16 bytes in double, 8 in single precision), a density matrix 4^n, a stabilizer tableau
about 2n x 2n bits, a matrix product state one chi_left x chi_right complex matrix per qubit and outcome; sampled
shots add their outcomes. The time estimates are in `quantum.cost.aer_time`, both joined per method in
`quantum.cost.aer_estimates`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from quantum.cost.profiles import CircuitProfile

if TYPE_CHECKING:
    from quantum.cost.aer_estimates import AerMethod

BYTES_PER_AMPLITUDE = {"double": 16, "single": 8}  # complex128 / complex64
# Bytes per sampled shot (see `samples_memory_bytes`): a base, more per outcome bit beyond one 64-bit word, and
# more per qubit for matrix_product_state.
SAMPLE_BYTES = 250
SAMPLE_BYTES_PER_WIDE_BIT = 3.5
MPS_SAMPLE_BYTES_PER_QUBIT = 8.5
# Aer's extended-stabilizer default approximation error (qiskit-aer AerSimulator option
# `extended_stabilizer_approximation_error`, default 0.05); its result is approximate by this much.
EXTENDED_STABILIZER_ERROR = 0.05
# Stabilizer extent of a T gate, 1/cos^2(pi/8) (Bravyi et al., Quantum 3, 181 (2019), eq. 8): the number of
# stabilizer states grows as extent^t / error^2 for t non-Clifford gates.
T_GATE_EXTENT = 1.0 / math.cos(math.pi / 8) ** 2
# Estimates stay finite at any width: powers of two are evaluated up to 2^MAX_LOG2 (a float overflows at 2^1024)
# and memory is capped at 2^MAX_LOG2 bytes (time features at `aer_time.MAX_FEATURE`). Nothing near these fits
# anywhere, so a capped estimate is refused as the exact one would be.
MAX_LOG2 = 1000
MAX_MEMORY_BYTES = 2**MAX_LOG2


def capped_power_of_two(exponent: float) -> float:
    """2^exponent as a float, at most 2^MAX_LOG2 (2.0 ** 1024 raises OverflowError)."""
    return 2.0 ** min(exponent, MAX_LOG2)


def samples_memory_bytes(profile: CircuitProfile, method: AerMethod) -> int:
    """Memory for the sampled shots: Aer keeps every shot's outcome (SamplerV2 asks for per-shot memory) before
    the primitive packs them, so memory grows with shots, not with distinct outcomes.

    Measured here (Aer 0.18.2 SamplerV2, GHZ, 10^6 shots, peak RSS growth): 253 B per shot at 2 and 20 qubits,
    277 at 60 and 465 at 120 (stabilizer); matrix_product_state 780 at 60 qubits.
    """
    if profile.primitive != "sampler" or not profile.shots:
        return 0
    per_shot = SAMPLE_BYTES + SAMPLE_BYTES_PER_WIDE_BIT * max(profile.num_clbits - 64, 0)
    if method == "matrix_product_state":
        per_shot += MPS_SAMPLE_BYTES_PER_QUBIT * profile.num_qubits
    return int(per_shot * profile.shots * profile.parameter_sets * profile.num_circuits)


def memory_bytes(profile: CircuitProfile, method: AerMethod, precision: str = "double") -> int:
    """Bytes of state a method stores for the widest circuit of the segment (without the Python process), at most
    MAX_MEMORY_BYTES."""
    n = min(profile.num_qubits, MAX_LOG2)  # beyond, a statevector or density matrix is over the cap anyway
    amplitude = BYTES_PER_AMPLITUDE[precision]
    if method == "statevector":
        state = amplitude * 2**n
    elif method == "density_matrix":
        state = amplitude * 4**n
    elif method == "stabilizer":
        state = 2 * n * (2 * math.ceil(n / 64) * 8) + n * n // 4
    elif method == "extended_stabilizer":
        state = extended_stabilizer_states(profile) * (n * n // 4 + 64)
    else:
        state = mps_memory_bytes(profile.bond_dimension_log2, profile.num_qubits, amplitude)
    return min(int(state) + samples_memory_bytes(profile, method), MAX_MEMORY_BYTES)


def mps_memory_bytes(bond_log2: list[int], num_qubits: int, amplitude: int = 16) -> int:
    """MPS memory: two chi_left x chi_right matrices per qubit, plus SVD workspace of the largest bond."""
    chis = [1, *[2**b for b in bond_log2], 1]
    tensors = sum(2 * amplitude * chis[k] * chis[k + 1] for k in range(num_qubits))
    largest = max(chis)
    return int(tensors + 4 * amplitude * (2 * largest) ** 2)


def extended_stabilizer_states(profile: CircuitProfile) -> int:
    """Stabilizer states Aer keeps for t non-Clifford gates: extent^t / error^2 (Bravyi et al. 2019)."""
    exponent = min(profile.non_clifford_gates * math.log(T_GATE_EXTENT), 700.0)
    return math.ceil(math.exp(exponent) / EXTENDED_STABILIZER_ERROR**2)


def largest_statevector_qubits(free_bytes: int, precision: str = "double") -> int:
    """Widest circuit whose statevector fits in `free_bytes`."""
    return math.floor(math.log2(max(free_bytes, 1) / BYTES_PER_AMPLITUDE[precision]))


def largest_bond_log2(free_bytes: int, num_qubits: int) -> int:
    """Largest uniform log2 bond dimension whose MPS fits in `free_bytes` for `num_qubits` qubits."""
    best = 0
    for b in range(1, 40):
        if mps_memory_bytes([b] * max(num_qubits - 1, 0), num_qubits) > free_bytes:
            break
        best = b
    return best


def human_bytes(n: float) -> str:
    """Bytes in words: '1.1 GB'; beyond a million EB as a power of two ('2^1000 B'), for any int or float."""
    if isinstance(n, float) and not math.isfinite(n):
        return f"{n} B"
    if abs(n) >= 1e24:
        return (
            f"2^{math.log2(abs(n)):.0f} B"  # math.log2 takes ints of any size; n / 1000 overflows past 1e308
        )
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000:
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} EB"
