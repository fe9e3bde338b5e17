"""The one settings object: nested by concern, read from the flat QCFLOW_* variables through `get_settings`,
overridden for tests with `settings_override`, handed to worker processes as variables, checked before any command
starts work."""

from __future__ import annotations

import ast
import os
import threading
from pathlib import Path

import pytest

from config.settings import (
    SETTING_NAMES,
    QcflowSettings,
    get_settings,
    load_settings,
    settings_environment,
    settings_override,
)
from workflows.cli import main

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("broker", "classical", "climate", "materials", "quantum", "workflows", "benchmarks")
SETTINGS_CLASSES = {"QcflowSettings", "PathSettings", "ScreeningSettings", "SlurmSettings", "ClusterSettings"}
SETTINGS_CLASSES |= {"QpuSettings", "BrokerSettings"}


def test_each_variable_lands_in_its_group(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QCFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("QCFLOW_QPU_PRICE_PER_SECOND_USD", "2.5")
    monkeypatch.setenv("QCFLOW_MEMORY_HEADROOM", "0.5")
    monkeypatch.setenv("QCFLOW_BATCH_SIZE", "4")
    monkeypatch.setenv("QCFLOW_DASK_ADDRESS", "tcp://scheduler:8786")
    monkeypatch.setenv("QCFLOW_SLURM_QUEUE", "cpu")
    monkeypatch.setenv("QCFLOW_SLURM_CORES", "16")
    monkeypatch.setenv("QCFLOW_QPU_TOKEN_SECRET_BLOCK", "lab-token")
    monkeypatch.setenv("QCFLOW_RESULTS_DIR", "")  # empty: unset, the default applies
    settings = load_settings()
    assert settings.paths.home == tmp_path and settings.paths.results == tmp_path / "results"
    assert settings.paths.execution_records == tmp_path / "execution_records.jsonl"
    assert settings.broker.qpu_price_per_second_usd == 2.5 and settings.broker.memory_headroom == 0.5
    assert settings.screening.batch_size == 4 and settings.screening.surrogate == "chgnet"
    assert settings.cluster.dask_address == "tcp://scheduler:8786"
    assert (settings.cluster.slurm.queue, settings.cluster.slurm.cores) == ("cpu", 16)
    assert settings.qpu.token_secret_block == "lab-token"
    assert QcflowSettings() == settings  # the groups read the same variables however they are built


def test_every_documented_variable_is_a_setting_and_back() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = [line for line in readme.splitlines() if line.startswith("| `QCFLOW_")]
    documented = {part.strip("` ") for line in table for part in line.split("|")[1].split(",")}
    assert documented == {f"QCFLOW_{name.upper()}" for name in SETTING_NAMES}


def test_every_bad_variable_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("QCFLOW_MEMORY_HEADROOM", "plenty")
    monkeypatch.setenv("QCFLOW_SLURM_CORES", "0")
    monkeypatch.setenv("QCFLOW_SURROGATE", "dft")
    with pytest.raises(ValidationError) as raised:
        load_settings()
    located = {problem["loc"][0] for problem in raised.value.errors()}
    assert located == {"memory_headroom", "slurm_cores", "surrogate"}


def test_an_override_replaces_the_settings_for_its_block_in_every_thread(tmp_path: Path) -> None:
    before = get_settings()
    with settings_override(home=tmp_path, slurm_cores=3):
        assert get_settings().paths.home == tmp_path and (tmp_path / "results").is_dir()
        with settings_override(memory_headroom=0.25):  # on top of the enclosing override
            inner = get_settings()
            assert (inner.paths.home, inner.cluster.slurm.cores, inner.broker.memory_headroom) == (
                tmp_path,
                3,
                0.25,
            )
        seen: list[Path] = []
        thread = threading.Thread(target=lambda: seen.append(get_settings().paths.home))
        thread.start()
        thread.join()
        assert seen == [tmp_path]
    assert get_settings() is before


def test_an_override_naming_no_setting_is_refused() -> None:
    refusal = r"unknown setting\(s\) hme; name them as their QCFLOW_\* variable"
    with pytest.raises(ValueError, match=refusal), settings_override(hme="/tmp"):
        pass


def test_an_override_without_values_rereads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCFLOW_GPU_WATTS", "350")
    assert get_settings().broker.gpu_watts != 350  # read once per process
    with settings_override():
        assert get_settings().broker.gpu_watts == 350


def test_worker_processes_rebuild_the_overridden_settings_from_their_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from workflows.execution.task_runners import worker_environment

    with settings_override(results_dir=tmp_path / "shared", slurm_queue="cpu", progress_bar=False):
        flow_sees = get_settings()
        monkeypatch.setattr("workflows.execution.task_runners.prefect_api_url", lambda: "http://api.test/api")
        handed = worker_environment()
    assert (
        handed["QCFLOW_RESULTS_DIR"] == str(tmp_path / "shared") and handed["QCFLOW_PROGRESS_BAR"] == "false"
    )
    assert handed == settings_environment(flow_sees) | {"PREFECT_API_URL": "http://api.test/api"}
    for name in [
        n for n in os.environ if n.startswith("QCFLOW_")
    ]:  # a worker's environment: only what it got
        monkeypatch.delenv(name)
    for name, value in handed.items():
        monkeypatch.setenv(name, value)
    assert load_settings() == flow_sees


def _is_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute) and node.attr == "environ" and getattr(node.value, "id", "") == "os"
    )


