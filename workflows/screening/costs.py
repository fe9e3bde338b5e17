"""Cost and energy accounting per segment of a run, from measured times and the broker's rates."""

from __future__ import annotations

from collections.abc import Collection

from config.settings import QcflowSettings
from workflows.schemas import CandidateResult, QuantumRefinement, SegmentCost


def surrogate_cost(
    cpu_seconds: float,
    from_cache: bool,
    surrogate: str,
    rates: QcflowSettings,
    resource: str = "local-threads",
    segment: str = "surrogate",
) -> SegmentCost:
    """A classical surrogate segment (the screening's energies, or its elemental references) on the resource its
    placement named: CPU seconds priced per core-hour and powered per core."""
    spent = 0.0 if from_cache else cpu_seconds
    return SegmentCost(
        segment=f"{segment} ({surrogate})",
        resource=resource,
        kind="classical",
        seconds=spent,
        cost_usd=spent / 3600 * rates.broker.cpu_price_per_core_hour_usd,
        energy_joules=spent * rates.broker.cpu_watts_per_core,
        from_cache=from_cache,
    )


def quantum_costs(
    candidates: list[CandidateResult],
    cached_sources: Collection[str] = frozenset(),
    rates: QcflowSettings | None = None,
) -> list[SegmentCost]:
    """One row per quantum refinement (the VQE, or SQD's sampling): its execution record's measured seconds,
    dollars and joules; zero when reused from cache. With `rates`, each of SQD's placed classical stages (the
    diagonalization, the CASCI reference) gets a row too (its measured seconds, priced and powered per core).

    `cached_sources` are the candidates (by source) whose refinement came from the cache in this run.
    """
    rows = []
    for candidate in candidates:
        if not candidate.quantum:
            continue
        quantum = candidate.quantum
        record = quantum.execution
        from_cache = candidate.source in cached_sources
        rows.append(
            SegmentCost(
                segment=f"{quantum.method} {quantum.fragment} ({candidate.formula})",
                resource=f"{record.get('resource', '?')}/{record.get('method', '?')}",
                kind="qpu" if record.get("device") == "QPU" else "simulator",
                seconds=0.0
                if from_cache
                else record.get("total_seconds") or record.get("measured_seconds") or 0.0,
                cost_usd=0.0 if from_cache else record.get("cost_usd") or 0.0,
                energy_joules=0.0 if from_cache else record.get("energy_joules") or 0.0,
                from_cache=from_cache,
            )
        )
        if rates is not None and quantum.sqd is not None:
            stages = quantum.sqd.get("executions", {})
            rows += [_stage_cost(quantum, stage, candidate.formula, from_cache, rates) for stage in stages]
    return rows


def _stage_cost(
    quantum: QuantumRefinement, stage: str, formula: str | None, from_cache: bool, rates: QcflowSettings
) -> SegmentCost:
    """One of SQD's classical stages ("diagonalization" or "reference"), on the resource its record names."""
    record = (quantum.sqd or {})["executions"][stage]
    spent = 0.0 if from_cache else float(record.get("total_seconds") or 0.0)
    name = {"diagonalization": "sqd diagonalization", "reference": "casci reference"}.get(stage, stage)
    return SegmentCost(
        segment=f"{name} {quantum.fragment} ({formula})",
        resource=f"{record.get('resource', '?')}/{record.get('method', '?')}",
        kind="classical",
        seconds=spent,
        cost_usd=spent / 3600 * rates.broker.cpu_price_per_core_hour_usd,
        energy_joules=spent * rates.broker.cpu_watts_per_core,
        from_cache=from_cache,
    )


def cost_rows(costs: list[SegmentCost]) -> list[dict[str, object]]:
    """Table rows for the UI, with a total row."""
    rows: list[dict[str, object]] = [cost.model_dump() for cost in costs]
    rows.append(
        {
            "segment": "total",
            "resource": "",
            "kind": "",
            "seconds": sum(c.seconds for c in costs),
            "cost_usd": sum(c.cost_usd for c in costs),
            "energy_joules": sum(c.energy_joules for c in costs),
            "from_cache": "",
        }
    )
    return rows
