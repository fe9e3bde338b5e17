"""IBM Quantum through qiskit-ibm-runtime: backends, calibration-based estimates and runtime primitives.

The same code path serves a real account and the fake backends (real calibration snapshots) that
qiskit-ibm-runtime ships: its primitives run a fake backend locally ("local testing mode"), in job, batch or
session mode alike. The token comes from the caller (resolved in one place, workflows.execution.qpu_access:
a Prefect Secret block, else the environment variable QISKIT_IBM_TOKEN); it is never logged or stored.
"""

from __future__ import annotations

import functools
import logging
import math
import statistics
import warnings
from dataclasses import dataclass
from typing import Any, Literal, Self

from pydantic import BaseModel
from qiskit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit.transpiler import PassManager, Target, generate_preset_pass_manager

logger = logging.getLogger(__name__)

RuntimeMode = Literal["job", "batch", "session"]
TOKEN_ENV_VAR = "QISKIT_IBM_TOKEN"
# Fake backends offered for what-if planning by default: one per IBM processor family (Falcon 27 q, Eagle 127 q,
# Heron r1 133 q, Heron r2 156 q), all shipped by qiskit-ibm-runtime 0.51 with calibration snapshots.
DEFAULT_FAKE_BACKENDS: tuple[str, ...] = ("fake_kolkata", "fake_brisbane", "fake_torino", "fake_fez")
# Fixed cost of one runtime job in seconds (compilation, loading, result upload). Assumption of the order
# IBM's usage reports show for small jobs (a few seconds); configurable through `estimate_qpu(job_overhead_s=)`.
JOB_OVERHEAD_SECONDS = 3.0
# IBM EstimatorV2 default target precision (qiskit-ibm-runtime EstimatorOptions.default_precision = 0.015625,
# i.e. 4096 shots per observable group).
DEFAULT_ESTIMATOR_PRECISION = 0.015625
# Repetition delay between shots when the backend does not say (IBM Eagle/Heron default_rep_delay, 250 us).
DEFAULT_REP_DELAY_SECONDS = 250e-6


class QpuCalibration(BaseModel):
    """Summary of a backend's calibration: median errors and durations of its native operations."""

    backend: str
    num_qubits: int
    two_qubit_gate: str | None
    median_one_qubit_error: float
    median_two_qubit_error: float
    median_readout_error: float
    median_two_qubit_duration_s: float
    rep_delay_s: float


@dataclass(frozen=True)
class QpuEstimate:
    """Estimated QPU run of a segment: seconds (queue + usage), usage seconds billed, fidelity, transpiled size."""

    seconds: float
    usage_seconds: float
    fidelity: float
    transpiled_two_qubit_gates: int
    transpiled_depth: int
    executions: int


def fake_backend(name: str) -> BackendV2:
    """A qiskit-ibm-runtime fake backend by name (e.g. 'fake_brisbane')."""
    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            return FakeProviderForBackendV2().backend(name)
        except Exception as error:  # qiskit raises QiskitBackendNotFoundError
            raise ValueError(
                f"fake backend {name!r} is unknown; use a name such as {', '.join(DEFAULT_FAKE_BACKENDS)}"
            ) from error


def ibm_service(token: str, *, instance: str | None = None) -> Any:
    """The IBM Quantum Platform account for `token` (a QiskitRuntimeService). Needs the network."""
    from qiskit_ibm_runtime import QiskitRuntimeService

    return QiskitRuntimeService(channel="ibm_quantum_platform", token=token, instance=instance)


def ibm_backends(token: str, *, instance: str | None = None) -> list[Any]:
    """Operational IBM QPUs reachable with `token`. Needs the network."""
    return ibm_service(token, instance=instance).backends(simulator=False, operational=True)


def pending_jobs(backend: BackendV2) -> int | None:
    """Jobs queued on the backend, when the backend reports it."""
    try:
        return int(backend.status().pending_jobs)
    except Exception:  # fake or offline backends may not report a status
        return None


def _median(values: list[float], default: float = 0.0) -> float:
    clean = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(clean) if clean else default


