"""Executors: primitives V2 for a placement (Aer per method, or IBM Runtime), and execution records.

`estimator_for` / `sampler_for` return a primitive that takes the segment's PUBs in one call; circuits are
translated to what the chosen Aer method or QPU accepts (ISA circuits for a QPU, observables moved onto the
physical layout); QPU jobs are journaled (quantum/job_journal.py), so a rerun re-attaches to them.
`run_with_fallback` runs a chain of placements (the choice, then the runners-up), retrying transient errors, and
returns an `ExecutionRecord`; `ExecutionHistory` persists records as JSON lines and turns them into corrections
of the broker's time estimates. The placement types live in workflows/broker.py; this
module only needs the attributes listed in `PlacementLike`, so quantum/ never imports workflows/.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, Field
from qiskit import QuantumCircuit
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.transpiler import PassManager, generate_preset_pass_manager

from quantum.gate_sets import NON_GATE_INSTRUCTIONS
from quantum.job_journal import (
    JobJournal,
    JournaledEstimator,
    JournaledSampler,
    Submission,
    qpu_jobs,
    submissions_recorded,
)
from quantum.profiles import flatten_circuit
from quantum.runtime import fake_backend, isa_pass_manager, runtime_estimator, runtime_sampler

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Options the broker sets that are qcflow's own, not Aer backend options.
_NON_AER_OPTIONS = frozenset({"backend", "mode", "optimization_level", "what_if", "shots"})


class EstimateLike(Protocol):
    seconds: float
    memory_bytes: int
    cost_usd: float
    energy_joules: float


class PlacementLike(Protocol):
    """What an executor needs from a placement (workflows.broker.Placement satisfies it)."""

    segment: str
    resource: str
    method: str
    device: str
    options: dict[str, Any]
    estimate: EstimateLike

    def label(self) -> str: ...


def aer_backend_options(placement: PlacementLike) -> dict[str, Any]:
    """Aer backend options (method, device, precision, threads, ...) from a simulator placement."""
    return {k: v for k, v in placement.options.items() if k not in _NON_AER_OPTIONS}


def _aer_basis(method: str) -> set[str]:
    from qiskit_aer import AerSimulator

    return set(AerSimulator(method=method).configuration().basis_gates)


@functools.lru_cache(maxsize=16)
def translation_for(method: str) -> tuple[set[str], PassManager]:
    """The gates an Aer method accepts and a pass manager that rewrites circuits into them (no layout)."""
    basis = _aer_basis(method)
    standard = set(get_standard_gate_name_mapping())
    pass_manager = generate_preset_pass_manager(optimization_level=0, basis_gates=sorted(basis & standard))
    return basis | NON_GATE_INSTRUCTIONS, pass_manager


def _needs_translation(circuit: QuantumCircuit, accepted: set[str]) -> bool:
    return any(instruction.operation.name not in accepted for instruction in circuit.data)


class PreparedSampler(BaseSamplerV2):
    """A SamplerV2 that rewrites each PUB's circuit (basis translation or ISA transpilation) before running."""

    def __init__(self, sampler: Any, prepare: Callable[[QuantumCircuit], QuantumCircuit]) -> None:
        self._sampler = sampler
        self._prepare = prepare

    def run(self, pubs: Iterable[Any], *, shots: int | None = None) -> Any:
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        prepared = [SamplerPub(self._prepare(p.circuit), p.parameter_values, p.shots) for p in coerced]
        return self._sampler.run(prepared, shots=shots)


class PreparedEstimator(BaseEstimatorV2):
    """An EstimatorV2 that rewrites each PUB's circuit and moves its observables onto the circuit's layout."""

    def __init__(self, estimator: Any, prepare: Callable[[QuantumCircuit], QuantumCircuit]) -> None:
        self._estimator = estimator
        self._prepare = prepare

    def run(self, pubs: Iterable[Any], *, precision: float | None = None) -> Any:
        prepared = []
        for pub in (EstimatorPub.coerce(p, precision) for p in pubs):
            circuit = self._prepare(pub.circuit)
            observables = pub.observables
            if circuit.layout is not None:
                observables = observables.apply_layout(circuit.layout, circuit.num_qubits)
            prepared.append(EstimatorPub(circuit, observables, pub.parameter_values, pub.precision))
        return self._estimator.run(prepared, precision=precision)


def aer_circuit_preparer(method: str) -> Callable[[QuantumCircuit], QuantumCircuit]:
    """Flatten a circuit and translate it to the gates the Aer method accepts (only when it must)."""
    accepted, pass_manager = translation_for(method)

    def prepare(circuit: QuantumCircuit) -> QuantumCircuit:
        flat = flatten_circuit(circuit)
        return pass_manager.run(flat) if _needs_translation(flat, accepted) else flat

    return prepare


