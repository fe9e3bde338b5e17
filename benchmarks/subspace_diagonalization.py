"""Time and peak memory of SQD's classical segments, to fit `classical.cost.subspace_cost_model`'s constants.

Run: nice -n 19 .venv/bin/python benchmarks/subspace_diagonalization.py

Molecule: N2/6-31G at 1.1 Å, RHF, (10e, K) active spaces over the lowest orbitals above the 2 core orbitals.
- selected CI (qiskit-addon-sqd's `solve_sci_batch`, one batch): the k lowest CI strings per spin (by the sum of
  their occupied orbital indices, near Hartree-Fock as SQD's subspaces are), dimension k^2;
- CASCI (pyscf `fci.direct_spin1`, every determinant, as for an FCIDUMP; molecules use the point group and run
  faster).
Every run is a fresh process with one OpenMP thread (OMP_NUM_THREADS=1), so its peak resident memory (VmHWM) minus
its resident memory before the solve is the solve's own, and its CPU seconds are one core's whatever else runs on
the machine. Each solve runs twice in its process: the first call pays pyscf's and the library's one-off set-up.
Prints one line per run: what, K, dimension, wall and CPU seconds of both calls, MiB, and CPU-us per determinant
per connection (singles_alpha x singles_beta, n(K - n) each, the number a determinant's doubles scale with).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time

NITROGEN = "N 0 0 0; N 0 0 1.1"  # r_e 1.098 Å (NIST CCCBDB), rounded


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _integrals(norb: int) -> tuple:
    from pyscf import gto, mcscf, scf

    mol = gto.M(atom=NITROGEN, basis="6-31g", verbose=0)
    mf = scf.RHF(mol).run()
    cas = mcscf.CASCI(mf, norb, 10)
    one_body, _ = cas.get_h1eff()
    two_body = cas.get_h2eff()
    from pyscf import ao2mo

    return one_body, ao2mo.restore(1, two_body, norb)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run(what: str, norb: int, k: int, queue: multiprocessing.Queue) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    import numpy as np
    from pyscf import fci
    from pyscf.fci import cistring
    from qiskit_addon_sqd.fermion import solve_sci_batch

    one_body, two_body = _integrals(norb)
    strings = np.asarray(cistring.make_strings(range(norb), 5), dtype=np.int64)
    order = np.argsort([sum(p for p in range(norb) if s >> p & 1) for s in strings], kind="stable")
    chosen = np.sort(strings[order[:k]]) if what == "sci" else strings
    before = _status_kib("VmRSS")
    times = []
    for _ in range(2):
        start, cpu = time.perf_counter(), _cpu_seconds()
        if what == "sci":
            solve_sci_batch([(chosen, chosen)], one_body, two_body, norb, (5, 5))
        else:
            fci.direct_spin1.FCI().kernel(one_body, two_body, norb, (5, 5))
        times += [time.perf_counter() - start, _cpu_seconds() - cpu]
    queue.put((len(chosen) ** 2, times, (_status_kib("VmHWM") - before) * 1024))


def main() -> None:
    runs = [("sci", norb, k) for norb in (12, 16) for k in (100, 200, 300)]
    runs += [("casci", norb, 0) for norb in (10, 11, 12)]
    context = multiprocessing.get_context("spawn")
    for what, norb, k in runs:
        queue = context.Queue()
        process = context.Process(target=_run, args=(what, norb, k, queue))
        process.start()
        dimension, (wall1, cpu1, wall2, cpu2), peak = queue.get()
        process.join()
        connections = (5 * (norb - 5)) ** 2
        print(
            f"{what:5s} K={norb:2d} dim={dimension:>9,} first {wall1:6.2f} s ({cpu1:6.2f} CPU-s), "
            f"second {wall2:6.2f} s ({cpu2:6.2f} CPU-s), {peak / 2**20:7.1f} MiB, {peak / dimension:6.1f} B/det, "
            f"{cpu2 / dimension / connections * 1e9:6.2f} CPU-ns/det/connection",
            flush=True,
        )


if __name__ == "__main__":
    main()
