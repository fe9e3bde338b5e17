"""Executors: primitives V2 for a placement (Aer per method, or IBM Runtime).

`estimator_for` / `sampler_for` return a primitive that takes the segment's PUBs in one call; circuits are
translated to what the chosen Aer method or QPU accepts (ISA circuits for a QPU, observables moved onto the
physical layout); QPU jobs are journaled (quantum/ibm/journal.py), so a rerun re-attaches to them. In batch or
session mode each QPU primitive opens its own Batch or Session: `close()` it, or use it in a `with` block, when
the segment's work is done (in job mode and on Aer closing does nothing). Running them with retries and fallback
is `broker.fallback`. Placements are the broker's contract (`broker.models.Placement`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp
from qiskit.circuit.library import PhaseGate, get_standard_gate_name_mapping
from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.transpiler import PassManager, generate_preset_pass_manager

from broker.models import Placement
from quantum.cost.gate_sets import NON_GATE_INSTRUCTIONS
from quantum.cost.profiles import flatten_circuit
from quantum.ibm.journal import (
    JobJournal,
    JournaledEstimator,
    JournaledSampler,
    qpu_jobs,
)
from quantum.ibm.runtime import (
    ClosablePrimitive,
    fake_backend,
    isa_pass_manager,
    opened_mode,
    runtime_estimator,
    runtime_sampler,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Options the broker sets that are qcflow's own, not Aer backend options.
_NON_AER_OPTIONS = frozenset({"backend", "mode", "optimization_level", "what_if", "shots"})


def aer_backend_options(placement: Placement) -> dict[str, Any]:
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
    """Whether any instruction, at the top level or in a control-flow block (if_test, for_loop, ...), is one the
    method does not accept."""
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name not in accepted:
            return True
        blocks = operation.blocks if isinstance(operation, ControlFlowOp) else ()
        if any(_needs_translation(block, accepted) for block in blocks):
            return True
    return False


class PreparedSampler(BaseSamplerV2, ClosablePrimitive):
    """A SamplerV2 that rewrites each PUB's circuit (basis translation or ISA transpilation) before running;
    `close()` closes `opened`, the Batch or Session made for the runtime primitive (see `runtime.opened_mode`)."""

    def __init__(
        self, sampler: Any, prepare: Callable[[QuantumCircuit], QuantumCircuit], *, opened: Any | None = None
    ) -> None:
        self._sampler = sampler
        self._prepare = prepare
        self._closes = opened

    @property
    def options(self) -> Any:
        """The wrapped primitive's options (a runtime primitive's job tags are set there)."""
        return self._sampler.options

    def run(self, pubs: Iterable[Any], *, shots: int | None = None) -> Any:
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        prepared = [SamplerPub(self._prepare(p.circuit), p.parameter_values, p.shots) for p in coerced]
        return self._sampler.run(prepared, shots=shots)


class PreparedEstimator(BaseEstimatorV2, ClosablePrimitive):
    """An EstimatorV2 that rewrites each PUB's circuit before running it.

    With `lays_out` (the preparer maps circuits onto a device's qubits: ISA transpilation for a QPU), each PUB's
    observables move onto the layout the preparer made. Without it (Aer translation, which never moves qubits), the
    observables stay as given: they already match the circuit's qubits, as the primitives V2 contract requires, so
    an ISA circuit's own layout is not applied a second time. `close()` closes `opened`, as `PreparedSampler`'s.
    """

    def __init__(
        self,
        estimator: Any,
        prepare: Callable[[QuantumCircuit], QuantumCircuit],
        *,
        lays_out: bool = False,
        opened: Any | None = None,
    ) -> None:
        self._estimator = estimator
        self._prepare = prepare
        self._lays_out = lays_out
        self._closes = opened

    @property
    def options(self) -> Any:
        """The wrapped primitive's options (a runtime primitive's job tags are set there)."""
        return self._estimator.options

    def run(self, pubs: Iterable[Any], *, precision: float | None = None) -> Any:
        prepared = []
        for pub in (EstimatorPub.coerce(p, precision) for p in pubs):
            circuit = self._prepare(pub.circuit)
            observables = pub.observables
            if self._lays_out and circuit.layout is not None:
                observables = observables.apply_layout(circuit.layout, circuit.num_qubits)
            prepared.append(EstimatorPub(circuit, observables, pub.parameter_values, pub.precision))
        return self._estimator.run(prepared, precision=precision)


def rz_as_phase(circuit: QuantumCircuit) -> QuantumCircuit:
    """The circuit with each rz(theta) written as p(theta), the same gate up to a global phase (rz(theta) =
    exp(-i theta/2) p(theta)), which the circuit keeps. Aer's extended stabilizer lists rz in its basis but takes it
    only at Clifford angles; it takes p at any angle."""
    if not any(instruction.operation.name == "rz" for instruction in circuit.data):
        return circuit
    rewritten = circuit.copy_empty_like()
    for instruction in circuit.data:
        if instruction.operation.name != "rz":
            rewritten.append(instruction)
            continue
        (theta,) = instruction.operation.params
        rewritten.append(PhaseGate(theta), instruction.qubits)
        rewritten.global_phase -= theta / 2
    return rewritten


def aer_circuit_preparer(method: str) -> Callable[[QuantumCircuit], QuantumCircuit]:
    """Flatten a circuit and translate it to the gates the Aer method accepts (only when it must)."""
    accepted, pass_manager = translation_for(method)

    def prepare(circuit: QuantumCircuit) -> QuantumCircuit:
        flat = flatten_circuit(circuit)
        translated = pass_manager.run(flat) if _needs_translation(flat, accepted) else flat
        return rz_as_phase(translated) if method == "extended_stabilizer" else translated

    return prepare


def warm_up(simulator: Any) -> None:
    """One tiny run, so an Aer simulator's one-off set-up (threads, first call, 2-3 ms) is not timed as a circuit's."""
    circuit = QuantumCircuit(1, 1)
    circuit.h(0)
    circuit.measure(0, 0)
    simulator.run(circuit, shots=10).result()


@functools.cache
def warm_aer(method: str, device: str = "CPU") -> None:
    """Pay Aer's first-run set-up for this method and device once per process, before anything is timed: timed
    cold, a millisecond circuit measures 2-3x its time, and the broker would learn that as the method's speed."""
    from qiskit_aer import AerSimulator

    warm_up(AerSimulator(method=method, device=device))


