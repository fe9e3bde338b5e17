"""The climate-pathways flow: calibrated emulator ensembles per scenario -> avoided warming -> portfolio QUBO ->
QAOA placed by the broker, verified by brute force beside a random baseline -> fan chart, table, summary."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.futures import PrefectFuture
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, Field, field_validator, model_validator

from broker.models import Placement, ResourceCatalog
from broker.place import place
from broker.records import ExecutionRecord
from classical.runners import ExecutorSettings
from classical.segments import ClimateEnsemble
from climate.portfolio import DEFAULT_OPTIONS, portfolio_qubits
from climate.portfolio_qaoa import portfolio_qaoa_segment
from climate.scenarios import (
    EMULATED_FIRST_YEAR,
    EMULATED_LAST_YEAR,
    available_scenarios,
    projection_coverage_problem,
    scenario_name,
    scenario_sha256,
)
from config.settings import get_settings
from workflows.climate_pathways.report import (
    ClimateReport,
    ScenarioEnsemble,
    ScenarioResult,
    fan_chart_markdown,
    fan_chart_png,
    portfolio_rows,
    summary_markdown,
)
from workflows.climate_pathways.tasks import QuboPayload, portfolio_qubo, scenario_ensemble, solve_portfolio
from workflows.execution.placed_runs import execution_history, run_placed
from workflows.execution.qpu_access import flow_catalog
from workflows.execution.task_runners import task_runner_for
from workflows.flow_parameters import parameters_model
from workflows.schemas import SegmentRun
from workflows.terminal import MAX_SEED

DEFAULT_SCENARIOS = ["ssp126", "ssp245", "ssp585"]
# Six options + 5 slack bits (150 $bn/yr in 5 $bn units) = 11 qubits: QAOA p=2 takes ~4 s on 2 cores here.
DEFAULT_PORTFOLIO_OPTIONS = [
    "afforestation/reforestation",
    "soil carbon sequestration",
    "biochar",
    "BECCS",
    "DACCS",
    "enhanced weathering",
]
# QAOA p=2 on Aer statevector, measured here (2 shared cores): 11 qubits 4 s, 14 qubits 22 s, 16 qubits > 4 min.
MAX_QAOA_QUBITS = 14
KNOWN_OPTIONS = [option.name for option in DEFAULT_OPTIONS]


def _unique(field: str, values: list[str]) -> list[str]:
    if not values:
        raise ValueError(f"{field}: the list is empty; give at least one")
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise ValueError(f"{field}: {duplicates} given more than once; list each once")
    return values


class ClimateChecks(BaseModel):
    """What the flow signature cannot say about a climate run's parameters: the scenarios and options are known
    and listed once, and options plus budget fit QAOA. ClimateParameters (built from the signature, at the end of
    this module) adds the fields."""

    @field_validator("scenarios", check_fields=False)
    @classmethod
    def _known_scenarios(cls, scenarios: list[str]) -> list[str]:
        known = available_scenarios()
        for scenario in _unique("scenarios", scenarios):
            if scenario not in known and not (scenario.lower().endswith(".csv") and Path(scenario).is_file()):
                raise ValueError(
                    f"scenarios: unknown scenario {scenario!r}; use one of {', '.join(known)} "
                    "or the path of a scenario CSV"
                )
            if scenario not in known and (problem := projection_coverage_problem(scenario)):
                raise ValueError(f"scenarios: {problem}")
        names = [scenario_name(s) for s in scenarios]
        if len(set(names)) < len(names):
            raise ValueError(f"scenarios: two scenarios share a name in {names}; rename one CSV file")
        return scenarios

    @field_validator("options", check_fields=False)
    @classmethod
    def _known_options(cls, options: list[str]) -> list[str]:
        unknown = [o for o in _unique("options", options) if o not in KNOWN_OPTIONS]
        if unknown:
            raise ValueError(f"options: unknown {unknown}; choose from {KNOWN_OPTIONS}")
        return options

    @property
    def qubits(self) -> int:
        """QAOA width: one qubit per option plus the budget's binary slack bits."""
        return portfolio_qubits(len(self.options), self.budget)

    @model_validator(mode="after")
    def _qaoa_fits(self) -> ClimateChecks:
        if self.qubits > MAX_QAOA_QUBITS:
            raise ValueError(
                f"options/budget: {len(self.options)} options and a budget of {self.budget:g} $bn/yr make "
                f"{self.qubits} QAOA qubits, more than {MAX_QAOA_QUBITS}; choose fewer options or a smaller budget"
            )
        return self


