"""Timed MPS trials: run a segment's circuits with Aer's MPS method, bond dimension capped, to measure its cost.

How much an MPS run costs depends on the entanglement a circuit really builds, which no static bound captures for
non-Clifford circuits. Below the cap, the trial is an exact simulation, so its time is the method's own on this
machine and the broker's MPS estimate becomes a measurement (`tightened_by_trial`). A trial that hits the cap is
repeated with a 4x larger cap while the time budget allows; one still capped is evidence too: its time scaled by
the growth measured between the last two caps (or chi^3) is the MPS time, and where it held the cap on only some
cuts, the bond dimension is taken as at most 4x the cap; where it saturated most cuts, the circuit entangles widely
and the structural bound stands for memory.
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

from quantum.cost.aer_time import TIME_CONSTANTS
from quantum.cost.gate_sets import circuit_operations
from quantum.cost.mps_bounds import mps_shot_work
from quantum.cost.profiles import CircuitProfile, sampled_once
from quantum.executors import aer_circuit_preparer, warm_up

logger = logging.getLogger(__name__)

# Seconds all trials of one placement may take together (the broker should answer in seconds at any width).
TRIAL_BUDGET_SECONDS = 2.0
# Largest cap a repeated trial uses, and the factor between caps (time grows up to factor^3 per step).
MAX_TRIAL_CAP = 256
CAP_GROWTH = 4
# What a capped trial costs before it runs: Aer moves distant qubits together by swaps, each a contraction and an
# SVD at the bond dimension. Measured here (Aer 0.18.2, 2 cores under load): 3e-4 s per swap at a cap of 16
# (QAOA on 3-regular graphs, 60-200 qubits: 1.2-18.5 s), 57x that at 64; 2e-5 s per instruction besides.
SWAP_SECONDS_AT_CAP_16 = 3e-4
INSTRUCTION_SECONDS = 2e-5
# A capped trial whose final state holds the cap on at least this share of the cuts that can reach it is
# saturated: the circuit entangles everywhere, and no bounded growth can be assumed.
SATURATED_SHARE = 0.5
# Shots a trial times for circuits Aer runs shot by shot (every shot re-runs the gates).
SHOT_BY_SHOT_TRIAL_SHOTS = 40
# Sampling runs shorter than this are timed twice (the faster counts); longer ones once.
SHORT_RUN_SECONDS = 0.05


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


def mps_trial(
    circuits: Sequence[QuantumCircuit],
    cap: int = 16,
    shots: int = 0,
    budget_seconds: float = TRIAL_BUDGET_SECONDS,
) -> MpsTrial | None:
    """Run the circuits as MPS with the bond dimension capped at `cap`, timed, and read the final bonds.

    The cap bounds the trial's cost by n x gates x cap^3. With `shots` > 1 a second run samples that many
    shots of the measured circuits to time the sampling (a tenth of them only, where all would exceed
    `budget_seconds`). Returns None for circuits with unbound parameters or when Aer refuses the trial (its
    memory check ignores the cap).
    """
    from qiskit_aer import AerSimulator

    if any(circuit.num_parameters for circuit in circuits):
        return None
    simulator = AerSimulator(method="matrix_product_state", matrix_product_state_max_bond_dimension=cap)
    warm_up(simulator)
    prepared = [aer_circuit_preparer("matrix_product_state")(circuit) for circuit in circuits]
    trials = []
    for circuit in prepared:
        trial = without_final_measurements(circuit)
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
            left = budget_seconds - seconds
            sampling = None if largest >= cap else _sampling_times(prepared, shots, seconds, left)
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


def without_final_measurements(circuit: QuantumCircuit) -> QuantumCircuit:
    """The circuit without the measurements that end it (qiskit's remove_final_measurements took 2.8 s of a 3.3 s
    trial at 1,100 qubits): a measurement is final when nothing but measurements and barriers follows on its qubit.
    Classical bits stay, so control flow on earlier outcomes still reads them."""
    dropped: set[int] = set()
    untouched = set(circuit.qubits)  # qubits with nothing but measurements and barriers after this point
    for position in range(len(circuit.data) - 1, -1, -1):
        instruction = circuit.data[position]
        if instruction.name == "measure" and instruction.qubits[0] in untouched:
            dropped.add(position)
        elif instruction.name != "barrier":
            untouched -= set(instruction.qubits)
    trimmed = circuit.copy_empty_like()
    for position, instruction in enumerate(circuit.data):
        if position not in dropped:
            trimmed._append(instruction)
    return trimmed


def _sampling_times(
    circuits: list[QuantumCircuit], shots: int, gates_seconds: float, budget_seconds: float
) -> tuple[float, float, int] | None:
    """(seconds of a run of shots/10 shots, seconds per further shot, shots/10): the faster of two timed MPS runs
    of each count after a warm-up, since load only ever adds time (one of each where a run takes a while)."""
    from qiskit_aer import AerSimulator

    measured = [c for c in circuits if any(i.operation.name == "measure" for i in c.data)]
    if not all(sampled_once(c) for c in measured):  # every shot re-runs the gates: a few tell the cost
        shots = min(shots, SHOT_BY_SHOT_TRIAL_SHOTS)
    if shots < 20 or not measured:
        return None
    simulator = AerSimulator(method="matrix_product_state")
    warm_up(simulator)
    first = _timed(simulator, measured, shots // 10)
    if (
        first * 10 > budget_seconds - first
    ):  # all the shots would not fit: the tenth and the gates tell the rate
        return first, max(first - gates_seconds, 0.0) / (shots // 10), shots // 10
    repeats = 2 if first < SHORT_RUN_SECONDS else 1  # a long run is timed once: noise matters less there
    few = min([first] + [_timed(simulator, measured, shots // 10) for _ in range(repeats - 1)])
    full = min(_timed(simulator, measured, shots) for _ in range(repeats))
    return few, max(full - few, 0.0) / (shots - shots // 10), shots // 10


def _timed(simulator: Any, circuits: list[QuantumCircuit], shots: int) -> float:
    started = time.perf_counter()
    simulator.run(circuits, shots=shots).result()
    return time.perf_counter() - started


def predicted_trial_seconds(circuits: Sequence[QuantumCircuit], cap: int) -> float:
    """What an MPS trial capped at `cap` costs at most, before running it: a swap per qubit a gate spans, each
    at the cap's bond dimension (chi^3), plus a set-up per instruction."""
    swaps = instructions = 0
    for circuit in circuits:
        for operation in circuit_operations(circuit):
            instructions += 1
            if len(operation.qubits) >= 2:
                swaps += max(operation.qubits) - min(operation.qubits)
    return swaps * SWAP_SECONDS_AT_CAP_16 * (cap / 16) ** 3 + instructions * INSTRUCTION_SECONDS


