"""The lab path end to end: scripts/server.sh, a deployment run on the worker, the run in the Prefect UI (Chromium)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SERVER_SCRIPT = REPO / "scripts" / "server.sh"
PREFECT = Path(sys.executable).parent / "prefect"
ARTIFACT_KEYS = {"screening-candidates", "screening-shortlist", "placement-report", "surrogate-progress"}
# Chromium flags that work offline and headless here (docs/architecture.md, Operations).
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--virtual-time-budget=20000", "--window-size=1400,1000",
]  # fmt: skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs /usr/bin/chromium (Debian package `chromium`: apt-get install -y chromium; .ci/run does it)",
    ),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_candidates(folder: Path) -> None:
    """Three rocksalt crystals, lattice constants from experiment (rounded)."""
    folder.mkdir()
    for cation, anion, a in (("Li", "F", 4.03), ("Na", "Cl", 5.64), ("Na", "F", 4.63)):
        structure = Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]]
        )
        structure.to(filename=str(folder / f"{cation}{anion}.cif"))


def run(command: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def chromium(url: str, profile: Path, *extra: str) -> str:
    """Open `url` in headless Chromium with `extra` flags (--screenshot=..., --dump-dom); its stdout."""
    completed = subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


def assert_real_screenshot(path: Path) -> None:
    """A PNG of the window's size showing a rendered page: many colours, not one flat fill."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(path)
    assert pixels.shape[:2] == (1000, 1400)
    colours = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 100 and pixels[..., :3].std() > 0.05


def api_post(api: str, path: str, body: dict[str, Any]) -> Any:
    response = httpx.post(f"{api}{path}", json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def test_deployment_run_and_its_artifacts_in_the_prefect_ui(tmp_path: Path) -> None:
    from config.settings import get_settings

    home = get_settings().paths.home  # shares the elemental reference cache with the other tests
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "PREFECT_UI"))}
    env.update(
        QCFLOW_SERVER_DIR=str(tmp_path / "server"),
        QCFLOW_SERVER_PORT=str(port),
        QCFLOW_HOME=str(home),
        QCFLOW_RESULTS_DIR=str(tmp_path / "results"),
        PREFECT_WORKER_QUERY_SECONDS="2",
    )
    client_env = {**env, "PREFECT_API_URL": api, "PREFECT_HOME": str(tmp_path / "client")}
    write_candidates(tmp_path / "candidates")
    try:
        started = run(["bash", str(SERVER_SCRIPT)], env, timeout=480)
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"UI and API on http://127.0.0.1:{port}" in started.stdout
        again = run(["bash", str(SERVER_SCRIPT), "status"], env, timeout=60)
        assert "API answers" in again.stdout and "worker pid" in again.stdout

        nightly = [str(PREFECT), "deployment", "run", "materials-screening/nightly"]
        refused = run([*nightly, "--param", "shortlist_size=99"], client_env, timeout=120)
        assert refused.returncode != 0
        assert "shortlist_size" in refused.stdout and "maximum of 50" in refused.stdout
        candidates = f'candidate_paths=["{tmp_path / "candidates"}"]'
        screened = run(
            [*nightly, "--param", "shortlist_size=0", "--param", candidates, "--watch"],
            client_env,
            timeout=600,
        )
        assert screened.returncode == 0, screened.stdout[-3000:] + screened.stderr[-3000:]

        (flow_run,) = api_post(  # the screening run itself, not its surrogate-stage subflow run
            api,
            "/flow_runs/filter",
            {
                "flow_runs": {
                    "state": {"type": {"any_": ["COMPLETED"]}},
                    "parent_task_run_id": {"is_null_": True},
                }
            },
        )
        stage_runs = api_post(  # the surrogate stage is a subflow run: its progress artifact is its own
            api, "/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [flow_run["id"]]}}}
        )
        runs = [flow_run["id"], *(run["id"] for run in stage_runs)]
        artifacts = api_post(api, "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": runs}}})
        assert {a["key"] for a in artifacts} >= ARTIFACT_KEYS
        table = next(a for a in artifacts if a["key"] == "screening-candidates")

        profile = tmp_path / "chromium"
        ui = f"http://127.0.0.1:{port}"
        run_page = tmp_path / "flow-run.png"
        chromium(f"{ui}/runs/flow-run/{flow_run['id']}", profile, f"--screenshot={run_page}")
        assert_real_screenshot(run_page)
        run_dom = chromium(f"{ui}/runs/flow-run/{flow_run['id']}", profile, "--dump-dom")
        assert flow_run["name"] in run_dom and "Completed" in run_dom and "Oops" not in run_dom
        listing = chromium(f"{ui}/artifacts", profile, "--dump-dom")
        assert all(key in listing for key in ARTIFACT_KEYS)
        table_page = tmp_path / "candidates-table.png"
        chromium(f"{ui}/artifacts/artifact/{table['id']}", profile, f"--screenshot={table_page}")
        assert_real_screenshot(table_page)
        table_dom = chromium(f"{ui}/artifacts/artifact/{table['id']}", profile, "--dump-dom")
        assert all(formula in table_dom for formula in ("LiF", "NaCl", "NaF"))
    finally:
        stopped = run(["bash", str(SERVER_SCRIPT), "stop"], env, timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{api}/health", timeout=5)
