"""Two-layer model physics: F2x, ECS = F2x/lambda, TCR, exact time stepping."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from climate.emulator import (
    TwoLayerParameters,
    annual_step_matrices,
    equilibrium_climate_sensitivity,
    simulate_two_layer,
)
from climate.ensemble import central_parameters, sample_prior, transient_climate_response
from climate.forcing import ch4_erf, co2_erf, doubled_co2_erf, n2o_erf


def test_doubled_co2_forcing_is_ar6_f2x() -> None:
    # IPCC AR6 WG1 section 7.3.2.1: F2x = 3.93 +/- 0.47 W/m2.
    assert doubled_co2_erf() == pytest.approx(3.93, abs=0.01)


def test_gas_forcings_near_ar6_2019_values() -> None:
    # IPCC AR6 WG1 Table 7.8, ERF 1750-2019: CO2 2.16, CH4 0.54, N2O 0.21 W/m2, for 2019 concentrations
    # 410.1 ppm, 1866.3 ppb, 332.1 ppb (AR6 WG1 Table 2.1). AR6 starts CO2 from 278.3 ppm, we from 277.15 ppm.
    co2, ch4, n2o = np.array(410.1), np.array(1866.3), np.array(332.1)
    assert co2_erf(co2, n2o) == pytest.approx(2.16, abs=0.05)
    assert ch4_erf(ch4, n2o) == pytest.approx(0.54, abs=0.02)
    assert n2o_erf(co2, ch4, n2o) == pytest.approx(0.21, abs=0.02)


def test_equilibrium_warming_is_f2x_over_lambda() -> None:
    # IPCC AR6 WG1 eq. 7.1 at equilibrium (N = 0): ECS = F2x / lambda, whatever the ocean or its efficacy.
    params = sample_prior(50, np.random.default_rng(3))
    f2x = params.doubled_co2_forcing
    phi, gamma = annual_step_matrices(params.climate)
    fixed_point = np.linalg.solve(np.eye(2)[None] - phi, (gamma * f2x[:, None])[..., None])[..., 0]
    ecs = equilibrium_climate_sensitivity(f2x, params.climate)
    np.testing.assert_allclose(fixed_point[:, 0], ecs, rtol=1e-9)
    np.testing.assert_allclose(fixed_point[:, 1], ecs, rtol=1e-9)
    central = central_parameters()
    run = simulate_two_layer(np.full(6000, 3.93), central.climate)
    assert run[0, -1] == pytest.approx(3.0, abs=1e-3)


def test_tcr_of_central_parameters_in_ar6_likely_range() -> None:
    # IPCC AR6 WG1 section 7.5.5: TCR 1.8 K, likely 1.4-2.2 K.
    tcr = float(transient_climate_response(central_parameters())[0])
    assert 1.4 <= tcr <= 2.2


def test_exact_annual_step_matches_a_fine_ode_solution() -> None:
    params = TwoLayerParameters(
        np.array([1.2]), np.array([8.0]), np.array([90.0]), np.array([0.6]), np.array([1.3])
    )
    forcing = np.linspace(0.0, 4.0, 60) + np.sin(np.arange(60))

    def rhs(t: float, x: np.ndarray) -> list[float]:
        f = forcing[min(int(t), 59)]
        exchange = 0.6 * (x[0] - x[1])
        return [(f - 1.2 * x[0] - 1.3 * exchange) / 8.0, exchange / 90.0]

    ode = solve_ivp(rhs, (0, 60), [0.0, 0.0], t_eval=np.arange(1, 61), rtol=1e-10, atol=1e-12, max_step=0.01)
    np.testing.assert_allclose(simulate_two_layer(forcing, params)[0], ode.y[0], atol=1e-6)


def test_members_are_independent() -> None:
    params = sample_prior(7, np.random.default_rng(11))
    forcing = np.random.default_rng(2).normal(1.0, 0.5, (7, 40))
    together = simulate_two_layer(forcing, params.climate)
    alone = simulate_two_layer(forcing[3:4], params.subset(np.array([3])).climate)
    np.testing.assert_allclose(together[3], alone[0], rtol=1e-12)


def test_forcing_member_count_must_match() -> None:
    with pytest.raises(ValueError, match="one forcing row per member"):
        simulate_two_layer(np.ones((3, 10)), central_parameters(2).climate)
