"""Prefect tasks of the climate-pathways flow: thin wrappers around climate/ and quantum/ with JSON-able results.

Every task re-draws the calibrated parameter ensemble from (members, seed): drawing is deterministic and takes
~0.05 s per 1,000 members here, so all scenarios share the same members without shipping arrays between tasks.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import numpy as np
from prefect import task
from pydantic import BaseModel

from broker.models import Placement
from climate.ensemble import run_ensemble, sample_parameters, warming_path, warming_summary
from climate.portfolio import DEFAULT_COST_UNIT_BN, OPTIONS_BY_NAME, PortfolioChoice, PortfolioQubo
from climate.portfolio import portfolio_qubo as scenario_portfolio_qubo
from climate.portfolio_qaoa import checked_against_optimum
from climate.scenarios import emulated_scenario, scenario_name
from quantum.optimization.qaoa import QaoaResult, SamplingSummary, solve_qubo_qaoa
from workflows.climate_pathways.report import (
    OptionFigures,
    PortfolioPick,
    PortfolioResult,
    SamplingFigures,
    ScenarioEnsemble,
    WarmingPath,
    WarmingRange,
)
from workflows.execution.caching import RESUMABLE
from workflows.execution.placed_runs import Primitives, estimator_on, run_placed, sampler_on

log = logging.getLogger(__name__)


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

    @classmethod
    def of(cls, scenario: str, budget_bn_per_yr: float, qubo: PortfolioQubo) -> QuboPayload:
        """The payload of a climate.portfolio QUBO built for ``scenario`` under ``budget_bn_per_yr``."""
        return cls(
            scenario=scenario,
            budget_bn_per_yr=budget_bn_per_yr,
            cost_unit_bn=qubo.cost_unit_bn,
            options=[
                OptionFigures(
                    name=o.name,
                    capacity_gtco2_per_yr=o.capacity_gtco2_per_yr,
                    price_usd_per_tco2=o.price_usd_per_tco2,
                    cost_bn_per_yr=o.cost_bn_per_yr,
                    avoided_warming_k=float(a),
                )
                for o, a in zip(qubo.options, qubo.avoided_warming_k, strict=True)
            ],
            interaction_k=qubo.interaction_k.tolist(),
            cost_units=qubo.cost_units.tolist(),
            budget_units=qubo.budget_units,
            slack_weights=qubo.slack_weights.tolist(),
            penalty=qubo.penalty,
            matrix=qubo.matrix.tolist(),
            offset=qubo.offset,
        )

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


@task(name="scenario-ensemble", cache_policy=RESUMABLE, persist_result=True)
def scenario_ensemble(scenario: str, sha256: str, members: int, seed: int) -> ScenarioEnsemble:
    """Calibrated two-layer ensemble of one scenario: warming (K vs 1850-1900) summarised per period and year."""
    result = run_ensemble(emulated_scenario(scenario), sample_parameters(members, seed=seed))
    return ScenarioEnsemble(
        scenario=scenario_name(scenario),
        members=members,
        warming_2081_2100=WarmingRange(**warming_summary(result, 2081, 2100)),
        warming_1995_2014=WarmingRange(**warming_summary(result, 1995, 2014)),
        path=WarmingPath(**warming_path(result)),
    )


@task(name="portfolio-qubo", cache_policy=RESUMABLE, persist_result=True)
def portfolio_qubo(
    scenario: str, sha256: str, members: int, seed: int, option_names: list[str], budget_bn_per_yr: float
) -> QuboPayload:
    """Avoided warming of each option and pair (ensemble means, K) under the scenario, then the budget QUBO."""
    qubo = scenario_portfolio_qubo(
        emulated_scenario(scenario),
        budget_bn_per_yr,
        tuple(OPTIONS_BY_NAME[name] for name in option_names),
        sample_parameters(members, seed=seed),
        cost_unit_bn=DEFAULT_COST_UNIT_BN,
    )
    return QuboPayload.of(scenario_name(scenario), budget_bn_per_yr, qubo)


def _figures(summary: SamplingSummary) -> SamplingFigures:
    return SamplingFigures(**{name: getattr(summary, name) for name in SamplingFigures.model_fields})


def _pick(choice: PortfolioChoice) -> PortfolioPick:
    return PortfolioPick(**asdict(choice))


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
    check = checked_against_optimum(qubo.to_qubo(), result.qaoa.best_bits, result.qaoa.best_energy)
    qaoa_pick = _pick(check.found)
    log.info("QAOA on %s: best shot %s, optimum %s", record.label(), qaoa_pick.chosen, check.optimum.chosen)
    return PortfolioResult(
        scenario=qubo.scenario,
        budget_bn_per_yr=qubo.budget_bn_per_yr,
        cost_unit_bn=qubo.cost_unit_bn,
        options=qubo.options,
        **qaoa_pick.model_dump(),
        matches_brute_force=check.matches_optimum,
        brute_force=_pick(check.optimum),
        qaoa=_figures(result.qaoa),
        random_baseline=_figures(result.random_baseline),
        optimum_energy=check.optimum_energy,
        qubits=matrix.shape[0],
        layers=layers,
        shots=shots,
        estimator_calls=result.estimator_calls,
        placement_label=record.label(),
        placement=placement,
        execution=record.model_dump(mode="json"),
    )
