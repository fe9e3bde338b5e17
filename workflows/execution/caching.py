"""Task cache keys: inputs plus an explicit code and model version, so a re-run resumes finished work; and where
results are persisted.

Prefect's default policy (task source + run id + inputs) recomputes everything in a new flow run; TASK_SOURCE
hashes only the task body, not the science code it calls. This policy hashes the inputs (JSON-able by design)
together with the versions of qcflow and of the packages whose numbers end up in results.

Result storage is read from the settings when a flow is called (`with_result_storage`) or a task is submitted,
never in a decorator: a decorator argument is read when the module is imported, so a QCFLOW_HOME or
QCFLOW_RESULTS_DIR set afterwards would be ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ParamSpec, TypeVar

from prefect import Flow
from prefect.cache_policies import INPUTS, CachePolicy
from prefect.context import TaskRunContext
from prefect.utilities.hashing import hash_objects

from config.settings import get_settings

P = ParamSpec("P")
R = TypeVar("R")

VERSIONED_PACKAGES = ("qcflow", "chgnet", "pymatgen", "pyscf", "qiskit", "qiskit-aer", "numpy")


@cache
def code_and_model_version() -> str:
    """One string naming the versions of every package that shapes a result."""
    parts = []
    for package in VERSIONED_PACKAGES:
        try:
            parts.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package}==absent")
    return ";".join(parts)


@dataclass
class InputsAndVersion(CachePolicy):
    """Cache key = hash(task name, inputs, code and model version); `policy - "name"` leaves an input out."""

    version: str = ""
    exclude: tuple[str, ...] = field(default_factory=tuple)

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        kept = {name: value for name, value in inputs.items() if name not in self.exclude}
        inputs_key = INPUTS.compute_key(task_ctx, kept, flow_parameters, **kwargs)
        if inputs_key is None:
            return None
        return hash_objects(task_ctx.task.name, self.version or code_and_model_version(), inputs_key)

    def __sub__(self, other: str) -> InputsAndVersion:
        """Prefect's base class ignores `-` silently; here it really drops the input from the key."""
        if not isinstance(other, str):
            raise TypeError("Can only subtract input names (str) from a cache policy.")
        return replace(self, exclude=(*self.exclude, other))


RESUMABLE = InputsAndVersion()


def with_result_storage(flow: Flow[P, R]) -> Flow[P, R]:
    """The flow persisting its result in the results folder of the settings as they are now (QCFLOW_RESULTS_DIR,
    else QCFLOW_HOME/results). A flow started without it, as a deployment is, persists its own return value
    where Prefect's settings say (the climate flow's tasks and subflow are given the results folder when submitted).
    """
    return flow.with_options(result_storage=get_settings().paths.results)
