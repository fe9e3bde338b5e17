"""Time estimates for running a profiled segment with each Aer simulation method.

Time follows a small linear model per method whose constants live in `TIME_CONSTANTS` below, fitted by
`python benchmarks/broker.py calibrate` and corrected at run time by execution records. For MPS, whose cost
depends on the entanglement a circuit really builds, the broker can time a capped trial on the circuit itself and
the estimate then uses that measurement instead of the model. The memory estimates are in
`quantum.cost.aer_memory`, both joined per method in `quantum.cost.aer_estimates`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quantum.cost.aer_memory import capped_power_of_two, extended_stabilizer_states
from quantum.cost.profiles import CircuitProfile

if TYPE_CHECKING:
    from quantum.cost.aer_estimates import AerMethod

# Every time feature is capped here, so an estimate stays finite at any width (see `aer_memory.MAX_LOG2`).
MAX_FEATURE = 1e250

# Seconds. Fitted by `python benchmarks/broker.py calibrate` (non-negative least squares on relative error; Aer
# 0.18.2 AerSimulator.run after a warm-up run, fastest of up to five, 100-10,000 shots, 2 cores otherwise idle,
# 4-150 qubits: GHZ, random Clifford, graph states, Bernstein-Vazirani, EfficientSU2, quantum volume, QAOA;
# 2026-11-30). Each term is a cost per unit of `time_features`:
# - "call" per primitive call, "circuit" per circuit x parameter set, "gate" per gate (Aer's per-instruction cost);
# - "gate1"/"gate2"/"gatem" per gate x amplitude ("gate2d" diagonal two-qubit gates, "gate2u" dense ones), "sync"
#   per gate when Aer runs OpenMP threads, "gaten" per gate x qubit;
# - "gate2chi" per two-qubit gate x bond-dimension bound, "work" per unit of exact MPS work (chi^3 per contraction);
# - "shot" per shot x qubit ("shotx" the same for exact MPS bonds, "shotent": x entangled cut, "shotchi": x sum of
#   chi^2, "shotn2": x qubit^2, "shotdet": x deterministic outcome x qubit^2);
# - "term" per Pauli term x sweep, "trial" per second an MPS trial measured on the circuit itself.
# Median fit errors: statevector 6 %, density matrix 5 %, MPS 10 %, stabilizer 4 %, extended stabilizer 19 %.
# Timings depend on load and machine, which execution records then correct.
TIME_CONSTANTS: dict[str, dict[str, float]] = {
    "statevector": {"call": 0.0, "circuit": 0.00171, "gate": 2.14e-05, "gate1": 8.94e-10, "gate2": 1.32e-09,
                    "gate2d": 1.68e-09, "gate2u": 2.68e-09, "gatem": 4.4e-9, "sync": 1.03e-05, "shot": 9.2e-08,
                    "term": 1.0e-9},
    "density_matrix": {"call": 0.00195, "circuit": 0.0, "gate": 2.48e-05, "gate1": 2.7e-09, "gate2": 2.02e-09,
                       "gate2d": 3.36e-09, "gate2u": 7.88e-09, "gatem": 1.3e-8, "sync": 3.4e-05, "shot": 4.9e-08,
                       "term": 1.0e-9},
    "matrix_product_state": {"call": 0.0, "circuit": 0.00175, "gate": 2.14e-05, "gate2chi": 5.44e-06,
                             "work": 2.06e-09, "shot": 2.03e-06, "shotx": 2.54e-07, "shotent": 1.33e-06,
                             "shotchi": 1.56e-08, "term": 3.0e-6, "trial": 1.0},
    "stabilizer": {"call": 0.0, "circuit": 0.0015, "gate": 1.28e-05, "gaten": 6.99e-08, "shot": 1.53e-07,
                   "shotn2": 2.49e-09, "shotdet": 1.34e-10, "term": 1.19e-8},
    # Statevector with fusion off, fitted on such runs of circuits where `fusion_may_slow` (12 runs, median error
    # 22 %); sampling and Pauli terms cost what they cost fused (`model_constants`).
    "statevector_unfused": {"call": 0.0, "circuit": 0.000725, "gate": 4.22e-05, "amp": 5.58e-10},
    "extended_stabilizer": {"call": 0.00164, "circuit": 0.0, "gate": 1.16e-14, "shot": 3.11e-12, "term": 0.0},
}  # fmt: skip
# Circuits Aer runs shot by shot (mid-circuit measurement, reset, classical control, noise): each instruction is set
# up once per run, then every shot re-runs the gates. Per-shot costs measured here (Aer 0.18.2, 2 cores under
# load, counterfeit-coin circuits of 10-151 qubits with QASM 2 `if` on the register, 1-100 shots): stabilizer
# 12-21 ns per gate x qubit; MPS about 10 us per gate plus 0.3 us per unit of MPS work (chi^3 per swap or
# contraction); statevector 4.7 ns per amplitude per gate or measurement (14-18 qubits). Aer's Python compiler
# inlines control flow once per circuit, at about 18 us per control-flow instruction x classical bit (151 qubits:
# 0.82 s whatever the method). The per-shot sampling terms stay as fitted above.
SHOT_BY_SHOT_CONSTANTS: dict[str, dict[str, float]] = {
    "statevector": {"trajamp": 4.7e-9},
    "statevector_unfused": {"trajamp": 4.7e-9},
    "density_matrix": {"trajamp": 4.7e-9},
    "matrix_product_state": {"trajgate": 1.0e-5, "trajwork": 3.1e-7},
    "stabilizer": {"trajgaten": 1.7e-8},
    "extended_stabilizer": {},
}
CONTROL_FLOW_SECONDS_PER_BIT = 1.8e-5
# Statevector time in single vs double precision: Aer 0.18.2 here, 1,000 shots, 20-22 qubits: quantum volume 1.24x,
# QAOA 1.13x, EfficientSU2 0.90x (single is no faster: it is chosen to fit in memory, never for speed).
SINGLE_PRECISION_TIME = 1.1
# Cores the constants were measured with; the amplitude-parallel part scales with cores beyond that.
CALIBRATION_CORES = 2
# Aer runs statevector/density-matrix gates on one thread below 14 qubits (AerSimulator option
# `statevector_parallel_threshold`, default 14).
PARALLEL_THRESHOLD_QUBITS = 14
# Aer fuses statevector gates into blocks of up to 5 qubits from 14 qubits on (options `fusion_threshold`,
# `fusion_max_qubit`). Fused blocks are dense matrices: that saves sweeps over the state where gates need a dense
# matrix anyway, and costs time where nearly all gates have a sparse kernel (gate_sets.SPARSE_KERNEL_GATES).
# Measured here (Aer 0.18.2, 2 cores, 1,000 shots): QFT of GHZ and GHZ (about 90 % such gates) ran 1.03-3.3x faster
# unfused at 14-24 qubits; QAOA (rzz, rx), EfficientSU2 and graph states (40-60 % dense gates) ran up to 1.5x
# slower unfused at 18-24 qubits, and QAOA on complete graphs (rzz only) 2-2.4x slower.
FUSION_THRESHOLD_QUBITS = 14
FUSION_OFF_MAX_DENSE_SHARE = 0.25


def _parallel_speedup(state_qubits: int, cores: int) -> float:
    if state_qubits < PARALLEL_THRESHOLD_QUBITS:
        return 1.0
    return max(cores, 1) / CALIBRATION_CORES


def _expectation_terms(profile: CircuitProfile) -> int:
    return profile.pauli_terms if profile.primitive == "estimator" else 0


def _shots(profile: CircuitProfile) -> int:
    return (profile.shots or 0) if profile.primitive == "sampler" else 0


def time_features(
    profile: CircuitProfile,
    method: AerMethod,
    cores: int = CALIBRATION_CORES,
    precision: str = "double",
    fusion: bool = True,
) -> dict[str, float]:
    """Units of work per term of the time model; seconds = sum of model_constants(time_model(...))[k] * features[k].

    Statevector and density matrix sweep the whole state (2^n or 4^n amplitudes) per gate and per Pauli term;
    MPS costs chi^3 per two-qubit gate (profile.mps_gate_work) and sum(chi^2) per shot or term; the stabilizer
    tableau costs n per gate and n^2 per measured shot or term; the extended stabilizer multiplies by its states.
    """
    features = {"call": 1.0, "circuit": float(_runs(profile))}
    model = time_model(profile, method, fusion)
    if method == "matrix_product_state" and profile.mps_trial_seconds is not None:
        return _capped(_mps_trial_features(profile))  # measured here on these circuits: no model needed
    if model == "statevector_unfused":
        features |= _unfused_statevector_features(profile, cores, precision)
    elif method in ("statevector", "density_matrix"):
        features |= _dense_state_features(profile, method, cores, precision)
    elif method == "matrix_product_state":
        features |= _mps_features(profile)
    elif method == "stabilizer":
        features |= _stabilizer_features(profile)
    else:
        return _capped(features | _extended_stabilizer_features(profile))
    features["cflow"] = float(profile.control_flow_ops * profile.num_clbits * profile.parameter_sets)
    return _capped(features | _shot_by_shot_features(profile, method))


def _capped(features: dict[str, float]) -> dict[str, float]:
    """Every feature finite and at most MAX_FEATURE (a product of huge factors overflows to inf, inf * 0 is nan)."""
    return {key: value if value <= MAX_FEATURE else MAX_FEATURE for key, value in features.items()}


def _runs(profile: CircuitProfile) -> int:
    return profile.num_circuits * profile.parameter_sets


def _trajectories(profile: CircuitProfile, method: AerMethod | None = None) -> int:
    """Runs of the circuit: one per shot when noisy (Aer's trajectories; a density matrix holds the noise itself)
    or when shots cannot all be sampled from one final state (mid-circuit measurement, reset, classical control);
    else one."""
    noisy_trajectories = profile.noisy and method != "density_matrix"
    per_shot = noisy_trajectories or not profile.sampled_once
    return profile.shots if (per_shot and profile.shots) else 1


def _shot_by_shot_features(profile: CircuitProfile, method: AerMethod) -> dict[str, float]:
    """What every shot of a circuit run shot by shot costs on top of one run of its gates (SHOT_BY_SHOT_CONSTANTS):
    the gates again on a fresh state, and for the statevector and density matrix each measurement's sweep."""
    trajectories = _trajectories(profile, method)
    if trajectories <= 1:
        return {}
    repeats = float(trajectories * profile.parameter_sets)
    n = profile.num_qubits
    if method in ("statevector", "density_matrix"):
        amplitudes = capped_power_of_two(n if method == "statevector" else 2 * n)
        return {"trajamp": amplitudes * (profile.gates + profile.measurements) * repeats}
    if method == "matrix_product_state":
        exact = profile.bond_dimension_exact
        chi_cubed = capped_power_of_two(3 * profile.max_bond_dimension_log2)
        work = profile.mps_gate_work if exact else profile.two_qubit_gates * profile.max_gate_span * chi_cubed
        return {"trajgate": profile.gates * repeats, "trajwork": min(work, MAX_FEATURE) * repeats}
    return {"trajgaten": profile.gates * n * repeats}


def _sweep_scale(state_qubits: int, cores: int, precision: str) -> float:
    """Amplitudes one sweep of the state touches, weighted by precision and divided by the threads' speed-up."""
    precision_factor = SINGLE_PRECISION_TIME if precision == "single" else 1.0
    return capped_power_of_two(state_qubits) * precision_factor / _parallel_speedup(state_qubits, cores)


def _dense_state_features(
    profile: CircuitProfile, method: AerMethod, cores: int, precision: str
) -> dict[str, float]:
    """Statevector or density matrix: every gate and Pauli term sweeps the 2^n or 4^n amplitudes."""
    n = profile.num_qubits
    runs = _runs(profile)
    state_qubits = n if method == "statevector" else 2 * n  # a density matrix holds 4^n = 2^(2n) amplitudes
    scale = _sweep_scale(state_qubits, cores, precision)
    sweeps = profile.parameter_sets  # one run of the gates; shot by shot, each further shot costs its own
    controlled = profile.two_qubit_gates - profile.diagonal_two_qubit_gates - profile.dense_two_qubit_gates
    threaded = 1.0 if state_qubits >= PARALLEL_THRESHOLD_QUBITS and cores > 1 else 0.0
    return {
        "gate": float(profile.gates * sweeps),
        "gate1": scale * profile.one_qubit_gates * sweeps,
        "gate2": scale * controlled * sweeps,
        "gate2d": scale * profile.diagonal_two_qubit_gates * sweeps,
        "gate2u": scale * profile.dense_two_qubit_gates * sweeps,
        "gatem": scale * profile.multi_qubit_gates * sweeps,
        "sync": threaded * profile.gates * sweeps,
        "shot": float(_shots(profile) * n * runs),
        "term": scale * _expectation_terms(profile) * runs,
    }


def _unfused_statevector_features(profile: CircuitProfile, cores: int, precision: str) -> dict[str, float]:
    """Statevector gates applied one by one (nearly all with a sparse kernel): a sweep of the state per gate."""
    n = profile.num_qubits
    scale = _sweep_scale(n, cores, precision)
    sweeps = profile.parameter_sets
    return {
        "gate": float(profile.gates * sweeps),
        "amp": scale * profile.gates * sweeps,
        "shot": float(_shots(profile) * n * _runs(profile)),
        "term": scale * _expectation_terms(profile) * _runs(profile),
    }


def _mps_trial_features(profile: CircuitProfile) -> dict[str, float]:
    """MPS measured here on these circuits (`quantum.cost.mps_trial`): the trial's time, scaled to the shots.

    A trial that timed shots of a circuit Aer runs shot by shot measured every shot's run of the gates already;
    only noise (absent from the trial) then adds a run of the gates per shot."""
    extra_shots = max(_shots(profile) - profile.mps_trial_shots, 0)
    measured = profile.mps_trial_seconds + extra_shots * profile.mps_trial_seconds_per_shot  # type: ignore[operator]
    timed_shot_by_shot = profile.mps_trial_shots > 0 and not profile.sampled_once
    trajectories = 1 if timed_shot_by_shot else _trajectories(profile, "matrix_product_state")
    return {
        "trial": measured * profile.parameter_sets * trajectories,
        "term": _expectation_terms(profile) * profile.mps_shot_work * _runs(profile),
    }


def _mps_features(profile: CircuitProfile) -> dict[str, float]:
    """MPS from the profile: the exact work of a Clifford circuit, else the bond-dimension bound."""
    n = profile.num_qubits
    runs, shots = _runs(profile), _shots(profile)
    chi = 2.0 ** min(profile.max_bond_dimension_log2, 40)
    sweeps = profile.parameter_sets
    exact = profile.bond_dimension_exact  # Clifford: the work itself is known, not only a bound on chi
    # Sampling a shot measures qubit by qubit; where a bond is 1 nothing propagates to the neighbours.
    entangled_cuts = sum(b > 0 for b in profile.bond_dimension_log2) if exact else 0
    return {
        "gate": float(profile.gates * sweeps),
        "gate2chi": 0.0 if exact else profile.two_qubit_gates * chi * sweeps,
        "work": profile.mps_gate_work * sweeps if exact else 0.0,
        "shot": 0.0 if exact else float(shots * n * runs),
        "shotx": float(shots * n * runs) if exact else 0.0,
        "shotent": float(shots * entangled_cuts * runs),
        "shotchi": shots * (profile.mps_shot_work - n) * runs if exact else 0.0,
        "term": _expectation_terms(profile) * profile.mps_shot_work * runs,
    }


def _stabilizer_features(profile: CircuitProfile) -> dict[str, float]:
    """Aer measures the tableau shot by shot; a fixed outcome costs a sweep of n rows of 2n bits, a random one
    only the rows that anticommute (Aaronson & Gottesman, PRA 70, 052328 (2004))."""
    n = profile.num_qubits
    runs, shots = _runs(profile), _shots(profile)
    deterministic = n if profile.deterministic_outcomes is None else profile.deterministic_outcomes
    sweeps = profile.parameter_sets
    return {
        "gate": float(profile.gates * sweeps),
        "gaten": float(profile.gates * n * sweeps),
        "shot": float(shots * n * runs),
        "shotn2": float(shots * n * n * runs),
        "shotdet": float(shots * deterministic * n * n * runs),
        "term": float(_expectation_terms(profile) * n * n * runs),
    }


def _extended_stabilizer_features(profile: CircuitProfile) -> dict[str, float]:
    """The extended stabilizer runs every gate on each of its stabilizer states, once per shot."""
    n = profile.num_qubits
    shots = _shots(profile)
    states = float(extended_stabilizer_states(profile))
    return {
        "gate": profile.gates * n * n * states * profile.parameter_sets * max(shots, 1),
        "shot": shots * n * n * states * _runs(profile),
        "term": 0.0,
    }


def seconds(
    profile: CircuitProfile,
    method: AerMethod,
    cores: int = CALIBRATION_CORES,
    precision: str = "double",
    fusion: bool = True,
) -> float:
    """Estimated wall seconds of one primitive call that runs every circuit and parameter set with `method`
    (for statevector, with Aer's gate fusion on or off)."""
    constants = model_constants(time_model(profile, method, fusion))
    features = time_features(profile, method, cores, precision, fusion)
    return sum(constants[key] * value for key, value in features.items())


def time_model(profile: CircuitProfile, method: AerMethod, fusion: bool = True) -> str:
    """The key of the method's constants in TIME_CONSTANTS. Statevector without fusion has its own, fitted only on
    circuits where `fusion_may_slow` (the only ones the broker runs unfused); elsewhere the fused model stands."""
    unfused = method == "statevector" and not fusion and fusion_may_slow(profile)
    return "statevector_unfused" if unfused else method


def model_constants(model: str) -> dict[str, float]:
    """A time model's constants. Statevector without fusion samples shots and measures Pauli terms as the fused
    one does, so it takes those two constants from it; costs of shot-by-shot runs and of control flow are shared
    (SHOT_BY_SHOT_CONSTANTS, CONTROL_FLOW_SECONDS_PER_BIT)."""
    shared = {"cflow": CONTROL_FLOW_SECONDS_PER_BIT} | SHOT_BY_SHOT_CONSTANTS[model]
    if model == "statevector_unfused":
        shared |= {key: TIME_CONSTANTS["statevector"][key] for key in ("shot", "term")}
    return shared | TIME_CONSTANTS[model]


def fusion_may_slow(profile: CircuitProfile) -> bool:
    """Whether Aer's gate fusion slows the statevector run: wide enough for Aer to fuse, and nearly every gate
    has a sparse kernel that a fused dense block would replace (the broker then runs it with fusion off)."""
    dense = profile.gates - profile.sparse_kernel_gates
    return profile.num_qubits >= FUSION_THRESHOLD_QUBITS and dense <= FUSION_OFF_MAX_DENSE_SHARE * max(
        profile.gates, 1
    )
