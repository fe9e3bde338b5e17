"""The broker's contracts: resources, policies, estimates and placements (plain pydantic models, no Prefect).

Every other part speaks these types: the cost models in `quantum/` and `classical/` return `Estimate`s for the
resources of a `ResourceCatalog`, `broker.place` turns them into a `Placement`, and the executors and task
runners read a `Placement` to run a segment where it was placed.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from quantum.ibm.runtime import QpuCalibration


def resource_label(resource: str, method: str) -> str:
    """Short name of where a segment runs, e.g. 'aer-cpu/statevector' or 'local-processes/relax'."""
    return f"{resource}/{method}"


class Segment(Protocol):
    """What the broker needs of any segment: a name for reports and a kind that selects its cost model."""

    name: str
    kind: str


class Policy(BaseModel):
    """What to optimise and the limits a placement must respect (a misspelt limit is an error, not ignored)."""

    model_config = ConfigDict(extra="forbid")

    objective: Literal["time", "cost", "fidelity", "energy"] = "time"
    deadline_seconds: float | None = Field(None, gt=0)
    budget_usd: float | None = Field(None, ge=0)
    min_fidelity: float | None = Field(None, ge=0, le=1)
    allowed_resources: list[str] | None = None
    qpu_mode: Literal["job", "batch", "session"] = "job"


class Resource(BaseModel):
    """A place that can run segments, with the capabilities the cost models need."""

    name: str = Field(
        description="'aer-cpu', 'aer-gpu', a QPU ('fake_brisbane'), or a classical executor: 'local-threads', "
        "'local-processes', 'dask', 'cuda'"
    )
    kind: Literal["simulator", "qpu", "classical"]
    device: Literal["CPU", "GPU", "QPU"]
    methods: list[str] = Field(default_factory=list)
    cores: int = 0
    memory_total_bytes: int = 0
    memory_free_bytes: int = 0
    max_qubits: int | None = None
    price_per_second_usd: float = 0.0
    power_watts: float = 0.0
    queue_seconds: float = 0.0
    calibration: QpuCalibration | None = None
    runs_locally: bool = Field(True, description="fake backends run locally as noisy Aer simulations")
    what_if: bool = Field(False, description="a fake backend: estimates describe the real device it copies")
    executor: Literal["threads", "processes", "dask", "slurm"] | None = Field(
        None,
        description="how a classical resource runs tasks: the flow's threads, local processes, a running Dask "
        "cluster, or Dask workers in Slurm jobs",
    )
    workers: int = Field(1, description="parallel workers a classical resource offers")
    load: float = Field(0.0, description="cores busy with other work when the catalog was discovered")
    address: str | None = Field(None, description="a Dask scheduler's address, for a configured cluster")


class ResourceCatalog(BaseModel):
    """Resources discovered at start-up; QPU backend objects are kept beside the JSON-able description."""

    resources: list[Resource]
    _backends: dict[str, Any] = PrivateAttr(default_factory=dict)

    def get(self, name: str) -> Resource:
        """The resource called `name`."""
        for resource in self.resources:
            if resource.name == name:
                return resource
        known = ", ".join(r.name for r in self.resources)
        raise KeyError(f"resource {name!r} is not in the catalog; known resources: {known}")

    def of_kind(self, *kinds: str) -> list[Resource]:
        """The resources of the given kinds ('simulator', 'qpu', 'classical'), in catalog order."""
        return [r for r in self.resources if r.kind in kinds]

    def backend(self, name: str) -> Any | None:
        """The qiskit backend object of a QPU resource (None for simulators)."""
        return self._backends.get(name)

    def add_backend(self, resource: Resource, backend: Any) -> None:
        """Register a QPU resource together with its backend object."""
        self.resources.append(resource)
        self._backends[resource.name] = backend


class Estimate(BaseModel):
    """Expected outcome of running a segment on one resource with one method and its run options."""

    resource: str
    method: str
    device: str
    seconds: float
    memory_bytes: int
    cost_usd: float
    fidelity: float
    energy_joules: float
    feasible: bool
    why_not: str | None = None
    policy_limit: str | None = Field(None, description="the policy limit that ruled it out, when one did")
    model_seconds: float | None = Field(None, description="the model's time before corrections from history")
    options: dict[str, Any] = Field(default_factory=dict)

    def label(self) -> str:
        """Short name, e.g. 'aer-cpu/statevector' or 'local-processes/relax'."""
        return resource_label(self.resource, self.method)


class Placement(BaseModel):
    """The chosen resource and run options, its estimate, the runners-up, and the reasons in plain words."""

    segment: str
    kind: str = "quantum"
    resource: str
    method: str
    device: str
    options: dict[str, Any]
    estimate: Estimate
    runners_up: list[Estimate]
    reasons: list[str]
    refused: str | None = None

    def label(self) -> str:
        """Short name for task-run names and tags, e.g. 'aer-cpu/statevector'."""
        return "refused" if self.refused else resource_label(self.resource, self.method)

    @classmethod
    def on(
        cls,
        segment: str,
        kind: str,
        estimate: Estimate,
        runners_up: list[Estimate],
        reasons: list[str],
        refused: str | None = None,
    ) -> Placement:
        """A placement on the estimate's resource and method, with its run options."""
        return cls(
            segment=segment,
            kind=kind,
            resource=estimate.resource,
            method=estimate.method,
            device=estimate.device,
            options=estimate.options,
            estimate=estimate,
            runners_up=runners_up,
            reasons=reasons,
            refused=refused,
        )


class PlacementRefused(Exception):
    """No resource can run the segment within the policy; `placement.refused` says what would make it fit."""

    def __init__(self, placement: Placement) -> None:
        super().__init__(placement.refused)
        self.placement = placement
