"""QAOA for QUBOs on Qiskit primitives V2 (Farhi, Goldstone, Gutmann 2014, arXiv:1411.4028), with a fair baseline.

A QUBO E(x) = x^T Q x + offset (Q upper triangular, x in {0,1}^n) maps to an Ising Hamiltonian with x_i = (1 - Z_i)/2
on qubit i, so bit i of a variable vector is qubit i (Qiskit's count strings print qubit 0 last). The circuit is
H^n then p layers of exp(-i gamma_l H_C) and exp(-i beta_l sum X); H_C is the Ising operator scaled so its largest
non-identity coefficient is 1, which keeps useful gammas in (0, pi]. Angles are optimised on the exact energy
expectation from an EstimatorV2: a p=1 grid in one call (one PUB, many parameter sets), then L-BFGS with
central-difference gradients, each gradient one estimator call of 4p+1 parameter sets; deeper layers start from the
INTERP rule of Zhou et al. 2020 (PRX 10, 021067). The optimised circuit is sampled with a SamplerV2 and compared
with uniformly random bitstrings of the same number of shots. No advantage is claimed: for small n random sampling
hits the optimum with probability (number of optima)/2^n, and both figures are reported side by side.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.quantum_info import SparsePauliOp
from scipy.optimize import minimize

from quantum.cost.profiles import QuantumSegment
from quantum.optimization.qubo import (
    MAX_BRUTE_FORCE_VARIABLES,
    brute_force_minimum,
    is_optimal,
    qubo_energies,
)

logger = logging.getLogger(__name__)

ANGLE_GRID = 16  # p=1 grid points per angle: the grid is one estimator call of ANGLE_GRID^2 parameter sets


@dataclass(frozen=True)
class SamplingSummary:
    """What a set of sampled bitstrings achieved; bits are in variable order (x_0 first)."""

    best_bits: tuple[int, ...]
    best_energy: float
    mean_energy: float
    optimum_probability: float | None  # fraction of shots on an optimal assignment (None if unknown)
    approximation_ratio: (
        float | None
    )  # mean_energy / optimum_energy, for optimum_energy < 0 (1 = always optimal)
    best_ratio: float | None  # best_energy / optimum_energy, for optimum_energy < 0


@dataclass(frozen=True)
class QaoaResult:
    """QAOA outcome beside a random-sampling baseline with the same number of shots."""

    qaoa: SamplingSummary
    random_baseline: SamplingSummary
    optimum_energy: float | None  # brute-force minimum (n <= MAX_BRUTE_FORCE_VARIABLES), else None
    optimum_bits: tuple[int, ...] | None
    layers: int
    shots: int
    angles: tuple[float, ...]  # (gamma_1..gamma_p, beta_1..beta_p) for the scaled Hamiltonian
    expected_energy: float  # <E> of the QUBO at the optimised angles, from the estimator
    estimator_calls: int
    parameter_sets_evaluated: int


def qubo_to_ising(matrix: np.ndarray, offset: float = 0.0) -> SparsePauliOp:
    """Ising operator H with <x|H|x> = x^T Q x + offset for every computational basis state x.

    Q may be upper triangular or full: the pair (i, j) contributes (Q_ij + Q_ji) x_i x_j.
    """
    full = np.asarray(matrix, dtype=float)
    q = np.triu(full) + np.triu(full.T, 1)
    n = q.shape[0]
    constant = offset
    terms: dict[str, float] = {}

    def add(qubits: tuple[int, ...], coefficient: float) -> None:
        label = ["I"] * n
        for qubit in qubits:
            label[n - 1 - qubit] = "Z"
        key = "".join(label)
        terms[key] = terms.get(key, 0.0) + coefficient

    for i in range(n):
        # Q_ii x_i = Q_ii (1 - Z_i) / 2
        constant += q[i, i] / 2
        add((i,), -q[i, i] / 2)
        for j in range(i + 1, n):
            if q[i, j] == 0:
                continue
            # Q_ij x_i x_j = Q_ij (1 - Z_i - Z_j + Z_i Z_j) / 4
            constant += q[i, j] / 4
            add((i,), -q[i, j] / 4)
            add((j,), -q[i, j] / 4)
            add((i, j), q[i, j] / 4)
    labels = ["I" * n, *terms]
    coefficients = [constant, *terms.values()]
    return SparsePauliOp(labels, coefficients).simplify(atol=0.0)


def qaoa_circuit(hamiltonian: SparsePauliOp, layers: int) -> QuantumCircuit:
    """QAOA ansatz for a diagonal (Z/ZZ) Hamiltonian; parameters gamma[0..p-1], beta[0..p-1], no measurements."""
    if layers < 1:
        raise ValueError(f"layers={layers}: QAOA needs at least one layer; pass layers >= 1")
    n = hamiltonian.num_qubits
    gamma, beta = ParameterVector("gamma", layers), ParameterVector("beta", layers)
    circuit = QuantumCircuit(n, name=f"qaoa_p{layers}")
    circuit.h(range(n))
    for layer in range(layers):
        for pauli, coefficient in zip(hamiltonian.paulis, hamiltonian.coeffs, strict=True):
            qubits = [int(q) for q in np.flatnonzero(pauli.z)]
            weight = float(np.real(coefficient))
            if np.any(pauli.x):
                raise ValueError(f"term {pauli} is not diagonal; QAOA here takes Z and ZZ terms only")
            if len(qubits) == 1:
                circuit.rz(2 * weight * gamma[layer], qubits[0])
            elif len(qubits) == 2:
                circuit.rzz(2 * weight * gamma[layer], qubits[0], qubits[1])
            elif len(qubits) > 2:
                raise ValueError(f"term {pauli} acts on {len(qubits)} qubits; a QUBO gives at most ZZ terms")
        circuit.rx(2 * beta[layer], range(n))
    return circuit


def qaoa_segment(name: str, matrix: np.ndarray, offset: float, layers: int, shots: int) -> QuantumSegment:
    """The segment the broker places for QAOA on a QUBO: the ansatz with its largest estimator call (the p=1 grid).

    A dense matrix couples every pair of qubits, as a budget penalty does.
    """
    hamiltonian = qubo_to_ising(matrix, offset)
    return QuantumSegment(
        name=name,
        circuits=[qaoa_circuit(hamiltonian, layers)],
        primitive="estimator",
        shots=shots,
        parameter_sets=ANGLE_GRID**2,
        pauli_terms=len(hamiltonian),
    )


def _scaled_cost(hamiltonian: SparsePauliOp) -> SparsePauliOp:
    """The non-identity part of H divided by its largest |coefficient| (the identity only shifts the energy)."""
    keep = [k for k, pauli in enumerate(hamiltonian.paulis) if np.any(pauli.z) or np.any(pauli.x)]
    cost = SparsePauliOp(hamiltonian.paulis[keep], hamiltonian.coeffs[keep])
    scale = float(np.max(np.abs(cost.coeffs))) if keep else 1.0
    return cost / scale


class _ExpectationEvaluator:
    """<H_C>(angles) for many angle sets per EstimatorV2 call; counts calls and parameter sets."""

    def __init__(self, circuit: QuantumCircuit, cost: SparsePauliOp, estimator: object) -> None:
        self.circuit, self.cost, self.estimator = circuit, cost, estimator
        self.calls = 0
        self.parameter_sets = 0
        parameters = list(circuit.parameters)  # Qiskit sorts these by name: beta[...] before gamma[...]
        gammas = [p for p in parameters if p.name.startswith("gamma")]
        betas = [p for p in parameters if p.name.startswith("beta")]
        # order[k] = position in the circuit's parameter list of our k-th angle (gammas first, then betas)
        self.order = [parameters.index(p) for p in (*gammas, *betas)]

    def bind(self, angle_sets: np.ndarray) -> np.ndarray:
        """Angle rows (gammas, betas) reordered into the circuit's parameter order."""
        angle_sets = np.atleast_2d(angle_sets)
        values = np.empty_like(angle_sets)
        values[:, self.order] = angle_sets
        return values

    def __call__(self, angle_sets: np.ndarray, observable: SparsePauliOp | None = None) -> np.ndarray:
        angle_sets = np.atleast_2d(angle_sets)
        pub = (self.circuit, self.cost if observable is None else observable, self.bind(angle_sets))
        result = self.estimator.run([pub]).result()
        self.calls += 1
        self.parameter_sets += len(angle_sets)
        return np.asarray(result[0].data.evs, dtype=float).reshape(len(angle_sets))


