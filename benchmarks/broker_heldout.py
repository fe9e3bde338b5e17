"""Held-out broker benchmark: circuits the estimates were not fitted on, measured as benchmarks/broker.py measures
its own set, plus placement time and wrong refusals.

    python benchmarks/broker_heldout.py                  # the short set (about 15 circuits, a few minutes)
    python benchmarks/broker_heldout.py --full           # every family and width, up to 500 qubits
    python benchmarks/broker_heldout.py --runs FILE      # the figures of runs saved with --save
    python benchmarks/broker_heldout.py --full --place-only   # placement time and choice only, no Aer runs

Families the calibration and benchmarks/broker.py never used: MQT Bench adders, phase estimation, quantum walks,
dynamic GHZ and QFT, VQE ansatzes (`pip install -e '.[bench]'`); qiskit circuit-library families (hidden linear
function, IQP, Pauli two-design, real amplitudes on a ring, excitation preserving); and circuits built here with
classical control, mid-circuit measurement and resets (a counterfeit-coin circuit in OpenQASM 2 with `if` on the
register, a repetition code measured and reset every round, teleportation along a chain). Each circuit is placed
by the broker and run with every Aer method and automatic in a forked child (`benchmarks/aer_runs.py`).
A wrong refusal is a circuit the broker refused although some method ran it within the time limit.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
from qiskit import QuantumCircuit, qasm2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.aer_runs import SHOTS
from benchmarks.broker import benchmark_catalog, measure_circuit, mqt, mqt_available
from benchmarks.broker_report import Row, report, saved_rows
from broker.models import PlacementRefused, Policy, ResourceCatalog
from broker.place import place
from quantum.circuit_families import bind_and_measure
from quantum.cost.profiles import QuantumSegment

PLACEMENT_TARGET_SECONDS = 5.0  # issue 18: every placement in <= 5 s


# ---------------------------------------------------------------- circuits with classical control
def counterfeit_coin(num_qubits: int) -> QuantumCircuit:
    """Counterfeit-coin finding (QASMBench's cc_n* structure), read from OpenQASM 2: a parity query onto an ancilla,
    the ancilla measured mid-circuit, then Clifford gates conditioned on the whole register. Clifford."""
    ancilla = num_qubits - 1
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{num_qubits}];", f"creg c[{num_qubits}];"]
    lines += [f"h q[{i}];" for i in range(ancilla)] + [f"cx q[{i}],q[{ancilla}];" for i in range(ancilla)]
    lines += [
        f"measure q[{ancilla}] -> c[{ancilla}];",
        f"if(c==0) x q[{ancilla}];",
        f"if(c==0) h q[{ancilla}];",
    ]
    lines += [f"if(c=={2**ancilla}) h q[{i}];" for i in range(ancilla)]
    lines += [f"if(c==0) cx q[{ancilla // 2}],q[{ancilla}];"] + [
        f"if(c==0) h q[{i}];" for i in range(ancilla)
    ]
    lines += [f"measure q[{i}] -> c[{i}];" for i in range(ancilla)]
    circuit = qasm2.loads("\n".join(lines))
    circuit.name = f"counterfeit_coin-{num_qubits}"
    return circuit


def repetition_code(num_qubits: int, rounds: int = 3) -> QuantumCircuit:
    """A bit-flip repetition code on (n+1)/2 data qubits: each round measures the parities into the ancillas and
    resets them; a data qubit is flipped when its left parity fired (classical control). Clifford, shot by shot."""
    data = list(range(0, num_qubits, 2))
    ancillas = list(range(1, num_qubits - 1, 2))
    circuit = QuantumCircuit(num_qubits, len(ancillas) * rounds + len(data), name=f"repetition-{num_qubits}")
    circuit.h(data[0])
    for a, b in itertools.pairwise(data):
        circuit.cx(a, b)
    for round_ in range(rounds):
        for k, ancilla in enumerate(ancillas):
            circuit.cx(ancilla - 1, ancilla)
            circuit.cx(ancilla + 1, ancilla)
            bit = round_ * len(ancillas) + k
            circuit.measure(ancilla, bit)
            circuit.reset(ancilla)
            if round_ == rounds - 1 and k == 0:
                with circuit.if_test((circuit.clbits[bit], 1)):
                    circuit.x(data[0])
    circuit.measure(data, range(len(ancillas) * rounds, circuit.num_clbits))
    return circuit


def teleportation_chain(num_qubits: int) -> QuantumCircuit:
    """A T-rotated state teleported along a line of Bell pairs, Pauli corrections conditioned on each pair's two
    outcomes (mid-circuit measurement and classical control; one non-Clifford gate)."""
    circuit = QuantumCircuit(num_qubits, num_qubits, name=f"teleport-{num_qubits}")
    circuit.h(0)
    circuit.t(0)
    for source in range(0, num_qubits - 2, 2):
        middle, target = source + 1, source + 2
        circuit.h(middle)
        circuit.cx(middle, target)
        circuit.cx(source, middle)
        circuit.h(source)
        circuit.measure(source, source)
        circuit.measure(middle, middle)
        with circuit.if_test((circuit.clbits[middle], 1)):
            circuit.x(target)
        with circuit.if_test((circuit.clbits[source], 1)):
            circuit.z(target)
    circuit.measure(num_qubits - 1, num_qubits - 1)
    return circuit


# ---------------------------------------------------------------- qiskit circuit-library families
def hidden_linear_function(num_qubits: int, seed: int = 11) -> QuantumCircuit:
    """Bravyi-Gosset-Koenig hidden linear function on a random sparse graph (qiskit library): Clifford."""
    from qiskit.circuit.library import hidden_linear_function as hlf

    rng = np.random.default_rng(seed)
    adjacency = np.zeros((num_qubits, num_qubits), dtype=int)
    for a in range(num_qubits):
        b = int(rng.integers(num_qubits))
        if a != b:
            adjacency[a, b] = adjacency[b, a] = 1
    return bind_and_measure(hlf(adjacency.tolist()), seed, "hidden_linear")


def iqp(num_qubits: int, seed: int = 12) -> QuantumCircuit:
    """An IQP circuit with random integer interactions (qiskit library `random_iqp`): diagonal, not Clifford."""
    from qiskit.circuit.library import random_iqp

    return bind_and_measure(random_iqp(num_qubits, seed=seed), seed, "iqp")


def library(name: str) -> Callable[[int], QuantumCircuit]:
    """A qiskit-library ansatz with seeded random angles: Pauli two-design, real amplitudes on a ring, excitation
    preserving on a line."""
    from qiskit.circuit.library import excitation_preserving, pauli_two_design, real_amplitudes

    makers = {
        "pauli_two_design": lambda n: pauli_two_design(n, reps=2, seed=13),
        "real_amplitudes_ring": lambda n: real_amplitudes(n, reps=2, entanglement="circular"),
        "excitation_preserving": lambda n: excitation_preserving(n, reps=1, entanglement="linear"),
    }
    return lambda n: bind_and_measure(makers[name](n), 14, name)


def heldout_circuits(full: bool) -> list[tuple[str, QuantumCircuit]]:
    """(family, circuit) pairs: the short set, or with `full` every width up to 500 qubits."""
    sizes: dict[str, tuple[Callable[[int], QuantumCircuit], list[int], list[int]]] = {
        # family: (maker, short widths, full widths)
        "counterfeit_coin": (counterfeit_coin, [20, 151], [10, 20, 64, 151, 301]),
        "repetition_code": (repetition_code, [21, 201], [11, 21, 101, 201, 501]),
        "teleportation": (teleportation_chain, [15], [9, 15, 41, 101]),
        "hidden_linear": (hidden_linear_function, [30, 400], [12, 30, 100, 400, 500]),
        "iqp": (iqp, [12], [10, 12, 16, 20]),
        "pauli_two_design": (library("pauli_two_design"), [16], [12, 16, 20, 60, 200]),
        "real_amplitudes_ring": (library("real_amplitudes_ring"), [24], [16, 24, 40, 100]),
        "excitation_preserving": (library("excitation_preserving"), [500], [14, 20, 100, 500]),
    }
    found = [
        (family, make(n)) for family, (make, short, wide) in sizes.items() for n in (wide if full else short)
    ]
    mqt_set = [("cdkm_ripple_carry_adder", 40), ("qpeexact", 16), ("ghz_dynamic", 60), ("vqe_su2", 40)]
    if full:
        mqt_set += [("cdkm_ripple_carry_adder", 100), ("vbe_ripple_carry_adder", 40), ("draper_qft_adder", 30),
                    ("qpeinexact", 20), ("qwalk", 12), ("ghz_dynamic", 200), ("dynamic_qft", 16),
                    ("vqe_su2", 200), ("vqe_two_local", 20), ("multiplier", 20), ("modular_adder", 20),
                    ("randomcircuit", 20), ("grover", 10)]  # fmt: skip
    if not mqt_available():
        print("mqt.bench is not installed (pip install -e '.[bench]'): MQT Bench circuits left out")
        mqt_set = []
    return found + [(f"mqt_{name}", mqt(name, n)) for name, n in mqt_set]


# ---------------------------------------------------------------- the figures beyond benchmarks/broker.py's
def heldout_report(rows: list[Row]) -> None:
    """benchmarks/broker.py's report, then placement times and wrong refusals."""
    report(rows)
    places = [r.place_seconds for r in rows]
    slow = [r for r in rows if r.place_seconds > PLACEMENT_TARGET_SECONDS]
    print(f"placement time: median {statistics.median(places):.3f} s, max {max(places):.2f} s; "
          f"over {PLACEMENT_TARGET_SECONDS:g} s: {len(slow)}")  # fmt: skip
    for r in slow:
        print(f"  SLOW PLACEMENT {r.family} {r.qubits}q: {r.place_seconds:.1f} s")
    refused = [r for r in rows if r.choice == "refused"]
    wrong = [r for r in refused if r.best()]
    print(f"refusals: {len(refused)}; wrong refusals (refused although some method ran it): {len(wrong)}")
    for r in wrong:
        print(f"  WRONG REFUSAL {r.family} {r.qubits}q: {r.best()[0]} ran it in {r.best()[1].seconds:.3g} s")  # type: ignore[index]


def placement_times(circuits: list[tuple[str, QuantumCircuit]], catalog: ResourceCatalog) -> None:
    """Place every circuit without running it: the choice, its estimate and the placement time."""
    times = []
    for family, circuit in circuits:
        segment = QuantumSegment(family, [circuit], "sampler", shots=SHOTS)
        started = time.perf_counter()
        try:
            placement = place(segment, catalog, Policy())
            choice, estimate = placement.label(), f"{placement.estimate.seconds:.3g} s"
        except PlacementRefused:
            choice, estimate = "refused", "-"
        times.append(time.perf_counter() - started)
        print(f"{family:28s} {circuit.num_qubits:3d}q place {times[-1]:5.2f}s {choice:32s} estimate {estimate}",
              flush=True)  # fmt: skip
    slow = sum(t > PLACEMENT_TARGET_SECONDS for t in times)
    print(f"placement time over {len(times)} circuits: median {statistics.median(times):.3f} s, "
          f"max {max(times):.2f} s; over {PLACEMENT_TARGET_SECONDS:g} s: {slow}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="every family and width (up to 500 qubits)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per run (10)")
    parser.add_argument("--save", default=None, help="write the raw runs as JSON here")
    parser.add_argument("--runs", default=None, help="report runs saved earlier with --save")
    parser.add_argument("--cap-mb", type=int, default=4096, help="Aer max_memory_mb per run (4096)")
    parser.add_argument("--place-only", action="store_true", help="place every circuit, run none")
    args = parser.parse_args()
    if args.runs:
        heldout_report(saved_rows(args.runs))
        return
    catalog = benchmark_catalog(args.cap_mb)
    if args.place_only:
        placement_times(heldout_circuits(args.full), catalog)
        return
    rows = []
    for family, circuit in heldout_circuits(args.full):
        row = measure_circuit(family, circuit, catalog, args)
        rows.append(row)
        best = row.best()
        cells = " ".join(f"{m[:6]}={r.seconds:.3g}" if r.ok else f"{m[:6]}=x" for m, r in row.runs.items())
        print(f"{family:22s} {row.qubits:3d}q place {row.place_seconds:5.2f}s broker={row.choice:21s} "
              f"oracle={best[0] if best else '-':21s} {cells}", flush=True)  # fmt: skip
        if args.save:  # after every circuit: a long run stopped half-way keeps what it measured
            Path(args.save).write_text(json.dumps([asdict(r) for r in rows], indent=1))
    heldout_report(rows)


if __name__ == "__main__":
    main()
