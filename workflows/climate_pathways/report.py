"""Results of a climate-pathways run and their views: PNG fan chart, markdown for the UI, text for the terminal.

Plain Python (matplotlib with the Agg backend, no Prefect): the flow publishes what these functions return.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure
from pydantic import BaseModel, Field

from workflows.figures import embedded_png_markdown, png_bytes
from workflows.schemas import SegmentRun
from workflows.screening.reports import segments_markdown

# AR6 WG1 SPM Table SPM.1: 2081-2100 warming vs 1850-1900, best estimate and very likely range (K).
AR6_WARMING_2081_2100 = {"ssp126": (1.8, 1.3, 2.4), "ssp245": (2.7, 2.1, 3.5), "ssp585": (4.4, 3.3, 5.7)}
# The SSP colours of the IPCC AR6 visual style guide.
SSP_COLOURS = {
    "ssp119": "#00a9cf",
    "ssp126": "#003466",
    "ssp245": "#f69320",
    "ssp370": "#df0000",
    "ssp434": "#2274ae",
    "ssp460": "#b0724e",
    "ssp534-over": "#92397a",
    "ssp585": "#980002",
}


class WarmingRange(BaseModel):
    """Median and 5-95 % range of the ensemble's mean warming over a period, K vs 1850-1900."""

    median: float
    p05: float
    p95: float


class WarmingPath(BaseModel):
    """Per-year ensemble median and 5-95 % band of warming, K vs 1850-1900 (the fan chart's data)."""

    years: list[int]
    p05: list[float]
    median: list[float]
    p95: list[float]


class ScenarioEnsemble(BaseModel):
    """One scenario's calibrated two-layer ensemble, summarised."""

    scenario: str
    members: int
    warming_2081_2100: WarmingRange
    warming_1995_2014: WarmingRange = Field(description="Check against AR6's assessed 0.85 K (0.69-0.95).")
    path: WarmingPath


class OptionFigures(BaseModel):
    """One carbon-removal or capture option as the QUBO saw it."""

    name: str
    capacity_gtco2_per_yr: float
    price_usd_per_tco2: float
    cost_bn_per_yr: float = Field(description="Cost at full deployment, $bn/yr.")
    avoided_warming_k: float = Field(description="Ensemble-mean avoided warming in 2081-2100, K.")


class PortfolioPick(BaseModel):
    """A portfolio: chosen options, cost ($bn/yr), avoided warming (K, 2081-2100, pair terms included)."""

    chosen: list[str]
    cost_bn_per_yr: float
    avoided_warming_k: float
    within_budget: bool


class SamplingFigures(BaseModel):
    """What a set of shots achieved on the QUBO (energies in K, budget penalty included)."""

    approximation_ratio: float | None = Field(
        description="Mean sampled energy / optimum energy (1: every shot optimal; negative: the average shot "
        "breaks the budget, whose penalty dominates the QUBO)."
    )
    best_ratio: float | None = Field(description="Best sampled energy / optimum energy (1: optimum seen).")
    optimum_probability: float | None = Field(description="Fraction of shots on an optimal assignment.")
    mean_energy: float
    best_energy: float


class PortfolioResult(BaseModel):
    """The quantum decision step of one scenario: QAOA's portfolio, verified by brute force, beside random."""

    scenario: str
    budget_bn_per_yr: float
    cost_unit_bn: float = Field(description="Costs round up and the budget down to whole units, $bn/yr.")
    options: list[OptionFigures]
    chosen: list[str] = Field(description="Options in the best portfolio among QAOA's shots.")
    cost_bn_per_yr: float
    avoided_warming_k: float
    within_budget: bool
    matches_brute_force: bool = Field(description="QAOA's best shot has the brute-force optimum's energy.")
    brute_force: PortfolioPick
    qaoa: SamplingFigures
    random_baseline: SamplingFigures = Field(description="Uniformly random bitstrings, same number of shots.")
    optimum_energy: float
    qubits: int
    layers: int
    shots: int
    estimator_calls: int
    placement_label: str
    placement: dict[str, Any] = Field(
        description="Broker placement: resource, estimates, runners-up, reasons."
    )
    execution: dict[str, Any] = Field(description="Execution record: measured time, retries, fallbacks.")


