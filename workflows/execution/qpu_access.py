"""Where QPU credentials come from: the environment or a Prefect Secret block, never logs or results."""

from __future__ import annotations

import logging
import os
from typing import Any

from broker.catalog import discover_catalog
from broker.models import ResourceCatalog
from config.settings import get_settings
from quantum.ibm.runtime import TOKEN_ENV_VAR, ibm_service

logger = logging.getLogger(__name__)


def read_ibm_token(secret_block: str | None) -> str | None:
    """The IBM token from QISKIT_IBM_TOKEN, else from the Prefect Secret block named `secret_block`; never logged."""
    if os.environ.get(TOKEN_ENV_VAR):
        return os.environ[TOKEN_ENV_VAR]
    if not secret_block:
        return None
    try:
        from prefect.blocks.system import Secret

        return str(Secret.load(secret_block).get())
    except Exception as error:  # no such block, or no Prefect API: run without IBM QPUs
        logger.warning("no IBM token from Secret block %r (%s)", secret_block, type(error).__name__)
        return None


def flow_catalog(dask_address: str | None = None) -> ResourceCatalog:
    """The catalog a flow places on: local resources, a Dask cluster when an address is given (else
    QCFLOW_DASK_ADDRESS), plus IBM QPUs when a token is configured."""
    token = read_ibm_token(get_settings().qpu_token_secret_block)
    return discover_catalog(ibm_token=token, dask_address=dask_address)


def qpu_backend(placement: Any) -> Any | None:
    """The backend object a placement runs on, for the executors: None for simulators and fake backends (the
    executors build those), else the IBM QPU through the configured account (token as in `read_ibm_token`)."""
    name = str(placement.options.get("backend", placement.resource))
    if placement.device != "QPU" or name.startswith("fake_"):
        return None
    token = read_ibm_token(get_settings().qpu_token_secret_block)
    if token is None:
        raise RuntimeError(
            f"placement on IBM QPU {name!r} needs an IBM Quantum token: set {TOKEN_ENV_VAR} or the Prefect Secret "
            f"block named by QCFLOW_QPU_TOKEN_SECRET_BLOCK"
        )
    return ibm_service(token).backend(name)
