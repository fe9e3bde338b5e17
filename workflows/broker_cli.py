"""`qcflow resources`, `qcflow place` and `qcflow run-circuit`: the broker from the command line.

`add_broker_commands(subparsers)` registers the three commands on the `qcflow` parser; each handler returns the
exit status (0 done, 2 bad input, 3 refused or failed). The JSON of `place` carries at least `resource`, `method`,
`estimated_seconds`, `estimated_memory_bytes`, `reasons`, `runners_up`, and `refused` (a reason, or null).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from qiskit import QuantumCircuit

from broker.catalog import discover_catalog
from broker.fallback import ExecutionFailed
from broker.models import Placement, PlacementRefused, Policy, ResourceCatalog
from broker.place import place
from broker.records import ExecutionHistory
from config.settings import get_settings
from quantum.cost.aer_memory import human_bytes
from quantum.cost.profiles import QuantumSegment
from quantum.executors import sampler_for
from quantum.ibm.runtime import TOKEN_ENV_VAR
from workflows.execution.qpu_access import read_ibm_token, token_secret_block
from workflows.terminal import (
    MAX_SEED,
    prepare_embedded_prefect,
    refuse,
    seed_argument,
    start_embedded_api,
)

logger = logging.getLogger(__name__)
OBJECTIVES = ("time", "cost", "fidelity", "energy")


def load_circuit(path: Path) -> QuantumCircuit:
    """Read an OpenQASM 2 or 3 file (the version line decides; qasm3 import needs qiskit-qasm3-import)."""
    from qiskit import qasm2, qasm3

    if not path.is_file():
        raise ValueError(f"CIRCUIT {str(path)!r} is not a file; give the path of an OpenQASM 2 or 3 file")
    text = _read_text("CIRCUIT", path, "an OpenQASM 2 or 3 text file")
    header = next((line.strip() for line in text.splitlines() if line.strip().startswith("OPENQASM")), "")
    try:
        if header.startswith("OPENQASM 3"):
            circuit = qasm3.loads(text)
        else:
            circuit = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    except Exception as error:  # qiskit's QASM parsers raise several error types
        raise ValueError(
            f"CIRCUIT {str(path)!r} is not valid OpenQASM ({header or 'no OPENQASM line'}): "
            f"{str(error) or _parse_error_location(error)}"
        ) from error
    if circuit.num_qubits == 0:
        raise ValueError(f"CIRCUIT {str(path)!r} declares no qubits; give a file with a circuit in it")
    return circuit


def _read_text(what: str, path: Path, kind: str) -> str:
    """The file's text (UTF-8); an unreadable or binary file raises ValueError naming `what`, the file and the fix."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(
            f"{what} {str(path)!r} cannot be read ({error.strerror or error}); give {kind}"
        ) from error
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{what} {str(path)!r} is not UTF-8 text (byte {data[error.start]:#04x} at offset {error.start}); "
            f"give {kind} (a binary or differently encoded file? save it as UTF-8)"
        ) from error


def unbound_parameters_problem(circuit: QuantumCircuit, path: Path) -> str | None:
    """Why a circuit cannot be run as given: parameters without values (Aer would fail after placing it)."""
    if not circuit.parameters:
        return None
    names = sorted(p.name for p in circuit.parameters)
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return (
        f"CIRCUIT {str(path)!r} has {len(names)} parameter(s) without a value ({shown}); give them values in the "
        f"file (e.g. rz(0.5) q[0]; instead of rz({names[0]}) q[0];) to run it; `qcflow place` plans it as it is"
    )


def _parse_error_location(error: BaseException) -> str:
    """Where the OpenQASM 3 parser stopped: its own error carries no text, the ANTLR exception behind it does."""
    cause: BaseException | None = error
    while cause is not None:
        token = next((a.offendingToken for a in cause.args if getattr(a, "offendingToken", None)), None)
        if token is not None:
            return f"line {token.line}, column {token.column + 1}: unexpected {token.text!r} (a missing ';' before it?)"
        cause = cause.__cause__
    return type(error).__name__


def parse_policy(text: str | None) -> Policy:
    """A policy from an objective name ('time', 'cost', 'fidelity', 'energy'), inline JSON, or a JSON file."""
    if not text:
        return Policy()
    if text in OBJECTIVES:
        return Policy(objective=text)  # type: ignore[arg-type]
    example = 'e.g. \'{"objective": "cost", "deadline_seconds": 60}\''
    inline = text.lstrip().startswith(("{", "["))
    if not inline and Path(text).is_file():
        source, where = _read_text("--policy", Path(text), "a JSON file of a Policy"), f"the file {text!r}"
    elif not inline and (Path(text).suffix or "/" in text or Path(text).exists()):
        missing = "is a folder" if Path(text).is_dir() else "is not an existing file"
        raise ValueError(
            f"--policy {text!r} {missing}; give an objective ({', '.join(OBJECTIVES)}), a Policy JSON file that "
            f"exists, or inline JSON, {example}"
        )
    elif not inline:
        raise ValueError(
            f"--policy {text!r} is not an objective; give one of {', '.join(OBJECTIVES)}, a Policy JSON file, "
            f"or inline JSON, {example}"
        )
    else:
        source, where = text, "inline JSON"
    try:
        return Policy.model_validate_json(source)
    except ValidationError as error:
        problems = "; ".join(_policy_problem(e) for e in error.errors(include_url=False))
        raise ValueError(
            f"--policy {text[:200]!r} ({where}) is not a valid Policy ({problems}); "
            f"its fields are {', '.join(Policy.model_fields)}, {example}"
        ) from error


def _policy_problem(error: Any) -> str:
    """One pydantic error of a policy, with the value given (JSON syntax errors carry their position)."""
    field = ".".join(map(str, error["loc"])) or "policy"
    given = error.get("input")
    shown = "" if error["type"] == "json_invalid" or isinstance(given, dict | list) else f" (got {given!r})"
    return f"{field}: {error['msg']}{shown}"


def _catalog(args: argparse.Namespace) -> ResourceCatalog:
    """This machine, plus fake backends with --fake-backends, plus IBM QPUs only with --ibm (the token resolved as
    the flows resolve it, `read_ibm_token`, with --ibm-secret naming the Secret block instead of the settings)."""
    token = None
    if args.ibm:
        if token_secret_block(args.ibm_secret):
            prepare_embedded_prefect()  # a Secret block read starts Prefect's embedded API: keep its noise quiet
            if problem := start_embedded_api():  # dies with this process
                logger.warning("%s; the Prefect Secret block cannot be read", problem)
        token = read_ibm_token(args.ibm_secret)
    return discover_catalog(include_fake_backends=args.fake_backends, ibm_token=token, ibm=args.ibm)


def _history() -> ExecutionHistory:
    return ExecutionHistory(get_settings().paths.execution_records)


def _job_journal() -> Path:
    return get_settings().paths.qpu_jobs


def placement_json(placement: Placement) -> dict[str, Any]:
    """The JSON of `qcflow place`: the choice, its estimates, the reasons and the runners-up (a refusal has no
    choice: its resource, options and estimates are null, and every option considered is a runner-up)."""
    estimate, chosen = placement.estimate, not placement.refused
    return {
        "segment": placement.segment,
        "refused": placement.refused,
        "resource": placement.resource if chosen else None,
        "method": placement.method if chosen else None,
        "device": placement.device if chosen else None,
        "options": placement.options if chosen else None,
        "estimated_seconds": estimate.seconds if chosen else None,
        "estimated_memory_bytes": estimate.memory_bytes if chosen else None,
        "estimated_cost_usd": estimate.cost_usd if chosen else None,
        "estimated_fidelity": estimate.fidelity if chosen else None,
        "estimated_energy_joules": estimate.energy_joules if chosen else None,
        "reasons": placement.reasons,
        "runners_up": [e.model_dump(mode="json") for e in placement.runners_up],
    }


def place_circuit(
    circuit: QuantumCircuit, name: str, policy: Policy, catalog: ResourceCatalog, shots: int
) -> Placement:
    """Place one circuit as a sampler segment; a refusal comes back as the refused Placement."""
    segment = QuantumSegment(name, [circuit], "sampler", shots=shots)
    try:
        return place(segment, catalog, policy, history=_history())
    except PlacementRefused as refusal:
        return refusal.placement


def _print_placement(placement: Placement) -> None:
    if placement.refused:
        print(f"refused: {placement.refused}")
        return
    e = placement.estimate
    print(
        f"{placement.segment}: {placement.label()}  ~{e.seconds:.3g} s, {human_bytes(e.memory_bytes)}, "
        f"${e.cost_usd:.3g}, fidelity {e.fidelity:.3g}"
    )
    for reason in placement.reasons:
        print(f"  - {reason}")


def command_resources(args: argparse.Namespace) -> int:
    """List the resources the broker can place segments on."""
    catalog = _catalog(args)
    if args.json:
        print(json.dumps(catalog.model_dump(mode="json"), indent=2))
        return 0
    for r in catalog.resources:
        memory = f"{human_bytes(r.memory_free_bytes)} free of {human_bytes(r.memory_total_bytes)}"
        size = f"{r.max_qubits} qubits" if r.max_qubits else f"{r.cores} cores, {memory}"
        if r.kind == "classical":
            size = f"{r.executor}, up to {r.workers} workers on {r.cores} cores (load {r.load:.1f}), {memory}"
        note = " (fake backend: what-if estimates, runs locally)" if r.what_if else ""
        print(
            f"{r.name:16s} {r.device}  {size}; {', '.join(r.methods)}; ${r.price_per_second_usd:.3g}/s{note}"
        )
    return 0


def command_place(args: argparse.Namespace) -> int:
    """Place a circuit file and explain the choice."""
    try:
        circuit, policy = load_circuit(args.circuit), parse_policy(args.policy)
    except ValueError as error:
        return refuse("place", str(error))
    placement = place_circuit(circuit, args.circuit.stem, policy, _catalog(args), args.shots)
    if args.json:
        print(json.dumps(placement_json(placement), indent=2))
    else:
        _print_placement(placement)
    return 3 if placement.refused else 0


def command_run_circuit(args: argparse.Namespace) -> int:
    """Place a circuit, run it with the sampler (falling back on failure), print counts and timing."""
    try:
        circuit, policy = load_circuit(args.circuit), parse_policy(args.policy)
    except ValueError as error:
        return refuse("run-circuit", str(error))
    if problem := unbound_parameters_problem(circuit, args.circuit):
        return refuse("run-circuit", problem)
    if circuit.num_clbits == 0:
        circuit.measure_all()
    catalog = _catalog(args)
    placement = place_circuit(circuit, args.circuit.stem, policy, catalog, args.shots)
    if placement.refused:
        print(
            json.dumps(placement_json(placement), indent=2) if args.json else f"refused: {placement.refused}"
        )
        return 3

    journal = _job_journal()

    def prepare(p: Placement) -> Any:
        backend = catalog.backend(p.resource)
        return sampler_for(p, backend=backend, default_shots=args.shots, seed=args.seed, journal=journal)

    def run(sampler: Any) -> Any:
        return sampler.run([circuit], shots=args.shots).result()

    from workflows.execution.placed_runs import run_placed  # imports Prefect: only once a circuit is to run

    try:
        result, record, _ = run_placed(placement, run, prepare=prepare, history=_history())
    except ExecutionFailed as failure:
        print(f"qcflow run-circuit: {failure}", file=sys.stderr)
        return 3
    data = result[0].data
    registers = list(data)
    payload = {
        "counts": result[0].join_data().get_counts(),  # every register, one joint outcome per shot
        "registers": registers,
        "counts_by_register": {name: getattr(data, name).get_counts() for name in registers},
        "placement": placement_json(placement),
        "measured_seconds": record.measured_seconds,
        "record": record.model_dump(mode="json"),
    }
    if args.json:
        print(json.dumps(payload, indent=2))
        return 0
    _print_placement(placement)
    reattached = f"; re-attached to QPU job {record.job_id}, submitted by an earlier run"
    print(
        f"ran on {record.label()} in {record.measured_seconds:.3g} s"
        + (f" after falling back from {', '.join(record.fallbacks)}" if record.fallbacks else "")
        + (reattached if record.reattached else "")
    )
    if len(registers) > 1:
        print(f"joint outcomes, registers {' '.join(reversed(registers))} (left to right):")
    for bits, count in sorted(payload["counts"].items(), key=lambda kv: -kv[1])[:16]:
        print(f"  {bits}: {count}")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--fake-backends", action="store_true", help="add IBM fake backends (what-if QPUs)")
    parser.add_argument(
        "--ibm", action="store_true", help=f"add IBM QPUs (token: --ibm-secret, else ${TOKEN_ENV_VAR})"
    )
    parser.add_argument(
        "--ibm-secret",
        default=None,
        help=f"Prefect Secret block with the token (default: QCFLOW_QPU_TOKEN_SECRET_BLOCK, else ${TOKEN_ENV_VAR})",
    )


def _positive_shots(text: str) -> int:
    """argparse type for --shots: a positive whole number (argparse prints the message, exit status 2)."""
    try:
        shots = int(text)
    except ValueError:
        shots = 0
    if shots < 1:
        raise argparse.ArgumentTypeError(f"shots={text!r}; give a positive whole number such as 1000")
    return shots


def _circuit_args(parser: argparse.ArgumentParser, shots_default: int | None) -> None:
    parser.add_argument("circuit", type=Path, help="OpenQASM 2 or 3 file")
    parser.add_argument(
        "--policy", default=None, help="time|cost|fidelity|energy, or Policy JSON (inline or file)"
    )
    parser.add_argument(
        "--shots",
        type=_positive_shots,
        default=shots_default,
        required=shots_default is None,
        help="shots to sample" + (f" (default {shots_default})" if shots_default else ""),
    )


def add_broker_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `resources`, `place` and `run-circuit` on the qcflow parser."""
    resources = subparsers.add_parser("resources", help="list the resources the broker can use")
    _common(resources)
    resources.set_defaults(handler=command_resources)
    placer = subparsers.add_parser("place", help="show where a circuit would run, and why")
    _circuit_args(placer, 1024)
    _common(placer)
    placer.set_defaults(handler=command_place)
    runner = subparsers.add_parser("run-circuit", help="place a circuit, run it, print counts and timing")
    _circuit_args(runner, None)
    runner.add_argument(
        "--seed",
        type=seed_argument,
        default=None,
        help=f"simulator seed for reproducible counts (0 to {MAX_SEED})",
    )
    _common(runner)
    runner.set_defaults(handler=command_run_circuit)
