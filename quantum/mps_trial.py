"""Timed MPS trials: run a segment's circuits with Aer's MPS method, bond dimension capped, to measure its cost.

How much an MPS run costs depends on the entanglement a circuit really builds, which no static bound captures for
non-Clifford circuits. Below the cap, the trial is an exact simulation, so its time is the method's own on this
machine and the broker's MPS estimate becomes a measurement (`tightened_by_trial`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from qiskit import QuantumCircuit

from quantum.executors import aer_circuit_preparer, warm_up
from quantum.mps_bounds import mps_shot_work
from quantum.profiles import CircuitProfile

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MpsTrial:
    """A capped MPS run of a segment's circuits: the final bond dimensions and what the method costs here.

    Below the cap the trial was an exact MPS simulation, so its times are the method's own on this machine,
    whatever the structural bound says: `seconds` is a run of `timed_shots` shots (0: one unmeasured shot, the
    gates alone) and `seconds_per_shot` the cost of each further shot.
    """

    bond_log2: list[int]
    max_bond: int
    capped: bool
    seconds: float
    seconds_per_shot: float = 0.0
    timed_shots: int = 0


@contextlib.contextmanager
def _aer_failures_quiet() -> Iterator[None]:
    """Aer logs a warning for every failed run; a trial that Aer refuses is expected and handled."""
    aer_logger = logging.getLogger("qiskit_aer.backends.aerbackend")
    level = aer_logger.level
    aer_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        aer_logger.setLevel(level)


def mps_trial(circuits: Sequence[QuantumCircuit], cap: int = 16, shots: int = 0) -> MpsTrial | None:
    """Run the circuits as MPS with the bond dimension capped at `cap`, timed, and read the final bonds.

    The cap bounds the trial's cost by n x gates x cap^3. With `shots` > 1 a second run samples that many
    shots of the measured circuits to time the sampling. Returns None for circuits with unbound parameters
    or when Aer refuses the trial (its memory check ignores the cap).
    """
    from qiskit_aer import AerSimulator

    if any(circuit.num_parameters for circuit in circuits):
        return None
    simulator = AerSimulator(method="matrix_product_state", matrix_product_state_max_bond_dimension=cap)
    warm_up(simulator)
    prepared = [aer_circuit_preparer("matrix_product_state")(circuit) for circuit in circuits]
    trials = []
    for circuit in prepared:
        trial = circuit.remove_final_measurements(inplace=False)
        trial.save_matrix_product_state(label="trial")
        trials.append(trial)
    with _aer_failures_quiet():
        try:
            started = time.perf_counter()
            result = simulator.run(trials, shots=1).result()
            seconds = time.perf_counter() - started
            bonds = [[len(values) for values in result.data(i)["trial"][1]] for i in range(len(trials))]
            largest = max((b for bond in bonds for b in bond), default=1)
            # Sampling is timed only below the cap, where no truncation happened (Aer 0.18.2 can crash when
            # sampling a truncated MPS), and uncapped, which then costs the same.
            sampling = None if largest >= cap else _sampling_times(prepared, shots)
        except Exception as error:
            logger.info("MPS trial skipped: %s", str(error)[:200])
            return None
    if sampling is not None:
        seconds, per_shot, timed_shots = sampling
    else:
        per_shot, timed_shots = 0.0, 0
    return MpsTrial(
        bond_log2=[math.ceil(math.log2(max(b, 1))) for b in max(bonds, key=len)],
        max_bond=largest,
        capped=largest >= cap,
        seconds=seconds,
        seconds_per_shot=per_shot,
        timed_shots=timed_shots,
    )


def _sampling_times(circuits: list[QuantumCircuit], shots: int) -> tuple[float, float, int] | None:
    """(seconds of a run of shots/10 shots, seconds per further shot, shots/10): the faster of two timed MPS runs
    of each count after a warm-up, since load only ever adds time."""
    from qiskit_aer import AerSimulator

    measured = [c for c in circuits if any(i.operation.name == "measure" for i in c.data)]
    if shots < 20 or not measured:
        return None
    simulator = AerSimulator(method="matrix_product_state")
    warm_up(simulator)
    times = [min(_timed(simulator, measured, count) for _ in range(2)) for count in (shots // 10, shots)]
    return times[0], max(times[1] - times[0], 0.0) / (shots - shots // 10), shots // 10


def _timed(simulator: Any, circuits: list[QuantumCircuit], shots: int) -> float:
    started = time.perf_counter()
    simulator.run(circuits, shots=shots).result()
    return time.perf_counter() - started


def tightened_by_trial(
    circuits: Sequence[QuantumCircuit], profile: CircuitProfile, cap: int = 16, shots: int = 0
) -> tuple[CircuitProfile, str] | None:
    """The profile with the MPS bond bounds and times an MPS trial measured, and a note; None if it hit the cap."""
    trial = mps_trial(circuits, cap, shots)
    if trial is None or trial.capped:
        return None
    # One bit of margin: the trial saw the final state, not every step on the way.
    tightened = [
        min(bound, seen + 1)
        for bound, seen in zip(profile.bond_dimension_log2, trial.bond_log2, strict=False)
    ]
    tightened += profile.bond_dimension_log2[len(tightened) :]
    note = (
        f"an MPS trial (bond dimension capped at {cap}) ended at bond dimension {trial.max_bond} in "
        f"{trial.seconds:.3g} s"
        + (f" + {trial.seconds_per_shot * 1e3:.3g} ms per shot" if trial.seconds_per_shot else "")
        + (
            f": the structural bound 2^{profile.max_bond_dimension_log2} is loose"
            if profile.max_bond_dimension_log2 > math.log2(max(trial.max_bond, 1)) + 1
            else ""
        )
        + "; MPS estimates use the trial"
    )
    update = {
        "bond_dimension_log2": tightened,
        "mps_shot_work": mps_shot_work(tightened, profile.num_qubits),
        "mps_trial_seconds": trial.seconds,
        "mps_trial_seconds_per_shot": trial.seconds_per_shot,
        "mps_trial_shots": trial.timed_shots,
    }
    return profile.model_copy(update=update), note
