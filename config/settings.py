"""qcflow's one settings object, nested by concern and read from `QCFLOW_*` environment variables (README.md).

`get_settings()` is the only way code reads them: the variables are read on first use (never at import) and kept for
the process. `settings_override(home=..., memory_headroom=...)` replaces them for a block (tests; keyword names are
the variable names without `QCFLOW_`, lower case), and `settings_environment` turns them back into variables, so
processes a flow starts (Dask workers, Slurm jobs) see the same settings.

Each group is its own pydantic-settings class with the prefix its variables share, so the variables keep their flat
names (`QCFLOW_SLURM_CORES` is `settings.cluster.slurm.cores`, `QCFLOW_MEMORY_HEADROOM` is
`settings.broker.memory_headroom`). The IBM token is not a setting: workflows.execution.qpu_access resolves it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from materials.surrogate_names import SURROGATE_NAMES

ENV_PREFIX = "QCFLOW_"


def _group_config(prefix: str = ENV_PREFIX) -> SettingsConfigDict:
    """One group's reading rules: its variables' prefix; an empty variable counts as unset; read-only."""
    return SettingsConfigDict(env_prefix=prefix, env_ignore_empty=True, frozen=True)


class PathSettings(BaseSettings):
    """Where qcflow keeps results, caches and records (QCFLOW_HOME, QCFLOW_RESULTS_DIR)."""

    model_config = _group_config()

    home: Path = Field(
        default_factory=lambda: Path.home() / ".qcflow",
        description="Root folder for results, caches and records.",
    )
    results_dir: Path | None = Field(
        default=None,
        description="Prefect result storage folder (default: HOME/results); shared for clusters.",
    )

    @property
    def results(self) -> Path:
        """Folder where Prefect persists task results (JSON)."""
        return self.results_dir or self.home / "results"

    @property
    def references(self) -> Path:
        """Folder for the surrogate's elemental reference energies."""
        return self.home / "references"

    @property
    def execution_records(self) -> Path:
        """Execution records (JSON lines) every run appends to and the broker learns its time estimates from."""
        return self.home / "execution_records.jsonl"

    @property
    def qpu_jobs(self) -> Path:
        """Folder of the QPU job journal: job ids persisted before waiting, so reruns re-attach."""
        return self.home / "qpu_jobs"


class ScreeningSettings(BaseSettings):
    """How a screening run goes by default (QCFLOW_SURROGATE, QCFLOW_BATCH_SIZE, QCFLOW_PROGRESS_BAR)."""

    model_config = _group_config()

    surrogate: str = Field(default="chgnet", description="Universal ML potential used as the DFT surrogate.")
    batch_size: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Structures per surrogate task (one Prefect task each); unset: the broker chooses.",
    )
    progress_bar: bool = Field(default=True, description="Show a progress bar on the terminal.")

    @field_validator("surrogate")
    @classmethod
    def _known_surrogate(cls, name: str) -> str:
        if name not in SURROGATE_NAMES:
            raise ValueError(
                f"QCFLOW_SURROGATE={name!r} is unknown; set it to one of {', '.join(SURROGATE_NAMES)}"
            )
        return name


class SlurmSettings(BaseSettings):
    """Dask workers in Slurm jobs through dask-jobqueue (QCFLOW_SLURM_*); no queue: no Slurm."""

    model_config = _group_config(f"{ENV_PREFIX}SLURM_")

    queue: str | None = Field(
        default=None, description="Slurm partition for classical work (unset: no Slurm)."
    )
    account: str | None = Field(default=None, description="Slurm account to charge (sbatch -A).")
    cores: int = Field(default=8, ge=1, description="Cores per Slurm job (one Dask worker process each).")
    memory: str = Field(default="16GB", description="Memory per Slurm job, e.g. 16GB.")
    walltime: str = Field(default="02:00:00", description="Wall-time limit per Slurm job, HH:MM:SS.")
    jobs: int = Field(default=4, ge=1, description="Most Slurm jobs the cluster scales up to.")
    python: str | None = Field(
        default=None, description="Python on the compute nodes (default: this interpreter's path)."
    )


