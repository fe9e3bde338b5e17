"""Publish a run's results to the Prefect UI as artifacts (tables and markdown)."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from workflows.reports import candidate_rows, placement_markdown, shortlist_markdown
from workflows.schemas import ScreeningReport


def publish_screening_artifacts(report: ScreeningReport) -> None:
    """Candidate table, shortlist report and placement report of one screening run."""
    create_table_artifact(
        candidate_rows(report),
        key="screening-candidates",
        description="Every candidate: energies or why rejected",
    )
    create_markdown_artifact(
        shortlist_markdown(report),
        key="screening-shortlist",
        description="Shortlist with VQE and exact energies",
    )
    create_markdown_artifact(
        placement_markdown(report),
        key="placement-report",
        description="Where each quantum segment ran and why",
    )
