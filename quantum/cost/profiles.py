"""Circuit profiles: what a quantum segment needs, computed from its circuits, never guessed by the user.

A profile counts qubits, gates and measurements, decides whether the circuits are Clifford (so the stabilizer
method can run them at any width), and bounds the entanglement across every cut of the linear qubit order. That
bound is what makes matrix-product-state (MPS) simulation cheap or impossible (`quantum.cost.mps_bounds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import BaseModel, Field
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterExpression

from quantum.cost.gate_sets import (
    DIAGONAL_TWO_QUBIT_GATES,
    EXTENDED_STABILIZER_NON_CLIFFORD,
    NON_GATE_INSTRUCTIONS,
    SCHMIDT_RANK_TWO,
    SPARSE_KERNEL_GATES,
    CircuitOperation,
    circuit_operations,
    is_clifford_instruction,
)
from quantum.cost.mps_bounds import clifford_cut_bounds, cut_bounds, merged_cut_bounds


@dataclass
class QuantumSegment:
    """What must run on a quantum resource: circuits and how they are measured.

    `observables` counts observables per circuit (estimator) and `pauli_terms` the Pauli terms summed over them
    (defaults to `observables`); `precision` is the estimator's target standard error (None: exact); `noisy` asks
    for a simulation with a noise model (or a real QPU).
    """

    name: str
    circuits: list[QuantumCircuit]
    primitive: Literal["estimator", "sampler"]
    shots: int | None = None
    parameter_sets: int = 1
    observables: int = 1
    precision: float | None = None
    noisy: bool = False
    pauli_terms: int | None = None
    kind: ClassVar[str] = (
        "quantum"  # the broker's cost model for this segment kind (quantum.cost.circuit_cost_model)
    )

    def __post_init__(self) -> None:
        if not self.circuits:
            raise ValueError(f"segment {self.name!r}: circuits is empty; give at least one QuantumCircuit")
        if self.primitive not in ("estimator", "sampler"):
            raise ValueError(
                f"segment {self.name!r}: primitive={self.primitive!r}; use 'estimator' or 'sampler'"
            )
        if self.shots is not None and self.shots < 1:
            raise ValueError(f"segment {self.name!r}: shots={self.shots}; give a positive count or None")
        if self.parameter_sets < 1:
            raise ValueError(f"segment {self.name!r}: parameter_sets={self.parameter_sets}; must be >= 1")
        if self.observables < 1 or (self.pauli_terms is not None and self.pauli_terms < 1):
            raise ValueError(
                f"segment {self.name!r}: observables={self.observables}, pauli_terms={self.pauli_terms}; "
                "each must be >= 1 (pauli_terms may be None: it then equals observables)"
            )
        if self.precision is not None and not self.precision > 0:
            raise ValueError(
                f"segment {self.name!r}: precision={self.precision}; give the target standard error (> 0), or "
                "None for exact expectation values"
            )
        if self.primitive == "sampler" and self.shots is None:
            self.shots = 1024


class CircuitProfile(BaseModel):
    """Resource-relevant features of a segment's circuits (maxima over circuits; gate counts summed)."""

    num_circuits: int = Field(description="circuits in the segment")
    num_qubits: int = Field(description="widest circuit, qubits")
    num_clbits: int = Field(description="widest classical register, bits")
    depth: int = Field(description="deepest circuit, layers")
    one_qubit_gates: int
    two_qubit_gates: int
    diagonal_two_qubit_gates: int = Field(
        0, description="two-qubit gates diagonal in the computational basis (cz, cp, rzz)"
    )
    dense_two_qubit_gates: int = Field(
        0, description="two-qubit gates of operator Schmidt rank 4 (unitary, swap, iswap)"
    )
    multi_qubit_gates: int = Field(description="gates on three or more qubits")
    sparse_kernel_gates: int = Field(
        0,
        description="gates Aer's statevector applies without a dense matrix (cx, cz, cp, swap, x, t, ccx; not rzz)",
    )
    measurements: int
    sampled_once: bool = Field(
        True,
        description="measurements only at the end, no reset or classical control: Aer simulates once and samples "
        "every shot from the final state (else it re-runs the circuit shot by shot)",
    )
    control_flow_ops: int = Field(
        0, description="control-flow instructions (if_else, loops, switch): Aer inlines each one per circuit"
    )
    is_clifford: bool
    non_clifford_gates: int
    extended_stabilizer_ready: bool = Field(
        description="every non-Clifford gate is one the extended-stabilizer method takes (t, tdg, ccx, rz, ...)"
    )
    num_parameters: int = Field(description="unbound circuit parameters (widest count)")
    max_cut_crossings: int = Field(
        description="most two-qubit gates crossing one cut of the linear qubit order"
    )
    bond_dimension_log2: list[int] = Field(
        description="log2 of the bond-dimension bound at each cut (k | k+1), k = 0..n-2, of the widest circuit"
    )
    bond_dimension_exact: bool = Field(
        False, description="bond dimensions are exact (Clifford circuits: read from the stabilizer tableau)"
    )
    deterministic_outcomes: int | None = Field(
        None,
        description="Clifford circuits: qubits whose Z outcome is fixed by the others (costly for a tableau)",
    )
    mps_gate_work: float = Field(
        description="sum over gates of span * chi^3 (two-qubit) or chi^2 (one-qubit), chi the running bond bound"
    )
    mps_shot_work: float = Field(
        description="sum over cuts of chi^2 at the end: the cost of sampling one shot"
    )
    mps_trial_seconds: float | None = Field(
        None, description="measured seconds of an exact MPS trial of mps_trial_shots shots (0: gates only)"
    )
    mps_trial_seconds_per_shot: float = Field(0.0, description="measured MPS seconds per further shot")
    mps_trial_shots: int = Field(0, description="shots in the timed MPS trial")
    connectivity_edges: int = Field(description="distinct qubit pairs touched by two-qubit gates")
    max_gate_span: int = Field(description="largest |i - j| of a two-qubit gate (1 = nearest neighbour)")
    shots: int | None
    parameter_sets: int
    observables: int
    pauli_terms: int
    precision: float | None
    noisy: bool
    primitive: Literal["estimator", "sampler"]

    @property
    def max_bond_dimension_log2(self) -> int:
        """log2 of the largest bond-dimension bound over all cuts."""
        return max(self.bond_dimension_log2, default=0)

    def summary(self) -> str:
        """The circuit features that decide placement, in one sentence."""
        clifford = (
            "Clifford" if self.is_clifford else f"not Clifford ({self.non_clifford_gates} non-Clifford gates)"
        )
        largest = f"2^{self.max_bond_dimension_log2}"
        bond = (
            f"{largest}, exact from the stabilizer tableau" if self.bond_dimension_exact else f"<= {largest}"
        )
        work = f"{self.num_circuits} circuit(s) x {self.parameter_sets} parameter set(s), {self.primitive}"
        work += (
            f" with {self.shots} shots"
            if self.primitive == "sampler"
            else f", {self.observables} observable(s)"
        )
        multi = f" and {self.multi_qubit_gates} on 3+ qubits" if self.multi_qubit_gates else ""
        return (
            f"circuit: {self.num_qubits} qubits, depth {self.depth}, {_count(self.two_qubit_gates, 'two-qubit gate')}"
            f"{multi}, {clifford}; at most {_count(self.max_cut_crossings, 'multi-qubit gate')} "
            f"{'crosses' if self.max_cut_crossings == 1 else 'cross'} one cut of "
            f"the qubit line (bond dimension {bond}); {work}"
        )

    @property
    def gates(self) -> int:
        """All gates, summed over circuits."""
        return self.one_qubit_gates + self.two_qubit_gates + self.multi_qubit_gates


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


