"""Broker benchmark: the broker's choice vs Aer `automatic` vs the oracle (fastest method that runs).

    python benchmarks/broker.py                 # the benchmark (about 45 circuits, 7 families, 10-100 qubits)
    python benchmarks/broker.py --quick         # a smaller set
    python benchmarks/broker.py calibrate       # fit quantum.cost.aer_time.TIME_CONSTANTS on other circuits
    python benchmarks/broker.py --runs FILE     # the figures of runs saved with --save, without measuring
    python benchmarks/broker.py calibrate --runs FILE   # refit from runs saved with --save

Every run is measured by `benchmarks/aer_runs.py`: a forked child with a wall-clock limit and Aer's
`max_memory_mb` cap (the catalog the broker sees has the same memory).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from qiskit import QuantumCircuit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.aer_runs import SHOTS, run_best_of, translated
from benchmarks.broker_report import Row, report, saved_rows
from broker.catalog import discover_catalog
from broker.models import PlacementRefused, Policy, ResourceCatalog
from broker.place import place
from quantum.circuit_families import (
    bernstein_vazirani,
    bind_and_measure,
    ghz,
    graph_state,
    hardware_efficient,
    qaoa,
    qft_of_ghz,
    quantum_volume,
    random_clifford_circuit,
)
from quantum.cost.aer_estimates import AER_METHODS, method_support
from quantum.cost.aer_memory import memory_bytes
from quantum.cost.aer_time import (
    FUSION_THRESHOLD_QUBITS,
    TIME_CONSTANTS,
    fusion_may_slow,
    model_constants,
    seconds,
    time_features,
    time_model,
)
from quantum.cost.profiles import CircuitProfile, QuantumSegment, profile_segment

UNFUSED = "statevector_unfused"  # statevector with Aer's gate fusion off


def run_variants(num_qubits: int) -> dict[str, tuple[str, dict]]:
    """Name -> (Aer method, other Aer options) of every way a circuit is run: automatic, each method, and
    statevector without gate fusion where Aer would fuse."""
    variants: dict[str, tuple[str, dict]] = {m: (m, {}) for m in ("automatic", *AER_METHODS)}
    if num_qubits >= FUSION_THRESHOLD_QUBITS:
        variants[UNFUSED] = ("statevector", {"fusion_enable": False})
    return variants


def variant_name(method: str, options: dict) -> str:
    """The run variant a placement's method and options stand for."""
    return UNFUSED if method == "statevector" and options.get("fusion_enable") is False else method


# ---------------------------------------------------------------- circuits
def mqt(name: str, n: int) -> QuantumCircuit:
    """An MQT Bench circuit on `n` qubits (target-independent level), parameters bound, measured."""
    from mqt.bench import BenchmarkLevel, get_benchmark

    seeded = {"seed": 7} if name == "graphstate" else {}  # its random graph is otherwise new at every call
    return bind_and_measure(get_benchmark(name, BenchmarkLevel.INDEP, n, **seeded), 5)


def mqt_available() -> bool:
    try:
        import mqt.bench  # noqa: F401
    except ImportError:
        return False
    return True


def benchmark_circuits(quick: bool) -> list[tuple[str, QuantumCircuit]]:
    """(family, circuit) pairs: GHZ, QFT, random Clifford, hardware-efficient, QAOA, quantum volume, MQT Bench."""
    use_mqt = mqt_available()
    sizes = {
        "ghz": [10, 30, 60, 100], "qft": [10, 16, 20, 24, 30], "clifford": [10, 30, 60, 100],
        "hea": [10, 20, 26, 34, 60, 100], "qaoa_line": [10, 20, 30, 60, 100], "qaoa_3reg": [10, 16, 20],
        "qv": [10, 14, 18, 22, 24],
    }  # fmt: skip
    makers = {
        "ghz": ghz, "qft": lambda n: mqt("qftentangled", n) if use_mqt else qft_of_ghz(n),
        "clifford": random_clifford_circuit,
        "hea": hardware_efficient, "qaoa_line": qaoa, "qaoa_3reg": lambda n: qaoa(n, regular=True), "qv": quantum_volume,
    }  # fmt: skip
    mqt_set = [("wstate", 10), ("wstate", 40), ("graphstate", 20), ("graphstate", 60), ("dj", 10), ("dj", 50),
               ("bv", 20), ("bv", 80), ("ae", 10), ("ae", 16), ("qnn", 10), ("qnn", 16), ("vqe_real_amp", 12),
               ("vqe_real_amp", 40)]  # fmt: skip
    if quick:
        sizes = {k: v[:2] for k, v in sizes.items()}
        mqt_set = mqt_set[::3]
    if not use_mqt:
        print("mqt.bench is not installed (pip install mqt.bench): MQT Bench circuits left out")
        mqt_set = []
    found = [(family, makers[family](n)) for family, ns in sizes.items() for n in ns]
    found += [(f"mqt_{name}", mqt(name, n)) for name, n in mqt_set]
    return found


