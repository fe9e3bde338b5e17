"""Sample-based quantum diagonalization (SQD) of an active space, on qiskit-addon-sqd and ffsim.

A LUCJ circuit built from CCSD amplitudes (ffsim) is sampled, on ffsim's fixed-particle simulator, on Aer
(statevector or matrix product state) through SamplerV2, or on any SamplerV2 (a QPU, a fake backend). The samples
go to qiskit-addon-sqd's configuration-recovery loop, which diagonalizes the Hamiltonian in the subspaces they span.

An unoptimized CCSD-initialised LUCJ concentrates on the Hartree-Fock determinant (CO/6-31G (10e,12o): 99 % of the
weight, 18 distinct configurations in 20,000 shots), so its subspaces miss most of the correlation (CO: 44 mHa).
The remedy here is the excitation-based enlargement of extended SQD (Barison et al., arXiv:2411.00468): each
batch's CI strings are joined by their single (optionally double) excitations, applied with qiskit-addon-sqd's own
`enlarge_batch_from_transitions`, as a `SubspacePolicy` of its loop; no reference energy enters. Measured here
(6-31G, one batch, one iteration): H2O (8e,12o) 0.68 mHa, CO (10e,12o) 0.56 mHa, N2 (10e,10o) 0.51 mHa with a
quarter or less of the CI space. N2 (10e,16o) is harder: one iteration (487 strings per spin) leaves 9.7 mHa; a
second, on the singles of the strings the first weighted (its carryover), capped at 1,000 strings per spin (1 M of
19.1 M determinants), reaches 0.97 mHa (batches=1, iterations=2, max_dim=1000; 600 / 800 strings: 2.5 / 1.4 mHa).
All singles and doubles of Hartree-Fock per spin (367,236 determinants) stay 5.1 mHa above CASCI: the carryover's
singles add the triple excitations per spin that those lack.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field
from qiskit import QuantumCircuit, QuantumRegister, transpile
from qiskit.primitives import BaseSamplerV2
from qiskit.transpiler import PassManager

from quantum.chemistry.active_space import ActiveSpaceProblem, ReferenceEnergy

if TYPE_CHECKING:  # ffsim and qiskit-addon-sqd import jax (seconds): imported where SQD runs, not on import
    import ffsim
    from qiskit_addon_sqd.fermion import SCIResult

logger = logging.getLogger(__name__)

SamplerName = Literal["ffsim", "aer_statevector", "aer_mps"]
Enlargement = Literal["none", "singles", "singles_doubles"]
SAMPLERS: tuple[str, ...] = ("ffsim", "aer_statevector", "aer_mps")
AER_METHODS = {"aer_statevector": "statevector", "aer_mps": "matrix_product_state"}


def lucj_operator(problem: ActiveSpaceProblem, n_reps: int = 1) -> ffsim.UCJOpSpinBalanced:
    """Spin-balanced LUCJ operator from the CCSD t2 (and t1) amplitudes, with heavy-hex-friendly interactions.

    Same-spin interactions between neighbouring orbitals, opposite-spin ones on every fourth orbital: the
    pattern that maps onto a heavy-hex lattice (Motta et al., Chem. Sci. 2023, the 'LUCJ' ansatz).
    """
    import ffsim

    norb = problem.norb
    pairs_aa = [(p, p + 1) for p in range(norb - 1)]
    pairs_ab = [(p, p) for p in range(0, norb, 4)]
    return ffsim.UCJOpSpinBalanced.from_t_amplitudes(
        problem.t2, t1=problem.t1, n_reps=n_reps, interaction_pairs=(pairs_aa, pairs_ab)
    )


def lucj_circuit(problem: ActiveSpaceProblem, operator: ffsim.UCJOpSpinBalanced) -> QuantumCircuit:
    """Hartree-Fock preparation + LUCJ + measurement; qubit p is alpha orbital p, qubit norb + p beta orbital p."""
    import ffsim

    qubits = QuantumRegister(2 * problem.norb, name="q")
    circuit = QuantumCircuit(qubits)
    circuit.append(ffsim.qiskit.PrepareHartreeFockJW(problem.norb, problem.nelec), qubits)
    circuit.append(ffsim.qiskit.UCJOpSpinBalancedJW(operator), qubits)
    circuit.measure_all()
    return circuit


def decomposed(circuit: QuantumCircuit, seed: int = 0, **transpile_options: object) -> QuantumCircuit:
    """ffsim's gates decomposed by its own passes (PRE_INIT merges orbital rotations), then Qiskit's transpile,
    seeded: Sabre's layout and routing are random otherwise, and so are the noisy samples of a device."""
    import ffsim

    options = {"seed_transpiler": seed, **transpile_options}
    return transpile(PassManager(ffsim.qiskit.pre_init_passes()).run(circuit), **options)


