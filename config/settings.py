"""qcflow's one settings object, read from `QCFLOW_*` environment variables (documented in README.md)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from materials.surrogate_names import SURROGATE_NAMES


class QcflowSettings(BaseSettings):
    """Where qcflow keeps results and caches, how it runs by default, and the broker's prices and power draws."""

    model_config = SettingsConfigDict(env_prefix="QCFLOW_")

    home: Path = Field(
        default=Path.home() / ".qcflow", description="Root folder for results, caches and records."
    )
    results_dir: Path | None = Field(
        default=None,
        description="Prefect result storage folder (default: HOME/results); shared for clusters.",
    )
    surrogate: str = Field(default="chgnet", description="Universal ML potential used as the DFT surrogate.")
    batch_size: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Structures per surrogate task (one Prefect task each); unset: the broker chooses.",
    )
    progress_bar: bool = Field(default=True, description="Show a progress bar on the terminal.")
    dask_address: str | None = Field(
        default=None,
        description="Scheduler address of a running Dask cluster (tcp://host:8786) for classical work.",
    )
    slurm_queue: str | None = Field(
        default=None,
        description="Slurm partition for classical work through dask-jobqueue (unset: no Slurm).",
    )
    slurm_account: str | None = Field(default=None, description="Slurm account to charge (sbatch -A).")
    slurm_cores: int = Field(
        default=8, ge=1, description="Cores per Slurm job (one Dask worker process each)."
    )
    slurm_memory: str = Field(default="16GB", description="Memory per Slurm job, e.g. 16GB.")
    slurm_walltime: str = Field(default="02:00:00", description="Wall-time limit per Slurm job, HH:MM:SS.")
    slurm_jobs: int = Field(default=4, ge=1, description="Most Slurm jobs the cluster scales up to.")
    slurm_python: str | None = Field(
        default=None, description="Python on the compute nodes (default: this interpreter's path)."
    )
    qpu_token_secret_block: str | None = Field(
        default=None, description="Prefect Secret block holding an IBM Quantum token (else QISKIT_IBM_TOKEN)."
    )

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

    @field_validator("surrogate")
    @classmethod
    def _known_surrogate(cls, name: str) -> str:
        if name not in SURROGATE_NAMES:
            raise ValueError(
                f"QCFLOW_SURROGATE={name!r} is unknown; set it to one of {', '.join(SURROGATE_NAMES)}"
            )
        return name

    @property
    def result_storage(self) -> Path:
        """Folder where Prefect persists task results (JSON)."""
        return self.results_dir or self.home / "results"

    @property
    def reference_cache(self) -> Path:
        """Folder for the surrogate's elemental reference energies."""
        return self.home / "references"

    @property
    def execution_records(self) -> Path:
        """Execution records (JSON lines) every run appends to and the broker learns its time estimates from."""
        return self.home / "execution_records.jsonl"

    @property
    def qpu_job_journal(self) -> Path:
        """Folder of the QPU job journal: job ids persisted before waiting, so reruns re-attach."""
        return self.home / "qpu_jobs"


@lru_cache(maxsize=1)
def get_settings() -> QcflowSettings:
    """The process-wide settings (read once from the environment)."""
    settings = QcflowSettings()
    settings.result_storage.mkdir(parents=True, exist_ok=True)
    return settings
