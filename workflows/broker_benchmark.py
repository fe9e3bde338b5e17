"""The broker-benchmark flow: the broker's choice vs Aer's `automatic` method on a handful of circuit families.

Each circuit is placed by `workflows.broker.place`, run through `quantum.executors` on that placement (with the
fallback chain, execution records appended to the history the broker learns from), and, for comparison, run
with Aer's `automatic` method, which picks statevector for every non-Clifford circuit whatever its width. The
table artifact `broker-benchmark` shows the choice, the estimate, the measured time and the speed-up.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field
from qiskit import QuantumCircuit

from broker.catalog import discover_catalog
from broker.models import Placement, PlacementRefused, Policy, ResourceCatalog
from broker.place import place
from broker.records import ExecutionHistory
from config.settings import get_settings
from quantum.circuit_families import ghz, hardware_efficient, qaoa, random_clifford_circuit
from quantum.cost.aer_memory import human_bytes
from quantum.cost.profiles import QuantumSegment, profile_segment
from quantum.executors import sampler_for, translation_for
from workflows.execution.placed_runs import run_placed
from workflows.execution.qpu_access import read_ibm_token

CircuitFamily = Literal["ghz", "hardware-efficient", "qaoa", "clifford"]
FAMILIES: list[CircuitFamily] = ["ghz", "hardware-efficient", "qaoa", "clifford"]
DEFAULT_WIDTHS = [8, 24]
# Aer's automatic method takes statevector for any non-Clifford circuit (docs/architecture.md, aer_controller.hpp): it is
# only run for comparison when 16 * 2^n bytes fit in this share of the free memory.
AUTOMATIC_MEMORY_SHARE = 0.5


class BenchmarkRow(BaseModel):
    """One circuit: where the broker put it, what it expected and measured, and Aer automatic beside it."""

    circuit: str
    family: str
    qubits: int
    depth: int
    choice: str = Field(description="broker placement, resource/method, or 'refused'")
    estimated_seconds: float | None = None
    measured_seconds: float | None = Field(None, description="wall time on the broker's choice, s")
    fallbacks: list[str] = Field(default_factory=list)
    automatic_method: str | None = Field(None, description="the method Aer automatic picked")
    automatic_seconds: float | None = Field(None, description="wall time with Aer automatic, s")
    speedup: float | None = Field(None, description="automatic_seconds / measured_seconds")
    note: str | None = None


def benchmark_circuit(family: CircuitFamily, width: int, seed: int = 7) -> QuantumCircuit:
    """A measured, fully bound circuit of the family on `width` qubits, named '<family>-<width>' (seeded)."""
    makers: dict[str, Callable[[], QuantumCircuit]] = {
        "ghz": lambda: ghz(width),
        "hardware-efficient": lambda: hardware_efficient(width, seed),
        "qaoa": lambda: qaoa(width, seed),
        "clifford": lambda: random_clifford_circuit(width, seed),
    }
    if family not in makers:
        raise ValueError(f"family={family!r} is unknown; use one of {', '.join(FAMILIES)}")
    circuit = makers[family]()
    circuit.name = f"{family}-{width}"
    return circuit


def automatic_run(circuit: QuantumCircuit, shots: int, catalog: ResourceCatalog) -> tuple[str, float] | str:
    """(method chosen, seconds) with Aer automatic, or why it was not run (it would exhaust memory)."""
    from qiskit_aer import AerSimulator

    profile = profile_segment(QuantumSegment(circuit.name, [circuit], "sampler", shots=shots))
    cpu = catalog.get("aer-cpu")
    needed = 16 * 2**profile.num_qubits
    if not profile.is_clifford and needed > AUTOMATIC_MEMORY_SHARE * cpu.memory_free_bytes:
        return f"automatic not run: it would take statevector, needing {human_bytes(needed)}"
    started = time.perf_counter()
    _, pass_manager = translation_for("automatic")
    result = AerSimulator(method="automatic", max_parallel_threads=cpu.cores).run(
        pass_manager.run(circuit), shots=shots
    )
    result = result.result()
    seconds = time.perf_counter() - started
    if not result.success:
        return f"automatic failed: {result.status}"
    return str(result.results[0].metadata.get("method", "?")), seconds


@task(name="benchmark-circuit", cache_policy=NO_CACHE, persist_result=False)
def run_benchmark_circuit(
    family: CircuitFamily,
    width: int,
    shots: int,
    placement: dict[str, Any],
    catalog: ResourceCatalog,
    compare_automatic: bool,
) -> BenchmarkRow:
    """Run one circuit on the broker's placement (falling back down its chain), then with Aer automatic."""
    circuit = benchmark_circuit(family, width)
    chosen = Placement.model_validate(placement)

    def prepare(on: Placement) -> Any:
        return sampler_for(on, backend=catalog.backend(on.resource), journal=get_settings().paths.qpu_jobs)

    def run(sampler: Any) -> Any:
        return sampler.run([circuit], shots=shots).result()

    # The sampler is built outside the timed call: its one-off set-up (about 1.4 s for the first Aer primitive of
    # a process) would otherwise be recorded as run time and teach the broker wrong estimates.
    _, record, _ = run_placed(chosen, run, prepare=prepare)
    row = BenchmarkRow(
        circuit=circuit.name,
        family=family,
        qubits=width,
        depth=circuit.depth(),
        choice=record.label(),
        estimated_seconds=chosen.estimate.seconds,
        measured_seconds=record.measured_seconds,
        fallbacks=record.fallbacks,
    )
    if compare_automatic:
        automatic = automatic_run(circuit, shots, catalog)
        if isinstance(automatic, str):
            row.note = automatic
        else:
            row.automatic_method, row.automatic_seconds = automatic
            if record.measured_seconds:
                row.speedup = row.automatic_seconds / record.measured_seconds
    return row