def sample_configurations(
    problem: ActiveSpaceProblem,
    operator: ffsim.UCJOpSpinBalanced,
    shots: int,
    seed: int,
    sampler: SamplerName | BaseSamplerV2 = "ffsim",
) -> np.ndarray:
    """Sample the LUCJ state: (shots, 2 * norb) bools, columns [b_N-1 .. b_0, a_N-1 .. a_0] (alpha on the right).

    `sampler` is "ffsim" (fixed-particle state vector), "aer_statevector" or "aer_mps" (Aer SamplerV2), or any
    SamplerV2; for the latter the circuit is transpiled to its backend (`sampler.mode` or `sampler._backend`).
    """
    import ffsim

    if isinstance(sampler, str) and sampler == "ffsim":
        state = ffsim.apply_unitary(
            ffsim.hartree_fock_state(problem.norb, problem.nelec), operator, problem.norb, problem.nelec
        )
        return ffsim.sample_state_vector(
            state,
            norb=problem.norb,
            nelec=problem.nelec,
            shots=shots,
            seed=seed,
            bitstring_type=ffsim.BitstringType.BIT_ARRAY,
        )
    circuit = lucj_circuit(problem, operator)
    if isinstance(sampler, str):
        from qiskit_aer import AerSimulator
        from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

        method = AER_METHODS[sampler]
        isa = decomposed(circuit, backend=AerSimulator(method=method), optimization_level=1)
        sampler = AerSamplerV2(seed=seed, options={"backend_options": {"method": method}})
    else:
        isa = decomposed(circuit, backend=_backend_of(sampler), optimization_level=1, seed_transpiler=seed)
    result = sampler.run([isa], shots=shots).result()
    return result[0].data.meas.to_bool_array(order="big")


def _backend_of(sampler: BaseSamplerV2) -> object:
    backend = getattr(sampler, "mode", None) or getattr(sampler, "_backend", None)
    if backend is None:
        raise ValueError("sampler: a SamplerV2 other than Aer's needs a backend (mode) to transpile for")
    return backend


def sampled_fraction_hartree_fock(problem: ActiveSpaceProblem, bitstrings: np.ndarray) -> float:
    """Fraction of the samples that are the Hartree-Fock determinant (how concentrated the sampling is)."""
    norb, (n_alpha, n_beta) = problem.norb, problem.nelec
    hf = np.zeros(2 * norb, dtype=bool)
    hf[2 * norb - n_alpha :] = True
    hf[norb - n_beta : norb] = True
    return float(np.mean(np.all(bitstrings == hf, axis=1)))


@cache
def threaded_sci_solver(workers: int) -> Callable[..., list[SCIResult]]:
    """An `sci_solver` that diagonalizes the independent batches of an iteration on `workers` threads."""
    from qiskit_addon_sqd.fermion import solve_sci_batch

    def solve(ci_strings: list, one_body: np.ndarray, two_body: np.ndarray, norb: int, nelec: tuple) -> list:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            jobs = [
                pool.submit(solve_sci_batch, [pair], one_body, two_body, norb, nelec) for pair in ci_strings
            ]
            return [job.result()[0] for job in jobs]

    return solve


class SQDSettings(BaseModel):
    """How the subspaces are drawn and enlarged; shared by the flow, the CLI and the benchmark."""

    samples_per_batch: int = Field(default=300, ge=1, description="Sampled configurations per batch.")
    batches: int = Field(default=3, ge=1, description="Independent batches (subspaces) per iteration.")
    iterations: int = Field(default=3, ge=1, description="Configuration-recovery iterations (at most).")
    enlargement: Enlargement = Field(
        default="singles", description="Excitations added to each batch's sampled CI strings (extended SQD)."
    )
    max_dim: int | None = Field(default=None, ge=1, description="Cap on CI strings per spin sector.")
    carryover_threshold: float = Field(
        default=1e-4, gt=0, lt=1, description="CI amplitude above which a string seeds the next iteration."
    )
    recovery: bool = Field(
        default=True,
        description="Recover configurations with the wrong electron count (from the second iteration on).",
    )
    workers: int = Field(default=1, ge=1, description="Threads diagonalizing the batches of an iteration.")


