"""Parameter ensembles for the two-layer emulator: sampling, calibration against observed warming, projections.

Prior distributions (one member = one independent draw of each):
- ECS (K): split log-normal with median 3.0 K and 5-95 % range 2-5 K, the AR6 WG1 best estimate and very likely
  range (section 7.5.5); its 17-83 % range, 2.4-4.0 K, is close to AR6's likely 2.5-4 K.
- F2x (W/m2): normal 3.93 +/- 0.47 (5-95 %), AR6 WG1 section 7.3.2.1; scales the CO2 ERF. lambda = F2x / ECS.
- Aerosol ERF 1750 to 2005-2014 (W/m2): normal -1.3, 5-95 % -2.0 to -0.6, AR6 WG1 section 7.3.3.3; scales the
  scenario's aerosol path.
- CH4 and N2O ERF: +/-20 % and +/-14 % (5-95 %), AR6 WG1 Table 7.8 (0.54 [0.43-0.65], 0.21 [0.18-0.24] W/m2).
- Other anthropogenic ERF in 2019 (ozone, halogenated gases, stratospheric H2O, land use, BC on snow, contrails):
  normal 0.87 +/- 0.29 W/m2 (5-95 %), the sum of the AR6 WG1 Table 7.8 best estimates with their ranges added in
  quadrature; scales the scenario's ``erf_other`` path (RCMIP has 0.66 W/m2 in 2019).
- Two-layer ocean (log-normal, mean +/- sd): upper-layer heat capacity C 8.2 +/- 1.0 and deep-ocean C_d 109 +/- 45
  W yr/m2/K, exchange gamma 0.67 +/- 0.18 W/m2/K, deep-ocean efficacy epsilon 1.28 +/- 0.25. The means are the
  CMIP5 multi-model means of the efficacy-form fits of Geoffroy et al. 2013b (J. Climate 26, 1859), also the
  defaults of fair 1.6.4's two-layer model; the sds are our round figures for the inter-model spread.
Natural (volcanic, solar) forcing is taken as given by the scenario.

Calibration: each prior member is accepted with probability exp(-z^2/2), z the distance of its 1995-2014 warming
relative to 1850-1900 from the AR6 WG1 assessment 0.85 K in units of sd = 0.079 K (the 0.69-0.95 K range read as
5-95 %; Cross-Chapter Box 2.3), as AR6 constrained its emulators with observed warming (Cross-Chapter Box 7.1).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np

from climate.emulator import TwoLayerParameters, simulate_two_layer
from climate.forcing import FORCING_COMPONENTS, doubled_co2_erf, forcing_components
from climate.scenarios import Scenario, load_scenario, one_percent_co2_scenario

logger = logging.getLogger(__name__)

Z95 = 1.6448536269514722  # standard-normal 95th percentile: a 5-95 % half-width is 1.645 sd
F2X_AR6 = 3.93  # W/m2, AR6 WG1 section 7.3.2.1
# W/m2, 1750-2019, sum of AR6 WG1 Table 7.8 best estimates (ozone 0.47, halogenated gases 0.41, stratospheric H2O
# 0.05, land use -0.20, BC on snow 0.08, contrails 0.06) and its 5-95 % half-width (ranges added in quadrature).
OTHER_ERF_AR6 = (0.87, 0.29)
AEROSOL_ERF_AR6 = (
    -1.3,
    0.7,
)  # W/m2, 1750 to 2005-2014: best estimate, 5-95 % half-width (AR6 section 7.3.3.3)
HISTORICAL_WARMING_AR6 = (0.85, 0.69, 0.95)  # K, 1995-2014 vs 1850-1900, AR6 WG1 Cross-Chapter Box 2.3
# Two-layer ocean: (mean, sd) of C, C_d (W yr/m2/K), gamma (W/m2/K), epsilon; means Geoffroy et al. 2013b, sds ours.
UPPER_HEAT_CAPACITY, DEEP_HEAT_CAPACITY = (8.2, 1.0), (109.0, 45.0)
HEAT_EXCHANGE, EFFICACY = (0.67, 0.18), (1.28, 0.25)
BASELINE_YEARS = (1850, 1900)  # pre-industrial reference period of AR6 WG1


@dataclass(frozen=True)
class ParameterEnsemble:
    """Per-member parameters: two-layer physics plus one scale factor per forcing component."""

    climate: TwoLayerParameters
    doubled_co2_forcing: np.ndarray  # F2x, W/m2, shape (members,)
    forcing_scales: np.ndarray  # shape (members, 7), FORCING_COMPONENTS order; 1 = the scenario as given

    @property
    def members(self) -> int:
        return self.climate.members

    @property
    def equilibrium_climate_sensitivity(self) -> np.ndarray:
        """ECS (K) = F2x / lambda per member."""
        return self.doubled_co2_forcing / self.climate.feedback

    def subset(self, index: np.ndarray) -> ParameterEnsemble:
        """The members at ``index`` (an integer or boolean array)."""
        c = self.climate
        return ParameterEnsemble(
            climate=TwoLayerParameters(
                c.feedback[index],
                c.upper_heat_capacity[index],
                c.deep_heat_capacity[index],
                c.heat_exchange[index],
                c.deep_ocean_efficacy[index],
            ),
            doubled_co2_forcing=self.doubled_co2_forcing[index],
            forcing_scales=self.forcing_scales[index],
        )


@dataclass(frozen=True)
class EnsembleResult:
    """Temperature anomaly (K) relative to 1850-1900, shape (members, years)."""

    scenario: str
    years: np.ndarray
    temperature: np.ndarray

    def period_mean(self, first_year: int, last_year: int) -> np.ndarray:
        """Mean anomaly (K) per member over ``first_year..last_year`` inclusive."""
        keep = (self.years >= first_year) & (self.years <= last_year)
        if not keep.any():
            raise ValueError(
                f"period {first_year}-{last_year} is outside the run's years {self.years[0]}-{self.years[-1]}; "
                "choose years the scenario covers"
            )
        return self.temperature[:, keep].mean(axis=1)


def central_parameters(members: int = 1) -> ParameterEnsemble:
    """AR6 best estimates (ECS 3 K, F2x 3.93 W/m2, aerosol and other ERF) with the Geoffroy et al. 2013b ocean."""
    full = np.ones(members)
    f2x = F2X_AR6 * full
    scales = np.ones((members, len(FORCING_COMPONENTS)))
    scales[:, 0] = F2X_AR6 / doubled_co2_erf()
    scales[:, 3] = AEROSOL_ERF_AR6[0] / _reference_aerosol_erf()
    scales[:, 4] = OTHER_ERF_AR6[0] / _reference_other_erf()
    climate = TwoLayerParameters(
        f2x / 3.0,
        UPPER_HEAT_CAPACITY[0] * full,
        DEEP_HEAT_CAPACITY[0] * full,
        HEAT_EXCHANGE[0] * full,
        EFFICACY[0] * full,
    )
    return ParameterEnsemble(climate=climate, doubled_co2_forcing=f2x, forcing_scales=scales)


def _lognormal(rng: np.random.Generator, mean: float, sd: float, size: int) -> np.ndarray:
    """Log-normal draws with the given arithmetic mean and standard deviation."""
    sigma2 = np.log1p((sd / mean) ** 2)
    return rng.lognormal(np.log(mean) - sigma2 / 2, np.sqrt(sigma2), size)


def sample_prior(members: int, rng: np.random.Generator) -> ParameterEnsemble:
    """Independent draws from the literature distributions in the module docstring."""
    z = rng.standard_normal(members)
    ecs = 3.0 * np.exp(np.where(z < 0, np.log(3.0 / 2.0), np.log(5.0 / 3.0)) / Z95 * z)
    f2x = rng.normal(F2X_AR6, 0.47 / Z95, members)
    aerosol_erf = rng.normal(AEROSOL_ERF_AR6[0], AEROSOL_ERF_AR6[1] / Z95, members)
    scales = np.ones((members, len(FORCING_COMPONENTS)))
    scales[:, 0] = f2x / doubled_co2_erf()
    scales[:, 1] = rng.normal(1.0, 0.20 / Z95, members)
    scales[:, 2] = rng.normal(1.0, 0.14 / Z95, members)
    scales[:, 3] = aerosol_erf / _reference_aerosol_erf()
    other_erf = rng.normal(OTHER_ERF_AR6[0], OTHER_ERF_AR6[1] / Z95, members)
    scales[:, 4] = np.clip(other_erf / _reference_other_erf(), 0.0, None)
    climate = TwoLayerParameters(
        feedback=f2x / ecs,
        upper_heat_capacity=_lognormal(rng, *UPPER_HEAT_CAPACITY, members),
        deep_heat_capacity=_lognormal(rng, *DEEP_HEAT_CAPACITY, members),
        heat_exchange=_lognormal(rng, *HEAT_EXCHANGE, members),
        deep_ocean_efficacy=_lognormal(rng, *EFFICACY, members),
    )
    return ParameterEnsemble(climate=climate, doubled_co2_forcing=f2x, forcing_scales=scales)


@functools.cache
def _reference_aerosol_erf() -> float:
    """Aerosol ERF (W/m2) of the bundled data averaged over 2005-2014 (identical in every SSP file)."""
    return float(load_scenario("ssp245").between(2005, 2014).erf_aerosol.mean())


@functools.cache
def _reference_other_erf() -> float:
    """Other anthropogenic ERF (W/m2) of the bundled data in 2019 (SSP2-4.5 file)."""
    return float(load_scenario("ssp245").between(2019, 2019).erf_other[0])


def sample_parameters(members: int, seed: int | None = 0, calibrated: bool = True) -> ParameterEnsemble:
    """``members`` parameter sets; ``calibrated`` keeps only draws consistent with observed warming (AR6)."""
    if members < 1:
        raise ValueError(f"members={members}: an ensemble needs at least 1 member; pass members >= 1")
    rng = np.random.default_rng(seed)
    if not calibrated:
        return sample_prior(members, rng)
    history = load_scenario("ssp245").between(1750, 2014)
    best, low, high = HISTORICAL_WARMING_AR6
    sd = (high - low) / (2 * Z95)
    accepted: list[ParameterEnsemble] = []
    count, draws = 0, 0
    while count < members:
        batch = max(4 * (members - count), 1000)
        prior = sample_prior(batch, rng)
        warming = run_ensemble(history, prior).period_mean(1995, 2014)
        weight = np.exp(-0.5 * ((warming - best) / sd) ** 2)
        keep = np.flatnonzero(rng.uniform(size=batch) < weight)[: members - count]
        accepted.append(prior.subset(keep))
        count, draws = count + keep.size, draws + batch
    logger.info("calibrated ensemble: %d members accepted from %d prior draws", members, draws)
    return _concatenate(accepted)


def _concatenate(parts: list[ParameterEnsemble]) -> ParameterEnsemble:
    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(part.climate, name) for part in parts])

    return ParameterEnsemble(
        climate=TwoLayerParameters(
            cat("feedback"),
            cat("upper_heat_capacity"),
            cat("deep_heat_capacity"),
            cat("heat_exchange"),
            cat("deep_ocean_efficacy"),
        ),
        doubled_co2_forcing=np.concatenate([part.doubled_co2_forcing for part in parts]),
        forcing_scales=np.concatenate([part.forcing_scales for part in parts]),
    )


def ensemble_forcing(scenario: Scenario, params: ParameterEnsemble) -> np.ndarray:
    """Total ERF (W/m2) per member, shape (members, years)."""
    return params.forcing_scales @ forcing_components(scenario)


def run_ensemble(scenario: Scenario, params: ParameterEnsemble) -> EnsembleResult:
    """Temperature anomalies (K) relative to 1850-1900 for every member (the scenario must cover 1850-1900)."""
    first, last = BASELINE_YEARS
    if scenario.years[0] > first or scenario.years[-1] < last:
        raise ValueError(
            f"scenario {scenario.name!r} covers {scenario.years[0]}-{scenario.years[-1]}; the anomaly baseline "
            f"needs {first}-{last}: start the scenario in 1850 or earlier (the bundled SSPs start in 1750)"
        )
    temperature = simulate_two_layer(ensemble_forcing(scenario, params), params.climate)
    baseline = (scenario.years >= first) & (scenario.years <= last)
    anomaly = temperature - temperature[:, baseline].mean(axis=1, keepdims=True)
    return EnsembleResult(scenario=scenario.name, years=scenario.years, temperature=anomaly)


def warming_summary(
    result: EnsembleResult, first_year: int = 2081, last_year: int = 2100
) -> dict[str, float]:
    """Median and 5-95 % range (K) of the members' mean warming over ``first_year..last_year``."""
    warming = result.period_mean(first_year, last_year)
    p05, median, p95 = np.percentile(warming, [5, 50, 95])
    return {"median": float(median), "p05": float(p05), "p95": float(p95)}


def warming_path(result: EnsembleResult, first_year: int = 1850) -> dict[str, list]:
    """Per-year median and 5-95 % band of warming (K) from ``first_year`` on, rounded to 0.1 mK (a fan chart's data)."""
    keep = result.years >= first_year
    p05, median, p95 = np.percentile(result.temperature[:, keep], [5, 50, 95], axis=0)
    return {
        "years": [int(y) for y in result.years[keep]],
        "p05": np.round(p05, 4).tolist(),
        "median": np.round(median, 4).tolist(),
        "p95": np.round(p95, 4).tolist(),
    }


def transient_climate_response(params: ParameterEnsemble) -> np.ndarray:
    """TCR (K): warming averaged over years 61-80 of a 1 %/yr CO2 run, CO2 forcing only (AR6 WG1 7.5.1)."""
    scenario = one_percent_co2_scenario(80)
    forcing = np.outer(params.forcing_scales[:, 0], forcing_components(scenario)[0])
    temperature = simulate_two_layer(forcing, params.climate)
    return temperature[:, 61:81].mean(axis=1)
