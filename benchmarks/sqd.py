"""SQD segments for growing active spaces: sampling on ffsim vs Aer statevector vs Aer MPS (time, peak memory),
diagonalization time, and the error against CASCI, with and without the singles enlargement.

Run: .venv/bin/python benchmarks/sqd.py [--orbitals 8 10 12 16] [--shots 20000] [--timeout 300]

Molecule: N2/6-31G at 1.1 Å, frozen core, (10e, K) active spaces; K = 16 is the issue's 32-qubit case. Every
sampling run is a fresh process, so its peak resident memory (VmHWM, imports included) is its own; a run over
--timeout seconds is stopped and reported as such. Aer's statevector is refused, without running, where its
2^(2K) x 16 B vector exceeds half the available memory. CASCI uses the point group (pyscf direct_spin1_symm).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from quantum.chemistry.active_space import MoleculeSpec, casci_reference, molecule_problem
from quantum.chemistry.sqd import SQDSettings, diagonalize, lucj_operator, sample_configurations

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orbitals", type=int, nargs="+", default=[8, 10, 12, 16])
    parser.add_argument("--shots", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--timeout", type=float, default=300.0, help="per sampling run, s")
    args = parser.parse_args()
    rows = []
    for norb in args.orbitals:
        rows.append(benchmark_row(norb, args.shots, args.seed, args.timeout))
        print(" | ".join(f"{key}: {value}" for key, value in rows[-1].items()), flush=True)
    columns = list(rows[0])
    print("\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in rows:
        cells = [
            f"{value:.1f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else value
            for value in row.values()
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