def calibration_summary(backend: BackendV2) -> QpuCalibration:
    """Median one-qubit, two-qubit and readout errors and two-qubit duration from the backend's target."""
    target = backend.target
    two_qubit = next((name for name in ("cz", "ecr", "cx") if name in target.operation_names), None)

    def errors(name: str) -> list[float]:
        if name not in target.operation_names:
            return []
        return [p.error for p in target[name].values() if p is not None and p.error is not None]

    durations = [
        p.duration
        for p in (target[two_qubit].values() if two_qubit else [])
        if p is not None and p.duration is not None
    ]
    rep_delay = getattr(getattr(backend, "configuration", lambda: None)(), "default_rep_delay", None)
    return QpuCalibration(
        backend=backend.name,
        num_qubits=backend.num_qubits,
        two_qubit_gate=two_qubit,
        median_one_qubit_error=_median(errors("sx")),
        median_two_qubit_error=_median(errors(two_qubit)) if two_qubit else 0.0,
        median_readout_error=_median(errors("measure")),
        median_two_qubit_duration_s=_median(durations),
        rep_delay_s=float(rep_delay) if rep_delay else DEFAULT_REP_DELAY_SECONDS,
    )


def isa_pass_manager(backend: BackendV2, optimization_level: int = 1) -> PassManager:
    """Pass manager that maps circuits onto the backend's qubits and native gates (ISA circuits), over couplers
    that work (`working_target`)."""
    return generate_preset_pass_manager(optimization_level=optimization_level, target=working_target(backend))


@functools.lru_cache(maxsize=32)
def working_target(backend: BackendV2) -> Target:
    """The backend's target without its faulty couplers: calibration snapshots mark a broken two-qubit gate with
    error 1.0, and routing at optimisation level 1 would still send gates through it. fake_torino, for example, has
    22 such couplers: a 40-qubit EfficientSU2 was estimated at fidelity 0 routed over them, 0.19 around them."""
    target = backend.target
    faulty = {
        qargs
        for name in target.operation_names
        for qargs, props in (target[name] or {}).items()
        if qargs is not None and len(qargs) == 2 and props is not None and (props.error or 0.0) >= 1.0
    }
    if not faulty:
        return target
    working = Target(
        description=target.description, num_qubits=target.num_qubits, dt=target.dt,
        granularity=target.granularity, min_length=target.min_length, pulse_alignment=target.pulse_alignment,
        acquire_alignment=target.acquire_alignment, qubit_properties=target.qubit_properties,
        concurrent_measurements=target.concurrent_measurements,
    )  # fmt: skip
    for name in target.operation_names:
        operation, props = target.operation_from_name(name), target[name]
        if isinstance(operation, type):  # a control-flow class, supported on every qubit
            working.add_instruction(operation, name=name)
        elif props is None or None in props:  # a global instruction
            working.add_instruction(operation, None if props is None else dict(props), name=name)
        else:
            working.add_instruction(operation, {q: p for q, p in props.items() if q not in faulty}, name=name)
    return working


def circuit_fidelity(
    circuit: QuantumCircuit, backend: BackendV2, measured_qubits: set[int] | None = None
) -> float:
    """Product of (1 - error) over the ISA circuit's gates and the readout of measured (or all active) qubits."""
    target = backend.target
    fidelity = 1.0
    active: set[int] = set()
    for instruction in circuit.data:
        name = instruction.operation.name
        qubits = tuple(circuit.find_bit(q).index for q in instruction.qubits)
        active.update(qubits)
        if name in ("barrier", "delay", "measure") or name not in target.operation_names:
            continue
        properties = target[name].get(qubits)
        if properties is not None and properties.error is not None:
            fidelity *= 1.0 - properties.error
    readout = measured_qubits if measured_qubits is not None else active
    for qubit in readout:
        properties = target["measure"].get((qubit,)) if "measure" in target.operation_names else None
        if properties is not None and properties.error is not None:
            fidelity *= 1.0 - properties.error
    return fidelity


def _measured_qubits(circuit: QuantumCircuit) -> set[int]:
    return {circuit.find_bit(i.qubits[0]).index for i in circuit.data if i.operation.name == "measure"}