def warm_up(simulator: Any) -> None:
    """One tiny run, so an Aer simulator's one-off set-up (threads, first call, 2-3 ms) is not timed as a circuit's."""
    circuit = QuantumCircuit(1, 1)
    circuit.h(0)
    circuit.measure(0, 0)
    simulator.run(circuit, shots=10).result()


def _qpu_backend(placement: PlacementLike, backend: Any | None) -> Any:
    if backend is not None:
        return backend
    name = placement.options.get("backend", placement.resource)
    if str(name).startswith("fake_"):
        return fake_backend(name)
    raise ValueError(
        f"placement on {name!r} needs its backend object: pass backend=catalog.backend({name!r}) to the executor"
    )


def _optimization_level(placement: PlacementLike) -> int:
    return int(placement.options.get("optimization_level", 1))


def _qpu_preparer(backend: Any, placement: PlacementLike) -> Callable[[QuantumCircuit], QuantumCircuit]:
    return isa_pass_manager(backend, _optimization_level(placement)).run


def estimator_for(
    placement: PlacementLike,
    *,
    backend: Any | None = None,
    noise_model: Any | None = None,
    seed: int | None = None,
    journal: JobJournal | Path | str | None = None,
) -> BaseEstimatorV2:
    """EstimatorV2 for the placement: Aer with its method/device/precision/threads, or IBM Runtime on a QPU.

    With `seed` the Aer estimator's precision noise is reproducible; `noise_model` is an Aer NoiseModel. On a
    QPU, jobs are journaled in `journal` (a JobJournal or its folder) and re-attached on a rerun.
    """
    if placement.device == "QPU":
        qpu = _qpu_backend(placement, backend)
        estimator = runtime_estimator(qpu, placement.options.get("mode", "job"))
        jobs = qpu_jobs(qpu, journal, optimization_level=_optimization_level(placement))
        return JournaledEstimator(PreparedEstimator(estimator, _qpu_preparer(qpu, placement)), jobs)
    from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2

    backend_options = aer_backend_options(placement)
    if noise_model is not None:
        backend_options["noise_model"] = noise_model
    options: dict[str, Any] = {"backend_options": backend_options}
    if seed is not None:
        options["run_options"] = {"seed": seed}
    estimator = AerEstimatorV2(options=options)
    return PreparedEstimator(estimator, aer_circuit_preparer(placement.method))


def sampler_for(
    placement: PlacementLike,
    *,
    backend: Any | None = None,
    noise_model: Any | None = None,
    default_shots: int = 1024,
    seed: int | None = None,
    journal: JobJournal | Path | str | None = None,
) -> BaseSamplerV2:
    """SamplerV2 for the placement: Aer with its method/device/precision/threads, or IBM Runtime on a QPU.

    On a QPU, jobs are journaled in `journal` (a JobJournal or its folder) and re-attached on a rerun.
    """
    if placement.device == "QPU":
        qpu = _qpu_backend(placement, backend)
        sampler = runtime_sampler(qpu, placement.options.get("mode", "job"), default_shots)
        jobs = qpu_jobs(qpu, journal, optimization_level=_optimization_level(placement))
        return JournaledSampler(PreparedSampler(sampler, _qpu_preparer(qpu, placement)), jobs, default_shots)
    from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

    backend_options = aer_backend_options(placement)
    if noise_model is not None:
        backend_options["noise_model"] = noise_model
    sampler = AerSamplerV2(
        default_shots=default_shots, seed=seed, options={"backend_options": backend_options}
    )
    return PreparedSampler(sampler, aer_circuit_preparer(placement.method))


class ExecutionRecord(BaseModel):
    """What happened when a segment ran: where, predicted vs measured time, retries, fallbacks, errors."""

    segment: str
    resource: str
    method: str
    device: str
    succeeded: bool
    predicted_seconds: float
    model_seconds: float | None = Field(
        None, description="the uncorrected model estimate behind the prediction"
    )
    measured_seconds: float | None = None
    predicted_memory_bytes: int = 0
    cost_usd: float | None = None
    energy_joules: float | None = None
    attempts: int = 1
    retries: int = 0
    fallbacks: list[str] = Field(default_factory=list, description="placements that failed before this one")
    errors: list[str] = Field(default_factory=list)
    what_if: bool = Field(False, description="a fake backend run locally; its time says nothing of the QPU")
    job_id: str | None = Field(None, description="the QPU job, as journaled before waiting on it")
    reattached: bool = Field(False, description="a job an earlier run submitted; the time is not the job's")
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def label(self) -> str:
        """Short name, e.g. 'aer-cpu/statevector'."""
        return f"{self.resource}/{self.method}"


class ExecutionFailed(RuntimeError):
    """Every placement in the chain failed; `record` holds the errors."""

    def __init__(self, record: ExecutionRecord) -> None:
        super().__init__(
            f"segment {record.segment!r} failed on every placement: " + " | ".join(record.errors)
        )
        self.record = record


