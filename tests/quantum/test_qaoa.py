"""QAOA on QUBOs: Ising mapping, circuit, optimisation with Aer primitives, the random baseline."""

import itertools

import numpy as np
import pytest

from climate.portfolio import DEFAULT_OPTIONS, avoided_warming, build_portfolio_qubo, decode_portfolio
from climate.scenarios import load_scenario
from quantum.optimization.qaoa import qaoa_circuit, qubo_to_ising, solve_qubo_qaoa
from quantum.optimization.qubo import brute_force_minimum, qubo_energies


def all_bits(n: int) -> np.ndarray:
    return np.array(list(itertools.product((0, 1), repeat=n)))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6])
@pytest.mark.parametrize("upper", [True, False])
def test_ising_diagonal_equals_qubo_energy_on_every_bitstring(n: int, upper: bool) -> None:
    rng = np.random.default_rng(n)
    matrix = rng.normal(size=(n, n))
    if upper:
        matrix = np.triu(matrix)
    offset = float(rng.normal())
    diagonal = qubo_to_ising(matrix, offset).to_matrix(sparse=True).diagonal().real
    for bits in all_bits(n):
        index = int(sum(bit << qubit for qubit, bit in enumerate(bits)))  # qubit i holds x_i
        assert diagonal[index] == pytest.approx(bits @ matrix @ bits + offset, abs=1e-12)


def test_circuit_has_two_angles_per_layer() -> None:
    hamiltonian = qubo_to_ising(np.triu(np.ones((3, 3))))
    circuit = qaoa_circuit(hamiltonian, layers=3)
    assert circuit.num_parameters == 6 and circuit.num_qubits == 3
    with pytest.raises(ValueError, match="layers=0"):
        qaoa_circuit(hamiltonian, layers=0)


def test_qaoa_lowers_the_energy_and_samples_the_optimum() -> None:
    rng = np.random.default_rng(42)
    matrix = np.triu(rng.normal(size=(6, 6)))
    result = solve_qubo_qaoa(matrix, layers=2, shots=2048, seed=3)
    _, optimum = brute_force_minimum(matrix)
    energies = qubo_energies(matrix, 0.0, all_bits(6))
    assert result.optimum_energy == pytest.approx(optimum)
    assert result.qaoa.best_energy == pytest.approx(optimum)
    # Uniform superposition (gamma = 0) has <E> = mean over all bitstrings; the optimised angles must do better.
    assert result.expected_energy < energies.mean() - 0.1 * (energies.mean() - optimum)
    assert 0 < result.qaoa.optimum_probability <= 1
    assert 0 <= result.random_baseline.optimum_probability <= 1
    assert result.estimator_calls < result.parameter_sets_evaluated  # batched: many angle sets per call


def test_qaoa_finds_the_brute_force_portfolio() -> None:
    options = DEFAULT_OPTIONS[:5]
    avoided, interaction = avoided_warming(load_scenario("ssp245").between(1750, 2100), options)
    qubo = build_portfolio_qubo(options, avoided, interaction, budget_bn_per_yr=150.0, cost_unit_bn=10.0)
    assert qubo.matrix.shape[0] <= 10
    result = solve_qubo_qaoa(qubo.matrix, qubo.offset, layers=1, shots=4096, seed=5)
    best_bits, best_energy = brute_force_minimum(qubo.matrix, qubo.offset)
    assert result.qaoa.best_energy == pytest.approx(best_energy, abs=1e-12)
    chosen = decode_portfolio(qubo, np.array(result.qaoa.best_bits))
    assert chosen.within_budget
    assert sorted(chosen.chosen) == sorted(decode_portfolio(qubo, best_bits).chosen)
    assert result.qaoa.best_ratio == pytest.approx(1.0)