class ScenarioResult(BaseModel):
    """Everything one scenario produced (the `qcflow climate --out` JSON holds one per scenario)."""

    warming_2081_2100: WarmingRange
    portfolio: PortfolioResult
    warming_1995_2014: WarmingRange
    members: int
    path: WarmingPath


class ClimateReport(BaseModel):
    """A climate-pathways run: parameters and per-scenario results."""

    parameters: dict[str, Any]
    scenarios: dict[str, ScenarioResult]
    segments: list[SegmentRun] = Field(
        default_factory=list, description="Classical segments: placements and execution records."
    )


def fan_chart_png(paths: dict[str, WarmingPath], first_year: int = 1850, last_year: int = 2100) -> bytes:
    """PNG of warming per scenario: ensemble median and 5-95 % band, with AR6's 2081-2100 ranges as bars."""
    figure = Figure(figsize=(8, 4.5), dpi=100)
    axes = figure.add_subplot()
    cycle = iter(("#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"))
    for offset, (name, path) in enumerate(paths.items()):
        colour = SSP_COLOURS.get(name) or next(cycle, "#555555")
        keep = [i for i, year in enumerate(path.years) if first_year <= year <= last_year]
        years = [path.years[i] for i in keep]
        axes.fill_between(
            years, [path.p05[i] for i in keep], [path.p95[i] for i in keep], color=colour, alpha=0.2, lw=0
        )
        axes.plot(
            years, [path.median[i] for i in keep], color=colour, lw=1.8, label=f"{name} (median, 5-95 %)"
        )
        if name in AR6_WARMING_2081_2100:
            best, low, high = AR6_WARMING_2081_2100[name]
            x = last_year + 3 + 3 * offset
            axes.errorbar(
                [x], [best], yerr=[[best - low], [high - best]], color=colour, capsize=3, fmt="o", ms=3
            )
    axes.axhline(0.0, color="black", lw=0.5)
    axes.set_xlim(first_year, last_year + 4 + 3 * len(paths))
    axes.set_xlabel("year")
    axes.set_ylabel("warming vs 1850-1900 (K)")
    axes.set_title("Two-layer emulator ensemble; bars at right: AR6 2081-2100 very likely ranges")
    axes.legend(loc="upper left", frameon=False)
    axes.grid(alpha=0.3)
    return png_bytes(figure)


def fan_chart_markdown(png: bytes, members: int) -> str:
    """Markdown that embeds the fan chart as a data URI (renders in the Prefect UI with no outside host)."""
    return embedded_png_markdown(
        png,
        "Warming per scenario",
        f"Median and 5-95 % band of {members} calibrated ensemble members, K relative to 1850-1900.",
    )


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def portfolio_rows(report: ClimateReport) -> list[dict[str, Any]]:
    """One row per scenario and option: cost, avoided warming, chosen by QAOA, in the brute-force optimum."""
    rows = []
    for name, result in report.scenarios.items():
        portfolio = result.portfolio
        for option in portfolio.options:
            rows.append(
                {
                    "scenario": name,
                    "option": option.name,
                    "cost_bn_per_yr": round(option.cost_bn_per_yr, 3),
                    "avoided_warming_K": round(option.avoided_warming_k, 5),
                    "chosen_by_qaoa": option.name in portfolio.chosen,
                    "in_optimum": option.name in portfolio.brute_force.chosen,
                }
            )
    return rows


