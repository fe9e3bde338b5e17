"""Typed results of qcflow's flows: what `qcflow screen --out` writes and what Prefect persists (JSON)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field, model_validator


class QuantumRefinement(BaseModel):
    """A quantum refinement (VQE or SQD) of a shortlisted candidate's active-space fragment, beside CASCI."""

    method: Literal["vqe", "sqd"] = Field(default="vqe", description="The quantum method that refined it.")
    fragment: str = Field(description="Formula of the cluster cut around the chosen site.")
    basis: str
    active_orbitals: int
    active_electrons: int
    qubits: int
    energy: float = Field(description="Ground-state energy the method found, Ha.")
    exact_energy: float | None = Field(
        description="Exact energy in the same active space (pyscf CASCI), Ha; null when not affordable."
    )
    reference_reason: str | None = Field(default=None, description="Why exact_energy is null.")
    hartree_fock_energy: float = Field(description="Restricted Hartree-Fock energy of the fragment, Ha.")
    error_mha: float | None = Field(
        description="energy - exact_energy, mHa (chemical accuracy: 1.594 mHa); null without a reference."
    )
    iterations: int
    estimator_calls: int = Field(default=0, description="VQE: estimator calls (0 for SQD).")
    convergence: list[float] = Field(
        description="Energy per iteration, Ha: per optimiser step (VQE) or configuration-recovery round (SQD)."
    )
    placement: dict[str, Any] = Field(
        description="Where the VQE, or SQD's LUCJ sampling, ran and why (broker placement)."
    )
    execution: dict[str, Any] = Field(
        default_factory=dict, description="What happened: measured time, retries, fallbacks, cost, energy."
    )
    seconds: float = Field(description="Measured wall time of the VQE, or of SQD's sampling, s.")
    sqd: dict[str, Any] | None = Field(
        default=None,
        description="SQD only: its quantum.chemistry.sqd.SQDResult (subspace dimensions, shots, sampler, seconds per segment).",
    )

    @model_validator(mode="before")
    @classmethod
    def _named_vqe_energy(cls, data: Any) -> Any:
        """A result written before SQD joined names the VQE's energy `vqe_energy` (cached results, old JSON)."""
        if isinstance(data, dict) and "vqe_energy" in data:
            legacy = data["vqe_energy"]
            data = {key: value for key, value in data.items() if key != "vqe_energy"}
            if "energy" not in data:
                data["energy"] = legacy
        return data

    @computed_field(description="VQE's energy, Ha (the same as `energy`); null for SQD.")  # type: ignore[prop-decorator]
    @property
    def vqe_energy(self) -> float | None:
        return self.energy if self.method == "vqe" else None


class CandidateResult(BaseModel):
    """One candidate's outcome: energies on the surrogate's (MP2020-corrected) scale, or why it was rejected."""

    formula: str | None
    source: str
    status: Literal["ok", "rejected"]
    error: str | None = None
    energy_per_atom: float | None = Field(default=None, description="Surrogate total energy, eV/atom.")
    formation_energy_per_atom: float | None = Field(default=None, description="eV/atom vs elemental refs.")
    energy_above_hull: float | None = Field(default=None, description="eV/atom above the convex hull.")
    relaxed: bool = False
    quantum: QuantumRefinement | None = None
    from_cache: bool = False


class SegmentCost(BaseModel):
    """What one segment of a run cost: time on its resource, estimated dollars and joules."""

    segment: str
    resource: str
    kind: Literal["classical", "simulator", "qpu"]
    seconds: float = Field(
        description="CPU seconds (classical), simulator or QPU seconds (quantum) spent now."
    )
    cost_usd: float
    energy_joules: float
    from_cache: bool = Field(default=False, description="Reused from an earlier run: nothing spent now.")


class SegmentRun(BaseModel):
    """A classical segment of a run: where the broker placed it and why, and what its execution record measured."""

    segment: str
    kind: str
    placement: dict[str, Any] = Field(
        description="The broker's placement: choice, estimates, runners-up, reasons."
    )
    execution: dict[str, Any] = Field(description="The execution record: measured time, fallbacks, errors.")


class ScreeningReport(BaseModel):
    """Everything a screening run produced."""

    surrogate: str
    parameters: dict[str, Any]
    candidates: list[CandidateResult]
    shortlist: list[str] = Field(description="Sources of the shortlisted candidates, most stable first.")
    costs: list[SegmentCost] = Field(default_factory=list, description="Cost and energy per segment.")
    segments: list[SegmentRun] = Field(
        default_factory=list, description="Classical segments: placements and execution records."
    )

    @property
    def accepted(self) -> list[CandidateResult]:
        return [c for c in self.candidates if c.status == "ok"]

    @property
    def rejected(self) -> list[CandidateResult]:
        return [c for c in self.candidates if c.status == "rejected"]
