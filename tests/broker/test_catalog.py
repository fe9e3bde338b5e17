"""Catalog discovery: an unreachable IBM Quantum is reported as a network problem, not a bad token."""

from __future__ import annotations

import socket

from broker.catalog import ibm_problem


def _chained(outer: Exception, inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException as cause:
            raise outer from cause
    except Exception as error:
        return error


def test_a_network_failure_is_not_blamed_on_the_token() -> None:
    # qiskit-ibm-runtime's own wording when iam.cloud.ibm.com cannot be resolved (seen on a machine without network)
    error = _chained(
        RuntimeError("Unable to retrieve instances. Please check that you are using a valid API token."),
        socket.gaierror(-2, "Name or service not known"),
    )
    message = ibm_problem(error)
    assert message.startswith("IBM Quantum is unreachable") and "the token was not checked" in message
    assert "valid API token" not in message


def test_a_refused_account_keeps_the_services_words() -> None:
    message = ibm_problem(
        RuntimeError("Unable to retrieve instances. Please check that you are using a valid API token.")
    )
    assert message.startswith("IBM Quantum refused the account") and "valid API token" in message
