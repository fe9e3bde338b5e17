"""The screening's UI candidate table: the most stable candidates first, capped so thousands stay readable."""

from __future__ import annotations

from workflows.schemas import CandidateResult, ScreeningReport
from workflows.screening.reports import candidate_rows


def _report(hulls: list[float | None]) -> ScreeningReport:
    candidates = [
        CandidateResult(
            formula="NaCl",
            source=f"c{index}",
            status="ok" if hull is not None else "rejected",
            energy_above_hull=hull,
            error=None if hull is not None else "implausible energy",
        )
        for index, hull in enumerate(hulls)
    ]
    return ScreeningReport(surrogate="chgnet", parameters={}, candidates=candidates, shortlist=[])


def test_rows_put_the_most_stable_first_and_candidates_without_a_hull_energy_last() -> None:
    rows = candidate_rows(_report([0.3, None, 0.0, 0.1]))
    assert [r["source"] for r in rows] == ["c2", "c3", "c0", "c1"]
    assert rows[-1]["error"] == "implausible energy"


def test_a_large_run_keeps_only_the_most_stable_rows() -> None:
    hulls = [index / 1000 for index in range(2500, 0, -1)]
    rows = candidate_rows(_report(hulls), limit=1000)
    assert len(rows) == 1000
    kept = [r["energy_above_hull_eV_per_atom"] for r in rows]
    assert kept == sorted(kept) and kept[-1] == 1.0
