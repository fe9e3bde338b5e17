"""Memory and time estimates per Aer method."""

from __future__ import annotations

import multiprocessing as mp
import resource
from typing import Any

from qiskit import QuantumCircuit
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import random_clifford

from quantum.circuit_families import ghz
from quantum.cost.aer_estimates import estimate_method, single_precision_allowed
from quantum.cost.aer_memory import largest_statevector_qubits, memory_bytes, mps_memory_bytes
from quantum.cost.aer_time import seconds
from quantum.cost.profiles import QuantumSegment, profile_segment


def chain(n: int) -> QuantumCircuit:
    """An unmeasured GHZ chain (H and n-1 CNOTs), for estimator segments."""
    return ghz(n).remove_final_measurements(inplace=False)


def test_dense_memory_follows_amplitude_counts() -> None:
    # Statevector 16 * 2^n bytes in double, 8 * 2^n in single; density matrix 16 * 4^n (issue 4 / Aer docs).
    profile = profile_segment(QuantumSegment("c", [chain(20)], "estimator"))
    assert memory_bytes(profile, "statevector") == 16 * 2**20
    assert memory_bytes(profile, "statevector", "single") == 8 * 2**20
    small = profile_segment(QuantumSegment("c", [chain(10)], "estimator"))
    assert memory_bytes(small, "density_matrix") == 16 * 4**10


def test_stabilizer_and_mps_memory_stay_small_for_wide_easy_circuits() -> None:
    clifford = profile_segment(QuantumSegment("c", [random_clifford(60, seed=1).to_circuit()], "estimator"))
    assert memory_bytes(clifford, "stabilizer") < 10_000  # a 120 x 120 bit tableau
    ghz = profile_segment(QuantumSegment("g", [chain(50)], "estimator"))
    # Bond dimension 2 everywhere: 50 sites x 2 outcomes x 2 x 2 complex numbers, plus a 4x4 SVD workspace.
    assert memory_bytes(ghz, "matrix_product_state") == mps_memory_bytes([1] * 49, 50)
    assert memory_bytes(ghz, "matrix_product_state") < 50_000


def _peak_rss_growth(shots: int, queue: Any) -> None:
    from simple_placements import SimplePlacement

    from quantum.executors import sampler_for

    sampler = sampler_for(SimplePlacement("statevector"), default_shots=shots, seed=1)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    sampler.run([ghz(2)]).result()
    queue.put(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before)


def test_sampler_memory_grows_with_shots_as_measured() -> None:
    # Aer keeps every shot's outcome before SamplerV2 packs them: a million shots of a 2-qubit circuit take about
    # 250 MB (measured in a fresh process here), whatever the number of distinct outcomes.
    shots = 1_000_000
    sampled = profile_segment(QuantumSegment("c", [ghz(2)], "sampler", shots=shots))
    predicted = memory_bytes(sampled, "statevector") - 16 * 2**2
    context = mp.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_peak_rss_growth, args=(shots, queue))
    child.start()
    measured = queue.get(timeout=120)
    child.join()
    assert 0.75 <= predicted / measured <= 1.25, (predicted, measured)
    wide = profile_segment(QuantumSegment("c", [ghz(20)], "sampler", shots=10**10))
    assert memory_bytes(wide, "stabilizer") > 10**12  # so 10^10 shots are refused here, before anything runs


def test_time_grows_with_width_and_work() -> None:
    narrow = profile_segment(QuantumSegment("a", [efficient_su2(16, entanglement="linear")], "estimator"))
    wide = profile_segment(QuantumSegment("a", [efficient_su2(22, entanglement="linear")], "estimator"))
    assert seconds(wide, "statevector") > 5 * seconds(narrow, "statevector")
    batched = profile_segment(
        QuantumSegment("a", [efficient_su2(16, entanglement="linear")], "estimator", parameter_sets=10)
    )
    assert seconds(batched, "statevector") > seconds(narrow, "statevector")
    assert seconds(batched, "statevector", cores=8) < seconds(batched, "statevector", cores=2)


def test_method_support_explains_itself() -> None:
    su2 = profile_segment(QuantumSegment("a", [efficient_su2(6)], "estimator"))
    stabilizer = estimate_method(su2, "stabilizer")
    assert not stabilizer.supported and "Clifford" in (stabilizer.why_unsupported or "")
    noisy = profile_segment(QuantumSegment("n", [chain(4)], "estimator", noisy=True))
    assert not estimate_method(noisy, "statevector").supported
    assert estimate_method(noisy, "density_matrix").supported
    assert estimate_method(su2, "matrix_product_state").fidelity == 1.0
    # Clifford circuits: the exact stabilizer runs them; the approximate extended stabilizer is not offered.
    clifford = profile_segment(QuantumSegment("g", [ghz(8)], "sampler", shots=1000))
    extended = estimate_method(clifford, "extended_stabilizer")
    assert not extended.supported and "stabilizer method" in (extended.why_unsupported or "")
    assert extended.fidelity < 1.0 and estimate_method(clifford, "stabilizer").supported


def test_single_precision_only_for_loose_targets() -> None:
    # float32 epsilon ~ 1.2e-7 relative (IEEE 754 binary32): single precision is offered from a 1e-5 target.
    circuit = [chain(4)]
    assert single_precision_allowed(profile_segment(QuantumSegment("e", circuit, "estimator")))
    assert single_precision_allowed(
        profile_segment(QuantumSegment("e", circuit, "estimator", precision=1e-3))
    )
    assert not single_precision_allowed(
        profile_segment(QuantumSegment("e", circuit, "estimator", precision=1e-8))
    )


def test_largest_statevector_that_fits() -> None:
    assert largest_statevector_qubits(16 * 2**30) == 30
    assert largest_statevector_qubits(16 * 2**30, "single") == 31
