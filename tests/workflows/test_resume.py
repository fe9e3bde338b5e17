"""Resume after SIGKILL: `qcflow screen` killed midway recomputes no finished batch and loses no result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

N_CANDIDATES = 40
BATCH_SIZE = 4
KILL_AFTER_BATCHES = 2
# The surrogate gives the same number for the same structure in the same batch; allow float32 round-off.
ENERGY_TOLERANCE = 1e-5  # eV/atom


def write_candidates(folder: Path) -> list[Path]:
    """40 CIFs: strained 16-atom supercells of the bundled rocksalt NaCl, LiF and NaF (+-2 % in volume)."""
    from materials.candidates import bundled_candidates

    wanted = {"NaCl", "LiF", "NaF"}
    prototypes = [c for c in bundled_candidates() if c.structure.composition.reduced_formula in wanted]
    assert len(prototypes) == len(wanted)
    folder.mkdir(parents=True)
    paths = []
    for index in range(N_CANDIDATES):
        prototype = prototypes[index % len(prototypes)]
        structure = prototype.structure * (2, 2, 2)
        structure.scale_lattice(structure.volume * (0.98 + 0.04 * index / N_CANDIDATES))
        path = folder / f"{index:02d}-{structure.composition.reduced_formula}.cif"
        structure.to(filename=str(path))
        paths.append(path)
    return paths


def persisted_surrogate_sources(results: Path) -> set[str]:
    """Sources whose surrogate energy is in a complete, readable result file (one file per batch)."""
    sources: set[str] = set()
    for path in results.glob("*"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):  # being written right now
            continue
        payload = record.get("result") if isinstance(record, dict) else None
        if not isinstance(payload, str) or "SurrogateEnergy" not in payload:
            continue
        sources.update(item["data"]["source"] for item in json.loads(payload))
    return sources


def screen_command(folder: Path, out: Path, task_runner: str) -> list[str]:
    return [
        sys.executable, "-m", "workflows.cli", "screen", str(folder), "--task-runner", task_runner,
        "--batch-size", str(BATCH_SIZE), "--shortlist", "0", "--out", str(out),
    ]  # fmt: skip


def kill_midway(command: list[str], env: dict[str, str], results: Path, log: Path) -> set[str]:
    """Start the run in its own process group, SIGKILL the whole group once some batches are persisted."""
    with log.open("w") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 600
        while len(persisted_surrogate_sources(results)) < KILL_AFTER_BATCHES * BATCH_SIZE:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"run ended or stalled before it could be killed:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)  # the CLI and its embedded Prefect server alike
        assert process.wait(timeout=60) == -signal.SIGKILL
    for _ in range(100):  # the group is gone (nothing holds the SQLite database any more)
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("processes of the killed run are still alive")
    return persisted_surrogate_sources(results)


@pytest.mark.slow
@pytest.mark.parametrize("task_runner", ["threads", "dask"])
def test_screening_killed_midway_resumes_from_its_finished_batches(
    prefect_api: None, tmp_path: Path, task_runner: str
) -> None:
    """On the flow's threads and on a Dask LocalCluster of processes (killed with the run: the whole group)."""
    from config.settings import get_settings
    from workflows.execution.caching import with_result_storage
    from workflows.screening.flow import materials_screening

    folder = tmp_path / "candidates"
    paths = write_candidates(folder)
    clean = with_result_storage(materials_screening)(
        candidate_paths=[str(folder)], shortlist_size=0, batch_size=BATCH_SIZE
    )
    clean_by_source = {c.source: c for c in clean.candidates}
    assert len(clean_by_source) == N_CANDIDATES and not any(c.from_cache for c in clean.candidates)

    results = tmp_path / "results"
    (tmp_path / "prefect").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(
        QCFLOW_HOME=str(get_settings().paths.home),  # shares the elemental reference cache with the clean run
        QCFLOW_RESULTS_DIR=str(results),
        QCFLOW_PROGRESS_BAR="false",
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    finished = kill_midway(
        screen_command(folder, tmp_path / "killed.json", task_runner), env, results, tmp_path / "killed.log"
    )
    assert KILL_AFTER_BATCHES * BATCH_SIZE <= len(finished) < N_CANDIDATES
    assert len(finished) % BATCH_SIZE == 0  # whole batches, never part of one
    assert not (tmp_path / "killed.json").exists()

    resumed = subprocess.run(
        screen_command(folder, tmp_path / "resumed.json", task_runner),
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    records = json.loads((tmp_path / "resumed.json").read_text())["candidates"]
    assert sorted(r["source"] for r in records) == sorted(str(p) for p in paths)
    assert {r["source"] for r in records if r["from_cache"]} == finished  # finished batches: not recomputed
    assert persisted_surrogate_sources(results) == set(clean_by_source)  # nothing lost
    for record in records:
        clean_record = clean_by_source[record["source"]]
        assert record["status"] == "ok", record
        for field in ("energy_per_atom", "formation_energy_per_atom", "energy_above_hull"):
            assert record[field] == pytest.approx(getattr(clean_record, field), abs=ENERGY_TOLERANCE), field