class ClusterSettings(BaseSettings):
    """Clusters classical work may run on: a running Dask cluster (QCFLOW_DASK_ADDRESS) and Slurm."""

    model_config = _group_config()

    dask_address: str | None = Field(
        default=None,
        description="Scheduler address of a running Dask cluster (tcp://host:8786) for classical work.",
    )
    slurm: SlurmSettings = Field(default_factory=SlurmSettings)


class QpuSettings(BaseSettings):
    """QPU access (QCFLOW_QPU_TOKEN_SECRET_BLOCK); the token itself is never a setting."""

    model_config = _group_config(f"{ENV_PREFIX}QPU_")

    token_secret_block: str | None = Field(
        default=None, description="Prefect Secret block holding an IBM Quantum token (else QISKIT_IBM_TOKEN)."
    )


class BrokerSettings(BaseSettings):
    """The broker's prices, power draws, queue wait and memory headroom (QCFLOW_*, each default cites its source)."""

    model_config = _group_config()

    # IBM Quantum Platform pay-as-you-go rate, USD 96 per QPU minute (ibm.com/quantum/pricing, 2024).
    qpu_price_per_second_usd: float = Field(1.60, ge=0)
    # Assumption: an on-demand cloud vCPU-hour (AWS c7i.large, USD 0.0893/h for 2 vCPU, us-east-1, 2024).
    cpu_price_per_core_hour_usd: float = Field(0.0446, ge=0)
    # Assumption: a cloud GPU-hour of an H100 class card (order of USD 2-4/h on-demand, 2024 list prices).
    gpu_price_per_hour_usd: float = Field(3.0, ge=0)
    # Assumption: ~10 W per busy server core (a 200-300 W CPU package over 24-32 cores).
    cpu_watts_per_core: float = Field(10.0, ge=0)
    # NVIDIA H100 SXM board power, 700 W (NVIDIA H100 datasheet).
    gpu_watts: float = Field(700.0, ge=0)
    # Assumption: a superconducting QPU with its dilution refrigerator and electronics draws ~25 kW.
    qpu_watts: float = Field(25_000.0, ge=0)
    # Assumption: a queued IBM job waits ~60 s on average per job ahead of it.
    seconds_per_queued_job: float = Field(60.0, ge=0)
    memory_headroom: float = Field(
        0.9, gt=0, le=1, description="Fraction of free memory the broker lets one segment use."
    )


class QcflowSettings(BaseModel):
    """All of qcflow's settings, one group per concern; `QcflowSettings()` reads every group from the environment."""

    model_config = ConfigDict(frozen=True)

    paths: PathSettings = Field(default_factory=PathSettings)
    screening: ScreeningSettings = Field(default_factory=ScreeningSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    qpu: QpuSettings = Field(default_factory=QpuSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)


def _prefix(group: type[BaseSettings]) -> str:
    """The part of a group's variable names between QCFLOW_ and the field, lower case ('' or 'slurm_')."""
    return str(group.model_config.get("env_prefix", "")).removeprefix(ENV_PREFIX).lower()


def _subgroup(annotation: Any) -> type[BaseSettings] | None:
    """The settings group a field holds, or None for a plain value."""
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseSettings) else None


def _names(group: type[BaseSettings]) -> list[str]:
    """Every setting of a group and its subgroups, named as its variable without QCFLOW_, lower case."""
    names = []
    for name, info in group.model_fields.items():
        sub = _subgroup(info.annotation)
        names.extend(_names(sub) if sub else [_prefix(group) + name])
    return names


GROUPS: dict[str, type[BaseSettings]] = {
    name: info.annotation for name, info in QcflowSettings.model_fields.items() if _subgroup(info.annotation)
}
SETTING_NAMES: tuple[str, ...] = tuple(name for group in GROUPS.values() for name in _names(group))