class Diagonalization(BaseModel):
    """What the configuration-recovery loop found: total energies (Ha), per iteration the best batch."""

    energy: float
    energies: list[float]
    subspace_dimensions: list[int]
    seconds: float


def diagonalize(
    problem: ActiveSpaceProblem,
    bitstrings: np.ndarray,
    settings: SQDSettings,
    seed: int,
    sci_solver: Callable[..., list[SCIResult]] | None = None,
) -> Diagonalization:
    """Configuration recovery and subspace diagonalization (qiskit-addon-sqd), iterated, batches independent.

    Without `settings.recovery` the samples with a wrong electron count are dropped instead of recovered. The first
    iteration is the same either way (it draws from the valid samples, whose diagonalization gives the orbital
    occupancies recovery needs), so with one iteration the two are identical. Recovery pays where noise leaves
    fewer valid samples than the batches can hold: dropping then diagonalizes the same few strings every
    iteration, recovery fills the batches with the corrected rest (N2/STO-3G (10e,8o) on FakeGuadalupeV2, 200
    shots, ~15 valid, 50 per batch, 3 iterations: ~1 mHa against ~42 mHa; capped at the same 225 determinants
    with a carryover threshold of 0.05, 22 against 43 mHa). Where the valid samples outnumber the batches, the two tie within the subsampling spread.
    The carryover comes first under `max_dim`: a cap it fills (every string above `carryover_threshold`) freezes
    both runs at the first iteration's strings.
    `sci_solver` diagonalizes an iteration's batches (`solve_sci_batch`'s signature): elsewhere, in parallel;
    by default the batches run on `settings.workers` threads.
    """
    from qiskit_addon_sqd.fermion import StandardPolicy, diagonalize_fermionic_hamiltonian

    from quantum.chemistry.subspace_policy import EnlargedSubspacePolicy

    if sci_solver is None and settings.workers > 1:
        sci_solver = threaded_sci_solver(settings.workers)
    start = time.perf_counter()
    if not settings.recovery:
        bitstrings = postselected(problem, bitstrings)
    energies: list[float] = []
    dimensions: list[int] = []

    def record(results: list[SCIResult]) -> None:
        best = min(results, key=lambda result: result.energy)
        energies.append(float(best.energy) + problem.constant)
        dimensions.append(max(_dimension(result) for result in results))

    policy = (
        StandardPolicy(carryover_threshold=settings.carryover_threshold)
        if settings.enlargement == "none"
        else EnlargedSubspacePolicy(_rank(settings), carryover_threshold=settings.carryover_threshold)
    )
    result = diagonalize_fermionic_hamiltonian(
        problem.one_body,
        problem.two_body,
        bitstrings,
        samples_per_batch=settings.samples_per_batch,
        norb=problem.norb,
        nelec=problem.nelec,
        num_batches=settings.batches,
        max_iterations=settings.iterations,
        sci_solver=sci_solver,
        policy=policy,
        symmetrize_spin=problem.n_alpha == problem.n_beta,
        max_dim=settings.max_dim,
        callback=record,
        seed=seed,
    )
    return Diagonalization(
        energy=float(result.energy) + problem.constant,
        energies=energies,
        subspace_dimensions=dimensions,
        seconds=time.perf_counter() - start,
    )


def _rank(settings: SQDSettings) -> int:
    return {"singles": 1, "singles_doubles": 2}[settings.enlargement]


def _dimension(result: SCIResult) -> int:
    state = result.sci_state
    return 0 if state is None else len(state.ci_strs_a) * len(state.ci_strs_b)


def postselected(problem: ActiveSpaceProblem, bitstrings: np.ndarray) -> np.ndarray:
    """The samples with the right electron count in each spin sector (no configuration recovery)."""
    mask = (bitstrings[:, problem.norb :].sum(axis=1) == problem.n_alpha) & (
        bitstrings[:, : problem.norb].sum(axis=1) == problem.n_beta
    )
    if not mask.any():
        raise ValueError(
            "recovery: no sample has the right electron count; enable configuration recovery or take more shots"
        )
    return bitstrings[mask]


