"""Where QPU credentials come from: one resolver (a Prefect Secret block, else the environment), never logs or
results."""

from __future__ import annotations

import logging
import os
from typing import Any

from broker.catalog import discover_catalog
from broker.models import ResourceCatalog
from config.settings import get_settings
from quantum.ibm.runtime import TOKEN_ENV_VAR, ibm_service

logger = logging.getLogger(__name__)


def token_secret_block(explicit: str | None = None) -> str | None:
    """The Prefect Secret block to read the IBM token from: `explicit` (the command line's --ibm-secret), else
    QCFLOW_QPU_TOKEN_SECRET_BLOCK, else None (no block)."""
    return explicit or get_settings().qpu.token_secret_block or None


def read_ibm_token(secret_block: str | None = None) -> str | None:
    """The IBM Quantum token, resolved here and nowhere else (flows and the command line alike): the Prefect
    Secret block `token_secret_block(secret_block)` names, else the environment variable QISKIT_IBM_TOKEN, else
    None. A named block that cannot be read is logged (its name and the error's type, never a value) and the
    environment is tried."""
    block = token_secret_block(secret_block)
    if block:
        try:
            from prefect.blocks.system import Secret

            token = str(Secret.load(block).get())
            if token:
                return token
            logger.warning("Secret block %r holds an empty IBM token; trying %s", block, TOKEN_ENV_VAR)
        except Exception as error:  # no such block, or no Prefect API
            logger.warning(
                "no IBM token from Secret block %r (%s); trying %s",
                block,
                type(error).__name__,
                TOKEN_ENV_VAR,
            )
    return os.environ.get(TOKEN_ENV_VAR) or None


def flow_catalog(dask_address: str | None = None) -> ResourceCatalog:
    """The catalog a flow places on: local resources, a Dask cluster when an address is given (else
    QCFLOW_DASK_ADDRESS), plus IBM QPUs when a token is configured."""
    token = read_ibm_token()
    return discover_catalog(ibm_token=token, dask_address=dask_address)


def qpu_backend(placement: Any) -> Any | None:
    """The backend object a placement runs on, for the executors: None for simulators and fake backends (the
    executors build those), else the IBM QPU through the configured account (token as in `read_ibm_token`)."""
    name = str(placement.options.get("backend", placement.resource))
    if placement.device != "QPU" or name.startswith("fake_"):
        return None
    token = read_ibm_token()
    if token is None:
        raise RuntimeError(
            f"placement on IBM QPU {name!r} needs an IBM Quantum token: set {TOKEN_ENV_VAR} or the Prefect Secret "
            f"block named by QCFLOW_QPU_TOKEN_SECRET_BLOCK"
        )
    return ibm_service(token).backend(name)