def _qpu_backend(placement: Placement, backend: Any | None) -> Any:
    if backend is not None:
        return backend
    name = placement.options.get("backend", placement.resource)
    if str(name).startswith("fake_"):
        return fake_backend(name)
    raise ValueError(
        f"placement on {name!r} needs its backend object: pass backend=catalog.backend({name!r}) to the executor"
    )


def _optimization_level(placement: Placement) -> int:
    return int(placement.options.get("optimization_level", 1))


def _qpu_preparer(backend: Any, placement: Placement) -> Callable[[QuantumCircuit], QuantumCircuit]:
    return isa_pass_manager(backend, _optimization_level(placement)).run


def estimator_for(
    placement: Placement,
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
        mode = placement.options.get("mode", "job")
        estimator = runtime_estimator(qpu, mode)
        jobs = qpu_jobs(qpu, journal, optimization_level=_optimization_level(placement))
        prepared = PreparedEstimator(
            estimator, _qpu_preparer(qpu, placement), lays_out=True, opened=opened_mode(estimator, mode)
        )
        return JournaledEstimator(prepared, jobs)
    from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2

    backend_options = aer_backend_options(placement)
    warm_aer(placement.method, backend_options.get("device", "CPU"))
    if noise_model is not None:
        backend_options["noise_model"] = noise_model
    options: dict[str, Any] = {"backend_options": backend_options}
    if seed is not None:
        options["run_options"] = {"seed_simulator": seed}  # the key Aer EstimatorV2 reads
    estimator = AerEstimatorV2(options=options)
    return PreparedEstimator(estimator, aer_circuit_preparer(placement.method))


def sampler_for(
    placement: Placement,
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
        mode = placement.options.get("mode", "job")
        sampler = runtime_sampler(qpu, mode, default_shots)
        jobs = qpu_jobs(qpu, journal, optimization_level=_optimization_level(placement))
        prepared = PreparedSampler(sampler, _qpu_preparer(qpu, placement), opened=opened_mode(sampler, mode))
        return JournaledSampler(prepared, jobs, default_shots)
    from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

    backend_options = aer_backend_options(placement)
    warm_aer(placement.method, backend_options.get("device", "CPU"))
    if noise_model is not None:
        backend_options["noise_model"] = noise_model
    sampler = AerSamplerV2(
        default_shots=default_shots, seed=seed, options={"backend_options": backend_options}
    )
    return PreparedSampler(sampler, aer_circuit_preparer(placement.method))
