"""`qcflow resources / place / run-circuit`, called through their argparse handlers (no subprocess)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import settings_override
from workflows.broker_cli import add_broker_commands, load_circuit, parse_policy

GHZ_QASM2 = """OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
h q[0];
cx q[0],q[1];
cx q[1],q[2];
measure q -> c;
"""

GHZ_QASM3 = """OPENQASM 3.0;
include "stdgates.inc";
qubit[3] q;
bit[3] c;
h q[0];
cx q[0], q[1];
cx q[1], q[2];
c = measure q;
"""


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="qcflow")
    add_broker_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status = args.handler(args)
    return status, capsys.readouterr().out


@pytest.fixture(autouse=True)
def records_home(tmp_path: Path) -> Iterator[None]:
    with settings_override(home=tmp_path / "home"):
        yield


@pytest.fixture
def ghz_files(tmp_path: Path) -> tuple[Path, Path]:
    two, three = tmp_path / "ghz2.qasm", tmp_path / "ghz3.qasm"
    two.write_text(GHZ_QASM2)
    three.write_text(GHZ_QASM3)
    return two, three


def test_qasm2_and_qasm3_give_the_same_circuit(ghz_files: tuple[Path, Path]) -> None:
    two, three = (load_circuit(p) for p in ghz_files)
    assert two.num_qubits == three.num_qubits == 3
    assert two.count_ops() == three.count_ops()


def test_bad_inputs_name_the_value_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a file"):
        load_circuit(tmp_path / "missing.qasm")
    broken = tmp_path / "broken.qasm"
    broken.write_text("OPENQASM 2.0;\nqreg q[2];\nfoo q[0];\n")
    with pytest.raises(ValueError, match="not valid OpenQASM"):
        load_circuit(broken)
    with pytest.raises(
        ValueError, match="'fastest' is not an objective; give one of time, cost, fidelity, energy"
    ):
        parse_policy("fastest")
    with pytest.raises(ValueError, match=r"'missing\.json' is not an existing file"):
        parse_policy("missing.json")  # not "Invalid JSON"
    (tmp_path / "latin1.qasm").write_bytes("OPENQASM 2.0;\n// caf\xe9\nqreg q[1];\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.qasm' is not UTF-8 text \(byte 0xe9 at offset 20\)"):
        load_circuit(tmp_path / "latin1.qasm")
    assert parse_policy('{"objective": "cost", "budget_usd": 1}').budget_usd == 1
    with pytest.raises(ValueError, match=r"deadline: Extra inputs are not permitted.*deadline_seconds"):
        parse_policy('{"deadline": 1}')  # a misspelt limit must not be silently ignored
    for text in ("", 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'):
        (tmp_path / "empty.qasm").write_text(text)
        with pytest.raises(ValueError, match="declares no qubits"):
            load_circuit(tmp_path / "empty.qasm")
    (tmp_path / "q3.qasm").write_text(GHZ_QASM3.replace("h q[0];", "h q[0]"))
    with pytest.raises(ValueError, match=r"line 6, column 1: unexpected 'cx'"):
        load_circuit(tmp_path / "q3.qasm")  # openqasm3's own error has no text


def test_resources_json_lists_the_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_cli(["resources", "--json"], capsys)
    assert status == 0
    names = [r["name"] for r in json.loads(out)["resources"]]
    assert "aer-cpu" in names


def test_place_json_has_the_documented_fields(
    ghz_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run_cli(["place", str(ghz_files[1]), "--json", "--policy", "time"], capsys)
    payload = json.loads(out)
    assert status == 0 and payload["refused"] is None
    for key in ("resource", "method", "estimated_seconds", "estimated_memory_bytes", "reasons", "runners_up"):
        assert key in payload
    assert payload["resource"] == "aer-cpu" and payload["runners_up"]


def test_place_refuses_an_impossible_deadline(
    ghz_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run_cli(
        ["place", str(ghz_files[0]), "--json", "--policy", '{"deadline_seconds": 1e-9}'], capsys
    )
    payload = json.loads(out)
    assert status == 3 and "a deadline of at least" in payload["refused"]
    # Only the limit is in the way: no advice the 3-qubit circuit already meets, no estimates of a non-choice.
    assert "qubits for statevector" not in payload["refused"] and "QPU" not in payload["refused"]
    assert payload["estimated_seconds"] is None and payload["options"] is None
    assert payload["runners_up"] and all(not e["feasible"] for e in payload["runners_up"])


def test_run_circuit_counts_and_records(
    ghz_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run_cli(
        ["run-circuit", str(ghz_files[0]), "--shots", "200", "--seed", "3", "--json"], capsys
    )
    payload = json.loads(out)
    assert status == 0
    assert sum(payload["counts"].values()) == 200
    assert set(payload["counts"]) <= {"000", "111"}  # an ideal GHZ state
    assert payload["measured_seconds"] > 0 and payload["placement"]["resource"] == "aer-cpu"
    records = (tmp_path / "home" / "execution_records.jsonl").read_text().splitlines()
    assert len(records) == 1 and json.loads(records[0])["succeeded"] is True


def test_run_circuit_on_a_fake_qpu(ghz_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    policy = '{"allowed_resources": ["fake_kolkata"], "qpu_mode": "session"}'
    argv = [
        "run-circuit",
        str(ghz_files[0]),
        "--shots",
        "300",
        "--fake-backends",
        "--policy",
        policy,
        "--json",
    ]
    status, out = run_cli(argv, capsys)
    payload = json.loads(out)
    assert status == 0 and payload["placement"]["device"] == "QPU"
    assert sum(payload["counts"].values()) == 300
    assert payload["record"]["what_if"] is True


def test_run_circuit_refuses_non_positive_shots_at_the_command_line(
    ghz_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["run-circuit", str(ghz_files[0]), "--shots", "0"], capsys)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "shots='0'; give a positive whole number such as 1000" in error and "Traceback" not in error


def test_run_circuit_keeps_the_joint_distribution_of_several_registers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A Bell pair measured into two one-bit registers: per-register tables (50/50 each) would hide that the
    # two bits always agree; the joint counts show only "0 0" and "1 1".
    qasm = tmp_path / "bell_two_registers.qasm"
    qasm.write_text(
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg a[1];\ncreg b[1];\n'
        "h q[0];\ncx q[0],q[1];\nmeasure q[0] -> a[0];\nmeasure q[1] -> b[0];\n"
    )
    status, out = run_cli(["run-circuit", str(qasm), "--shots", "400", "--seed", "5", "--json"], capsys)
    payload = json.loads(out)
    assert status == 0 and payload["registers"] == ["a", "b"]
    assert sum(payload["counts"].values()) == 400
    assert set(payload["counts"]) == {"00", "11"}  # joint outcomes: the bits agree on every shot
    assert set(payload["counts_by_register"]) == {"a", "b"}