class ExecutionHistory:
    """Execution records persisted as JSON lines; the broker's estimates learn from them."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def append(self, record: ExecutionRecord) -> None:
        """Add one record (the file and its folder are created when missing)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(record.model_dump_json() + "\n")

    def records(self) -> list[ExecutionRecord]:
        """All records, oldest first; unreadable lines are skipped with a warning."""
        if not self.path.exists():
            return []
        found = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                found.append(ExecutionRecord.model_validate_json(line))
            except ValueError:
                logger.warning("skipping unreadable execution record at %s line %d", self.path, number)
        return found

    def correction(
        self, resource: str, method: str, model_seconds: float | None = None, last: int = 20
    ) -> tuple[float, int]:
        """(factor, records used): geometric mean of measured / modelled time over recent comparable runs.

        Runs count as comparable when their modelled time is within 10x of `model_seconds` (overhead-bound and
        work-bound runs err differently). The factor is clipped to [0.05, 20].
        """
        ratios = []
        for record in reversed(self.records()):
            base = record.model_seconds or record.predicted_seconds
            if (
                (record.resource, record.method) != (resource, method)
                or record.what_if
                or record.reattached
                or not record.succeeded
            ):
                continue
            if not record.measured_seconds or not base or base <= 0:
                continue
            if model_seconds and not 0.1 <= base / model_seconds <= 10:
                continue
            ratios.append(record.measured_seconds / base)
            if len(ratios) >= last:
                break
        if not ratios:
            return 1.0, 0
        factor = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        return min(max(factor, 0.05), 20.0), len(ratios)


def _record_for(placement: PlacementLike, **fields: Any) -> ExecutionRecord:
    estimate = placement.estimate
    return ExecutionRecord(
        segment=placement.segment,
        resource=placement.resource,
        method=placement.method,
        device=placement.device,
        predicted_seconds=estimate.seconds,
        model_seconds=getattr(estimate, "model_seconds", None),
        predicted_memory_bytes=estimate.memory_bytes,
        what_if=bool(placement.options.get("what_if", False)),
        **fields,
    )


def run_with_fallback(
    placements: Sequence[PlacementLike],
    run: Callable[[Any], T],
    *,
    prepare: Callable[[PlacementLike], Any] | None = None,
    retries: int = 1,
    transient: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError),
    history: ExecutionHistory | None = None,
) -> tuple[T, ExecutionRecord]:
    """Run `run(placement)` on the first placement; retry transient errors, then fall back to the next.

    With `prepare`, the call is `run(prepare(placement))` and only `run` is timed (build the primitive in
    `prepare`: its one-off set-up would otherwise teach the broker wrong times). Returns the result and the record
    of the placement that succeeded (failed ones in `fallbacks`); raises ExecutionFailed when all fail. The
    record is appended to `history` either way.
    """
    if not placements:
        raise ValueError("placements is empty; pass the broker's placement chain (fallback_placements)")
    errors: list[str] = []
    failed: list[str] = []
    attempts = 0
    for placement in placements:
        for attempt in range(retries + 1):
            attempts += 1
            try:
                argument = prepare(placement) if prepare is not None else placement
                started = time.perf_counter()
                with submissions_recorded() as submissions:
                    result = run(argument)
            except Exception as error:
                errors.append(f"{placement.label()}: {type(error).__name__}: {error}"[:500])
                logger.warning("segment %s failed on %s: %s", placement.segment, placement.label(), error)
                if isinstance(error, transient) and attempt < retries:
                    continue
                failed.append(placement.label())
                break
            measured = time.perf_counter() - started
            record = _record_for(
                placement, succeeded=True, measured_seconds=measured, attempts=attempts, retries=attempt,
                fallbacks=failed, errors=errors, **_job_fields(result, submissions),
                **_scaled_costs(placement, measured),
            )  # fmt: skip
            if history is not None:
                history.append(record)
            return result, record
    record = _record_for(placements[-1], succeeded=False, attempts=attempts, fallbacks=failed, errors=errors)
    if history is not None:
        history.append(record)
    raise ExecutionFailed(record)


def _scaled_costs(placement: PlacementLike, measured: float) -> dict[str, float | None]:
    """Cost and energy scaled from the estimate by measured / predicted time."""
    estimate = placement.estimate
    if not estimate.seconds or not math.isfinite(estimate.seconds) or estimate.seconds <= 0:
        return {"cost_usd": None, "energy_joules": None}
    scale = measured / estimate.seconds
    return {"cost_usd": estimate.cost_usd * scale, "energy_joules": estimate.energy_joules * scale}


def _job_fields(result: Any, submissions: list[Submission]) -> dict[str, Any]:
    """job_id (the last QPU job of the run, else one the result carries) and whether a job was re-attached."""
    if submissions:
        return {"job_id": submissions[-1].job_id, "reattached": any(s.reattached for s in submissions)}
    job_id = getattr(result, "job_id", None)
    return {"job_id": job_id() if callable(job_id) else job_id}
