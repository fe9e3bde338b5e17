"""Prefect tasks of the climate-pathways flow: thin wrappers around climate/ and quantum/ with JSON-able results.

Every task re-draws the calibrated parameter ensemble from (members, seed): drawing is deterministic and takes
~0.05 s per 1,000 members here, so all scenarios share the same members without shipping arrays between tasks.
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
from prefect import task
from pydantic import BaseModel

from broker.models import Placement
from climate.ensemble import EnsembleResult, run_ensemble, sample_parameters, warming_summary
from climate.portfolio import (
    DEFAULT_OPTIONS,
    PortfolioQubo,
    avoided_warming,
    best_portfolio_by_enumeration,
    brute_force_minimum,
    build_portfolio_qubo,
    decode_portfolio,
)
from climate.scenarios import Scenario, available_scenarios, load_scenario
from quantum.profiles import QuantumSegment
from quantum.qaoa import QaoaResult, SamplingSummary, qaoa_circuit, qubo_to_ising, solve_qubo_qaoa
from workflows.caching import RESUMABLE
from workflows.climate_report import (
    OptionFigures,
    PortfolioPick,
    PortfolioResult,
    SamplingFigures,
    ScenarioEnsemble,
    WarmingPath,
    WarmingRange,
)
from workflows.placed_runs import Primitives, estimator_on, run_placed, sampler_on

log = logging.getLogger(__name__)

FIRST_YEAR, LAST_YEAR = 1750, 2100  # emulated years: spin-up from 1750, projections to 2100
CHART_FIRST_YEAR = 1850
COST_UNIT_BN = 5.0  # $bn/yr per QUBO cost unit (costs round up, the budget down)
QAOA_GRID_PARAMETER_SETS = 256  # quantum/qaoa.py's p=1 grid (16 x 16): the largest estimator call
OPTIONS_BY_NAME = {option.name: option for option in DEFAULT_OPTIONS}


class QuboPayload(BaseModel):
    """JSON-able portfolio QUBO of one scenario (matrix upper triangular, K; costs in units of $bn/yr)."""

    scenario: str
    budget_bn_per_yr: float
    cost_unit_bn: float
    options: list[OptionFigures]
    interaction_k: list[list[float]]
    cost_units: list[int]
    budget_units: int
    slack_weights: list[int]
    penalty: float
    matrix: list[list[float]]
    offset: float

    def to_qubo(self) -> PortfolioQubo:
        """The climate.portfolio object, for decoding and cross-checks."""
        return PortfolioQubo(
            options=tuple(OPTIONS_BY_NAME[o.name] for o in self.options),
            avoided_warming_k=np.array([o.avoided_warming_k for o in self.options]),
            interaction_k=np.array(self.interaction_k),
            cost_units=np.array(self.cost_units, dtype=int),
            budget_units=self.budget_units,
            cost_unit_bn=self.cost_unit_bn,
            slack_weights=np.array(self.slack_weights, dtype=int),
            penalty=self.penalty,
            matrix=np.array(self.matrix),
            offset=self.offset,
        )


def scenario_sha256(scenario: str) -> str:
    """Digest of a user CSV's bytes (a cache-key input, so an edited file is recomputed); '' for bundled ones."""
    return (
        "" if scenario in available_scenarios() else hashlib.sha256(Path(scenario).read_bytes()).hexdigest()
    )


def scenario_name(scenario: str) -> str:
    """A bundled scenario's name, or a CSV's file stem."""
    return scenario if scenario in available_scenarios() else Path(scenario).stem


def emulated_scenario(scenario: str) -> Scenario:
    """The scenario restricted to the emulated years (from 1750, or its first year, to 2100)."""
    loaded = load_scenario(scenario)
    return loaded.between(max(FIRST_YEAR, int(loaded.years[0])), LAST_YEAR)


def _percentile_path(result: EnsembleResult) -> WarmingPath:
    keep = result.years >= CHART_FIRST_YEAR
    p05, median, p95 = np.percentile(result.temperature[:, keep], [5, 50, 95], axis=0)
    return WarmingPath(
        years=[int(y) for y in result.years[keep]],
        p05=np.round(p05, 4).tolist(),
        median=np.round(median, 4).tolist(),
        p95=np.round(p95, 4).tolist(),
    )


@task(name="scenario-ensemble", cache_policy=RESUMABLE, persist_result=True)
def scenario_ensemble(scenario: str, sha256: str, members: int, seed: int) -> ScenarioEnsemble:
    """Calibrated two-layer ensemble of one scenario: warming (K vs 1850-1900) summarised per period and year."""
    result = run_ensemble(emulated_scenario(scenario), sample_parameters(members, seed=seed))
    return ScenarioEnsemble(
        scenario=scenario_name(scenario),
        members=members,
        warming_2081_2100=WarmingRange(**warming_summary(result, 2081, 2100)),
        warming_1995_2014=WarmingRange(**warming_summary(result, 1995, 2014)),
        path=_percentile_path(result),
    )


