"""SQD segments for growing active spaces: sampling on ffsim vs Aer statevector vs Aer MPS (time, peak memory),
diagonalization time, and the error against CASCI, with and without the singles enlargement. Then noisy samples
from a fake backend, diagonalized with configuration recovery and with the wrong-electron-count samples dropped.

Run: .venv/bin/python benchmarks/sqd.py [--section scaling|noisy|all] [--orbitals 8 10 12 16] [--shots 20000]
     [--timeout 300] [--noisy-shots 200 400] [--seeds 5]

Molecule: N2/6-31G at 1.1 Å, frozen core, (10e, K) active spaces; K = 16 is the issue's 32-qubit case. Every
sampling run is a fresh process, so its peak resident memory (VmHWM, imports included) is its own; a run over
--timeout seconds is stopped and reported as such. Aer's statevector is refused, without running, where its
2^(2K) x 16 B vector exceeds half the available memory. CASCI is the lowest state over every symmetry sector.

Noisy section: N2/STO-3G (10e,8o), 16 qubits, sampled through qiskit-ibm-runtime's SamplerV2 on FakeGuadalupeV2
(Aer with its calibrated noise). Recovery and dropping get the same samples, settings and subsampling seeds;
each row gives the mean and spread of the error over the seeds, and the mean largest subspace.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import psutil

from quantum.chemistry.active_space import MoleculeSpec, casci_reference, molecule_problem
from quantum.chemistry.sqd import (
    SQDSettings,
    diagonalize,
    distinct_spin_strings,
    lucj_operator,
    postselected,
    sample_configurations,
)

NITROGEN = "N 0 0 0; N 0 0 1.1"  # r_e 1.098 Å (NIST CCCBDB), rounded as in the issue
SAMPLERS = ("ffsim", "aer_statevector", "aer_mps")


def _peak_rss() -> int:
    """The process's peak resident memory (bytes), from /proc/self/status VmHWM."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _sample_in_child(
    spec: MoleculeSpec, sampler: str, shots: int, seed: int, queue: multiprocessing.Queue
) -> None:
    problem = molecule_problem(spec)
    start = time.perf_counter()
    bitstrings = sample_configurations(problem, lucj_operator(problem), shots, seed, sampler)
    queue.put((time.perf_counter() - start, _peak_rss(), bitstrings))