def _names_a_setting(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("QCFLOW_")


def _settings_reads(path: Path) -> list[str]:
    """Settings objects built, or QCFLOW_* variables read from os.environ, anywhere but in config/."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) in SETTINGS_CLASSES
        ):
            found.append(f"{where} builds settings")
        elif isinstance(node, ast.Subscript) and _is_environ(node.value) and _names_a_setting(node.slice):
            found.append(f"{where} uses os.environ")
        elif isinstance(node, ast.Call) and node.args and _names_a_setting(node.args[0]):
            function = node.func
            environ_get = (
                isinstance(function, ast.Attribute) and function.attr == "get" and _is_environ(function.value)
            )
            getenv = isinstance(function, ast.Attribute) and function.attr == "getenv"
            if environ_get or getenv:
                found.append(f"{where} uses os.environ")
    return found


def test_settings_are_read_one_way() -> None:
    """Only config/ builds settings objects or reads QCFLOW_* variables (the benchmarks, which set up scratch
    variables for the processes they start, may read those)."""
    offenders = [
        found
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        for found in _settings_reads(path)
        if package != "benchmarks" or "builds settings" in found
    ]
    assert not offenders, offenders


def test_unknown_surrogate_is_refused_before_any_work(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QCFLOW_SURROGATE", "not-a-model")
    with settings_override():
        assert main(["resources"]) == 2
    error = capsys.readouterr().err
    assert "QCFLOW_SURROGATE='not-a-model' is unknown" in error
    assert "chgnet" in error and "Traceback" not in error


def test_bad_settings_name_the_variable_and_an_unusable_home_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("QCFLOW_MEMORY_HEADROOM", "plenty")
    monkeypatch.setenv("QCFLOW_SLURM_JOBS", "0")
    with settings_override():
        assert main(["resources"]) == 2
    error = capsys.readouterr().err
    assert "QCFLOW_MEMORY_HEADROOM: Input should be a valid number" in error
    assert "QCFLOW_SLURM_JOBS: Input should be greater than or equal to 1" in error
    monkeypatch.delenv("QCFLOW_MEMORY_HEADROOM")
    monkeypatch.delenv("QCFLOW_SLURM_JOBS")
    (tmp_path / "a-file").write_text("")
    with settings_override(home=tmp_path / "a-file" / "home"):
        assert main(["resources"]) == 2
    error = capsys.readouterr().err
    assert "cannot create the results folder" in error and "QCFLOW_HOME" in error
    assert "Traceback" not in error


def screen_parameters_of(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> dict:
    """The parameters `qcflow screen` hands the flow (the flow itself is not run)."""
    handed: dict = {}

    def record(command: str, flow: object, parameters: dict) -> None:
        handed.update(parameters)

    monkeypatch.setattr("workflows.cli.prepare_embedded_prefect", lambda: None)
    monkeypatch.setattr("workflows.cli.run_flow", record)
    assert main(["screen", *argv]) == 1  # run_flow returned no report
    return handed


def test_qcflow_batch_size_sets_the_surrogate_batches_unless_the_flag_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workflows.screening.flow import ScreeningParameters  # imported before the setting changes

    with settings_override(batch_size=1):
        assert screen_parameters_of(["--shortlist", "0"], monkeypatch)["batch_size"] == 1
        assert screen_parameters_of(["--batch-size", "3"], monkeypatch)["batch_size"] == 3
        assert ScreeningParameters().batch_size == 1  # the flow's own parameters read the setting too
