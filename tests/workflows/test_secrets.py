"""QPU tokens stay secret: with an IBM token set, no log record, artifact, result or worker environment contains
it; one resolver (a Secret block named in the settings, else QISKIT_IBM_TOKEN) serves the flows and the CLI."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.blocks.system import Secret
from prefect.logging.handlers import APILogWorker
from pymatgen.core import Lattice, Structure

from broker.catalog import discover_catalog
from config.settings import get_settings, settings_environment, settings_override
from workflows.execution.caching import with_result_storage

# Imported here, not in the tests: importing Prefect's flow machinery sets up its logging, which replaces the root
# logger's handlers, caplog's among them.
from workflows.execution.qpu_access import read_ibm_token, token_secret_block
from workflows.screening.flow import materials_screening

FAKE_TOKEN = "qcflow-FAKE-ibm-token-7c1e5b2a9d4f"  # recognisable; IBM Quantum is unreachable from here anyway
FRAGMENT = FAKE_TOKEN[-12:]  # a leak of part of the token counts too
SECRET_BLOCK = "qcflow-test-ibm-token"


def leaked(text: str) -> bool:
    return FAKE_TOKEN in text or FRAGMENT in text


# Logger families that handle the token or talk to a server; each is set to DEBUG while a test runs.
WATCHED_LOGGERS = (
    "workflows",
    "quantum",
    "prefect",
    "qiskit_ibm_runtime",
    "ibm-cloud-sdk-core",
    "urllib3",
    "httpx",
)


@pytest.fixture
def every_log_record(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog at DEBUG: the root logger, the watched families, and loggers that do not propagate to the root."""
    caplog.set_level(logging.DEBUG)
    loggers = [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    watched = [logger for logger in loggers if logger.name.split(".")[0] in WATCHED_LOGGERS]
    detached = [logger for logger in loggers if not logger.propagate]
    levels = {logger.name: logger.level for logger in [*watched, *detached]}
    for logger in [*watched, *detached]:
        logger.setLevel(logging.DEBUG)
    for logger in detached:
        logger.addHandler(caplog.handler)
    yield caplog
    for logger in detached:
        logger.removeHandler(caplog.handler)
    for logger in [*watched, *detached]:
        logger.setLevel(levels[logger.name])


def assert_no_token_in(records: list[logging.LogRecord], text: str) -> None:
    for record in records:
        assert not leaked(record.getMessage()), f"token in a log record of {record.name}"
        assert not leaked(str(record.exc_text or "")), f"token in a traceback logged by {record.name}"
    assert not leaked(text)


def test_catalog_discovery_logs_without_the_token(
    every_log_record: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("QISKIT_IBM_TOKEN", FAKE_TOKEN)
    catalog = discover_catalog(ibm_token=read_ibm_token())

    assert [r.kind for r in catalog.resources if r.kind == "qpu"] == []  # unreachable: left out
    assert any("IBM Quantum is unreachable" in r.getMessage() for r in every_log_record.records)
    out, err = capfd.readouterr()
    assert_no_token_in(every_log_record.records, every_log_record.text + out + err)


@pytest.mark.slow
def test_token_from_a_secret_block_is_not_logged(
    prefect_api: None, every_log_record: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "qcflow-other-token-of-the-environment")
    Secret(value=FAKE_TOKEN).save(SECRET_BLOCK, overwrite=True)
    try:
        assert read_ibm_token(SECRET_BLOCK) == FAKE_TOKEN  # the command line's --ibm-secret
        with settings_override(qpu_token_secret_block=SECRET_BLOCK):
            token = read_ibm_token()  # the flows': the block the settings name wins over the environment
        assert token == FAKE_TOKEN
        discover_catalog(ibm_token=token)
    finally:
        Secret.delete(SECRET_BLOCK)
    assert any("IBM Quantum is unreachable" in r.getMessage() for r in every_log_record.records)
    assert_no_token_in(every_log_record.records, every_log_record.text)


async def _stored_logs_and_artifacts(flow_run_id: object) -> tuple[list[str], list[str], str]:
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        LogFilter,
        LogFilterFlowRunId,
    )

    async with get_client() as client:
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        )
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
        flow_run = await client.read_flow_run(flow_run_id)
    texts = [f"{a.key} {a.description} {a.data}" for a in artifacts]
    return [log.message for log in logs], texts, str(flow_run.parameters)