def timed_sampling(spec: MoleculeSpec, sampler: str, shots: int, seed: int, timeout: float) -> tuple:
    """(seconds, peak bytes, bitstrings) of one sampling run in a fresh process, or a reason it did not finish."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_sample_in_child, args=(spec, sampler, shots, seed, queue))
    child.start()
    try:
        return queue.get(timeout=timeout)
    except Exception:
        return None, None, f"stopped after {timeout:.0f} s"
    finally:
        child.terminate()
        child.join()


def benchmark_row(norb: int, shots: int, seed: int, timeout: float) -> dict:
    """One active space: per sampler time and memory, then diagonalization on the ffsim samples vs CASCI."""
    spec = MoleculeSpec(
        atom=NITROGEN, basis="6-31g", frozen_core=True, active_orbitals=norb, active_electrons=10
    )
    problem = molecule_problem(spec)
    row: dict = {"active space": f"(10e,{norb}o)", "qubits": 2 * norb, "determinants": problem.determinants}
    start = time.perf_counter()
    reference = casci_reference(problem)
    row["casci s"] = time.perf_counter() - start
    samples = None
    for sampler in SAMPLERS:
        if sampler == "aer_statevector" and 16 * 2 ** (2 * norb) > psutil.virtual_memory().available / 2:
            row[sampler] = f"refused: needs {16 * 2 ** (2 * norb) / 2**30:.0f} GiB"
            continue
        seconds, peak, found = timed_sampling(spec, sampler, shots, seed, timeout)
        if seconds is None:
            row[sampler] = found
            continue
        row[sampler] = f"{seconds:.1f} s, {peak / 2**30:.2f} GiB"
        samples = found if sampler == "ffsim" else samples
    for enlargement in ("none", "singles"):
        settings = SQDSettings(enlargement=enlargement, batches=1, iterations=2, max_dim=300)
        found = diagonalize(problem, samples, settings, seed)
        error = (found.energy - reference.energy) * 1000
        row[f"diag {enlargement}"] = (
            f"{found.seconds:.1f} s, {max(found.subspace_dimensions):,} dets, {error:.2f} mHa"
        )
    return row


# (label, settings) compared with and without recovery. With max_dim 15 both subspaces reach the cap (225
# determinants): under the default carryover threshold (CI amplitude > 1e-4) the first iteration's strings carry
# over, come first and fill it, freezing both; with a threshold of 0.05 fewer carry over and new strings enter.
def _wide(**fields: Any) -> SQDSettings:
    return SQDSettings(
        **{"enlargement": "none", "samples_per_batch": 50, "batches": 2, "iterations": 3, **fields}
    )


NOISY_SETTINGS = (
    (
        "10 per batch, 1 batch, 2 iterations",
        SQDSettings(enlargement="none", samples_per_batch=10, batches=1, iterations=2),
    ),
    ("50 per batch, 2 batches, 3 iterations", _wide()),
    ("same, max_dim 30", _wide(max_dim=30)),
    ("same, max_dim 15 (carryover fills it)", _wide(max_dim=15)),
    ("same, max_dim 15, carryover 0.05", _wide(max_dim=15, carryover_threshold=0.05)),
    ("same, singles enlargement", _wide(enlargement="singles")),
)


def noisy_rows(shots: int, seeds: int, sampling_seed: int) -> list[dict]:
    """Recovery vs dropping on one noisy draw of N2/STO-3G (10e,8o) from FakeGuadalupeV2, per setting."""
    import warnings

    from qiskit_ibm_runtime import SamplerV2
    from qiskit_ibm_runtime.fake_provider import FakeGuadalupeV2

    problem = molecule_problem(MoleculeSpec(atom=NITROGEN, basis="sto-3g", frozen_core=True))
    reference = casci_reference(problem).energy
    options = {"simulator": {"seed_simulator": sampling_seed}}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sampler = SamplerV2(mode=FakeGuadalupeV2(), options=options)
        bitstrings = sample_configurations(problem, lucj_operator(problem), shots, sampling_seed, sampler)
    sampling = time.perf_counter() - start
    kept = postselected(problem, bitstrings)
    valid = len(kept)
    strings = distinct_spin_strings(problem, kept)  # what dropping reaches
    matched = (
        f"same, max_dim {strings} (dropping's strings), carryover 0.05",
        _wide(max_dim=strings, carryover_threshold=0.05),
    )
    rows = []
    for label, settings in (*NOISY_SETTINGS, matched):
        row: dict = {"shots": shots, "valid": f"{valid} ({valid / shots:.1%})", "settings": label}
        for recovery in (True, False):
            runs = [
                diagonalize(problem, bitstrings, settings.model_copy(update={"recovery": recovery}), seed)
                for seed in range(seeds)
            ]
            errors = [(run.energy - reference) * 1000 for run in runs]
            dimension = np.mean([max(run.subspace_dimensions) for run in runs])
            name = "recovered" if recovery else "dropped"
            row[f"{name} mHa"] = f"{np.mean(errors):.2f} +- {np.std(errors):.2f}"
            row[f"{name} dim"] = f"{dimension:,.0f}"
        row["sampling s"] = sampling
        rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    """A markdown table of rows with the same keys."""
    columns = list(rows[0])
    print("\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in rows:
        cells = [
            f"{value:.1f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else value
            for value in row.values()
        ]
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orbitals", type=int, nargs="+", default=[8, 10, 12, 16])
    parser.add_argument("--shots", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--timeout", type=float, default=300.0, help="per sampling run, s")
    parser.add_argument("--section", choices=("scaling", "noisy", "all"), default="all")
    parser.add_argument("--noisy-shots", type=int, nargs="+", default=[200, 400])
    parser.add_argument("--seeds", type=int, default=5, help="subsampling seeds per noisy setting")
    args = parser.parse_args()
    if args.section in ("scaling", "all"):
        rows = []
        for norb in args.orbitals:
            rows.append(benchmark_row(norb, args.shots, args.seed, args.timeout))
            print(" | ".join(f"{key}: {value}" for key, value in rows[-1].items()), flush=True)
        print_table(rows)
    if args.section in ("noisy", "all"):
        rows = []
        for shots in args.noisy_shots:
            for row in noisy_rows(shots, args.seeds, args.seed):
                rows.append(row)
                print(" | ".join(f"{key}: {value}" for key, value in row.items()), flush=True)
        print_table(rows)


if __name__ == "__main__":
    main()
