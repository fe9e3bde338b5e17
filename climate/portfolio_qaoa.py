"""The portfolio QUBO handed to QAOA: the segment the broker places for one scenario, and QAOA's best sample
checked against the QUBO's verified optimum (no Prefect; the climate flow's tasks wrap these)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from climate.portfolio import PortfolioChoice, PortfolioQubo, decode_portfolio, verified_optimum
from quantum.cost.profiles import QuantumSegment
from quantum.optimization.qaoa import qaoa_segment
from quantum.optimization.qubo import is_optimal


@dataclass(frozen=True)
class CheckedPortfolio:
    """QAOA's best sampled portfolio beside the QUBO's exact optimum, and whether QAOA reached it."""

    found: PortfolioChoice  # the portfolio of QAOA's lowest-energy sample
    optimum: PortfolioChoice  # the QUBO's minimum by brute force, cross-checked by direct enumeration
    optimum_energy: float  # K
    matches_optimum: bool  # the sample's energy is optimal within quantum.optimization.qubo's tolerance


def portfolio_qaoa_segment(scenario: str, qubo: PortfolioQubo, layers: int, shots: int) -> QuantumSegment:
    """The QAOA segment of one scenario's portfolio QUBO, as the broker places it (named after the scenario)."""
    return qaoa_segment(f"qaoa-portfolio-{scenario}", qubo.matrix, qubo.offset, layers, shots)


def checked_against_optimum(
    qubo: PortfolioQubo, best_bits: Sequence[int], best_energy: float
) -> CheckedPortfolio:
    """QAOA's best sample (bits in variable order, its QUBO energy in K) decoded and compared with the verified
    optimum; a QUBO whose minimum disagrees with direct enumeration raises (climate.portfolio.verified_optimum)."""
    optimum, optimum_energy = verified_optimum(qubo)
    return CheckedPortfolio(
        found=decode_portfolio(qubo, np.asarray(best_bits)),
        optimum=optimum,
        optimum_energy=optimum_energy,
        matches_optimum=bool(is_optimal(best_energy, optimum_energy)),
    )