@task(name="portfolio-qubo", cache_policy=RESUMABLE, persist_result=True)
def portfolio_qubo(
    scenario: str, sha256: str, members: int, seed: int, option_names: list[str], budget_bn_per_yr: float
) -> QuboPayload:
    """Avoided warming of each option and pair (ensemble means, K) under the scenario, then the budget QUBO."""
    options = tuple(OPTIONS_BY_NAME[name] for name in option_names)
    params = sample_parameters(members, seed=seed)
    avoided, interaction = avoided_warming(emulated_scenario(scenario), options, params)
    qubo = build_portfolio_qubo(options, avoided, interaction, budget_bn_per_yr, cost_unit_bn=COST_UNIT_BN)
    return QuboPayload(
        scenario=scenario_name(scenario),
        budget_bn_per_yr=budget_bn_per_yr,
        cost_unit_bn=COST_UNIT_BN,
        options=[
            OptionFigures(
                name=o.name,
                capacity_gtco2_per_yr=o.capacity_gtco2_per_yr,
                price_usd_per_tco2=o.price_usd_per_tco2,
                cost_bn_per_yr=o.cost_bn_per_yr,
                avoided_warming_k=float(a),
            )
            for o, a in zip(options, avoided, strict=True)
        ],
        interaction_k=qubo.interaction_k.tolist(),
        cost_units=qubo.cost_units.tolist(),
        budget_units=qubo.budget_units,
        slack_weights=qubo.slack_weights.tolist(),
        penalty=qubo.penalty,
        matrix=qubo.matrix.tolist(),
        offset=qubo.offset,
    )


def qaoa_segment(qubo: QuboPayload, layers: int, shots: int) -> QuantumSegment:
    """The QAOA segment the broker places: the ansatz with its largest estimator call (the p=1 grid)."""
    return qaoa_matrix_segment(
        f"qaoa-portfolio-{qubo.scenario}", np.array(qubo.matrix), qubo.offset, layers, shots
    )


def qaoa_matrix_segment(
    name: str, matrix: np.ndarray, offset: float, layers: int, shots: int
) -> QuantumSegment:
    """The QAOA segment of a QUBO matrix (a dense one couples every pair of qubits, as a budget penalty does)."""
    hamiltonian = qubo_to_ising(matrix, offset)
    return QuantumSegment(
        name=name,
        circuits=[qaoa_circuit(hamiltonian, layers)],
        primitive="estimator",
        shots=shots,
        parameter_sets=QAOA_GRID_PARAMETER_SETS,
        pauli_terms=len(hamiltonian),
    )


def _figures(summary: SamplingSummary) -> SamplingFigures:
    return SamplingFigures(
        approximation_ratio=summary.approximation_ratio,
        best_ratio=summary.best_ratio,
        optimum_probability=summary.optimum_probability,
        mean_energy=summary.mean_energy,
        best_energy=summary.best_energy,
    )


def _pick(qubo: PortfolioQubo, bits: Any) -> PortfolioPick:
    choice = decode_portfolio(qubo, np.asarray(bits))
    return PortfolioPick(
        chosen=choice.chosen,
        cost_bn_per_yr=choice.cost_bn_per_yr,
        avoided_warming_k=choice.avoided_warming_k,
        within_budget=choice.within_budget,
    )


def brute_force_pick(qubo: PortfolioQubo) -> tuple[PortfolioPick, float]:
    """The QUBO's exact minimum (all 2^n assignments), cross-checked against enumerating portfolios directly."""
    bits, energy = brute_force_minimum(qubo.matrix, qubo.offset)
    pick = _pick(qubo, bits)
    direct = best_portfolio_by_enumeration(qubo)
    if not math.isclose(pick.avoided_warming_k, direct.avoided_warming_k, rel_tol=1e-9, abs_tol=1e-12):
        raise RuntimeError(
            f"the QUBO minimum ({pick.chosen}, {pick.avoided_warming_k} K) differs from the best portfolio "
            f"found without it ({direct.chosen}, {direct.avoided_warming_k} K): the QUBO is built wrong"
        )
    return pick, energy


@task(
    name="qaoa-portfolio",
    cache_policy=RESUMABLE - "placement" - "placement_label",
    persist_result=True,
    tags=["quantum"],
)
def solve_portfolio(
    qubo: QuboPayload, placement: dict[str, Any], placement_label: str, layers: int, shots: int, seed: int
) -> PortfolioResult:
    """QAOA on the broker's placement (runners-up as fallbacks), verified against brute force, beside random.

    The cache key holds neither the placement nor its label: the broker learns from every run, so a re-run may
    choose another method, and a finished QAOA is reused rather than paid for again.
    """
    matrix = np.array(qubo.matrix)

    def prepare(where: Placement) -> Primitives:
        return Primitives(estimator_on(where, seed=seed), sampler_on(where, shots=shots, seed=seed))

    def run(primitives: Primitives) -> QaoaResult:
        return solve_qubo_qaoa(
            matrix,
            qubo.offset,
            layers,
            shots,
            seed,
            estimator=primitives.estimator,
            sampler=primitives.sampler,
        )

    result, record, _ = run_placed(
        placement, run, prepare=prepare, calls_of=lambda qaoa: qaoa.estimator_calls
    )
    portfolio = qubo.to_qubo()
    optimum, optimum_energy = brute_force_pick(portfolio)
    qaoa_pick = _pick(portfolio, result.qaoa.best_bits)
    tolerance = 1e-9 * max(1.0, abs(optimum_energy))
    log.info("QAOA on %s: best shot %s, optimum %s", record.label(), qaoa_pick.chosen, optimum.chosen)
    return PortfolioResult(
        scenario=qubo.scenario,
        budget_bn_per_yr=qubo.budget_bn_per_yr,
        cost_unit_bn=qubo.cost_unit_bn,
        options=qubo.options,
        **qaoa_pick.model_dump(),
        matches_brute_force=abs(result.qaoa.best_energy - optimum_energy) <= tolerance,
        brute_force=optimum,
        qaoa=_figures(result.qaoa),
        random_baseline=_figures(result.random_baseline),
        optimum_energy=optimum_energy,
        qubits=matrix.shape[0],
        layers=layers,
        shots=shots,
        estimator_calls=result.estimator_calls,
        placement_label=record.label(),
        placement=placement,
        execution=record.model_dump(mode="json"),
    )
