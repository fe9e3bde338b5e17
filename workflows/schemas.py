"""Typed results of qcflow's flows: what `qcflow screen --out` writes and what Prefect persists (JSON)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class QuantumRefinement(BaseModel):
    """VQE on an active-space fragment of a shortlisted candidate, beside the exact (CASCI) answer."""

    fragment: str = Field(description="Formula of the cluster cut around the chosen site.")
    basis: str
    active_orbitals: int
    active_electrons: int
    qubits: int
    vqe_energy: float = Field(description="VQE ground-state energy, Ha.")
    exact_energy: float = Field(description="Exact energy in the same active space (pyscf CASCI), Ha.")
    hartree_fock_energy: float = Field(description="Restricted Hartree-Fock energy of the fragment, Ha.")
    error_mha: float = Field(description="vqe_energy - exact_energy, mHa (chemical accuracy: 1.594 mHa).")
    iterations: int
    estimator_calls: int
    convergence: list[float] = Field(description="Energy per optimiser iteration, Ha.")
    placement: dict[str, Any] = Field(description="Where the VQE ran and why (broker placement).")
    execution: dict[str, Any] = Field(
        default_factory=dict, description="What happened: measured time, retries, fallbacks, cost, energy."
    )
    seconds: float = Field(description="Measured wall time of the VQE, s.")


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