def publish_climate_artifacts(report: ClimateReport) -> None:
    """Fan chart (PNG embedded in markdown), portfolio table and summary of one run."""
    paths = {name: result.path for name, result in report.scenarios.items()}
    members = report.parameters["members"]
    create_markdown_artifact(
        fan_chart_markdown(fan_chart_png(paths), members),
        key="climate-warming-fan-chart",
        description="Warming per scenario, median and 5-95 % band, K vs 1850-1900",
    )
    create_table_artifact(
        portfolio_rows(report),
        key="climate-portfolio",
        description="Options per scenario: cost, avoided warming, chosen by QAOA, in the brute-force optimum",
    )
    create_markdown_artifact(
        summary_markdown(report),
        key="climate-summary",
        description="Warming vs AR6, and QAOA vs brute force vs random sampling per scenario",
    )


def ensemble_segment(params: ClimateParameters) -> ClimateEnsemble:
    """The ensemble stage as a segment the broker can place: per scenario, the warming ensemble and one ensemble
    per option and pair of options for the avoided warming of the portfolio."""
    options = len(params.options)
    return ClimateEnsemble(
        name="climate-ensembles",
        scenarios=len(params.scenarios),
        members=params.members,
        years=EMULATED_LAST_YEAR - EMULATED_FIRST_YEAR + 1,
        runs_per_scenario=1 + options + options * (options - 1) // 2,
    )


@flow(name="climate-ensembles", persist_result=True, result_serializer="json")
def ensemble_stage(parameters: dict[str, Any]) -> tuple[dict[str, ScenarioEnsemble], dict[str, QuboPayload]]:
    """Every scenario's warming ensemble and portfolio QUBO, as tasks on the placement's task runner."""
    params = ClimateParameters(**parameters)
    ensembles, qubos = _submit_scenario_tasks(params)
    return (
        {name: future.result() for name, future in ensembles.items()},
        {name: future.result() for name, future in qubos.items()},
    )


def _run_ensembles(
    params: ClimateParameters, placement: Placement
) -> tuple[dict[str, ScenarioEnsemble], dict[str, QuboPayload], ExecutionRecord]:
    """Run the ensemble stage where the broker placed it (runners-up as fallbacks), with one execution record."""

    def run(where: Placement) -> tuple[dict[str, ScenarioEnsemble], dict[str, QuboPayload]]:
        runner = task_runner_for(ExecutorSettings.from_options(where.options))
        stage = ensemble_stage.with_options(
            task_runner=runner,
            flow_run_name=f"ensembles-{where.label()}",
            result_storage=get_settings().paths.results,
        )
        return stage(params.model_dump())

    (ensembles, qubos), record, _ = run_placed(placement, run)
    return ensembles, qubos, record


def _submit_scenario_tasks(
    params: ClimateParameters,
) -> tuple[dict[str, PrefectFuture[ScenarioEnsemble]], dict[str, PrefectFuture[QuboPayload]]]:
    """Submit each scenario's ensemble and portfolio-QUBO tasks, keyed by scenario name, without waiting on them."""
    ensembles, qubos = {}, {}
    for scenario in params.scenarios:
        name, digest = scenario_name(scenario), scenario_sha256(scenario)
        ensembles[name] = scenario_ensemble.with_options(task_run_name=f"ensemble-{name}").submit(
            scenario, digest, params.members, params.seed
        )
        qubos[name] = portfolio_qubo.with_options(task_run_name=f"portfolio-qubo-{name}").submit(
            scenario, digest, params.members, params.seed, params.options, params.budget
        )
    return ensembles, qubos


