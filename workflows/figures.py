"""Plots for the Prefect UI: matplotlib (Agg) figures as PNG, embedded in markdown as data URIs.

docs/architecture.md (checked on Prefect 3.9.1): a markdown artifact embedding `data:image/png;base64,...` renders cleanly
with no outside host, while `create_image_artifact` prints the whole URI under the picture.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure

from workflows.schemas import ScreeningReport


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def embedded_png_markdown(png: bytes, title: str, caption: str) -> str:
    """A markdown section showing the PNG inline (data URI) with a caption."""
    encoded = base64.b64encode(png).decode("ascii")
    return f"# {title}\n\n![{title}](data:image/png;base64,{encoded})\n\n{caption}\n"


# Bars drawn at most: one bar per candidate made a 2,000-inch figure (75 CPU-s, 6.7 MB) at 10,000 candidates.
MAX_HULL_BARS = 60


def hull_figure(report: ScreeningReport, hull_threshold: float) -> Figure:
    """Energy above hull of the most stable scored candidates (at most MAX_HULL_BARS), shortlisted ones
    highlighted; the title says how many more the run scored."""
    ranked = sorted(report.accepted, key=lambda c: c.energy_above_hull or 0.0)
    scored = ranked[:MAX_HULL_BARS]
    shortlisted = set(report.shortlist)
    figure = Figure(figsize=(max(6.0, 0.22 * len(scored)), 4.0), dpi=100)
    axes = figure.add_subplot()
    colours = ["#d95f02" if c.source in shortlisted else "#7570b3" for c in scored]
    axes.bar(range(len(scored)), [c.energy_above_hull for c in scored], color=colours)
    axes.axhline(hull_threshold, color="black", lw=0.8, ls="--", label=f"threshold {hull_threshold} eV/atom")
    axes.set_xticks(range(len(scored)), [c.formula or "?" for c in scored], rotation=90, fontsize=7)
    axes.set_ylabel("energy above hull (eV/atom)")
    more = f"; the {len(scored)} most stable of {len(ranked):,}" if len(ranked) > len(scored) else ""
    axes.set_title(f"Surrogate stability (orange: shortlisted for quantum refinement{more})")
    axes.legend(frameon=False)
    return figure


def convergence_figure(report: ScreeningReport) -> Figure:
    """|E(iteration) - E_exact| per refined candidate with a CASCI reference, log scale, chemical accuracy marked:
    per optimiser iteration for VQE, per configuration-recovery round for SQD."""
    figure = Figure(figsize=(6.0, 4.0), dpi=100)
    axes = figure.add_subplot()
    for candidate in report.candidates:
        q = candidate.quantum
        if q and q.convergence and q.exact_energy is not None:
            errors = [max(abs(e - q.exact_energy), 1e-12) for e in q.convergence]
            axes.semilogy(
                range(1, len(errors) + 1),
                errors,
                marker="o",
                ms=3,
                label=f"{candidate.formula} ({q.fragment}, {q.method.upper()})",
            )
    axes.axhline(1.594e-3, color="black", lw=0.8, ls="--", label="chemical accuracy (1.594 mHa)")
    axes.set_xlabel("iteration (VQE: optimiser step; SQD: configuration-recovery round)")
    axes.set_ylabel("|E - E_CASCI| (Ha)")
    axes.set_title("Quantum refinement convergence")
    axes.legend(frameon=False, fontsize=8)
    return figure
