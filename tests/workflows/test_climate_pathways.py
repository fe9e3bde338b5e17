"""The climate-pathways flow: parameter validation, the report views, and end to end through a real Prefect API."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from climate.scenarios import load_scenario
from config.settings import settings_override
from workflows.climate_pathways.flow import ClimateParameters
from workflows.climate_pathways.report import WarmingPath, fan_chart_markdown, fan_chart_png

# AR6 WG1 SPM Table SPM.1: SSP2-4.5 2081-2100 warming vs 1850-1900 very likely range, K.
AR6_SSP245_RANGE = (2.1, 3.5)
# AR6 WG1 Cross-Chapter Box 2.3: 1995-2014 warming vs 1850-1900, K (0.69-0.95 very likely).
AR6_HISTORICAL_RANGE = (0.69, 0.95)
SMALL_OPTIONS = ["afforestation/reforestation", "biochar", "BECCS", "enhanced weathering"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"  # PNG specification (ISO/IEC 15948), section 5.2


def test_unknown_scenario_is_refused_with_the_known_names() -> None:
    with pytest.raises(ValueError, match=r"scenarios: unknown scenario 'ssp999'.*ssp126.*ssp245.*ssp585"):
        ClimateParameters(scenarios=["ssp999"])


def test_unknown_or_repeated_option_is_refused() -> None:
    with pytest.raises(ValueError, match=r"options: unknown \['fusion'\]; choose from .*BECCS"):
        ClimateParameters(options=["BECCS", "fusion"])
    with pytest.raises(ValueError, match="options: \\['BECCS'\\] given more than once"):
        ClimateParameters(options=["BECCS", "BECCS"])


def test_too_many_qubits_is_refused_before_any_work() -> None:
    # 12 options + 8 slack bits (1000 $bn/yr = 200 units of 5 $bn/yr, 2^8 > 200) = 20 qubits > 14.
    from climate.portfolio import DEFAULT_OPTIONS

    with pytest.raises(ValueError, match=r"options/budget: 12 options .* 20 QAOA qubits, more than 14"):
        ClimateParameters(options=[o.name for o in DEFAULT_OPTIONS], budget=1000.0)
    assert ClimateParameters(options=SMALL_OPTIONS, budget=100.0).qubits == 4 + 5  # 20 units: 5 slack bits


def test_range_limits_name_the_field() -> None:
    with pytest.raises(ValueError, match="members"):
        ClimateParameters(members=5)
    with pytest.raises(ValueError, match="budget"):
        ClimateParameters(budget=-1.0)
    with pytest.raises(ValueError, match="qaoa_layers"):
        ClimateParameters(qaoa_layers=0)


def test_user_csv_must_reach_2100(tmp_path: Path) -> None:
    short = tmp_path / "short.csv"
    scenario = load_scenario("ssp245").between(1750, 2050)
    rows = ["year,co2 [ppm]"] + [f"{y},{c}" for y, c in zip(scenario.years, scenario.co2, strict=True)]
    short.write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"covers 1750-2050; it must cover 1850-2100"):
        ClimateParameters(scenarios=[str(short)])


def test_ui_schema_carries_descriptions_and_limits() -> None:
    from prefect.utilities.callables import parameter_schema

    from workflows.climate_pathways.flow import climate_pathways

    properties = parameter_schema(climate_pathways.fn).model_dump()["properties"]
    assert (
        properties["members"]["minimum"] == 10 and "ensemble members" in properties["members"]["description"]
    )
    assert properties["scenarios"]["default"] == ["ssp126", "ssp245", "ssp585"]
    assert set(properties) == {"scenarios", "members", "seed", "budget", "options", "qaoa_layers", "shots"}
    assert all(p.get("description") for p in properties.values())


def test_cli_refuses_bad_input_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    from workflows.cli import add_flow_command
    from workflows.climate_pathways.cli import CLIMATE

    parser = argparse.ArgumentParser()
    add_flow_command(parser.add_subparsers(), CLIMATE)
    args = parser.parse_args(["climate", "--scenario", "ssp245", "--scenario", "rcp45"])
    assert args.handler(args) == 2
    assert "unknown scenario 'rcp45'" in capsys.readouterr().err


def test_qcflow_climate_flags_are_built_from_the_flow_signature() -> None:
    from workflows.cli import build_parser
    from workflows.climate_pathways.flow import ClimateParameters, climate_pathways
    from workflows.flow_parameters import given_parameters

    parser = build_parser()
    no_flags = parser.parse_args(["climate"])
    assert ClimateParameters(**given_parameters(no_flags, climate_pathways)) == ClimateParameters()
    args = parser.parse_args(["climate", "--scenario", "ssp245", "--scenario", "ssp585", "--layers", "3"])
    assert (args.scenarios, args.qaoa_layers, args.options) == (["ssp245", "ssp585"], 3, None)


def test_cli_names_the_flags_a_user_typed(capsys: pytest.CaptureFixture[str]) -> None:
    from climate.portfolio import DEFAULT_OPTIONS
    from workflows.cli import main

    assert main(["climate", "--layers", "0"]) == 2
    assert "  --layers: Input should be greater than or equal to 1 (got 0)" in capsys.readouterr().err
    every_option = [arg for option in DEFAULT_OPTIONS for arg in ("--option", option.name)]
    assert main(["climate", *every_option, "--budget", "1000"]) == 2
    error = capsys.readouterr().err
    assert "  --option/--budget: 12 options and a budget of 1000 $bn/yr make 20 QAOA qubits" in error
    assert "qaoa_layers" not in error and "options/budget" not in error


def test_fan_chart_is_a_png_embedded_as_a_data_uri() -> None:
    path = WarmingPath(
        years=[1850, 1950, 2100], p05=[0.0, 0.2, 1.5], median=[0.0, 0.3, 2.0], p95=[0.0, 0.4, 2.6]
    )
    png = fan_chart_png({"ssp245": path})
    assert png.startswith(PNG_SIGNATURE)
    markdown = fan_chart_markdown(png, members=200)
    assert "](data:image/png;base64,iVBORw0KGgo" in markdown  # base64 of the PNG signature


def _check_report_figures(report: dict) -> None:
    """Physical and logical checks on one scenario of the JSON report (SSP2-4.5)."""
    warming = report["warming_2081_2100"]
    assert warming["p05"] < warming["median"] < warming["p95"]
    assert AR6_SSP245_RANGE[0] < warming["median"] < AR6_SSP245_RANGE[1]
    assert AR6_HISTORICAL_RANGE[0] < report["warming_1995_2014"]["median"] < AR6_HISTORICAL_RANGE[1]
    portfolio = report["portfolio"]
    optimum = portfolio["brute_force"]
    assert optimum["within_budget"] and optimum["cost_bn_per_yr"] <= portfolio["budget_bn_per_yr"]
    # Within budget the penalty vanishes, so the optimum energy is minus its avoided warming.
    assert portfolio["optimum_energy"] == pytest.approx(-optimum["avoided_warming_k"], rel=1e-9)
    assert 0.0 < optimum["avoided_warming_k"] < 0.2  # a few GtCO2/yr of removal avoids hundredths of a K
    for sampler in ("qaoa", "random_baseline"):
        assert 0.0 <= portfolio[sampler]["optimum_probability"] <= 1.0
        assert portfolio[sampler]["best_energy"] >= portfolio["optimum_energy"] - 1e-12
    assert portfolio["matches_brute_force"] == (portfolio["chosen"] == optimum["chosen"])
    assert (
        portfolio["placement_label"]
        == f"{portfolio['placement']['resource']}/{portfolio['placement']['method']}"
    )
    assert portfolio["execution"]["succeeded"]


async def _artifacts_and_task_runs() -> tuple[set[str], list]:
    from prefect import get_client

    async with get_client() as client:
        keys = {a.key for a in await client.read_artifacts() if a.key}
        return keys, await client.read_task_runs()


@pytest.fixture
def home_set_after_import(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A QCFLOW_HOME set after the climate flow's module was imported; the settings are read afresh (and again
    once the test is over, so later tests see the session's home)."""
    import workflows.climate_pathways.flow  # noqa: F401  (imported before the variable is set)

    home = tmp_path / "home"
    monkeypatch.setenv("QCFLOW_HOME", str(home))
    monkeypatch.delenv("QCFLOW_RESULTS_DIR", raising=False)
    with settings_override():
        yield home