def estimate_qpu(
    circuits: list[QuantumCircuit],
    backend: BackendV2,
    *,
    primitive: Literal["estimator", "sampler"],
    shots: int | None,
    parameter_sets: int = 1,
    observables: int = 1,
    precision: float | None = None,
    queue_seconds: float = 0.0,
    job_overhead_s: float = JOB_OVERHEAD_SECONDS,
) -> QpuEstimate:
    """Time and fidelity of running the circuits on the backend, from its calibration.

    Usage seconds = job overhead + executions x (circuit duration + repetition delay); the estimate adds the queue.
    Fidelity is that of the worst circuit after transpilation (parameters bound to zero for the estimate).
    """
    pass_manager = isa_pass_manager(backend)
    calibration = calibration_summary(backend)
    if primitive == "sampler":
        shots_per_run = shots or 1024
    else:
        target_precision = precision or DEFAULT_ESTIMATOR_PRECISION
        shots_per_run = math.ceil(1.0 / target_precision**2) * max(observables, 1)
    usage, fidelity, two_qubit, depth, executions = job_overhead_s, 1.0, 0, 0, 0
    for circuit in circuits:
        bound = (
            circuit.assign_parameters([0.0] * circuit.num_parameters) if circuit.num_parameters else circuit
        )
        isa = pass_manager.run(bound)
        duration = isa.estimate_duration(backend.target, unit="s") if backend.target.dt else 0.0
        runs = shots_per_run * parameter_sets
        executions += runs
        usage += runs * (duration + calibration.rep_delay_s)
        measured = _measured_qubits(isa) if primitive == "sampler" else None
        fidelity = min(fidelity, circuit_fidelity(isa, backend, measured))
        ops = isa.count_ops()
        two_qubit = max(two_qubit, sum(ops.get(g, 0) for g in ("cz", "ecr", "cx")))
        depth = max(depth, isa.depth())
    return QpuEstimate(
        seconds=queue_seconds + usage,
        usage_seconds=usage,
        fidelity=fidelity,
        transpiled_two_qubit_gates=two_qubit,
        transpiled_depth=depth,
        executions=executions,
    )


def runtime_mode(backend: BackendV2, mode: RuntimeMode) -> Any:
    """The `mode` argument of runtime primitives: the backend itself (job), or a new Batch or Session."""
    from qiskit_ibm_runtime import Batch, Session

    if mode == "job":
        return backend
    if mode == "batch":
        return Batch(backend=backend)
    if mode == "session":
        return Session(backend=backend)
    raise ValueError(f"runtime mode {mode!r} is unknown; use 'job', 'batch' or 'session'")


def runtime_sampler(backend: BackendV2, mode: RuntimeMode = "job", default_shots: int | None = None) -> Any:
    """qiskit-ibm-runtime SamplerV2 on the backend (local testing mode for a fake backend)."""
    from qiskit_ibm_runtime import SamplerV2

    sampler = SamplerV2(mode=runtime_mode(backend, mode))
    if default_shots:
        sampler.options.default_shots = default_shots
    return sampler


def runtime_estimator(backend: BackendV2, mode: RuntimeMode = "job", precision: float | None = None) -> Any:
    """qiskit-ibm-runtime EstimatorV2 on the backend (local testing mode for a fake backend)."""
    from qiskit_ibm_runtime import EstimatorV2

    estimator = EstimatorV2(mode=runtime_mode(backend, mode))
    if precision:
        estimator.options.default_precision = precision
    return estimator


def opened_mode(primitive: Any, mode: RuntimeMode) -> Any | None:
    """The Batch or Session `runtime_mode` opened for this runtime primitive, for its user to close; None in job
    mode, which opens nothing (a primitive on an IBM backend inside a caller's `with Session(...)` block runs in
    that session, which is the caller's to close)."""
    return None if mode == "job" else primitive.mode


class ClosablePrimitive:
    """A primitive wrapper whose `close()` closes what `_closes` names: the Batch or Session it opened, or the
    wrapper it wraps; nothing when that is None (job mode, Aer). Also a context manager that closes on exit.

    Closing refuses new jobs; jobs already submitted run to completion (qiskit-ibm-runtime `Session.close`), and
    an open session keeps the QPU reserved, and billed, until it is closed or times out.
    """

    _closes: Any | None = None

    def close(self) -> None:
        """Close the Batch or Session this primitive opened (safe to call more than once)."""
        if self._closes is not None:
            self._closes.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