@pytest.mark.slow
def test_screening_run_leaks_the_token_nowhere(
    prefect_api: None,
    every_log_record: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("QISKIT_IBM_TOKEN", FAKE_TOKEN)
    for cation, anion, a in (
        ("Li", "F", 4.03),
        ("Na", "Cl", 5.64),
    ):  # experimental lattice constants, rounded
        structure = Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]]
        )
        structure.to(filename=str(tmp_path / f"{cation}{anion}.cif"))

    state = with_result_storage(materials_screening)(
        candidate_paths=[str(tmp_path)], shortlist_size=1, return_state=True
    )
    report = state.result()

    assert len(report.shortlist) == 1  # the quantum step ran, so the catalog (and the token) was consulted
    assert any("IBM Quantum is unreachable" in r.getMessage() for r in every_log_record.records)
    assert_no_token_in(every_log_record.records, every_log_record.text)
    assert not leaked(report.model_dump_json())
    APILogWorker.drain_all(
        timeout=60
    )  # logs reach the API in the background; the run's end does not wait for them
    logs, artifacts, parameters = asyncio.run(_stored_logs_and_artifacts(state.state_details.flow_run_id))
    assert logs and artifacts
    assert not any(leaked(message) for message in logs)
    assert not any(leaked(text) for text in artifacts)
    assert not leaked(parameters)
    for path in (p for p in get_settings().paths.results.rglob("*") if p.is_file()):
        assert not leaked(path.read_text(errors="replace")), f"token in persisted result {path.name}"


def test_flows_resolve_a_real_qpu_through_the_account_and_name_the_missing_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from workflows.execution.qpu_access import qpu_backend

    def on(resource: str, device: str) -> SimpleNamespace:  # the placement attributes qpu_backend reads
        return SimpleNamespace(resource=resource, device=device, options={})

    # Simulators and fake backends are built by the executors themselves.
    assert qpu_backend(on("aer-cpu", "CPU")) is None
    assert qpu_backend(on("fake_manila", "QPU")) is None
    # A real QPU needs the account: without a token the task says how to give one (it used to fail with an
    # internal "needs its backend object" and silently fall back to a simulator).
    monkeypatch.delenv("QISKIT_IBM_TOKEN", raising=False)
    missing = "needs an IBM Quantum token: set QISKIT_IBM_TOKEN"
    with settings_override(qpu_token_secret_block=None), pytest.raises(RuntimeError, match=missing):
        qpu_backend(on("ibm_torino", "QPU"))


def test_without_ibm_the_catalog_does_not_call_ibm_even_with_a_token(
    monkeypatch: pytest.MonkeyPatch, every_log_record: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("QISKIT_IBM_TOKEN", FAKE_TOKEN)
    catalog = discover_catalog(ibm=False)  # `qcflow resources` without --ibm
    assert catalog.of_kind("qpu") == []
    assert not any("IBM" in r.getMessage() for r in every_log_record.records)


def test_the_command_line_resolves_the_token_as_the_flows_do(
    monkeypatch: pytest.MonkeyPatch, every_log_record: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    """`--ibm` with no block named reads no Secret block (it used to try one named 'ibm-quantum-token' that the
    flows never read) and takes QISKIT_IBM_TOKEN, as the flows do."""
    from workflows.cli import main

    monkeypatch.setenv("QISKIT_IBM_TOKEN", FAKE_TOKEN)
    with settings_override(qpu_token_secret_block=None):
        assert token_secret_block() is None and token_secret_block("lab-token") == "lab-token"
        assert main(["resources", "--ibm", "--json"]) == 0
    out, err = capsys.readouterr()
    assert not any("Secret block" in r.getMessage() for r in every_log_record.records)
    assert any("IBM Quantum is unreachable" in r.getMessage() for r in every_log_record.records)
    assert_no_token_in(every_log_record.records, every_log_record.text + out + err)


def test_the_token_is_no_setting_and_never_reaches_worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    from workflows.execution.task_runners import slurm_prologue, worker_environment

    monkeypatch.setenv("QISKIT_IBM_TOKEN", FAKE_TOKEN)
    monkeypatch.setattr("workflows.execution.task_runners.prefect_api_url", lambda: "http://api.test/api")
    with settings_override(qpu_token_secret_block="lab-token"):
        handed = worker_environment()
        prologue = "\n".join(slurm_prologue())
        dumped = get_settings().model_dump_json()
    assert handed["QCFLOW_QPU_TOKEN_SECRET_BLOCK"] == "lab-token"  # the block's name travels, not its value
    assert "QISKIT_IBM_TOKEN" not in handed and "QISKIT_IBM_TOKEN" not in prologue
    assert not leaked(" ".join(handed.values()) + prologue + dumped)
    assert not leaked(" ".join(settings_environment(get_settings()).values()))