def escalated_trials(
    circuits: Sequence[QuantumCircuit], cap: int, shots: int, budget_seconds: float
) -> list[tuple[int, MpsTrial]]:
    """(cap, trial) of each trial run: the first at `cap`, then, while it hits the cap, at CAP_GROWTH times the
    cap, as long as the worst case (time x CAP_GROWTH^3) fits in what is left of the budget. Empty when even the
    first would exceed the budget or Aer refuses it."""
    if predicted_trial_seconds(circuits, cap) > budget_seconds:
        return []
    trials: list[tuple[int, MpsTrial]] = []
    while True:
        trial = mps_trial(circuits, cap, shots, budget_seconds - sum(done.seconds for _, done in trials))
        if trial is None:
            return trials
        trials.append((cap, trial))
        left = budget_seconds - sum(done.seconds for _, done in trials)  # Aer's one-off start-up not counted
        if not trial.capped or cap * CAP_GROWTH > MAX_TRIAL_CAP or trial.seconds * CAP_GROWTH**3 > left:
            return trials
        cap *= CAP_GROWTH


def tightened_by_trial(
    circuits: Sequence[QuantumCircuit],
    profile: CircuitProfile,
    cap: int = 16,
    shots: int = 0,
    budget_seconds: float = TRIAL_BUDGET_SECONDS,
) -> tuple[CircuitProfile, str] | None:
    """The profile with the MPS bond bounds and times MPS trials measured (or extrapolated from capped ones), and a
    note; None when no trial fits the budget or Aer refuses it."""
    trials = escalated_trials(circuits, cap, shots, budget_seconds)
    if not trials:
        return None
    last_cap, trial = trials[-1]
    if trial.capped:
        return _extrapolated(profile, trials)
    # One bit of margin: the trial saw the final state, not every step on the way.
    tightened = [
        min(bound, seen + 1)
        for bound, seen in zip(profile.bond_dimension_log2, trial.bond_log2, strict=False)
    ]
    tightened += profile.bond_dimension_log2[len(tightened) :]
    note = (
        f"an MPS trial (bond dimension capped at {last_cap}) ended at bond dimension {trial.max_bond} in "
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


def saturated(trial: MpsTrial, cap: int) -> bool:
    """Whether a capped trial's final state holds the cap on most cuts that can reach it (2^min(k, n-k) >= cap)."""
    n = len(trial.bond_log2) + 1
    cap_log2 = math.log2(cap)
    reachable = [b for k, b in enumerate(trial.bond_log2) if min(k + 1, n - k - 1) >= cap_log2]
    return bool(reachable) and sum(b >= cap_log2 for b in reachable) >= SATURATED_SHARE * len(reachable)


def _extrapolated(profile: CircuitProfile, trials: list[tuple[int, MpsTrial]]) -> tuple[CircuitProfile, str]:
    """An estimate from capped trials: the cap is a lower bound on the bond dimension, and the time grows by the
    factor measured between the last two caps (CAP_GROWTH^3, chi^3, with one trial). Where the last trial held the
    cap on only some cuts, the bond dimension is assumed to grow at most CAP_GROWTH-fold; where it saturated most
    cuts, the structural bound stands for memory and the time is at least the extrapolated one."""
    cap, trial = trials[-1]
    growth = float(CAP_GROWTH**3)
    if len(trials) > 1:
        growth = min(max(trial.seconds / max(trials[-2][1].seconds, 1e-9), 1.0), growth)
    seconds = trial.seconds * growth
    caps = ", ".join(str(c) for c, _ in trials)
    if saturated(trial, cap):
        bonds = profile.bond_dimension_log2
        note = (
            f"MPS trials hit their bond-dimension cap ({caps}) on most cuts, in {trial.seconds:.3g} s at {cap}: the "
            f"circuit entangles widely; MPS estimates keep the structural bound 2^{profile.max_bond_dimension_log2} "
            f"and take at least {seconds:.3g} s for the gates, {growth:.3g}x the last trial"
        )
    else:
        ceiling = int(math.log2(cap * CAP_GROWTH))
        bonds = [min(bound, ceiling) for bound in profile.bond_dimension_log2]
        note = (
            f"MPS trials hit their bond-dimension cap ({caps}) on some cuts only, in {trial.seconds:.3g} s at {cap}: "
            f"MPS estimates assume a bond dimension of at most {2**ceiling} there (structural bound "
            f"2^{profile.max_bond_dimension_log2}) and {seconds:.3g} s for the gates, {growth:.3g}x the last trial"
        )
    shot_work = mps_shot_work(bonds, profile.num_qubits)
    constants = TIME_CONSTANTS["matrix_product_state"]
    per_shot = constants["shot"] * profile.num_qubits + constants["shotchi"] * min(shot_work, 1e250)
    update = {
        "bond_dimension_log2": bonds,
        "mps_shot_work": shot_work,
        "mps_trial_seconds": seconds,
        "mps_trial_seconds_per_shot": per_shot,
        "mps_trial_shots": 0,
    }
    return profile.model_copy(update=update), note
