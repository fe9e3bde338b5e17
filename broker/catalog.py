"""The resource catalog: every place a segment can run, discovered at start-up (plain Python, no Prefect).

It merges what `classical.resources` finds (the flow's threads, local processes, a CUDA GPU, a configured Dask
cluster) with what `quantum.resources` finds (Aer on the CPU and GPU, fake backends when asked, IBM QPUs when a
token is given: the caller resolves it, in workflows.execution.qpu_access.read_ibm_token).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from broker.models import ResourceCatalog
from classical.resources import classical_resources
from config.settings import QcflowSettings, get_settings
from quantum.ibm.runtime import DEFAULT_FAKE_BACKENDS, fake_backend, ibm_backends
from quantum.resources import cpu_resource, ffsim_resource, gpu_resource, qpu_resource

logger = logging.getLogger(__name__)


def discover_catalog(
    *,
    include_fake_backends: bool = False,
    ibm_token: str | None = None,
    fake_backends: Sequence[str] = DEFAULT_FAKE_BACKENDS,
    settings: QcflowSettings | None = None,
    ibm: bool = True,
    classical: bool = True,
    dask_address: str | None = None,
) -> ResourceCatalog:
    """Discover the resources of this machine and, when asked, fake backends and IBM QPUs.

    IBM QPUs are listed only with an `ibm_token` (the caller resolves it; this module never reads one) and
    `ibm=True`. An unreachable IBM service is logged (without the token) and left out. `classical=False` leaves out
    the classical resources; `dask_address` (else QCFLOW_DASK_ADDRESS) adds a running Dask cluster. `settings`
    default to `get_settings()`.
    """
    settings = settings or get_settings()
    catalog = ResourceCatalog(resources=[cpu_resource(settings), ffsim_resource(settings)])
    gpu = gpu_resource(settings)
    if gpu is not None:
        catalog.resources.append(gpu)
    if include_fake_backends:
        for name in fake_backends:
            backend = fake_backend(name)
            catalog.add_backend(qpu_resource(backend, settings, what_if=True), backend)
    token = ibm_token if ibm else None
    if token:
        try:
            backends = ibm_backends(token)
        except Exception as error:  # network or account errors: the flow still runs on local resources
            logger.warning("%s; continuing without QPUs", ibm_problem(error).replace(token, "***"))
            backends = []
        for backend in backends:
            catalog.add_backend(qpu_resource(backend, settings, what_if=False), backend)
    if classical:
        catalog.resources.extend(classical_resources(settings, dask_address))
    return catalog


def ibm_problem(error: BaseException) -> str:
    """Why IBM Quantum could not be used, in words a user can act on (never the token).

    qiskit-ibm-runtime reports a network failure as "check that you are using a valid API token"; the cause chain
    says whether the service was reached at all.
    """
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionError | OSError) or type(cause).__name__ in _NETWORK_ERRORS:
            return (
                f"IBM Quantum is unreachable ({str(cause)[:200]}): check the network or proxy settings; "
                "the token was not checked"
            )
        cause = cause.__cause__ or cause.__context__
    return f"IBM Quantum refused the account ({type(error).__name__}: {str(error)[:300]})"


_NETWORK_ERRORS = frozenset(
    {"ConnectionError", "ConnectTimeout", "MaxRetryError", "NameResolutionError", "Timeout"}
)