def optimise_angles(
    evaluate: _ExpectationEvaluator, layers: int, grid: int = ANGLE_GRID
) -> tuple[np.ndarray, float]:
    """Angles (gammas then betas) minimising <H_C>: p=1 grid, then INTERP growth and L-BFGS at each depth."""
    g, b = np.meshgrid(np.linspace(0, np.pi, grid + 1)[1:], np.linspace(0, np.pi / 2, grid + 1)[1:])
    grid_angles = np.column_stack([g.ravel(), b.ravel()])
    # Evaluate the p=1 grid on a p-layer circuit by padding the other layers with zero angles.
    padded = np.zeros((len(grid_angles), 2 * layers))
    padded[:, 0], padded[:, layers] = grid_angles[:, 0], grid_angles[:, 1]
    start = grid_angles[int(np.argmin(evaluate(padded)))]
    angles, energy = start, math.inf
    for depth in range(1, layers + 1):
        if depth > 1:
            angles = _interp(angles, depth)
        angles, energy = _refine(evaluate, angles, depth, layers)
        logger.debug("QAOA p=%d: <H_C> = %.6f", depth, energy)
    return angles, energy


def _interp(angles: np.ndarray, depth: int) -> np.ndarray:
    """INTERP (Zhou et al. 2020): linear interpolation of depth-1 angle schedules to ``depth`` layers."""
    previous = depth - 1
    out = []
    for schedule in (angles[:previous], angles[previous:]):
        padded = np.concatenate([[0.0], schedule, [0.0]])
        steps = np.arange(1, depth + 1)
        out.append((steps - 1) / previous * padded[steps - 1] + (depth - steps) / previous * padded[steps])
    return np.concatenate(out)


