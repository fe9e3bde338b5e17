"""qcflow's one settings object, read from `QCFLOW_*` environment variables (documented in README.md)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class QcflowSettings(BaseSettings):
    """Where qcflow keeps its results and caches, and how it runs by default."""

    model_config = SettingsConfigDict(env_prefix="QCFLOW_")

    home: Path = Field(
        default=Path.home() / ".qcflow", description="Root folder for results, caches and records."
    )
    results_dir: Path | None = Field(
        default=None,
        description="Prefect result storage folder (default: HOME/results); shared for clusters.",
    )
    surrogate: str = Field(default="chgnet", description="Universal ML potential used as the DFT surrogate.")
    batch_size: int = Field(
        default=16, ge=1, description="Structures per surrogate task (one Prefect task each)."
    )
    progress_bar: bool = Field(default=True, description="Show a progress bar on the terminal.")
    qpu_token_secret_block: str | None = Field(
        default=None, description="Prefect Secret block holding an IBM Quantum token (else QISKIT_IBM_TOKEN)."
    )

    @property
    def result_storage(self) -> Path:
        """Folder where Prefect persists task results (JSON)."""
        return self.results_dir or self.home / "results"

    @property
    def reference_cache(self) -> Path:
        """Folder for the surrogate's elemental reference energies."""
        return self.home / "references"


@lru_cache(maxsize=1)
def get_settings() -> QcflowSettings:
    """The process-wide settings (read once from the environment)."""
    settings = QcflowSettings()
    settings.result_storage.mkdir(parents=True, exist_ok=True)
    return settings
