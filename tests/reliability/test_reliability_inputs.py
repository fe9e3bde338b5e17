"""Bad input on every `qcflow` command is refused before any work: exit status 2 (3: a placement refused), one
message that names the flag or file and the value, and no traceback (issue 16, "messages a user cannot act on")."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from config.settings import settings_override
from workflows.cli import main

BELL = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
)
PARAMETRISED = 'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float theta;\nqubit[1] q;\nrz(theta) q[0];\n'


def _files(root: Path) -> dict[str, Path]:
    """Tiny real files, good and bad, that the cases below name by key."""
    (root / "empty-folder").mkdir()
    (root / "notes-only").mkdir()
    (root / "notes-only" / "notes.txt").write_text("not a structure\n")
    files = {
        "bell": BELL,
        "parametrised": PARAMETRISED,
        "empty": "",
        "no-qubits": 'OPENQASM 2.0;\ninclude "qelib1.inc";\n',
        "qasm2-syntax": "OPENQASM 2.0;\nqreg q[2];\nfoo q[0];\n",
        "qasm3-syntax": 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0]\ncx q[0], q[1];\n',
        "policy-bad-json": '{"objective": "cost",',
        "policy-misspelt": '{"deadline": 60}',
    }
    paths = {name: root / f"{name}.qasm" for name in files}
    for name, text in files.items():
        paths[name].write_text(text)
    paths["latin1"] = root / "latin1.qasm"
    paths["latin1"].write_bytes("OPENQASM 2.0;\n// café\nqreg q[1];\n".encode("latin-1"))
    paths["binary"] = root / "binary.qasm"
    paths["binary"].write_bytes(bytes(range(256)) * 4)
    paths["nul"] = root / "nul.qasm"
    paths["nul"].write_bytes(BELL.encode().replace(b"h q[0];", b"h q[0];\x00\x00"))
    paths["policy-binary"] = root / "policy.json"
    paths["policy-binary"].write_bytes(b"\xff\xfe{\x00}\x00")
    paths["root"] = root
    return paths


def _cases(f: dict[str, Path]) -> list[tuple[str, list[str], str]]:
    """(name, argv, text the message must contain): the flag, the file or the value."""
    root = f["root"]
    bell = str(f["bell"])
    return [
        ("screen: empty folder", ["screen", str(root / "empty-folder")], "holds no CIF"),
        ("screen: folder of notes", ["screen", str(root / "notes-only")], "notes-only holds no CIF"),
        ("screen: missing file", ["screen", str(root / "nope.cif")], "nope.cif does not exist"),
        ("screen: --shortlist -1", ["screen", "--shortlist", "-1"], "--shortlist"),
        ("screen: --shortlist 99", ["screen", "--shortlist", "99"], "--shortlist"),
        ("screen: --shortlist abc", ["screen", "--shortlist", "abc"], "--shortlist"),
        ("screen: --hull-threshold nan", ["screen", "--hull-threshold", "nan"], "--hull-threshold"),
        ("screen: --hull-threshold inf", ["screen", "--hull-threshold", "inf"], "--hull-threshold"),
        ("screen: --hull-threshold -0.5", ["screen", "--hull-threshold", "-0.5"], "--hull-threshold"),
        ("screen: --active-orbitals 0", ["screen", "--active-orbitals", "0"], "--active-orbitals"),
        ("screen: --active-orbitals 21", ["screen", "--active-orbitals", "21"], "--active-orbitals"),
        (
            "screen: VQE on 7 orbitals",
            ["screen", "--quantum-method", "vqe", "--active-orbitals", "7"],
            "--quantum-method",
        ),
        ("screen: odd electrons", ["screen", "--active-electrons", "3"], "--active-electrons=3 must be even"),
        (
            "screen: electrons fill the orbitals",
            ["screen", "--active-electrons", "4", "--active-orbitals", "2"],
            "raise --active-orbitals to 3",
        ),
        ("screen: --batch-size 0", ["screen", "--batch-size", "0"], "--batch-size"),
        ("screen: --batch-size 1e3", ["screen", "--batch-size", "1e3"], "--batch-size"),
        ("screen: --batch-size 5000", ["screen", "--batch-size", "5000"], "--batch-size"),
        ("screen: --out a folder", ["screen", "--out", str(root)], "is a folder"),
        ("screen: --out under a file", ["screen", "--out", f"{bell}/x.json"], "cannot write in"),
        ("climate: --members 0", ["climate", "--members", "0"], "--members"),
        ("climate: --members 1e11", ["climate", "--members", "100000000000"], "--members"),
        ("climate: --members abc", ["climate", "--members", "abc"], "--members"),
        ("climate: unknown scenario", ["climate", "--scenario", "ssp999"], "ssp999"),
        ("climate: scenario not a CSV", ["climate", "--scenario", str(f["empty"])], "--scenario"),
        ("climate: --budget -1", ["climate", "--budget", "-1"], "--budget"),
        ("climate: --budget nan", ["climate", "--budget", "nan"], "--budget"),
        ("climate: --budget inf", ["climate", "--budget", "inf"], "--budget"),
        ("climate: --layers 0", ["climate", "--layers", "0"], "--layers"),
        ("climate: --shots 0", ["climate", "--shots", "0"], "--shots"),
        ("climate: unknown option", ["climate", "--option", "magic trees"], "magic trees"),
        ("climate: --seed -1", ["climate", "--seed", "-1"], "--seed"),
        ("climate: --seed 2**70", ["climate", "--seed", str(2**70)], "2**63 - 1"),
        ("climate: --seed abc", ["climate", "--seed", "abc"], "--seed"),
        ("climate: --out a folder", ["climate", "--out", str(root)], "is a folder"),
        ("place: missing circuit", ["place", str(root / "nope.qasm")], "nope.qasm' is not a file"),
        ("place: a folder as circuit", ["place", str(root)], "is not a file"),
        ("place: empty file", ["place", str(f["empty"])], "declares no qubits"),
        ("place: no qubits", ["place", str(f["no-qubits"])], "declares no qubits"),
        ("place: QASM 2 syntax error", ["place", str(f["qasm2-syntax"])], "qasm2-syntax.qasm' is not valid"),
        ("place: QASM 3 syntax error", ["place", str(f["qasm3-syntax"])], "line 5"),
        ("place: latin-1 file", ["place", str(f["latin1"])], "latin1.qasm' is not UTF-8"),
        ("place: binary file", ["place", str(f["binary"])], "binary.qasm' is not UTF-8"),
        ("place: NUL bytes in QASM", ["place", str(f["nul"])], "nul.qasm"),
        ("place: --shots 0", ["place", bell, "--shots", "0"], "shots='0'"),
        ("place: --shots -5", ["place", bell, "--shots", "-5"], "shots='-5'"),
        ("place: --shots 1.5", ["place", bell, "--shots", "1.5"], "shots='1.5'"),
        ("place: 10**10 shots", ["place", bell, "--shots", str(10**10)], "shots"),
        ("place: --policy word", ["place", bell, "--policy", "fastest"], "'fastest' is not an objective"),
        (
            "place: --policy missing file",
            ["place", bell, "--policy", "p.json"],
            "'p.json' is not an existing file",
        ),
        ("place: --policy folder", ["place", bell, "--policy", str(root)], "is a folder"),
        ("place: --policy bad JSON", ["place", bell, "--policy", "{bad"], "inline JSON"),
        ("place: --policy list", ["place", bell, "--policy", "[]"], "not a valid Policy"),
        ("place: --policy objective", ["place", bell, "--policy", '{"objective": "speed"}'], "'speed'"),
        ("place: --policy misspelt", ["place", bell, "--policy", '{"deadline": 1}'], "deadline_seconds"),
        (
            "place: --policy negative",
            ["place", bell, "--policy", '{"deadline_seconds": -1}'],
            "deadline_seconds",
        ),
        (
            "place: --policy torn file",
            ["place", bell, "--policy", str(f["policy-bad-json"])],
            "policy-bad-json",
        ),
        ("place: --policy binary file", ["place", bell, "--policy", str(f["policy-binary"])], "not UTF-8"),
        ("place: --policy file misspelt", ["place", bell, "--policy", str(f["policy-misspelt"])], "deadline"),
        (
            "place: impossible deadline",
            ["place", bell, "--policy", '{"deadline_seconds": 1e-9}'],
            "deadline",
        ),
        ("run-circuit: unbound parameter", ["run-circuit", str(f["parametrised"]), "--shots", "10"], "theta"),
        ("run-circuit: --seed -1", ["run-circuit", bell, "--shots", "10", "--seed", "-1"], "--seed"),
        ("run-circuit: --seed 2**70", ["run-circuit", bell, "--shots", "10", "--seed", str(2**70)], "2**63"),
        ("run-circuit: --seed abc", ["run-circuit", bell, "--shots", "10", "--seed", "abc"], "--seed"),
        ("run-circuit: no --shots", ["run-circuit", bell], "--shots"),
        ("run-circuit: binary file", ["run-circuit", str(f["binary"]), "--shots", "10"], "binary.qasm"),
        ("unknown command", ["scren"], "invalid choice: 'scren'"),
    ]


def _outcome(argv: list[str]) -> tuple[int | str, str]:
    """Exit status (or the exception that escaped) and the message of one in-process `qcflow` call: stderr, or
    stdout for a placement refusal (exit status 3)."""
    err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            status: int | str = main(argv)
    except SystemExit as exit_:  # argparse's refusals
        status = exit_.code if isinstance(exit_.code, int) else 1
    except Exception as error:  # a traceback the user would have seen
        status = f"{type(error).__name__}: {error}"
    if status == 3:  # a placement refused: `place` prints the refusal and its reasons on stdout
        return status, out.getvalue()
    return status, err.getvalue()


@pytest.fixture
def no_flow_may_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused command must not get as far as running its flow: running one fails the case."""

    def must_not_run(*args: object) -> None:
        raise RuntimeError("the command started its flow instead of refusing the input")

    monkeypatch.setattr("workflows.cli.run_flow", must_not_run)


