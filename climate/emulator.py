"""Two-layer energy-balance model (Held et al. 2010, J. Climate 23, 2418; Geoffroy et al. 2013a, J. Climate 26, 1841).

    C   dT/dt   = F - lambda T - epsilon gamma (T - T_d)    upper layer: atmosphere, land and mixed-layer ocean
    C_d dT_d/dt = gamma (T - T_d)                             deep ocean

T, T_d in K; F in W/m2; lambda, gamma in W/m2/K; C, C_d in W yr/m2/K, so time runs in years; epsilon is the
efficacy of deep-ocean heat uptake (Geoffroy et al. 2013b, J. Climate 26, 1859; 1 = Held et al. 2010). At
equilibrium T = T_d = F / lambda whatever epsilon, hence ECS = F2x / lambda. Each year is integrated exactly for a forcing held constant over
the year (2x2 matrix exponential), so the scheme is stable for any parameters and needs no sub-steps.
Members are vectorised: one loop over years, numpy over members.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TwoLayerParameters:
    """Per-member two-layer parameters, each an array of shape (members,)."""

    feedback: np.ndarray  # lambda, W/m2/K (positive: more warming, more outgoing radiation)
    upper_heat_capacity: np.ndarray  # C, W yr/m2/K
    deep_heat_capacity: np.ndarray  # C_d, W yr/m2/K
    heat_exchange: np.ndarray  # gamma, W/m2/K
    deep_ocean_efficacy: np.ndarray  # epsilon, dimensionless

    @property
    def members(self) -> int:
        return int(np.size(self.feedback))


def annual_step_matrices(params: TwoLayerParameters) -> tuple[np.ndarray, np.ndarray]:
    """Exact one-year propagator Phi (members, 2, 2) and forcing response Gamma (members, 2).

    x(t+1) = Phi x(t) + Gamma F(t) with x = (T, T_d) and F constant over the year.
    """
    lam, c_up, c_deep, gamma, efficacy = (
        np.asarray(getattr(params, name), dtype=float)
        for name in (
            "feedback",
            "upper_heat_capacity",
            "deep_heat_capacity",
            "heat_exchange",
            "deep_ocean_efficacy",
        )
    )
    a = np.empty((lam.size, 2, 2))
    a[:, 0, 0] = -(lam + efficacy * gamma) / c_up
    a[:, 0, 1] = efficacy * gamma / c_up
    a[:, 1, 0] = gamma / c_deep
    a[:, 1, 1] = -gamma / c_deep
    trace = a[:, 0, 0] + a[:, 1, 1]
    determinant = a[:, 0, 0] * a[:, 1, 1] - a[:, 0, 1] * a[:, 1, 0]
    root = np.sqrt(trace**2 / 4 - determinant)  # real: the off-diagonal terms have the same sign
    fast, slow = trace / 2 - root, trace / 2 + root
    identity = np.eye(2)[None]
    # Sylvester's formula for a 2x2 matrix with distinct eigenvalues.
    phi = (
        np.exp(fast)[:, None, None] * (a - slow[:, None, None] * identity)
        - np.exp(slow)[:, None, None] * (a - fast[:, None, None] * identity)
    ) / (fast - slow)[:, None, None]
    forcing_column = np.zeros((lam.size, 2))
    forcing_column[:, 0] = 1.0 / c_up
    gamma_vec = np.linalg.solve(a, np.einsum("mij,mj->mi", phi - identity, forcing_column)[..., None])[..., 0]
    return phi, gamma_vec


def simulate_two_layer(forcing: np.ndarray, params: TwoLayerParameters) -> np.ndarray:
    """Upper-layer temperature anomaly (K), shape (members, years), from ERF (W/m2).

    ``forcing`` is (members, years) or (years,) shared by all members; the state starts at rest (T = T_d = 0)
    and each output is the state at the end of that year.
    """
    members = params.members
    forcing = np.asarray(forcing, dtype=float)
    if forcing.ndim == 1:
        forcing = np.broadcast_to(forcing, (members, forcing.size))
    if forcing.shape[0] != members:
        raise ValueError(
            f"forcing has {forcing.shape[0]} members but params has {members}; pass one forcing row per member"
        )
    phi, gamma_vec = annual_step_matrices(params)
    p00, p01, p10, p11 = (np.ascontiguousarray(phi[:, i, j]) for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
    g0, g1 = np.ascontiguousarray(gamma_vec[:, 0]), np.ascontiguousarray(gamma_vec[:, 1])
    forcing_by_year = np.ascontiguousarray(forcing.T)  # (years, members): each year is one contiguous slice
    upper = np.empty_like(forcing_by_year)
    surface, deep = np.zeros(members), np.zeros(members)
    scratch = np.empty(members)
    for year, year_forcing in enumerate(forcing_by_year):
        # new_surface = p00*T + p01*Td + g0*F ; new_deep = p10*T + p11*Td + g1*F (in place, few temporaries)
        new_surface = upper[year]
        np.multiply(p00, surface, out=new_surface)
        np.multiply(p01, deep, out=scratch)
        new_surface += scratch
        np.multiply(g0, year_forcing, out=scratch)
        new_surface += scratch
        deep *= p11
        np.multiply(p10, surface, out=scratch)
        deep += scratch
        np.multiply(g1, year_forcing, out=scratch)
        deep += scratch
        surface = new_surface
    return upper.T


def equilibrium_climate_sensitivity(
    doubled_co2_forcing: np.ndarray, params: TwoLayerParameters
) -> np.ndarray:
    """ECS (K) = F2x / lambda: the equilibrium of the model under doubled CO2 (Geoffroy et al. 2013a)."""
    return np.asarray(doubled_co2_forcing) / np.asarray(params.feedback)