def _check_names(values: dict[str, Any]) -> None:
    unknown = sorted(set(values) - set(SETTING_NAMES))
    if unknown:
        raise ValueError(
            f"unknown setting(s) {', '.join(unknown)}; name them as their QCFLOW_* variable without the prefix, "
            f"in lower case: {', '.join(SETTING_NAMES)}"
        )


def _read_group(group: type[BaseSettings], values: dict[str, Any], errors: list[Any]) -> BaseSettings | None:
    """One group from the environment and `values`; its problems go to `errors`, located at the variable's name."""
    prefix = _prefix(group)
    given: dict[str, Any] = {}
    for name, info in group.model_fields.items():
        sub = _subgroup(info.annotation)
        if sub is not None:
            given[name] = _read_group(sub, values, errors) or sub.model_construct()
        elif prefix + name in values:
            given[name] = values[prefix + name]
    try:
        return group(**given)
    except ValidationError as error:
        for problem in error.errors():
            detail = {"type": problem["type"], "loc": (prefix + str(problem["loc"][0]), *problem["loc"][1:])}
            detail["input"] = problem.get("input")
            if "ctx" in problem:
                detail["ctx"] = problem["ctx"]
            errors.append(detail)
        return None


def load_settings(**values: Any) -> QcflowSettings:
    """Settings read now from the environment, with `values` (named as in SETTING_NAMES) taking precedence.

    A bad value raises one ValidationError listing every problem, each located at its variable's name without the
    prefix (`memory_headroom`, `slurm_cores`), so the command line can name the variable to fix.
    """
    _check_names(values)
    errors: list[Any] = []
    groups = {name: _read_group(group, values, errors) for name, group in GROUPS.items()}
    if errors:
        raise ValidationError.from_exception_data(QcflowSettings.__name__, errors)
    return QcflowSettings(**groups)


@dataclass
class _Frame:
    """Settings in force: the values given on top of the environment, read on first use."""

    values: dict[str, Any]
    settings: QcflowSettings | None = field(default=None)


_frames: list[_Frame] = [_Frame({})]
_lock = threading.RLock()


def get_settings() -> QcflowSettings:
    """The settings in force: the innermost `settings_override`, else the process's (read once from the
    environment). The results folder is created on first read; OSError if it cannot be."""
    frame = _frames[-1]
    settings = frame.settings
    if settings is None:
        with _lock:
            settings = frame.settings
            if settings is None:
                settings = load_settings(**frame.values)
                settings.paths.results.mkdir(parents=True, exist_ok=True)
                frame.settings = settings
    return settings


@contextmanager
def settings_override(**values: Any) -> Iterator[None]:
    """Within the block, `get_settings()` returns the settings re-read from the environment with `values` (and
    those of any enclosing override) on top, in every thread of the process; the previous ones come back after.

    Without values it re-reads the environment, e.g. after a test changed a QCFLOW_* variable. Unknown names are
    refused here (ValueError); bad values when the settings are first read inside the block, as in a real run.
    """
    _check_names(values)
    with _lock:
        frame = _Frame({**_frames[-1].values, **values})
        _frames.append(frame)
    try:
        yield
    finally:
        with _lock:
            _frames.remove(frame)


def _as_variable(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def settings_environment(settings: QcflowSettings) -> dict[str, str]:
    """The QCFLOW_* variables that rebuild `settings` in another process (unset values left out)."""

    def variables(group: BaseSettings) -> dict[str, str]:
        found: dict[str, str] = {}
        prefix = _prefix(type(group))
        for name, info in type(group).model_fields.items():
            value = getattr(group, name)
            if _subgroup(info.annotation):
                found |= variables(value)
            elif value is not None:
                found[f"{ENV_PREFIX}{prefix}{name}".upper()] = _as_variable(value)
        return found

    return {name: value for group in GROUPS for name, value in variables(getattr(settings, group)).items()}
