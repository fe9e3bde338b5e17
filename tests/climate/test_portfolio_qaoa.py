"""The portfolio QUBO handed to QAOA: its segment, and a sample checked against the verified optimum."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from climate.portfolio import DEFAULT_OPTIONS, build_portfolio_qubo
from climate.portfolio_qaoa import checked_against_optimum, portfolio_qaoa_segment
from quantum.optimization.qaoa import ANGLE_GRID
from quantum.optimization.qubo import brute_force_minimum, qubo_energies

# Three options with made-up avoided warming (K) and one small pair interaction, under a budget that holds two of
# them: costs 50, 48 and 50 $bn/yr are 10 units each, 100 $bn/yr is 20 units (5 slack bits).
OPTIONS = DEFAULT_OPTIONS[:3]
AVOIDED = np.array([0.030, 0.020, 0.025])
INTERACTION = np.array([[0.0, -0.001, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


@pytest.fixture
def qubo() -> object:
    return build_portfolio_qubo(OPTIONS, AVOIDED, INTERACTION, budget_bn_per_yr=100.0)


def test_the_segment_is_one_qaoa_circuit_over_every_variable(qubo: object) -> None:
    segment = portfolio_qaoa_segment("ssp245", qubo, layers=2, shots=1024)
    assert segment.name == "qaoa-portfolio-ssp245"
    assert [c.num_qubits for c in segment.circuits] == [qubo.matrix.shape[0]] == [3 + 5]
    assert (segment.primitive, segment.shots, segment.parameter_sets) == ("estimator", 1024, ANGLE_GRID**2)


def test_the_optimal_sample_matches_and_decodes_to_the_optimum(qubo: object) -> None:
    bits, energy = brute_force_minimum(qubo.matrix, qubo.offset)
    check = checked_against_optimum(qubo, tuple(int(b) for b in bits), energy)
    assert check.matches_optimum and check.optimum_energy == pytest.approx(energy)
    assert check.found == check.optimum
    assert check.optimum.chosen == [OPTIONS[0].name, OPTIONS[2].name]
    assert check.optimum.within_budget and check.optimum.avoided_warming_k == pytest.approx(0.055)


def test_a_worse_sample_is_reported_beside_the_optimum(qubo: object) -> None:
    nothing = np.zeros(qubo.matrix.shape[0], dtype=int)
    energy = float(qubo_energies(qubo.matrix, qubo.offset, nothing[None, :])[0])
    check = checked_against_optimum(qubo, nothing, energy)
    assert not check.matches_optimum
    assert check.found.chosen == [] and check.found.avoided_warming_k == 0.0
    assert check.optimum.chosen == [OPTIONS[0].name, OPTIONS[2].name]


def test_a_wrongly_built_qubo_is_refused_rather_than_reported(qubo: object) -> None:
    broken = dataclasses.replace(qubo, matrix=np.zeros_like(qubo.matrix))
    with pytest.raises(RuntimeError, match="the QUBO is built wrong"):
        checked_against_optimum(broken, np.zeros(qubo.matrix.shape[0], dtype=int), 0.0)
