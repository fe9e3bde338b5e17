"""Classical segments: what an expensive classical step must compute, profiled from its inputs (no Prefect).

Each kind has a cost model in `classical.cost_models`; `broker.place` finds it by the segment's `kind`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field


class MLPotentialBatch(BaseModel):
    """Energies (static) or relaxations of many structures with a universal ML potential (CHGNet).

    `atoms` are the atoms of each structure; `relax_steps` is the optimiser's step limit (0 for static energies).
    """

    kind: ClassVar[str] = "ml_potential"

    name: str
    atoms: list[int] = Field(description="atoms per structure, one entry per structure")
    relax_steps: int = Field(0, ge=0, description="optimizer step limit per relaxation; 0 = static energies")
    model: str = "chgnet"

    @property
    def structures(self) -> int:
        """Number of structures in the segment."""
        return len(self.atoms)

    def summary(self) -> str:
        """One line for reasons and reports."""
        what = f"relaxations (<= {self.relax_steps} steps)" if self.relax_steps else "static energies"
        largest = max(self.atoms, default=0)
        return f"{self.structures:,} {self.model} {what}, {sum(self.atoms):,} atoms in all, largest cell {largest:,}"


class ClimateEnsemble(BaseModel):
    """Emulator ensembles: every scenario run with every member over the years (numpy, vectorised over members)."""

    kind: ClassVar[str] = "climate_ensemble"

    name: str
    scenarios: int = Field(ge=1)
    members: int = Field(ge=1)
    years: int = Field(ge=1)
    runs_per_scenario: int = Field(1, ge=1, description="ensemble runs per scenario (e.g. one per option)")

    @property
    def member_years(self) -> int:
        """Member-years of time stepping over all scenarios and runs."""
        return self.scenarios * self.runs_per_scenario * self.members * self.years

    def summary(self) -> str:
        """One line for reasons and reports."""
        runs = f" x {self.runs_per_scenario} runs" if self.runs_per_scenario > 1 else ""
        return (
            f"{self.scenarios} scenario(s){runs} x {self.members:,} members x {self.years} years "
            f"= {self.member_years:,} member-years"
        )


class SubspaceDiagonalization(BaseModel):
    """SQD's classical segment: configuration recovery and selected-CI diagonalization of `batches` independent
    subspaces per iteration (qiskit-addon-sqd on pyscf), or, with `method="casci"`, the CASCI reference: one
    diagonalization over every determinant of the active space (pyscf FCI).

    `dimension` is the determinants of the largest subspace expected (strings per spin sector multiplied); time
    grows with it, batches and iterations, memory with it and the batches diagonalized at once.
    """

    kind: ClassVar[str] = "subspace_diagonalization"

    name: str
    orbitals: int = Field(ge=1)
    n_alpha: int = Field(ge=0)
    n_beta: int = Field(ge=0)
    dimension: int = Field(ge=1, description="determinants per subspace (the largest expected)")
    batches: int = Field(1, ge=1, description="independent subspaces per iteration")
    iterations: int = Field(1, ge=1, description="configuration-recovery iterations (at most)")
    samples_per_batch: int = Field(0, ge=0, description="sampled configurations per batch")
    method: Literal["sci", "casci"] = "sci"

    @property
    def diagonalizations(self) -> int:
        """Subspace diagonalizations in all (every batch of every iteration)."""
        return self.batches * self.iterations

    def summary(self) -> str:
        """One line for reasons and reports."""
        space = f"({self.n_alpha + self.n_beta}e,{self.orbitals}o)"
        if self.method == "casci":
            return f"CASCI reference of {space}, {self.dimension:,} determinants"
        return (
            f"subspace diagonalization of {space}: {self.batches} batch(es) x {self.iterations} iteration(s), "
            f"subspaces of up to {self.dimension:,} determinants"
        )
