"""Human-readable reports of a screening run: markdown for the Prefect UI, plain text for the terminal."""

from __future__ import annotations

from typing import Any

from workflows.schemas import CandidateResult, QuantumRefinement, ScreeningReport, SegmentRun


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


# A terminal report lists at most this many rejected candidates; the JSON and the UI table hold them all.
MAX_REJECTED_LINES = 25
# The UI's candidate table holds at most this many rows (a 10,000-row table artifact is ~3 MB in the API database).
MAX_TABLE_ROWS = 1000


def candidate_rows(report: ScreeningReport, limit: int = MAX_TABLE_ROWS) -> list[dict[str, Any]]:
    """The UI's candidate table: the `limit` most stable candidates by energy above hull, then those without one
    (rejected or failed), so a table of thousands stays readable in the browser and small in the API's database.
    Every candidate is in the run's persisted result and `--out` JSON."""

    def stability_order(c: CandidateResult) -> tuple[bool, float]:
        return (c.energy_above_hull is None, c.energy_above_hull or 0.0)

    return [
        {
            "formula": c.formula or "?",
            "source": c.source,
            "status": c.status,
            "formation_energy_eV_per_atom": c.formation_energy_per_atom,
            "energy_above_hull_eV_per_atom": c.energy_above_hull,
            "quantum_method": c.quantum.method if c.quantum else None,
            "quantum_energy_Ha": c.quantum.energy if c.quantum else None,
            "exact_energy_Ha": c.quantum.exact_energy if c.quantum else None,
            "error": c.error or "",
        }
        for c in sorted(report.candidates, key=stability_order)[:limit]
    ]


def _reference(q: QuantumRefinement) -> str:
    """The CASCI energy (Ha), or why there is none."""
    return f"{q.exact_energy:.6f}" if q.exact_energy is not None else f"none ({q.reference_reason})"


def _measured(q: QuantumRefinement) -> str:
    """What the refinement's measured time covers: the VQE's estimator calls, or SQD's segments."""
    if q.method == "vqe":
        return f"measured {q.seconds:.3f} s for {q.estimator_calls} estimator calls"
    sqd = q.sqd or {}
    seconds = sqd.get("seconds", {})
    return (
        f"measured {q.seconds:.3f} s for {sqd.get('shots')} shots; then the configuration recovery and "
        f"diagonalization took {_fmt(seconds.get('diagonalization'))} s (largest subspace "
        f"{sqd.get('subspace_dimension')} determinants) and CASCI {_fmt(seconds.get('reference'))} s"
    )


def _shortlisted(report: ScreeningReport) -> list[CandidateResult]:
    by_source = {c.source: c for c in report.candidates}
    return [by_source[s] for s in report.shortlist]