def calibration_circuits() -> list[tuple[QuantumCircuit, int]]:
    """(circuit, shots) for fitting the time model: other sizes and seeds than the benchmark's, a few with
    other shot counts so that per-shot and per-circuit costs separate."""
    found = [ghz(n) for n in (6, 20, 45, 80)] + [random_clifford_circuit(n, 9) for n in (6, 20, 45, 80, 150)]
    found += [graph_state(n, 8, degree) for n in (12, 24, 40, 70) for degree in (2, 3)]
    found += [bernstein_vazirani(n, 8) for n in (12, 30, 60, 100)]
    found += [hardware_efficient(n, 8, reps) for n in (6, 12, 16, 19, 21, 23, 40, 70) for reps in (1, 3)]
    found += [quantum_volume(n, 8) for n in (4, 8, 12, 16, 19, 21)]
    found += [qaoa(n, 7) for n in (8, 14, 18, 21, 50)] + [qaoa(n, 7, regular=True) for n in (8, 12, 18)]
    other_shots = [
        ghz(12),
        graph_state(30, 9),
        hardware_efficient(9, 9),
        hardware_efficient(17, 9),
        qaoa(30, 9),
    ]
    # Circuits of gates that only permute or rephase amplitudes, where Aer's gate fusion costs time (QFT: diagonal
    # phases; GHZ: a cx chain), for the statevector model without fusion.
    sparse = [qft_of_ghz(n) for n in (12, 15, 18, 22)] + [qft_of_ghz(n) for n in (14, 16, 20, 24)]
    sparse += [ghz(n) for n in (14, 17, 22, 24)]
    return (
        [(c, SHOTS) for c in found]
        + [(c, shots) for c in other_shots for shots in (100, 10_000)]
        + [(c, SHOTS) for c in sparse]
    )


# ---------------------------------------------------------------- the benchmark
def benchmark_catalog(cap_mb: int) -> ResourceCatalog:
    """This machine's CPU with the benchmark's memory cap as its free memory."""
    cpu = discover_catalog().get("aer-cpu")
    cap = int(cap_mb * 2**20 / 0.9)
    return ResourceCatalog(resources=[cpu.model_copy(update={"memory_free_bytes": cap})])


def measure_circuit(
    family: str, circuit: QuantumCircuit, catalog: ResourceCatalog, args: argparse.Namespace
) -> Row:
    segment = QuantumSegment(family, [circuit], "sampler", shots=SHOTS)
    started = time.perf_counter()
    try:
        placement = place(segment, catalog, Policy())
        choice = variant_name(placement.method, placement.options)
        candidates = [placement.estimate, *placement.runners_up]
    except PlacementRefused as refusal:
        choice, candidates = "refused", refusal.placement.runners_up
    row = Row(family, circuit.num_qubits, choice, place_seconds=time.perf_counter() - started)
    # Estimates of methods that cannot run the circuit at all (the extended stabilizer on a Clifford circuit, say)
    # decide nothing and are left out of the error figures.
    profile = profile_segment(segment)
    row.predicted = {
        variant_name(e.method, e.options): (e.seconds, e.memory_bytes)
        for e in candidates
        if method_support(profile, e.method) is None
    }
    variants = run_variants(circuit.num_qubits)
    cores = catalog.resources[0].cores
    for name, (method, options) in variants.items():
        # The statevector fusion setting the broker did not pick (unfused: only where it would run it so).
        considered = name != UNFUSED or fusion_may_slow(profile)
        if method == "statevector" and considered and name not in row.predicted:
            fusion = options.get("fusion_enable", True)
            row.predicted[name] = (
                seconds(profile, method, cores, fusion=fusion),
                memory_bytes(profile, method),
            )
        row.runs[name] = run_best_of(
            translated(circuit, method), method, args.cap_mb, args.timeout, options=options
        )
    return row


def main_benchmark(args: argparse.Namespace) -> None:
    if args.runs:
        report(saved_rows(args.runs))
        return
    catalog = benchmark_catalog(args.cap_mb)
    rows = []
    for family, circuit in benchmark_circuits(args.quick):
        row = measure_circuit(family, circuit, catalog, args)
        rows.append(row)
        best = row.best()
        short = {m: "sv-nof" if m == UNFUSED else m[:6] for m in row.runs}
        cells = " ".join(
            f"{short[m]}={r.seconds:.3g}" if r.ok else f"{short[m]}=x" for m, r in row.runs.items()
        )
        print(f"{family:16s} {row.qubits:3d}q broker={row.choice:21s} oracle={best[0] if best else '-':21s} {cells}",
              flush=True)  # fmt: skip
    if args.save:
        Path(args.save).write_text(json.dumps([asdict(row) for row in rows], indent=1))
    report(rows)


