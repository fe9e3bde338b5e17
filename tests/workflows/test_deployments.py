"""prefect.yaml: deployments that import real flows, a nightly cron schedule, parameters the server will accept."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EXPECTED = {  # deployment as `prefect deployment run` names it -> entrypoint
    "materials-screening/nightly": "workflows/screening/flow.py:materials_screening",
    "climate-pathways/on-demand": "workflows/climate_pathways/flow.py:climate_pathways",
    "broker-benchmark/versus-automatic": "workflows/broker_benchmark.py:broker_benchmark",
    "active-space-sqd/water-6-31g": "workflows/sqd/flow.py:active_space_sqd",
}
# The constraints a scientist sees in the UI form (and the server enforces) for materials-screening.
SCREENING_BOUNDS = {
    "hull_threshold": (0.0, 2.0),
    "shortlist_size": (0, 50),
    "active_orbitals": (1, 20),  # VQE keeps to 6 (quantum/chemistry/refinement_method.py), SQD takes up to 20
    "active_electrons": (2, 38),
    "batch_size": (1, 1000),
}


@pytest.fixture(scope="module")
def deployments() -> dict[str, dict[str, Any]]:
    """Each deployment of prefect.yaml keyed 'flow-name/deployment-name', with its loaded flow."""
    from prefect.flows import load_flow_from_entrypoint

    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    found = {}
    for deployment in config["deployments"]:
        flow = load_flow_from_entrypoint(str(REPO / deployment["entrypoint"]))
        found[f"{flow.name}/{deployment['name']}"] = {**deployment, "flow": flow}
    return found


def openapi_schema(flow: Any) -> dict[str, Any]:
    from prefect.utilities.callables import parameter_schema

    return parameter_schema(flow).model_dump_for_openapi()


def server_validation_errors(parameters: dict[str, Any], flow: Any) -> str | None:
    """What the server says (the same check it runs on `prefect deployment run`), or None when accepted."""
    from prefect.exceptions import ParameterTypeError
    from prefect.utilities.schema_tools import ValidationError, validate

    try:
        validate(parameters, openapi_schema(flow), raise_on_error=True, ignore_required=True)
    except (ValidationError, ParameterTypeError) as error:
        return str(error)
    return None


def test_every_entrypoint_names_a_real_flow_on_the_process_pool(deployments: dict[str, dict]) -> None:
    assert set(deployments) == set(EXPECTED)
    for key, deployment in deployments.items():
        assert deployment["entrypoint"] == EXPECTED[key]
        assert deployment["work_pool"]["name"] == "qcflow-process"
        assert deployment["description"].strip()


def test_nightly_screening_has_a_cron_schedule_and_valid_defaults(deployments: dict[str, dict]) -> None:
    from prefect.client.schemas.schedules import CronSchedule

    nightly = deployments["materials-screening/nightly"]
    (schedule,) = nightly["schedules"]
    cron = CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    assert cron.cron.split()[2:] == ["*", "*", "*"]  # every day
    assert nightly["parameters"]["shortlist_size"] == 3
    for key, deployment in deployments.items():
        assert server_validation_errors(deployment["parameters"], deployment["flow"]) is None, key


def test_bad_parameters_are_refused_with_the_field_named(deployments: dict[str, dict]) -> None:
    flow = deployments["materials-screening/nightly"]["flow"]
    refused = server_validation_errors({"shortlist_size": 99}, flow)
    assert refused is not None and "shortlist_size" in refused and "50" in refused
    refused = server_validation_errors({"hull_threshold": "high"}, flow)
    assert refused is not None and "hull_threshold" in refused
    benchmark = deployments["broker-benchmark/versus-automatic"]["flow"]
    assert "widths" in (server_validation_errors({"widths": [1]}, benchmark) or "")


def test_parameter_schemas_describe_every_parameter(deployments: dict[str, dict]) -> None:
    for key, deployment in deployments.items():
        properties = openapi_schema(deployment["flow"])["properties"]
        undescribed = [name for name, prop in properties.items() if not prop.get("description")]
        assert not undescribed, f"{key}: parameters without a description: {undescribed}"
    screening = openapi_schema(deployments["materials-screening/nightly"]["flow"])["properties"]
    for name, (low, high) in SCREENING_BOUNDS.items():
        bounded = next((s for s in screening[name].get("anyOf", []) if "minimum" in s), screening[name])
        assert (bounded["minimum"], bounded["maximum"]) == (low, high), name  # optional ones: the int branch
    assert "eV/atom" in screening["hull_threshold"]["description"]


def test_server_script_refuses_an_unknown_command() -> None:
    script = REPO / "scripts" / "server.sh"
    completed = subprocess.run(["bash", str(script), "restart-everything"], capture_output=True, text=True)
    assert completed.returncode == 1
    assert "unknown command 'restart-everything'; use start, stop or status" in completed.stderr


@pytest.mark.slow
def test_broker_benchmark_flow_publishes_its_table(prefect_api: None) -> None:
    import asyncio

    from prefect import get_client

    from workflows.broker_benchmark import broker_benchmark
    from workflows.execution.caching import with_result_storage

    rows = with_result_storage(broker_benchmark)(
        families=["ghz", "hardware-efficient"], widths=[4], shots=200
    )

    assert [row.circuit for row in rows] == ["ghz-4", "hardware-efficient-4"]
    for row in rows:
        assert row.choice.startswith("aer-cpu/")
        assert row.measured_seconds is not None and row.measured_seconds > 0
        assert row.automatic_seconds is not None and row.speedup is not None
    # Aer automatic takes stabilizer for a Clifford circuit, statevector otherwise (docs/architecture.md).
    assert [row.automatic_method for row in rows] == ["stabilizer", "statevector"]

    async def table() -> str:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["broker-benchmark"]))
            )
            return str(found[-1].data)

    data = asyncio.run(table())
    assert "ghz-4" in data and "hardware-efficient-4" in data and "broker choice" in data
