"""Calibrated ensembles against IPCC AR6 WG1 assessed warming."""

import numpy as np
import pytest

from climate.ensemble import run_ensemble, sample_parameters, sample_prior, warming_path, warming_summary
from climate.scenarios import load_scenario

MEMBERS = 1000

# IPCC AR6 WG1 SPM Table SPM.1 / chapter 4 Table 4.5: GSAT 2081-2100 relative to 1850-1900,
# best estimate and very likely (5-95 %) range, K.
AR6_2081_2100 = {"ssp126": (1.8, 1.3, 2.4), "ssp245": (2.7, 2.1, 3.5), "ssp585": (4.4, 3.3, 5.7)}


@pytest.fixture(scope="module")
def calibrated() -> object:
    return sample_parameters(MEMBERS, seed=2024)


@pytest.fixture(scope="module")
def summaries(calibrated: object) -> dict[str, dict[str, float]]:
    results = {
        name: run_ensemble(load_scenario(name).between(1750, 2100), calibrated) for name in AR6_2081_2100
    }
    assert all(result.temperature.shape == (MEMBERS, 351) for result in results.values())
    return {name: warming_summary(result, 2081, 2100) for name, result in results.items()}


def test_sampling_is_reproducible_and_sized() -> None:
    first, second = sample_parameters(300, seed=7), sample_parameters(300, seed=7)
    assert first.members == 300
    np.testing.assert_array_equal(first.climate.feedback, second.climate.feedback)
    assert not np.array_equal(first.climate.feedback, sample_parameters(300, seed=8).climate.feedback)


def test_prior_ecs_matches_ar6_assessment() -> None:
    # IPCC AR6 WG1 section 7.5.5: ECS best estimate 3 K, very likely 2-5 K.
    ecs = sample_prior(40_000, np.random.default_rng(0)).equilibrium_climate_sensitivity
    p05, p50, p95 = np.percentile(ecs, [5, 50, 95])
    assert p50 == pytest.approx(3.0, abs=0.1)
    assert p05 == pytest.approx(2.0, abs=0.15)
    assert p95 == pytest.approx(5.0, abs=0.3)


def test_historical_warming_in_ar6_range(calibrated: object) -> None:
    # IPCC AR6 WG1 Cross-Chapter Box 2.3: 1995-2014 relative to 1850-1900, 0.85 K (0.69-0.95 K).
    result = run_ensemble(load_scenario("ssp245").between(1750, 2014), calibrated)
    median = warming_summary(result, 1995, 2014)["median"]
    assert 0.69 <= median <= 0.95


def test_scenarios_are_ordered(summaries: dict[str, dict[str, float]]) -> None:
    assert summaries["ssp126"]["median"] < summaries["ssp245"]["median"] < summaries["ssp585"]["median"]


@pytest.mark.parametrize("name", sorted(AR6_2081_2100))
def test_end_of_century_warming_matches_ar6(summaries: dict[str, dict[str, float]], name: str) -> None:
    best, low, high = AR6_2081_2100[name]
    summary = summaries[name]
    assert abs(summary["median"] - best) <= 0.3, summary
    assert abs(summary["p05"] - low) <= 0.5, summary
    assert abs(summary["p95"] - high) <= 0.5, summary


def test_bad_inputs_name_the_fix() -> None:
    with pytest.raises(ValueError, match="members=0"):
        sample_parameters(0)
    params = sample_parameters(10, seed=1, calibrated=False)
    with pytest.raises(ValueError, match="start the scenario in 1850 or earlier"):
        run_ensemble(load_scenario("ssp245").between(1900, 2100), params)
    result = run_ensemble(load_scenario("ssp245").between(1750, 2100), params)
    with pytest.raises(ValueError, match="outside the run's years 1750-2100"):
        warming_summary(result, 2200, 2300)


def test_warming_path_is_the_fan_charts_band_from_1850(calibrated: object) -> None:
    result = run_ensemble(load_scenario("ssp245").between(1750, 2100), calibrated)
    path = warming_path(result)
    assert path["years"][0] == 1850 and path["years"][-1] == 2100
    assert len(path["p05"]) == len(path["median"]) == len(path["p95"]) == len(path["years"])
    assert all(
        low <= mid <= high for low, mid, high in zip(path["p05"], path["median"], path["p95"], strict=True)
    )
