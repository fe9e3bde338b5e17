"""Publish a run's results to the Prefect UI as artifacts (tables, markdown and embedded plots)."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from workflows.figures import convergence_figure, embedded_png_markdown, hull_figure, png_bytes
from workflows.schemas import ScreeningReport
from workflows.screening.costs import cost_rows
from workflows.screening.reports import candidate_rows, placement_markdown, shortlist_markdown


def publish_screening_artifacts(report: ScreeningReport, hull_threshold: float) -> None:
    """Candidate table, shortlist, placement report, cost and energy report, and plots of one screening run."""
    rows = candidate_rows(report)
    shown = "Every candidate" if len(rows) == len(report.candidates) else f"The {len(rows):,} most stable"
    create_table_artifact(
        rows,
        key="screening-candidates",
        description=f"{shown} of {len(report.candidates):,} candidates: energies or why rejected "
        "(all of them are in the run's result and the --out JSON)",
    )
    create_markdown_artifact(
        shortlist_markdown(report),
        key="screening-shortlist",
        description="Shortlist with quantum (VQE or SQD) and exact energies",
    )
    create_markdown_artifact(
        placement_markdown(report),
        key="placement-report",
        description="Where each quantum segment ran and why",
    )
    create_table_artifact(
        cost_rows(report.costs),
        key="cost-energy-report",
        description="Seconds, estimated USD and joules per segment",
    )
    create_markdown_artifact(
        embedded_png_markdown(
            png_bytes(hull_figure(report, hull_threshold)),
            "Energy above hull",
            "CHGNet energies on the MP2020-corrected scale; dashed line: the shortlist threshold.",
        ),
        key="energy-above-hull-plot",
        description="Energy above hull per candidate",
    )
    if any(c.quantum for c in report.candidates):
        create_markdown_artifact(
            embedded_png_markdown(
                png_bytes(convergence_figure(report)),
                "Quantum refinement convergence",
                "Distance to the exact active-space (CASCI) energy per VQE optimiser iteration or SQD "
                "configuration-recovery round.",
            ),
            key="vqe-convergence-plot",
            description="VQE or SQD convergence per refined candidate",
        )
