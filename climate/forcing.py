"""Effective radiative forcing (W/m2) from greenhouse-gas concentrations, IPCC AR6 WG1 chapter 7.

The stratospherically adjusted forcings follow Meinshausen et al. 2020 (GMD 13, 3571) with the coefficients refitted
in IPCC AR6 WG1 Table 7.SM.1; tropospheric adjustments turn them into ERF (AR6 WG1 section 7.3.2: CO2 x1.05,
CH4 x0.86, N2O x1.07). Doubling CO2 from 277.15 ppm gives 3.93 W/m2, AR6's F2x.
"""

from __future__ import annotations

import numpy as np

from climate.scenarios import PREINDUSTRIAL_CH4_PPB, PREINDUSTRIAL_CO2_PPM, PREINDUSTRIAL_N2O_PPB, Scenario

# IPCC AR6 WG1 Table 7.SM.1 (Meinshausen et al. 2020 functional forms).
CO2_A1, CO2_B1, CO2_C1, CO2_D1 = -2.4785e-7, 7.5906e-4, -2.1492e-3, 5.2488
N2O_A2, N2O_B2, N2O_C2, N2O_D2 = -3.4197e-4, 2.5455e-4, -2.4357e-4, 0.12173
CH4_A3, CH4_B3, CH4_D3 = -8.9603e-5, -1.2462e-4, 0.045194
# Tropospheric adjustments as fractions of the stratospherically adjusted forcing, AR6 WG1 section 7.3.2.
ADJUSTMENT_CO2, ADJUSTMENT_CH4, ADJUSTMENT_N2O = 1.05, 0.86, 1.07

# Forcing components in the order that ParameterEnsemble.forcing_scales multiplies them.
FORCING_COMPONENTS = ("co2", "ch4", "n2o", "aerosol", "other", "volcanic", "solar")


def co2_erf(co2_ppm: np.ndarray, n2o_ppb: np.ndarray) -> np.ndarray:
    """CO2 ERF (W/m2) relative to 277.15 ppm, with the N2O band overlap (AR6 WG1 Table 7.SM.1)."""
    co2 = np.asarray(co2_ppm, dtype=float)
    excess = co2 - PREINDUSTRIAL_CO2_PPM
    saturation_ppm = PREINDUSTRIAL_CO2_PPM - CO2_B1 / (2 * CO2_A1)
    alpha = np.where(
        co2 > saturation_ppm,
        CO2_D1 - CO2_B1**2 / (4 * CO2_A1),
        CO2_D1 + CO2_A1 * excess**2 + CO2_B1 * excess,
    )
    alpha = np.where(co2 < PREINDUSTRIAL_CO2_PPM, CO2_D1, alpha)
    alpha_n2o = CO2_C1 * np.sqrt(np.asarray(n2o_ppb, dtype=float))
    return ADJUSTMENT_CO2 * (alpha + alpha_n2o) * np.log(co2 / PREINDUSTRIAL_CO2_PPM)


def ch4_erf(ch4_ppb: np.ndarray, n2o_ppb: np.ndarray) -> np.ndarray:
    """CH4 ERF (W/m2) relative to 731.41 ppb (AR6 WG1 Table 7.SM.1)."""
    ch4, n2o = np.asarray(ch4_ppb, dtype=float), np.asarray(n2o_ppb, dtype=float)
    strat = (CH4_A3 * np.sqrt(ch4) + CH4_B3 * np.sqrt(n2o) + CH4_D3) * (
        np.sqrt(ch4) - np.sqrt(PREINDUSTRIAL_CH4_PPB)
    )
    return ADJUSTMENT_CH4 * strat


def n2o_erf(co2_ppm: np.ndarray, ch4_ppb: np.ndarray, n2o_ppb: np.ndarray) -> np.ndarray:
    """N2O ERF (W/m2) relative to 273.87 ppb (AR6 WG1 Table 7.SM.1)."""
    co2, ch4, n2o = (np.asarray(x, dtype=float) for x in (co2_ppm, ch4_ppb, n2o_ppb))
    strat = (N2O_A2 * np.sqrt(co2) + N2O_B2 * np.sqrt(n2o) + N2O_C2 * np.sqrt(ch4) + N2O_D2) * (
        np.sqrt(n2o) - np.sqrt(PREINDUSTRIAL_N2O_PPB)
    )
    return ADJUSTMENT_N2O * strat


def doubled_co2_erf() -> float:
    """F2x (W/m2): ERF of doubling CO2 from 277.15 ppm with N2O at 273.87 ppb; AR6 WG1 gives 3.93."""
    return float(co2_erf(np.array(2 * PREINDUSTRIAL_CO2_PPM), np.array(PREINDUSTRIAL_N2O_PPB)))


def forcing_components(scenario: Scenario) -> np.ndarray:
    """ERF (W/m2) per component, shape (7, years), in FORCING_COMPONENTS order."""
    return np.stack(
        [
            co2_erf(scenario.co2, scenario.n2o),
            ch4_erf(scenario.ch4, scenario.n2o),
            n2o_erf(scenario.co2, scenario.ch4, scenario.n2o),
            scenario.erf_aerosol,
            scenario.erf_other,
            scenario.erf_volcanic,
            scenario.erf_solar,
        ]
    )