def distinct_spin_strings(problem: ActiveSpaceProblem, kept: np.ndarray) -> int:
    """Distinct CI strings among postselected samples, both spins pooled: the subspace dimension per spin that
    dropping invalid samples can reach."""
    norb = problem.norb
    return len(np.unique(np.concatenate([kept[:, :norb], kept[:, norb:]]), axis=0))


class SQDResult(BaseModel):
    """One SQD run, self-describing: energies in Ha, errors in mHa, times in s per segment."""

    molecule: str
    energy: float = Field(description="Lowest SQD energy over the iterations, Ha.")
    reference_energy: float | None = Field(
        description="CASCI energy of the active space, Ha; null if skipped."
    )
    reference_reason: str | None = Field(default=None, description="Why the reference is null.")
    error_mha: float | None = Field(
        description="energy - reference_energy, mHa (1.6 mHa = chemical accuracy)."
    )
    hf_energy: float
    ccsd_energy: float
    subspace_dimension: int = Field(description="Largest subspace diagonalized (determinants).")
    iterations: int
    qubits: int
    shots: int
    sampler: str
    placement: dict[str, Any] | None = Field(
        default=None,
        description="the broker's placement of the sampling: choice, estimates, runners-up, reasons",
    )
    placements: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="the broker's placements of the classical segments (diagonalization, reference) by name",
    )
    executions: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="execution records of the placed classical segments: measured time, fallbacks, errors",
    )
    energies: list[float] = Field(description="Best batch energy per iteration, Ha.")
    subspace_dimensions: list[int] = Field(description="Largest subspace per iteration.")
    hartree_fock_fraction: float = Field(description="Fraction of samples that are the HF determinant.")
    distinct_configurations: int
    settings: SQDSettings
    seconds: dict[str, float] = Field(description="Measured wall time per segment, s.")


def sqd_result(
    problem: ActiveSpaceProblem,
    bitstrings: np.ndarray,
    diagonalization: Diagonalization,
    reference: ReferenceEnergy,
    sampler: str,
    settings: SQDSettings,
    seconds: dict[str, float],
) -> SQDResult:
    """Summarise a run; the error is against CASCI when it was computed."""
    error = None if reference.energy is None else (diagonalization.energy - reference.energy) * 1000
    return SQDResult(
        molecule=problem.name,
        energy=diagonalization.energy,
        reference_energy=reference.energy,
        reference_reason=reference.reason,
        error_mha=error,
        hf_energy=problem.hf_energy,
        ccsd_energy=problem.ccsd_energy,
        subspace_dimension=max(diagonalization.subspace_dimensions, default=0),
        iterations=len(diagonalization.energies),
        qubits=2 * problem.norb,
        shots=len(bitstrings),
        sampler=sampler,
        energies=diagonalization.energies,
        subspace_dimensions=diagonalization.subspace_dimensions,
        hartree_fock_fraction=sampled_fraction_hartree_fock(problem, bitstrings),
        distinct_configurations=len(np.unique(bitstrings, axis=0)),
        settings=settings,
        seconds=seconds,
    )


def run_sqd(
    problem: ActiveSpaceProblem,
    shots: int,
    seed: int,
    settings: SQDSettings,
    sampler: SamplerName | BaseSamplerV2 = "ffsim",
    reference: ReferenceEnergy | None = None,
) -> SQDResult:
    """Sample the CCSD-initialised LUCJ, then recover and diagonalize; every segment timed (no Prefect)."""
    seconds = {"reference": 0.0 if reference is None else reference.seconds}
    if reference is None:
        reference = ReferenceEnergy(energy=None, reason="no reference requested")
    start = time.perf_counter()
    bitstrings = sample_configurations(problem, lucj_operator(problem), shots, seed, sampler)
    seconds["sampling"] = time.perf_counter() - start
    diagonalization = diagonalize(problem, bitstrings, settings, seed)
    seconds["diagonalization"] = diagonalization.seconds
    name = sampler if isinstance(sampler, str) else type(sampler).__name__
    return sqd_result(problem, bitstrings, diagonalization, reference, name, settings, seconds)