def _refine(
    evaluate: _ExpectationEvaluator, angles: np.ndarray, depth: int, layers: int
) -> tuple[np.ndarray, float]:
    """L-BFGS on ``depth`` layers; each value+gradient is one estimator call (central differences, step 1e-4)."""
    step = 1e-4

    def embed(x: np.ndarray) -> np.ndarray:
        full = np.zeros((len(x) if x.ndim > 1 else 1, 2 * layers))
        x = np.atleast_2d(x)
        full[:, :depth], full[:, layers : layers + depth] = x[:, :depth], x[:, depth:]
        return full

    def value_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        shifts = np.eye(x.size) * step
        batch = np.vstack([x, x + shifts, x - shifts])
        values = evaluate(embed(batch))
        gradient = (values[1 : 1 + x.size] - values[1 + x.size :]) / (2 * step)
        return float(values[0]), gradient

    result = minimize(value_and_gradient, angles, jac=True, method="L-BFGS-B", options={"maxiter": 100})
    return np.asarray(result.x), float(result.fun)


def summarise_samples(
    bits: np.ndarray, counts: np.ndarray, matrix: np.ndarray, offset: float, optimum: float | None
) -> SamplingSummary:
    """Best, mean, probability of the optimum and ratios for distinct bitstrings ``bits`` seen ``counts`` times."""
    energies = qubo_energies(matrix, offset, bits)
    total = counts.sum()
    mean = float(energies @ counts / total)
    best = int(np.argmin(energies))
    probability = ratio = best_ratio = None
    if optimum is not None:
        probability = float(counts[is_optimal(energies, optimum)].sum() / total)
        if optimum < 0:
            ratio, best_ratio = mean / optimum, float(energies[best]) / optimum
    return SamplingSummary(
        best_bits=tuple(int(v) for v in bits[best]),
        best_energy=float(energies[best]),
        mean_energy=mean,
        optimum_probability=probability,
        approximation_ratio=ratio,
        best_ratio=best_ratio,
    )


def _counts_to_bits(counts: dict[str, int], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Qiskit count strings (qubit 0 last) to variable-order bit rows and their counts."""
    keys = list(counts)
    bits = np.array([[int(c) for c in reversed(key)] for key in keys], dtype=np.int8).reshape(len(keys), n)
    return bits, np.array([counts[k] for k in keys], dtype=float)


def solve_qubo_qaoa(
    matrix: np.ndarray,
    offset: float = 0.0,
    layers: int = 2,
    shots: int = 4096,
    seed: int | None = 0,
    estimator: object | None = None,
    sampler: object | None = None,
) -> QaoaResult:
    """QAOA on a QUBO with Aer primitives by default (pass any EstimatorV2/SamplerV2 to run elsewhere)."""
    from qiskit_aer.primitives import EstimatorV2, SamplerV2

    matrix = np.asarray(matrix, dtype=float)
    n = matrix.shape[0]
    if matrix.shape != (n, n) or n < 1:
        raise ValueError(f"matrix has shape {matrix.shape}; pass a square n x n QUBO matrix with n >= 1")
    if shots < 1:
        raise ValueError(f"shots={shots}: sample at least one shot")
    hamiltonian = qubo_to_ising(matrix, offset)
    cost = _scaled_cost(hamiltonian)
    circuit = qaoa_circuit(cost, layers)
    estimator = estimator or EstimatorV2(options={"backend_options": {"seed_simulator": seed}})
    sampler = sampler or SamplerV2(default_shots=shots, seed=seed)
    evaluate = _ExpectationEvaluator(circuit, cost, estimator)
    angles, _ = optimise_angles(evaluate, layers)
    optimum_bits, optimum = (
        brute_force_minimum(matrix, offset) if n <= MAX_BRUTE_FORCE_VARIABLES else (None, None)
    )

    expected = float(evaluate(angles, observable=hamiltonian)[0])
    measured = circuit.measure_all(inplace=False)
    counts = (
        sampler.run([(measured, evaluate.bind(angles)[0])], shots=shots).result()[0].data.meas.get_counts()
    )
    qaoa_bits, qaoa_counts = _counts_to_bits(counts, n)
    random_bits = np.random.default_rng(seed).integers(0, 2, size=(shots, n), dtype=np.int8)
    return QaoaResult(
        qaoa=summarise_samples(qaoa_bits, qaoa_counts, matrix, offset, optimum),
        random_baseline=summarise_samples(random_bits, np.ones(shots), matrix, offset, optimum),
        optimum_energy=optimum,
        optimum_bits=None if optimum_bits is None else tuple(int(v) for v in optimum_bits),
        layers=layers,
        shots=shots,
        angles=tuple(float(a) for a in angles),
        expected_energy=expected,
        estimator_calls=evaluate.calls,
        parameter_sets_evaluated=evaluate.parameter_sets,
    )