def _portfolio_lines(name: str, p: PortfolioResult) -> list[str]:
    verdict = "matches" if p.matches_brute_force else "does NOT match"
    return [
        f"## {name}: budget {p.budget_bn_per_yr:g} $bn/yr",
        "",
        f"QAOA's best shot: **{', '.join(p.chosen) or 'nothing'}**, {p.cost_bn_per_yr:.0f} $bn/yr, "
        f"{p.avoided_warming_k:.4f} K avoided in 2081-2100; it {verdict} the brute-force optimum "
        f"({', '.join(p.brute_force.chosen) or 'nothing'}, {p.brute_force.avoided_warming_k:.4f} K).",
        "",
        "| sampler | P(optimum) | approximation ratio | best / optimum |",
        "|---|---|---|---|",
        f"| QAOA p={p.layers}, {p.shots} shots | {_fmt(p.qaoa.optimum_probability)} "
        f"| {_fmt(p.qaoa.approximation_ratio)} | {_fmt(p.qaoa.best_ratio)} |",
        f"| uniformly random, {p.shots} shots | {_fmt(p.random_baseline.optimum_probability)} "
        f"| {_fmt(p.random_baseline.approximation_ratio)} | {_fmt(p.random_baseline.best_ratio)} |",
        "",
        f"{p.qubits} qubits on `{p.placement_label}`: the whole QAOA ({p.estimator_calls} estimator calls, then "
        f"sampling) took {_fmt(p.execution.get('total_seconds') or p.execution.get('measured_seconds'))} s; the broker placed it by its largest "
        f"call (the 256-point angle grid), estimated at {_fmt(p.placement.get('estimate', {}).get('seconds'))} s.",
        "",
        *[f"- {reason}" for reason in p.placement.get("reasons", [])],
        "",
    ]


def summary_markdown(report: ClimateReport) -> str:
    """Warming table and, per scenario, the portfolio with QAOA, brute force and random side by side."""
    lines = [
        "# Climate pathways",
        "",
        "| scenario | members | 1995-2014 (K) | 2081-2100 median (K) | 5-95 % (K) | AR6 2081-2100 (K) |",
        "|---|---|---|---|---|---|",
    ]
    for name, result in report.scenarios.items():
        w, h = result.warming_2081_2100, result.warming_1995_2014
        ar6 = AR6_WARMING_2081_2100.get(name)
        ar6_text = f"{ar6[0]} ({ar6[1]}-{ar6[2]})" if ar6 else "-"
        lines.append(
            f"| {name} | {result.members} | {h.median:.2f} | {w.median:.2f} | {w.p05:.2f}-{w.p95:.2f} | {ar6_text} |"
        )
    lines += [
        "",
        "AR6 WG1 assesses 1995-2014 warming at 0.85 K (0.69-0.95). The approximation ratio is the mean QUBO energy "
        "of the shots over the optimum's; the budget penalty dominates that energy, so a negative ratio means the "
        "average shot breaks the budget. No quantum advantage is claimed: at these sizes brute force is exact and "
        "instant, and the random baseline is shown beside QAOA for scale.",
        "",
    ]
    for name, result in report.scenarios.items():
        lines += _portfolio_lines(name, result.portfolio)
    return "\n".join([*lines, *segments_markdown(report.segments)])


def terminal_report(report: ClimateReport) -> str:
    """A short readable report for the command line."""
    lines = [f"{'scenario':<12} {'2081-2100 warming, K (5-95 %)':<30} portfolio (QAOA best shot)"]
    for name, result in report.scenarios.items():
        w, p = result.warming_2081_2100, result.portfolio
        warming = f"{w.median:.2f} ({w.p05:.2f}-{w.p95:.2f})"
        lines.append(f"{name:<12} {warming:<30} {', '.join(p.chosen) or 'nothing'}")
        check = "= brute force" if p.matches_brute_force else "!= brute force " + str(p.brute_force.chosen)
        lines.append(
            f"{'':<12} {'':<30} {p.cost_bn_per_yr:.0f} of {p.budget_bn_per_yr:g} $bn/yr, "
            f"{p.avoided_warming_k:.4f} K avoided, {check}"
        )
        lines.append(
            f"{'':<12} {'':<30} P(optimum) QAOA {_fmt(p.qaoa.optimum_probability)} vs random "
            f"{_fmt(p.random_baseline.optimum_probability)}; {p.qubits} qubits on {p.placement_label}"
        )
    lines += [
        "",
        "No quantum advantage is claimed: brute force is exact at this size (see the JSON for figures).",
    ]
    return "\n".join(lines)