def _scenario_result(
    name: str,
    qubo: QuboPayload,
    ensemble: ScenarioEnsemble,
    params: ClimateParameters,
    catalog: ResourceCatalog,
    logger: logging.Logger | logging.LoggerAdapter,
) -> ScenarioResult:
    """One scenario's QAOA portfolio, placed by the broker and run as a task, joined with its warming ensemble."""
    segment = portfolio_qaoa_segment(qubo.scenario, qubo.to_qubo(), params.qaoa_layers, params.shots)
    placement = place(segment, catalog, history=execution_history())
    label = placement.label()
    logger.info("QAOA of %s placed on %s: %s", name, label, "; ".join(placement.reasons[1:2]))
    solve = solve_portfolio.with_options(
        task_run_name=f"qaoa-portfolio-{name}-{label}",
        tags=["quantum", label],
        result_storage=get_settings().paths.results,
    )
    portfolio = solve(
        qubo, placement.model_dump(mode="json"), label, params.qaoa_layers, params.shots, params.seed
    )
    return ScenarioResult(
        warming_2081_2100=ensemble.warming_2081_2100,
        portfolio=portfolio,
        warming_1995_2014=ensemble.warming_1995_2014,
        members=ensemble.members,
        path=ensemble.path,
    )


@flow(
    name="climate-pathways",
    task_runner=ThreadPoolTaskRunner(max_workers=2),
    persist_result=True,
    result_serializer="json",
)
def climate_pathways(
    scenarios: list[str] = DEFAULT_SCENARIOS,
    members: Annotated[int, Field(ge=10, le=100_000)] = 1000,
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0,
    budget: Annotated[float, Field(ge=0.0, le=5000.0)] = 150.0,
    options: list[str] = DEFAULT_PORTFOLIO_OPTIONS,
    qaoa_layers: Annotated[int, Field(ge=1, le=5)] = 2,
    shots: Annotated[int, Field(ge=100, le=100_000)] = 4096,
) -> ClimateReport:
    """Project warming under emission scenarios and choose a carbon-removal portfolio with QAOA.

    Call it as `workflows.execution.caching.with_result_storage(climate_pathways)(...)` to persist the report beside its
    tasks' results (the command line does).

    Args:
        scenarios: bundled scenario names (ssp119, ssp126, ssp245, ssp370, ssp434, ssp460, ssp534-over, ssp585) or
            paths of scenario CSVs.
        members: calibrated ensemble members (AR6 parameter distributions, constrained by observed warming).
        seed: seed of the parameter draws; every scenario uses the same members.
        budget: annual portfolio budget, $bn/yr (costs count in 5 $bn/yr units).
        options: carbon-removal and capture options to choose from (names in climate.portfolio.DEFAULT_OPTIONS);
            options plus budget slack bits must fit in 14 qubits.
        qaoa_layers: QAOA depth p.
        shots: shots sampled from the optimised QAOA circuit, and random bitstrings for the baseline.
    """
    params = ClimateParameters(**locals())  # first statement: locals() holds exactly the arguments
    logger = get_run_logger()
    logger.info("%d scenarios, %d members, %d QAOA qubits", len(params.scenarios), members, params.qubits)
    catalog = flow_catalog()
    stage = place(ensemble_segment(params), catalog, history=execution_history())
    logger.info("ensembles placed on %s: %s", stage.label(), stage.reasons[1])
    ensembles, qubos, stage_record = _run_ensembles(params, stage)
    results = {
        name: _scenario_result(name, qubo, ensembles[name], params, catalog, logger)
        for name, qubo in qubos.items()
    }
    report = ClimateReport(
        parameters=params.model_dump(),
        scenarios=results,
        segments=[
            SegmentRun(
                segment=stage.segment,
                kind=stage.kind,
                placement=stage.model_dump(mode="json"),
                execution=stage_record.model_dump(mode="json"),
            )
        ],
    )
    publish_climate_artifacts(report)
    return report


ClimateParameters = parameters_model(climate_pathways, "ClimateParameters", ClimateChecks)
