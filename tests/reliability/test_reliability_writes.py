"""Writes are whole or not at all, and a report that cannot be saved is printed, never lost (issue 16).

A full disk is a 64 KiB tmpfs (mounting needs root); without root a child process under RLIMIT_FSIZE stands in
(its writes past the limit fail with EFBIG). A read-only folder is a read-only tmpfs, or chmod without root.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from config.files import write_atomically
from workflows.terminal import WRITE_FAILED, write_json

REPO = Path(__file__).resolve().parents[2]


class Report(BaseModel):
    """A stand-in for a flow's report: 200 KiB of JSON, larger than the full disk."""

    values: list[float]


BIG = Report(values=[i / 7 for i in range(10_000)])


def _mount(folder: Path, options: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    return done.returncode == 0


@contextlib.contextmanager
def full_disk(folder: Path) -> Iterator[bool]:
    """A 64 KiB file system at `folder` (True), or nothing mounted (False: use RLIMIT_FSIZE instead)."""
    mounted = _mount(folder, "size=64k")
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=False)


def _under_fsize_limit(code: str, limit: int = 16_384) -> subprocess.CompletedProcess[str]:
    """Run Python code in a child whose files cannot grow past `limit` bytes (EFBIG instead of SIGXFSZ)."""
    prelude = (
        "import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True
    )


def test_out_on_a_full_disk_keeps_the_old_file_and_prints_the_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tally: object
) -> None:
    disk = tmp_path / "disk"
    with full_disk(disk) as mounted:
        out = disk / "results.json"
        out.write_text('{"earlier": "results"}')
        if mounted:
            status = write_json(BIG, out, "screen")
            printed, error = capsys.readouterr()
        else:
            child = _under_fsize_limit(
                f"""
                import sys; from tests.reliability.test_reliability_writes import BIG, write_json
                from pathlib import Path; sys.exit(write_json(BIG, Path({str(out)!r}), "screen"))
                """
            )
            status, printed, error = child.returncode, child.stdout, child.stderr
        kept = out.read_text() == '{"earlier": "results"}'
        leftovers = [p.name for p in disk.iterdir() if p.name != "results.json"]
    on_stdout = Report.model_validate_json(printed[printed.index("{") :]) == BIG
    survived = status == WRITE_FAILED and kept and on_stdout and not leftovers
    tally.fault("--out on a full disk", survived=survived)
    assert survived, (status, kept, leftovers, error)
    assert f"could not be written to {out}" in error and "printed above as JSON" in error


def test_out_in_a_read_only_folder_keeps_the_old_file_and_prints_the_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tally: object
) -> None:
    folder = tmp_path / "read-only"
    mounted = _mount(folder, "size=1m")
    out = folder / "results.json"
    out.write_text('{"earlier": "results"}')
    try:
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        else:
            folder.chmod(0o555)
        status = write_json(BIG, out, "climate")
        printed, error = capsys.readouterr()
        kept = out.read_text() == '{"earlier": "results"}'
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=False)
        else:
            folder.chmod(0o755)
    on_stdout = Report.model_validate_json(printed[printed.index("{") :]) == BIG
    survived = status == WRITE_FAILED and kept and on_stdout
    tally.fault("--out in a read-only folder", survived=survived)
    assert survived, error


WRITER = """
import sys
from pathlib import Path
from config.files import write_atomically
path, tag = Path(sys.argv[1]), sys.argv[2]
n = 0
while True:
    n += 1
    write_atomically(path, '{"writer": "%s", "n": %d, "pad": "%s"}' % (tag, n, "x" * 200_000))
"""


def _valid(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return len(data["pad"]) == 200_000


def test_kill_9_mid_write_never_leaves_a_torn_file(tmp_path: Path, tally: object) -> None:
    """A writer killed at random points (eight times): the file is always one whole version."""
    target = tmp_path / "state.json"
    write_atomically(target, json.dumps({"writer": "first", "n": 0, "pad": "x" * 200_000}))
    rng = random.Random(16)
    whole = []
    for attempt in range(8):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target), f"w{attempt}"], cwd=REPO)
        time.sleep(0.5 + rng.random())  # python start-up, then somewhere inside a write
        writer.kill()
        writer.wait()
        whole.append(_valid(target))
    survived = all(whole)
    tally.fault("kill -9 of a writer at 8 random points", survived=survived)
    assert survived, whole


def test_two_writers_at_once_never_tear_the_file(tmp_path: Path, tally: object) -> None:
    """Two processes replace one file as fast as they can while a reader checks it: every read is whole."""
    target = tmp_path / "results.json"
    write_atomically(target, json.dumps({"writer": "first", "n": 0, "pad": "x" * 200_000}))
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(target), tag], cwd=REPO) for tag in ("a", "b")
    ]
    reads = []
    try:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            reads.append(_valid(target))
    finally:
        for writer in writers:
            writer.kill()
            writer.wait()
    survived = all(reads) and len(reads) > 10
    tally.fault("two writers of one file at once", survived=survived)
    assert survived, f"{reads.count(False)} of {len(reads)} reads were torn"


def test_a_failed_write_leaves_no_temporary_file_and_raises(tmp_path: Path, tally: object) -> None:
    disk = tmp_path / "disk"
    with full_disk(disk) as mounted:
        if not mounted:
            pytest.skip("mounting a tmpfs needs root; the RLIMIT_FSIZE case above covers a full disk")
        with pytest.raises(OSError):
            write_atomically(disk / "big.bin", b"\0" * 200_000)
        clean = list(disk.iterdir()) == []
    tally.fault("atomic write on a full disk: no temporary file left", survived=clean)
    assert clean
