"""Task cache keys: inputs plus an explicit code and model version, so a re-run resumes finished work.

Prefect's default policy (task source + run id + inputs) recomputes everything in a new flow run; TASK_SOURCE
hashes only the task body, not the science code it calls. This policy hashes the inputs (JSON-able by design)
together with the versions of qcflow and of the packages whose numbers end up in results.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from prefect.cache_policies import INPUTS, CachePolicy
from prefect.context import TaskRunContext
from prefect.utilities.hashing import hash_objects

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