def shortlist_markdown(report: ScreeningReport) -> str:
    """The shortlist with the quantum refinement beside the exact active-space answer."""
    lines = [
        "# Shortlist",
        "",
        f"Surrogate: **{report.surrogate}** (energies on its MP2020-corrected scale). "
        f"{len(report.accepted)} candidates scored, {len(report.rejected)} rejected.",
        "",
        "| formula | E_form (eV/atom) | E_hull (eV/atom) | fragment | qubits | method | energy (Ha) "
        "| exact CASCI (Ha) | error (mHa) | placement |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in _shortlisted(report):
        q = c.quantum
        quantum_cells = (
            f"{q.fragment} | {q.qubits} | {q.method.upper()} | {q.energy:.6f} | {_reference(q)} "
            f"| {_fmt(q.error_mha)} | {q.placement.get('resource', '?')}/{q.placement.get('method', '?')}"
            if q
            else f"- | - | - | - | - | - | {c.error or 'not refined'}"
        )
        lines.append(
            f"| {c.formula} | {_fmt(c.formation_energy_per_atom)} | {_fmt(c.energy_above_hull)} | {quantum_cells} |"
        )
    return "\n".join(lines) + "\n"


def _runners_up_table(placement: dict[str, Any]) -> list[str]:
    return [
        "| runner-up | method | est. seconds | est. memory (bytes) | feasible | why not |",
        "|---|---|---|---|---|---|",
        *[
            f"| {r.get('resource')} | {r.get('method')} | {_fmt(r.get('seconds'), 4)} | {r.get('memory_bytes')} "
            f"| {r.get('feasible')} | {r.get('why_not') or ''} |"
            for r in placement.get("runners_up", [])
        ],
        "",
    ]


def segments_markdown(segments: list[SegmentRun]) -> list[str]:
    """Markdown lines for classical segments: where each ran, estimated vs measured, reasons, runners-up."""
    lines: list[str] = []
    for run in segments:
        p, record = run.placement, run.execution
        options = p.get("options", {})
        lines += [
            f"## {run.segment} ({run.kind})",
            "",
            f"Ran on **{record.get('resource')}**, `{record.get('method')}` ({options.get('executor')}, "
            f"{options.get('workers')} worker(s)"
            + (f", batches of {options['batch_size']}" if options.get("batch_size") else "")
            + f"); estimated "
            f"{_fmt(p.get('estimate', {}).get('seconds'), 4)} s, measured {_fmt(record.get('total_seconds'), 4)} s"
            + (
                f", after falling back from {', '.join(record['fallbacks'])}"
                if record.get("fallbacks")
                else ""
            )
            + ".",
            "",
            *[f"- {reason}" for reason in p.get("reasons", [])],
            "",
            *_runners_up_table(p),
        ]
    return lines


def placement_markdown(report: ScreeningReport) -> str:
    """Why each segment, classical and quantum, ran where it did: choice, estimates, runners-up, reasons."""
    lines = ["# Placement report", "", *segments_markdown(report.segments)]
    for c in _shortlisted(report):
        if not c.quantum:
            continue
        p = c.quantum.placement
        estimate = p.get("estimate", {})
        lines += [
            f"## {c.quantum.method.upper()} of {c.quantum.fragment} ({c.formula})",
            "",
            f"{'Sampled' if c.quantum.method == 'sqd' else 'Ran'} on **{p.get('resource')}**, method "
            f"`{p.get('method')}`, device {p.get('device')}; estimated {_fmt(estimate.get('seconds'), 4)} s, "
            f"{_measured(c.quantum)}.",
            "",
            *[f"- {reason}" for reason in p.get("reasons", [])],
            "",
            *_runners_up_table(p),
        ]
    return "\n".join(lines)


def terminal_report(report: ScreeningReport) -> str:
    """A short readable report for the command line."""
    lines = [
        f"Screened {len(report.candidates)} candidates with {report.surrogate}: "
        f"{len(report.accepted)} scored, {len(report.rejected)} rejected.",
        "",
        f"{'formula':<12} {'E_form':>8} {'E_hull':>8}  quantum (method: energy vs exact CASCI, Ha)",
    ]
    for c in _shortlisted(report):
        q = c.quantum
        quantum = (
            f"{q.method.upper()}: {q.energy:.6f} vs {_reference(q)} ("
            + ("" if q.error_mha is None else f"{q.error_mha:+.3f} mHa, ")
            + f"{q.qubits} qubits, {q.placement.get('method')})"
            if q
            else (c.error or "not refined")
        )
        lines.append(
            f"{c.formula:<12} {_fmt(c.formation_energy_per_atom):>8} {_fmt(c.energy_above_hull):>8}  {quantum}"
        )
    if report.costs:
        by_kind = {
            kind: sum(c.seconds for c in report.costs if c.kind == kind)
            for kind in ("classical", "simulator", "qpu")
        }
        lines += [
            "",
            f"Spent: {by_kind['classical']:.1f} CPU s (surrogate), {by_kind['simulator']:.2f} simulator s, "
            f"{by_kind['qpu']:.2f} QPU s; about ${sum(c.cost_usd for c in report.costs):.4f} and "
            f"{sum(c.energy_joules for c in report.costs):.0f} J.",
        ]
    if report.rejected:
        shown = report.rejected[:MAX_REJECTED_LINES]
        lines += ["", "Rejected:"]
        lines += [f"  {c.source}: {c.error}" for c in shown]
        if len(report.rejected) > len(shown):
            lines.append(
                f"  ... and {len(report.rejected) - len(shown):,} more (every reason is in the --out JSON)"
            )
    return "\n".join(lines)