def _clear(status: int | str, error: str, mentions: str) -> bool:
    lines = [line for line in error.strip().splitlines() if not line.startswith(("usage:", " "))]
    return (
        status in (2, 3)
        and "Traceback" not in error
        and mentions in error
        and bool(lines)
        and (lines[-1].startswith(("qcflow", "refused:")) or "error: argument" in lines[-1])
    )


def test_bad_inputs_are_refused_clearly(tmp_path: Path, no_flow_may_start: None, tally: object) -> None:
    cases = _cases(_files(tmp_path))
    unclear = []
    for name, argv, mentions in cases:
        status, error = _outcome(argv)
        clear = _clear(status, error, mentions)
        traceback = isinstance(status, str) or "Traceback" in error
        tally.input(name, clear=clear, traceback=traceback)
        if not clear:
            unclear.append(f"{name}: status {status}, stderr {error.strip()[-300:]!r}")
    assert len(cases) >= 40
    assert not unclear, "\n".join(unclear)


@pytest.mark.parametrize(
    ("variable", "value", "mentions"),
    [
        ("QCFLOW_BATCH_SIZE", "0", "QCFLOW_BATCH_SIZE"),
        ("QCFLOW_BATCH_SIZE", "many", "QCFLOW_BATCH_SIZE"),
        ("QCFLOW_SURROGATE", "dft", "QCFLOW_SURROGATE='dft' is unknown"),
        ("QCFLOW_MEMORY_HEADROOM", "2", "QCFLOW_MEMORY_HEADROOM"),
    ],
)
def test_bad_settings_are_refused_naming_the_variable(
    variable: str,
    value: str,
    mentions: str,
    monkeypatch: pytest.MonkeyPatch,
    no_flow_may_start: None,
    tally: object,
) -> None:
    monkeypatch.setenv(variable, value)
    with settings_override():  # re-read with the bad variable, as a fresh process would
        status, error = _outcome(["screen"])
    clear = _clear(status, error, mentions)
    tally.input(f"environment: {variable}={value}", clear=clear, traceback=isinstance(status, str))
    assert clear, error


def test_a_placement_for_any_width_is_an_answer(tmp_path: Path, tally: object) -> None:
    """600 qubits (past 2.0 ** qubits in a float): a placement or a refusal, never an OverflowError."""
    wide = tmp_path / "wide.qasm"
    gates = "".join(f"cx q[{i}],q[{i + 1}];\n" for i in range(599))
    wide.write_text(f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[600];\nh q[0];\n{gates}')
    status, error = _outcome(["place", str(wide)])
    answered = status in (0, 3) and "Traceback" not in error
    tally.input("place: 600-qubit GHZ", clear=answered, traceback=isinstance(status, str))
    assert answered, (status, error)