# ---------------------------------------------------------------- calibration
def measure_calibration(
    args: argparse.Namespace, circuits: list[tuple[QuantumCircuit, int]], profiles: list[CircuitProfile]
) -> list[dict]:
    """Run every calibration circuit with every Aer method the current model does not rule out; the raw runs."""
    raw: list[dict] = []
    for index, ((circuit, shots), profile) in enumerate(zip(circuits, profiles, strict=True)):
        for name, (method, options) in run_variants(circuit.num_qubits).items():
            if method == "automatic" or (name == UNFUSED and not fusion_may_slow(profile)):
                continue
            if seconds(profile, method) > 20 * args.timeout:  # it would only time out: save the wait
                continue
            run = run_best_of(translated(circuit, method), method, args.cap_mb, args.timeout, shots, options)
            raw.append(
                {"index": index, "method": method, "options": options, "name": circuit.name, "shots": shots}
                | vars(run)
            )
        print(f"{circuit.name[:20]:20s} {circuit.num_qubits:3d}q {shots:6d} shots measured", flush=True)
    return raw


def _fusion(run: dict) -> bool:
    return run.get("options", {}).get("fusion_enable", True)


def main_calibrate(args: argparse.Namespace) -> None:
    """Fit TIME_CONSTANTS by non-negative least squares on relative error, one method at a time.

    With `--runs FILE` the fit uses runs saved earlier (`--save`), so a change of the model's features is refitted
    without measuring again.
    """
    from scipy.optimize import nnls

    circuits = calibration_circuits()
    profiles = [
        profile_segment(QuantumSegment("calibration", [circuit], "sampler", shots=shots))
        for circuit, shots in circuits
    ]
    raw = (
        json.loads(Path(args.runs).read_text())
        if args.runs
        else measure_calibration(args, circuits, profiles)
    )
    if args.save and not args.runs:
        Path(args.save).write_text(json.dumps(raw))
    samples: dict[str, list[tuple[dict[str, float], float]]] = {model: [] for model in TIME_CONSTANTS}
    for run in raw:
        profile, fusion = profiles[run["index"]], _fusion(run)
        if run["ok"] and (fusion or fusion_may_slow(profile)):  # the broker turns fusion off only there
            model = time_model(profile, run["method"], fusion)
            samples[model].append((time_features(profile, run["method"], fusion=fusion), run["seconds"]))
    for model, rows in samples.items():
        keys = [k for k in TIME_CONSTANTS[model] if any(f.get(k) for f, _ in rows)]  # "trial" is measured
        if not rows or len(rows) < len(keys):
            print(f"{model}: {len(rows)} runs, too few to fit; keeping {TIME_CONSTANTS[model]}")
            continue
        # Constants a model shares with another stay fixed: their part of each run's time is known.
        shared = {k: c for k, c in model_constants(model).items() if k not in TIME_CONSTANTS[model]}
        known = [sum(c * f.get(k, 0.0) for k, c in shared.items()) for f, _ in rows]
        a = np.array([[f[k] / t for k in keys] for f, t in rows])
        fit, _ = nnls(a, np.array([1.0 - fixed / t for (_, t), fixed in zip(rows, known, strict=True)]))
        predicted = [
            fixed + sum(c * f[k] for c, k in zip(fit, keys, strict=True))
            for (f, _), fixed in zip(rows, known, strict=True)
        ]
        errors = [abs(p - t) / t for p, (_, t) in zip(predicted, rows, strict=True)]
        print(f'"{model}": {{{", ".join(f"{k!r}: {c:.3g}" for k, c in zip(keys, fit, strict=True))}}},'
              f"  # {len(rows)} runs, median error {statistics.median(errors):.0%}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "calibrate"])
    parser.add_argument("--quick", action="store_true", help="a smaller circuit set")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per run (30)")
    parser.add_argument("--save", default=None, help="write the raw runs as JSON here")
    parser.add_argument(
        "--runs",
        default=None,
        help="runs saved earlier with --save: report them, or refit from them (calibrate)",
    )
    parser.add_argument("--cap-mb", type=int, default=4096, help="Aer max_memory_mb per run (4096)")
    args = parser.parse_args()
    main_calibrate(args) if args.mode == "calibrate" else main_benchmark(args)


if __name__ == "__main__":
    main()
