"""Choosing carbon-removal and capture options under a budget, as a QUBO built on the emulator's warming.

Each option removes (or captures before emission) CO2 at a rate that ramps linearly to its capacity (GtCO2/yr) and
costs capacity x price per year at full deployment ($bn/yr, since 1 GtCO2 x $1/t = $1bn). Its avoided warming is
computed by the emulator: the removed CO2 lowers the scenario's concentration through the CO2 impulse response
function of Joos et al. 2013 (ACP 13, 2793; multi-model mean, IPCC AR5 WG1 Table 8.SM.10), and the ensemble is run
with and without it. Pairs are run too, so the small interaction of two options (the CO2 forcing is logarithmic)
enters the QUBO's quadratic terms exactly.

QUBO (minimised), variables y = (x_1..x_n, s_1..s_K), x_i = 1 if option i is chosen, s_k slack bits:

    E(y) = -sum_i a_i x_i - sum_{i<j} b_ij x_i x_j + P (sum_i c_i x_i + sum_k w_k s_k - B)^2

a_i: avoided warming (K, 2081-2100 ensemble mean); b_ij: pair interaction (K); c_i, B: cost and budget in integer
units of ``cost_unit_bn`` (costs rounded up, so a rounded portfolio never exceeds the true budget); slack weights
w = 1, 2, 4, ..., with the last one cut so that sum w = B, so the slack spans exactly 0..B and the penalty vanishes
exactly for portfolios within budget. Any over-budget assignment pays at least P, so P > sum|a| + sum|b| makes
every minimum feasible: P = penalty_factor x (sum|a| + sum|b|), penalty_factor > 1.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from climate.emulator import simulate_two_layer
from climate.ensemble import ParameterEnsemble, central_parameters
from climate.forcing import forcing_components
from climate.scenarios import Scenario
from quantum.optimization.qubo import brute_force_minimum

# GtCO2 per ppm of atmospheric CO2: 2.124 GtC/ppm (Friedlingstein et al. 2022, Global Carbon Budget) x 44.009/12.011.
GTCO2_PER_PPM = 2.124 * 44.009 / 12.011
# Joos et al. 2013 CO2 impulse response: airborne fraction a0 + sum a_k exp(-t / tau_k) (AR5 WG1 Table 8.SM.10).
IRF_A0 = 0.2173
IRF_A = (0.2240, 0.2824, 0.2763)
IRF_TAU_YR = (394.4, 36.54, 4.304)
DEFAULT_COST_UNIT_BN = 5.0  # $bn/yr per QUBO cost unit (costs round up, the budget down)


@dataclass(frozen=True)
class RemovalOption:
    """A carbon-removal or capture option: deployment from ``start_year``, full capacity after ``ramp_years``."""

    name: str
    capacity_gtco2_per_yr: float  # GtCO2/yr at full deployment
    price_usd_per_tco2: float  # $/tCO2
    start_year: int = 2030
    ramp_years: int = 20

    @property
    def cost_bn_per_yr(self) -> float:
        """Annual cost at full deployment, $bn/yr."""
        return self.capacity_gtco2_per_yr * self.price_usd_per_tco2


# Illustrative figures, not an assessment: capacities are modest deployments and prices sit inside the cost ranges
# of IPCC AR6 WG3 chapter 12 (Table 12.6, CDR options) and chapter 11 (CCS on industry and power); real costs and
# potentials are far more uncertain than one number each.
DEFAULT_OPTIONS: tuple[RemovalOption, ...] = (
    RemovalOption("afforestation/reforestation", 1.0, 50.0),
    RemovalOption("soil carbon sequestration", 0.8, 60.0),
    RemovalOption("biochar", 0.5, 100.0),
    RemovalOption("BECCS", 1.0, 150.0),
    RemovalOption("DACCS", 0.5, 250.0, start_year=2035),
    RemovalOption("enhanced weathering", 0.7, 120.0),
    RemovalOption("peatland and coastal wetland restoration", 0.3, 80.0),
    RemovalOption("ocean alkalinity enhancement", 0.5, 160.0, start_year=2035),
    RemovalOption("CCS on cement", 0.6, 90.0),
    RemovalOption("CCS on gas power", 0.8, 80.0),
    RemovalOption("CCS on steel", 0.4, 70.0),
    RemovalOption("CCS on coal power", 1.0, 60.0),
)
OPTIONS_BY_NAME: dict[str, RemovalOption] = {option.name: option for option in DEFAULT_OPTIONS}


def removal_rate(option: RemovalOption, years: np.ndarray) -> np.ndarray:
    """Removal (GtCO2/yr) per year: zero before ``start_year``, a linear ramp, then full capacity."""
    fraction = np.clip((np.asarray(years) - option.start_year + 1) / max(option.ramp_years, 1), 0.0, 1.0)
    return option.capacity_gtco2_per_yr * fraction


def concentration_reduction(removal_gtco2: np.ndarray) -> np.ndarray:
    """CO2 concentration drop (ppm) per year from annual removals (GtCO2/yr), via the Joos et al. 2013 IRF.

    ``removal_gtco2`` is (..., years); the result has the same shape.
    """
    lags = np.arange(removal_gtco2.shape[-1])
    response = IRF_A0 + sum(a * np.exp(-lags / tau) for a, tau in zip(IRF_A, IRF_TAU_YR, strict=True))
    flat = removal_gtco2.reshape(-1, lags.size)
    reduced = np.stack([np.convolve(row, response)[: lags.size] for row in flat])
    return reduced.reshape(removal_gtco2.shape) / GTCO2_PER_PPM


def avoided_warming(
    scenario: Scenario,
    options: tuple[RemovalOption, ...] = DEFAULT_OPTIONS,
    params: ParameterEnsemble | None = None,
    period: tuple[int, int] = (2081, 2100),
) -> tuple[np.ndarray, np.ndarray]:
    """Avoided warming a_i (K) of each option and pair interactions b_ij (K, upper triangle), ensemble means.

    a_i = T(scenario) - T(scenario minus option i) averaged over ``period`` and members;
    b_ij = [T(base) - T(minus i and j)] - a_i - a_j.
    """
    params = params or central_parameters()
    n = len(options)
    removals = np.stack([removal_rate(option, scenario.years) for option in options])
    pairs = list(itertools.combinations(range(n), 2))
    # Row 0: no removal; rows 1..n: one option; then one row per pair.
    selections = np.zeros((1 + n + len(pairs), n))
    selections[1 : n + 1] = np.eye(n)
    for row, (i, j) in enumerate(pairs, start=n + 1):
        selections[row, [i, j]] = 1.0
    co2 = scenario.co2[None, :] - concentration_reduction(selections @ removals)
    if np.any(co2 <= 0):
        raise ValueError(
            "the removals exceed the CO2 in the scenario; use smaller capacities or a later start"
        )
    keep = (scenario.years >= period[0]) & (scenario.years <= period[1])
    warming = np.empty(len(selections))
    for row, path in enumerate(co2):
        forcing = params.forcing_scales @ forcing_components(scenario.with_co2(path))
        warming[row] = simulate_two_layer(forcing, params.climate)[:, keep].mean()
    single = warming[0] - warming[1 : n + 1]
    interaction = np.zeros((n, n))
    for row, (i, j) in enumerate(pairs, start=n + 1):
        interaction[i, j] = warming[0] - warming[row] - single[i] - single[j]
    return single, interaction


@dataclass(frozen=True)
class PortfolioQubo:
    """The portfolio QUBO: E(y) = y^T Q y + offset over options then slack bits, Q upper triangular."""

    options: tuple[RemovalOption, ...]
    avoided_warming_k: np.ndarray  # a_i, K
    interaction_k: np.ndarray  # b_ij, K (upper triangle)
    cost_units: np.ndarray  # c_i, integer units of cost_unit_bn
    budget_units: int  # B
    cost_unit_bn: float  # $bn/yr per unit
    slack_weights: np.ndarray  # w_k
    penalty: float  # P, K per unit^2
    matrix: np.ndarray = field(repr=False)
    offset: float = 0.0

    @property
    def variable_names(self) -> list[str]:
        return [option.name for option in self.options] + [
            f"slack_{k}" for k in range(len(self.slack_weights))
        ]


@dataclass(frozen=True)
class PortfolioChoice:
    """A decoded portfolio: chosen options, its cost ($bn/yr) and avoided warming (K, QUBO objective)."""

    chosen: list[str]
    cost_bn_per_yr: float
    avoided_warming_k: float
    within_budget: bool


def slack_weights(budget_units: int) -> np.ndarray:
    """Binary slack weights 1, 2, 4, ..., the last cut so that they sum to exactly ``budget_units``."""
    if budget_units <= 0:
        return np.zeros(0, dtype=int)
    bits = math.ceil(math.log2(budget_units + 1))
    weights = [2**k for k in range(bits - 1)]
    return np.array([*weights, budget_units - sum(weights)], dtype=int)


def budget_in_units(budget_bn_per_yr: float, cost_unit_bn: float = DEFAULT_COST_UNIT_BN) -> int:
    """The budget in whole cost units, rounded down (so a rounded portfolio never exceeds the true budget)."""
    return math.floor(budget_bn_per_yr / cost_unit_bn + 1e-9)


def portfolio_qubits(
    options: int, budget_bn_per_yr: float, cost_unit_bn: float = DEFAULT_COST_UNIT_BN
) -> int:
    """Variables of the portfolio QUBO (QAOA's qubits): one per option plus the budget's binary slack bits."""
    return options + len(slack_weights(budget_in_units(budget_bn_per_yr, cost_unit_bn)))


def build_portfolio_qubo(
    options: tuple[RemovalOption, ...],
    avoided: np.ndarray,
    interaction: np.ndarray,
    budget_bn_per_yr: float,
    cost_unit_bn: float = DEFAULT_COST_UNIT_BN,
    penalty_factor: float = 1.5,
) -> PortfolioQubo:
    """The QUBO of the module docstring; costs round up to whole ``cost_unit_bn``, the budget rounds down."""
    if budget_bn_per_yr < 0:
        raise ValueError(f"budget_bn_per_yr={budget_bn_per_yr}: the budget must be >= 0 $bn/yr")
    if cost_unit_bn <= 0:
        raise ValueError(f"cost_unit_bn={cost_unit_bn}: the cost unit must be > 0 $bn/yr, e.g. 5")
    if penalty_factor <= 1:
        raise ValueError(
            f"penalty_factor={penalty_factor}: must be > 1 so that every minimum is within budget"
        )
    costs = np.array([math.ceil(o.cost_bn_per_yr / cost_unit_bn - 1e-9) for o in options], dtype=int)
    budget = budget_in_units(budget_bn_per_yr, cost_unit_bn)
    weights = slack_weights(budget)
    penalty = penalty_factor * (np.abs(avoided).sum() + np.abs(np.triu(interaction, 1)).sum())
    coefficients = np.concatenate([costs, weights]).astype(float)
    size = coefficients.size
    n = len(options)
    matrix = np.zeros((size, size))
    matrix[np.diag_indices(size)] = penalty * (coefficients**2 - 2 * budget * coefficients)
    matrix[np.diag_indices(n)] -= avoided
    upper = np.triu(np.ones((size, size), dtype=bool), 1)
    matrix[upper] = 2 * penalty * np.outer(coefficients, coefficients)[upper]
    matrix[:n, :n][np.triu_indices(n, 1)] -= interaction[np.triu_indices(n, 1)]
    return PortfolioQubo(
        options=tuple(options),
        avoided_warming_k=np.asarray(avoided, dtype=float),
        interaction_k=np.triu(interaction, 1),
        cost_units=costs,
        budget_units=budget,
        cost_unit_bn=cost_unit_bn,
        slack_weights=weights,
        penalty=float(penalty),
        matrix=matrix,
        offset=float(penalty * budget**2),
    )


def decode_portfolio(qubo: PortfolioQubo, bits: np.ndarray) -> PortfolioChoice:
    """The portfolio that an assignment (options first, then slack bits) selects."""
    x = np.asarray(bits, dtype=int)[: len(qubo.options)]
    chosen = np.flatnonzero(x)
    avoided = float(qubo.avoided_warming_k @ x + x @ qubo.interaction_k @ x)
    cost = float(sum(qubo.options[i].cost_bn_per_yr for i in chosen))
    return PortfolioChoice(
        chosen=[qubo.options[i].name for i in chosen],
        cost_bn_per_yr=cost,
        avoided_warming_k=avoided,
        within_budget=bool(qubo.cost_units @ x <= qubo.budget_units),
    )


def best_portfolio_by_enumeration(qubo: PortfolioQubo) -> PortfolioChoice:
    """The best within-budget portfolio by enumerating option subsets directly (no QUBO, no slack): a cross-check."""
    n = len(qubo.options)
    bits = ((np.arange(1 << n)[:, None] & (1 << np.arange(n))) > 0).astype(float)
    value = bits @ qubo.avoided_warming_k + np.einsum("mi,ij,mj->m", bits, qubo.interaction_k, bits)
    value[bits @ qubo.cost_units > qubo.budget_units] = -math.inf
    return decode_portfolio(qubo, bits[int(np.argmax(value))])


def verified_optimum(qubo: PortfolioQubo) -> tuple[PortfolioChoice, float]:
    """The QUBO's exact minimum (brute force over every assignment) as a portfolio, with its energy (K).

    It is checked against the best portfolio found without the QUBO (`best_portfolio_by_enumeration`): a different
    avoided warming means the QUBO is built wrong, and that is raised rather than reported as an optimum.
    """
    bits, energy = brute_force_minimum(qubo.matrix, qubo.offset)
    optimum = decode_portfolio(qubo, bits)
    direct = best_portfolio_by_enumeration(qubo)
    if not math.isclose(optimum.avoided_warming_k, direct.avoided_warming_k, rel_tol=1e-9, abs_tol=1e-12):
        raise RuntimeError(
            f"the QUBO minimum ({optimum.chosen}, {optimum.avoided_warming_k} K) differs from the best portfolio "
            f"found without it ({direct.chosen}, {direct.avoided_warming_k} K): the QUBO is built wrong"
        )
    return optimum, energy


def portfolio_qubo(
    scenario: Scenario,
    budget_bn_per_yr: float,
    options: tuple[RemovalOption, ...] = DEFAULT_OPTIONS,
    params: ParameterEnsemble | None = None,
    cost_unit_bn: float = DEFAULT_COST_UNIT_BN,
    penalty_factor: float = 1.5,
) -> PortfolioQubo:
    """Avoided warming from the emulator, then the budget-constrained QUBO (the two steps above in one call)."""
    avoided, interaction = avoided_warming(scenario, options, params)
    return build_portfolio_qubo(options, avoided, interaction, budget_bn_per_yr, cost_unit_bn, penalty_factor)
