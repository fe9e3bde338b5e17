"""A QPU job that timed out on the client is retried by re-attaching, and never paid for again elsewhere.

Errors as qiskit-ibm-runtime raises them: `RuntimeJobTimeoutError` from `job.result(timeout=...)` (a Qiskit
JobTimeoutError, not Python's TimeoutError) and `RequestsApiError` for a 503 from the API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from qiskit_ibm_runtime.api.exceptions import RequestsApiError
from qiskit_ibm_runtime.exceptions import RuntimeJobTimeoutError
from simple_placements import qpu_placement

from broker.fallback import ExecutionFailed, run_with_fallback
from quantum.circuit_families import ghz
from quantum.executors import sampler_for

SHOTS = 100


def chain() -> list[Any]:
    """Manila, with Lima as the runner-up the chain would fall back to."""
    lima = qpu_placement(resource="fake_lima", options={"backend": "fake_lima", "what_if": True})
    return [qpu_placement(), lima]


@pytest.mark.parametrize(
    "client_error",
    [
        RuntimeJobTimeoutError("Timed out waiting for job to complete after 600 secs."),
        RequestsApiError(
            "'503 Server Error: Service Unavailable for url: https://quantum.cloud.ibm.com/api'"
        ),
    ],
)
def test_a_client_side_error_retries_by_reattaching_to_the_same_job(
    client_error: Exception, tmp_path: Path
) -> None:
    submitted: list[tuple[str, str]] = []

    def run(sampler: Any) -> Any:
        job = sampler.run([ghz(2)], shots=SHOTS)
        submitted.append((job.backend().name, job.job_id()))
        if len(submitted) == 1:
            raise client_error
        return job.result()

    prepare = lambda p: sampler_for(p, journal=tmp_path / "jobs")  # noqa: E731
    result, record = run_with_fallback(chain(), run, prepare=prepare)
    assert submitted[0] == submitted[1]  # the retry found the journaled job: one job, paid once
    assert record.label() == "fake_manila/qpu" and record.retries == 1 and not record.fallbacks
    assert sum(result[0].data.meas.get_counts().values()) == SHOTS
    # QPU usage is billed, not the client's wait: the cost is the usage estimate, however long the wait was.
    assert record.cost_usd == chain()[0].estimate.cost_usd


def test_a_submitted_job_that_keeps_timing_out_is_not_paid_for_again_on_the_next_qpu(tmp_path: Path) -> None:
    submitted: list[tuple[str, str]] = []

    def run(sampler: Any) -> Any:
        job = sampler.run([ghz(2)], shots=SHOTS)
        submitted.append((job.backend().name, job.job_id()))
        raise RuntimeJobTimeoutError("Timed out waiting for job to complete after 600 secs.")

    with pytest.raises(ExecutionFailed) as failure:
        run_with_fallback(chain(), run, prepare=lambda p: sampler_for(p, journal=tmp_path / "jobs"))
    assert {backend for backend, _ in submitted} == {"fake_manila"}  # Lima never got a job
    assert len({job for _, job in submitted}) == 1
    assert "may still be running" in failure.value.record.errors[-1]
    assert failure.value.record.fallbacks == ["fake_manila/qpu"]


@pytest.mark.parametrize("mode", ["batch", "session"])
def test_the_chain_closes_the_batch_or_session_it_opened(mode: str, tmp_path: Path) -> None:
    from qiskit_ibm_runtime.exceptions import IBMRuntimeError

    built: list[Any] = []

    def prepare(p: Any) -> Any:
        built.append(sampler_for(p, journal=tmp_path / "jobs"))
        return built[-1]

    placement = qpu_placement(options={"what_if": True, "mode": mode})
    result, _ = run_with_fallback(
        [placement], lambda s: s.run([ghz(2)], shots=SHOTS).result(), prepare=prepare
    )
    assert sum(result[0].data.meas.get_counts().values()) == SHOTS
    with pytest.raises(
        IBMRuntimeError, match="closed"
    ):  # an open IBM session keeps the QPU reserved, and billed
        built[0].run(
            [ghz(2)], shots=SHOTS + 1
        )  # a new request (the same one would re-attach to the journaled job)