@dataclass
class _Counts:
    one: int = 0
    two: int = 0
    two_diagonal: int = 0
    two_dense: int = 0
    multi: int = 0
    sparse_kernel: int = 0
    measurements: int = 0
    non_clifford: int = 0
    extended_ready: bool = True
    depth: int = 0


def _count_gates(
    circuit: QuantumCircuit, operations: list[CircuitOperation], counts: _Counts, edges: set[tuple[int, int]]
) -> int:
    """Add the circuit's gates to `counts` and its two-qubit pairs to `edges`; return the largest gate span.

    Gates inside control flow (if_else on measured bits, loops) count as the gates they are: a Clifford gate
    applied on a condition keeps the circuit Clifford (Aer's stabilizer method runs control flow).
    """
    span = 0
    layers = [
        0
    ] * circuit.num_qubits  # layers of operations on each qubit so far (circuit.depth() without the
    # classical wires, and far faster on wide circuits)
    for operation in operations:
        name, qubits = operation.name, operation.qubits
        if name != "barrier" and qubits:
            layer = max(layers[q] for q in qubits) + 1
            for q in qubits:
                layers[q] = layer
        if name == "measure":
            counts.measurements += 1
            continue
        if (
            name in NON_GATE_INSTRUCTIONS or not qubits
        ):  # no gate, or a global phase: no work for any simulator
            continue
        counts.sparse_kernel += name in SPARSE_KERNEL_GATES
        if len(qubits) == 1:
            counts.one += 1
        elif len(qubits) == 2:
            counts.two += 1
            counts.two_diagonal += name in DIAGONAL_TWO_QUBIT_GATES
            counts.two_dense += name not in DIAGONAL_TWO_QUBIT_GATES and name not in SCHMIDT_RANK_TWO
            edges.add((min(qubits), max(qubits)))
            span = max(span, abs(qubits[0] - qubits[1]))
        else:
            counts.multi += 1
        if not is_clifford_instruction(name, list(operation.params)):
            counts.non_clifford += 1
            unbound = any(isinstance(p, ParameterExpression) and p.parameters for p in operation.params)
            if name not in EXTENDED_STABILIZER_NON_CLIFFORD or unbound:
                counts.extended_ready = False
    counts.depth = max(counts.depth, max(layers, default=0))
    return span


