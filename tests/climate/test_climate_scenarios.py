"""Scenario loading and CSV validation."""

import re
from pathlib import Path

import numpy as np
import pytest

from climate.scenarios import (
    PREINDUSTRIAL_CH4_PPB,
    ScenarioError,
    available_scenarios,
    emulated_scenario,
    load_scenario,
    one_percent_co2_scenario,
    projection_coverage_problem,
    scenario_name,
    scenario_sha256,
)

HEADER = "year,co2 [ppm],ch4 [ppb],n2o [ppb],erf_aerosol [W/m2]"


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "user.csv"
    path.write_text(text)
    return path


def test_bundled_ssps_cover_1750_to_2500_without_gaps() -> None:
    assert {"ssp126", "ssp245", "ssp585"} <= set(available_scenarios())
    for name in ("ssp126", "ssp245", "ssp585"):
        scenario = load_scenario(name)
        assert scenario.years[0] == 1750 and scenario.years[-1] == 2500
        assert np.all(np.diff(scenario.years) == 1)


def test_bundled_history_matches_published_concentrations() -> None:
    ssp245 = load_scenario("ssp245")
    # Meinshausen et al. 2020 (GMD 13, 3571), Table 2: 1750 CO2 277.15 ppm, CH4 731.41 ppb, N2O 273.87 ppb.
    assert ssp245.co2[0] == pytest.approx(277.15, abs=0.01)
    assert ssp245.ch4[0] == pytest.approx(731.41, abs=0.01)
    assert ssp245.n2o[0] == pytest.approx(273.87, abs=0.01)
    # NOAA global-mean CO2 in 2014: 397.1 ppm (Global Monitoring Laboratory annual means); RCMIP within 1 ppm.
    assert ssp245.between(2014, 2014).co2[0] == pytest.approx(397.1, abs=1.0)


def test_scenarios_share_history_and_diverge_after_2015() -> None:
    ssp126, ssp585 = load_scenario("ssp126"), load_scenario("ssp585")
    np.testing.assert_allclose(ssp126.between(1750, 2014).co2, ssp585.between(1750, 2014).co2)
    assert ssp126.between(2100, 2100).co2[0] < 500 < ssp585.between(2100, 2100).co2[0]


def test_user_csv_with_unit_conversion_and_defaults(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "year,co2 [ppb]\n2000,370000\n2001,372000\n")
    scenario = load_scenario(path)
    np.testing.assert_allclose(scenario.co2, [370.0, 372.0])
    np.testing.assert_allclose(scenario.ch4, PREINDUSTRIAL_CH4_PPB)
    np.testing.assert_allclose(scenario.erf_aerosol, 0.0)
    assert scenario.name == "user"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{HEADER}\n2000,370,1700,316,-1\n1999,371,1700,316,-1\n", "row 3 year 1999 is not after year 2000"),
        (f"{HEADER}\n2000,370,1700,316,-1\n2002,371,1700,316,-1\n", "leaves a gap after year 2000"),
        (f"{HEADER}\n2000,370,1700,316,-1\n2000,371,1700,316,-1\n", "increase by exactly 1"),
        ("year,co2 [ppm],sulfur [Tg]\n2000,370,1\n", "column 3 'sulfur [Tg]' is not a known species"),
        ("year,co2 [ppm],ch4 [kg]\n2000,370,1\n", "has unit 'kg'; write it as 'ch4 [ppb]'"),
        ("year,ch4 [ppb]\n2000,1700\n", "no CO2 column; add a column 'co2 [ppm]'"),
        ("time,co2 [ppm]\n2000,370\n", "column 1 is 'time'; the first column must be 'year'"),
        ("year,co2 [ppm]\n2000,abc\n", "row 2, column 2 holds 'abc', not a finite number"),
        ("year,co2 [ppm]\n2000,370,5\n", "row 2 has 3 values but the header has 2 columns"),
        ("year,co2 [ppm]\n2000,-3\n", "column 'co2' at year 2000 (row 2) is -3"),
        ("year,co2 [ppm],co2 [ppm]\n2000,370,370\n", "appears twice"),
        ("year,co2 [ppm]\n", "no data rows"),
    ],
)
def test_invalid_csv_errors_name_the_place_and_the_fix(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(expected)):
        load_scenario(write_csv(tmp_path, text))


def test_unknown_scenario_name_lists_the_choices() -> None:
    with pytest.raises(ScenarioError, match=r"use one of .*ssp245"):
        load_scenario("ssp999")


def test_window_outside_the_scenario_is_refused() -> None:
    with pytest.raises(ScenarioError, match="covers 1750-2500"):
        load_scenario("ssp245").between(1700, 2100)


def test_one_percent_run_doubles_co2_after_70_years() -> None:
    scenario = one_percent_co2_scenario(80)
    # 1.01**70 = 2.0068: the 1pctCO2 experiment doubles CO2 in year 70 (CMIP6 DECK, Eyring et al. 2016).
    assert scenario.co2[70] / scenario.co2[0] == pytest.approx(2.0068, abs=1e-4)


def test_bundled_and_user_scenarios_are_named_digested_and_trimmed_to_the_emulated_years(
    tmp_path: Path,
) -> None:
    rows = "\n".join(f"{year},{280 + (year - 1800) * 0.5}" for year in range(1800, 2201))
    path = write_csv(tmp_path, f"year,co2 [ppm]\n{rows}\n")
    assert scenario_name("ssp245") == "ssp245" and scenario_sha256("ssp245") == ""
    assert scenario_name(str(path)) == "user"
    digest = scenario_sha256(str(path))
    assert len(digest) == 64
    path.write_text(path.read_text().replace("2200,", "2200.0,"))
    assert scenario_sha256(str(path)) != digest  # an edited file is a new cache key
    bundled, user = emulated_scenario("ssp245"), emulated_scenario(str(path))
    assert (bundled.years[0], bundled.years[-1]) == (1750, 2100)
    assert (user.years[0], user.years[-1]) == (1800, 2100)  # spin-up from the file's first year
    assert projection_coverage_problem(str(path)) is None


def test_a_scenario_missing_the_baseline_or_2100_says_what_to_extend(tmp_path: Path) -> None:
    rows = "\n".join(f"{year},400" for year in range(1900, 2101))
    problem = projection_coverage_problem(str(write_csv(tmp_path, f"year,co2 [ppm]\n{rows}\n")))
    assert (
        problem is not None and "covers 1900-2100; it must cover 1850-2100" in problem and "extend" in problem
    )