def _table(rows: list[BenchmarkRow]) -> list[dict[str, Any]]:
    def fmt(value: float | None, digits: int = 3) -> str:
        return "-" if value is None else f"{value:.{digits}g}"

    return [
        {
            "circuit": r.circuit,
            "qubits": r.qubits,
            "broker choice": r.choice,
            "estimated s": fmt(r.estimated_seconds),
            "measured s": fmt(r.measured_seconds),
            "Aer automatic": r.automatic_method or "-",
            "automatic s": fmt(r.automatic_seconds),
            "speed-up": fmt(r.speedup, 2),
            "note": r.note or ", ".join(r.fallbacks) or "",
        }
        for r in rows
    ]


@flow(
    name="broker-benchmark",
    persist_result=True,
    result_serializer="json",
)
def broker_benchmark(
    families: Annotated[list[CircuitFamily], Field(min_length=1)] = FAMILIES,
    widths: Annotated[list[Annotated[int, Field(ge=2, le=100)]], Field(min_length=1)] = DEFAULT_WIDTHS,
    shots: Annotated[int, Field(ge=1, le=100_000)] = 1000,
    objective: Literal["time", "cost", "fidelity", "energy"] = "time",
    compare_automatic: bool = True,
    include_fake_backends: bool = False,
) -> list[BenchmarkRow]:
    """Place and run a few circuits of several families, and compare the broker's choice with Aer automatic.

    Args:
        families: circuit families: ghz (Clifford, low entanglement), hardware-efficient (EfficientSU2, linear,
            2 reps), qaoa (line of ZZ terms, 2 layers), clifford (random Clifford).
        widths: circuit widths in qubits; every family is run at every width.
        shots: shots per circuit.
        objective: what the broker optimises: time, cost, fidelity or energy.
        compare_automatic: also run each circuit with Aer's automatic method (skipped where it would need more
            than half the free memory).
        include_fake_backends: offer qiskit-ibm-runtime fake backends as QPUs (noisy local simulation; each
            QPU segment holds a slot of the `qpu` global concurrency limit).
    """
    logger = get_run_logger()
    catalog = discover_catalog(include_fake_backends=include_fake_backends, ibm_token=read_ibm_token())
    policy = Policy(objective=objective)
    history = ExecutionHistory(get_settings().paths.execution_records)
    rows: list[BenchmarkRow] = []
    for width in widths:
        for family in families:
            circuit = benchmark_circuit(family, width)
            segment = QuantumSegment(circuit.name, [circuit], "sampler", shots=shots)
            try:
                placement = place(segment, catalog, policy, history=history)
            except PlacementRefused as refused:
                rows.append(
                    BenchmarkRow(
                        circuit=circuit.name, family=family, qubits=width, depth=circuit.depth(),
                        choice="refused", note=str(refused)[:300],
                    )
                )  # fmt: skip
                continue
            logger.info("%s placed on %s: %s", circuit.name, placement.label(), placement.reasons[1])
            run_one = run_benchmark_circuit.with_options(
                task_run_name=f"{circuit.name}-{placement.label()}", tags=["quantum", placement.label()]
            )
            rows.append(
                run_one(family, width, shots, placement.model_dump(mode="json"), catalog, compare_automatic)
            )
    speedups = [r.speedup for r in rows if r.speedup]
    summary = f"{len(rows)} circuits"
    if speedups:
        geomean = math.exp(sum(math.log(s) for s in speedups) / len(speedups))
        summary += f"; geometric-mean speed-up over Aer automatic {geomean:.2g}x"
    create_table_artifact(
        _table(rows), key="broker-benchmark", description=f"Broker choice vs Aer automatic: {summary}"
    )
    logger.info("broker benchmark: %s", summary)
    return rows