def profile_segment(segment: QuantumSegment) -> CircuitProfile:
    """Profile a segment's circuits: width, gate counts, Clifford-ness and the MPS entanglement bound.

    Circuits are decomposed one level when they hold composite instructions (library blocks such as
    ``efficient_su2`` or ``qft``), so gates are counted as a simulator sees them.
    """
    counts = _Counts()
    edges: set[tuple[int, int]] = set()
    widest = max(segment.circuits, key=lambda c: c.num_qubits)
    span = 0
    flats = [flatten_circuit(circuit) for circuit in segment.circuits]
    per_circuit = []
    for flat in flats:
        operations = list(circuit_operations(flat))  # one walk, read by every pass below
        non_clifford_before = counts.non_clifford
        span = max(span, _count_gates(flat, operations, counts, edges))
        cuts = cut_bounds(flat, operations)
        clifford = counts.non_clifford == non_clifford_before
        per_circuit.append((clifford and clifford_cut_bounds(flat, cuts.crossings, operations)) or cuts)
    cuts = merged_cut_bounds(per_circuit)
    return CircuitProfile(
        num_circuits=len(segment.circuits),
        num_qubits=widest.num_qubits,
        num_clbits=max(c.num_clbits for c in segment.circuits),
        depth=counts.depth,
        one_qubit_gates=counts.one,
        two_qubit_gates=counts.two,
        diagonal_two_qubit_gates=counts.two_diagonal,
        dense_two_qubit_gates=counts.two_dense,
        sparse_kernel_gates=counts.sparse_kernel,
        multi_qubit_gates=counts.multi,
        measurements=counts.measurements,
        sampled_once=all(sampled_once(flat) for flat in flats),
        control_flow_ops=sum(_control_flow_ops(flat) for flat in flats),
        is_clifford=counts.non_clifford == 0,
        non_clifford_gates=counts.non_clifford,
        extended_stabilizer_ready=counts.extended_ready,
        num_parameters=max(c.num_parameters for c in segment.circuits),
        max_cut_crossings=max(cuts.crossings, default=0),
        bond_dimension_log2=cuts.bond_log2,
        bond_dimension_exact=cuts.exact,
        deterministic_outcomes=cuts.deterministic_outcomes,
        mps_gate_work=cuts.gate_work,
        mps_shot_work=cuts.shot_work,
        connectivity_edges=len(edges),
        max_gate_span=span,
        shots=segment.shots,
        parameter_sets=segment.parameter_sets,
        observables=segment.observables,
        pauli_terms=segment.pauli_terms if segment.pauli_terms is not None else segment.observables,
        precision=segment.precision,
        noisy=segment.noisy,
        primitive=segment.primitive,
    )


def _control_flow_ops(circuit: QuantumCircuit) -> int:
    """Control-flow instructions of the circuit, nested ones included."""
    return sum(
        1 + sum(_control_flow_ops(block) for block in instruction.operation.blocks)
        for instruction in circuit.data
        if instruction.is_control_flow()
    )


def sampled_once(circuit: QuantumCircuit) -> bool:
    """Whether Aer can sample all shots from one final state: nothing but measurements and barriers after the
    first measurement (no reset or gate), and no control flow (else every shot is a run of its own)."""
    measured = False
    for instruction in circuit.data:  # names, not operations: Qiskit 2 builds a gate object per .operation
        if instruction.is_control_flow():
            return False
        if instruction.name == "measure":
            measured = True
        elif measured and instruction.name not in ("barrier", "measure"):
            return False
    return True


def flatten_circuit(circuit: QuantumCircuit, max_rounds: int = 4) -> QuantumCircuit:
    """Decompose composite instructions (those with a definition but no standard gate name) until none is left."""
    from qiskit.circuit.library import get_standard_gate_name_mapping

    standard = set(get_standard_gate_name_mapping()) | NON_GATE_INSTRUCTIONS | {"pauli", "unitary"}
    flat = circuit
    for _ in range(max_rounds):
        composite = {  # inst.name first: Qiskit 2 builds a gate object for every inst.operation of a standard gate
            inst.name
            for inst in flat.data
            if inst.name not in standard and getattr(inst.operation, "definition", None) is not None
        }
        if not composite:
            break
        flat = flat.decompose(gates_to_decompose=list(composite))
    return flat
