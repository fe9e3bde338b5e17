"""Carbon-removal portfolio: avoided warming from the emulator, the budget QUBO, brute force."""

import dataclasses
import itertools

import numpy as np
import pytest

from climate.portfolio import (
    DEFAULT_OPTIONS,
    GTCO2_PER_PPM,
    RemovalOption,
    avoided_warming,
    best_portfolio_by_enumeration,
    build_portfolio_qubo,
    concentration_reduction,
    decode_portfolio,
    portfolio_qubits,
    portfolio_qubo,
    slack_weights,
    verified_optimum,
)
from climate.scenarios import load_scenario
from quantum.optimization.qubo import brute_force_minimum, qubo_energies


@pytest.fixture(scope="module")
def ssp245() -> object:
    return load_scenario("ssp245").between(1750, 2100)


@pytest.fixture(scope="module")
def default_qubo(ssp245: object) -> object:
    return portfolio_qubo(ssp245, budget_bn_per_yr=300.0)


def test_default_options_are_a_dozen_with_positive_figures() -> None:
    assert len(DEFAULT_OPTIONS) == 12
    assert all(o.capacity_gtco2_per_yr > 0 and o.cost_bn_per_yr > 0 for o in DEFAULT_OPTIONS)


def test_pulse_removal_follows_the_joos_impulse_response() -> None:
    pulse = np.zeros(101)
    pulse[0] = GTCO2_PER_PPM  # 1 ppm worth of CO2
    reduction = concentration_reduction(pulse)
    assert reduction[0] == pytest.approx(1.0)
    # Joos et al. 2013 multi-model mean IRF: its AR5 WG1 Table 8.SM.10 coefficients leave 40.9 % after 100 yr.
    assert reduction[100] == pytest.approx(0.409, abs=0.002)


def test_avoided_warming_scales_with_capacity(ssp245: object) -> None:
    small, large = RemovalOption("small", 0.5, 100.0), RemovalOption("large", 1.0, 100.0)
    avoided, interaction = avoided_warming(ssp245, (small, large))
    assert 0 < avoided[0] < avoided[1]
    assert avoided[1] / avoided[0] == pytest.approx(2.0, rel=0.02)
    # TCRE, IPCC AR6 WG1 SPM D.1.1: 0.45 K per 1000 GtCO2 (likely 0.27-0.63). 1 GtCO2/yr ramped over 2030-2049,
    # then held, removes ~52 GtCO2 by 2090: 0.014-0.033 K, bounds widened for the removal's timing.
    assert 0.01 < avoided[1] < 0.04
    assert abs(interaction[0, 1]) < 0.01 * avoided[1]


def test_slack_weights_cover_exactly_zero_to_budget() -> None:
    for budget in (1, 2, 7, 10, 60):
        weights = slack_weights(budget)
        sums = {int(np.dot(bits, weights)) for bits in itertools.product((0, 1), repeat=len(weights))}
        assert sums == set(range(budget + 1))
    assert slack_weights(0).size == 0


def test_qubo_energy_is_minus_avoided_warming_when_within_budget(ssp245: object) -> None:
    options = DEFAULT_OPTIONS[:5]
    avoided, interaction = avoided_warming(ssp245, options)
    qubo = build_portfolio_qubo(options, avoided, interaction, budget_bn_per_yr=150.0, cost_unit_bn=10.0)
    n, k = len(options), len(qubo.slack_weights)
    slack = np.array(list(itertools.product((0, 1), repeat=k)))
    for choice in itertools.product((0, 1), repeat=n):
        assignments = np.hstack([np.tile(choice, (len(slack), 1)), slack])
        best = qubo_energies(qubo.matrix, qubo.offset, assignments).min()
        portfolio = decode_portfolio(qubo, np.array(choice))
        if portfolio.within_budget:
            assert best == pytest.approx(-portfolio.avoided_warming_k, abs=1e-12)
        else:
            assert best >= qubo.penalty - portfolio.avoided_warming_k - 1e-12


def test_brute_force_qubo_agrees_with_direct_enumeration(default_qubo: object) -> None:
    assert default_qubo.matrix.shape == (18, 18)  # 12 options + 6 slack bits for 60 units of $5bn
    bits, energy = brute_force_minimum(default_qubo.matrix, default_qubo.offset)
    from_qubo = decode_portfolio(default_qubo, bits)
    direct = best_portfolio_by_enumeration(default_qubo)
    assert from_qubo.within_budget and from_qubo.cost_bn_per_yr <= 300.0
    assert sorted(from_qubo.chosen) == sorted(direct.chosen)
    assert energy == pytest.approx(-direct.avoided_warming_k, abs=1e-12)
    assert verified_optimum(default_qubo) == (from_qubo, energy)
    assert portfolio_qubits(len(DEFAULT_OPTIONS), 300.0) == 18


def test_a_wrongly_built_qubo_is_caught_by_the_direct_enumeration(default_qubo: object) -> None:
    wrong = dataclasses.replace(default_qubo, matrix=-default_qubo.matrix)  # maximises instead
    with pytest.raises(RuntimeError, match="the QUBO is built wrong"):
        verified_optimum(wrong)


def test_bad_portfolio_inputs_are_refused() -> None:
    avoided, interaction = np.ones(2), np.zeros((2, 2))
    with pytest.raises(ValueError, match="penalty_factor=1"):
        build_portfolio_qubo(DEFAULT_OPTIONS[:2], avoided, interaction, 100.0, penalty_factor=1.0)
    with pytest.raises(ValueError, match="budget_bn_per_yr=-1"):
        build_portfolio_qubo(DEFAULT_OPTIONS[:2], avoided, interaction, -1.0)
    with pytest.raises(ValueError, match="at most 20"):
        brute_force_minimum(np.zeros((21, 21)))