def test_the_climate_flow_reads_its_result_storage_when_called(home_set_after_import: Path) -> None:
    from workflows.climate_pathways.flow import climate_pathways
    from workflows.execution.caching import with_result_storage

    assert climate_pathways.result_storage is None  # the decorator reads no settings at import
    assert with_result_storage(climate_pathways).result_storage == home_set_after_import / "results"


@pytest.mark.slow
def test_flow_and_cli_through_a_real_prefect_api(
    prefect_api: None, tmp_path: Path, home_set_after_import: Path
) -> None:
    from workflows.cli import add_flow_command
    from workflows.climate_pathways.cli import CLIMATE
    from workflows.climate_pathways.flow import climate_pathways
    from workflows.execution.caching import with_result_storage

    with pytest.raises(ValueError, match="unknown scenario 'ssp999'"):  # the run fails before any task
        with_result_storage(climate_pathways)(scenarios=["ssp999"])
    report = with_result_storage(climate_pathways)(
        scenarios=["ssp245"], members=200, options=SMALL_OPTIONS, budget=100.0, shots=2048
    )
    # every persisted result is under the QCFLOW_HOME set after import: the tasks', the subflow's, the report
    results = (home_set_after_import / "results").rglob("*")
    persisted = "\n".join(path.read_text() for path in results if path.is_file())
    for stored in ("ClimateReport", "ScenarioEnsemble", "QuboPayload", "PortfolioResult"):
        assert stored in persisted, stored
    result = report.scenarios["ssp245"]
    assert result.members == 200 and result.portfolio.qubits == 9
    assert result.path.years[0] == 1850 and result.path.years[-1] == 2100

    keys, task_runs = asyncio.run(_artifacts_and_task_runs())
    assert {"climate-warming-fan-chart", "climate-portfolio", "climate-summary"} <= keys
    label = result.portfolio.placement_label
    qaoa_runs = [run for run in task_runs if run.name == f"qaoa-portfolio-ssp245-{label}"]
    assert qaoa_runs and label in qaoa_runs[0].tags

    # The CLI handler on the same inputs: the JSON shape, and every task resumed from its persisted result.
    parser = argparse.ArgumentParser()
    add_flow_command(parser.add_subparsers(), CLIMATE)
    out = tmp_path / "results.json"
    argv = ["climate", "--scenario", "ssp245", "--members", "200", "--budget", "100", "--shots", "2048"]
    argv += [arg for option in SMALL_OPTIONS for arg in ("--option", option)]
    args = parser.parse_args([*argv, "--out", str(out)])
    assert args.handler(args) == 0
    written = json.loads(out.read_text())
    assert list(written["scenarios"]) == ["ssp245"]
    scenario = written["scenarios"]["ssp245"]
    assert {"median", "p05", "p95"} <= set(scenario["warming_2081_2100"])
    assert {"chosen", "cost_bn_per_yr", "avoided_warming_k", "qaoa", "random_baseline", "brute_force"} <= set(
        scenario["portfolio"]
    )
    assert {"approximation_ratio", "optimum_probability"} <= set(scenario["portfolio"]["qaoa"])
    _check_report_figures(scenario)
    assert scenario == json.loads(report.model_dump_json())["scenarios"]["ssp245"]  # resumed, not recomputed
    _, task_runs = asyncio.run(_artifacts_and_task_runs())
    cached = {run.name for run in task_runs if run.state and run.state.name == "Cached"}
    assert {"ensemble-ssp245", "portfolio-qubo-ssp245"} <= cached
    # the broker may place the re-run elsewhere once the history corrects its estimates; the QAOA is reused anyway
    assert any(name.startswith("qaoa-portfolio-ssp245-") for name in cached)
