"""The active-space-sqd flow: a molecule or FCIDUMP -> RHF, CCSD (LUCJ parameters) and CASCI reference ->
LUCJ sampling -> configuration recovery and subspace diagonalization (qiskit-addon-sqd) -> energy vs reference."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, Field, model_validator

from broker.models import Placement, Policy, ResourceCatalog
from broker.place import place
from quantum.active_space import (
    DEFAULT_CASCI_DETERMINANT_LIMIT,
    ActiveSpaceProblem,
    MoleculeSpec,
    ReferenceEnergy,
    casci_reference,
    molecule_problem,
    read_fcidump,
)
from quantum.fermionic_cost_model import FermionicSampling
from quantum.sqd import (
    Diagonalization,
    Enlargement,
    SamplerName,
    SQDResult,
    SQDSettings,
    diagonalize,
    lucj_operator,
    sample_configurations,
    sqd_result,
)
from workflows.qpu_access import flow_catalog

# Cap on CI strings per spin sector: 90,000-determinant subspaces (~20 s per diagonalization on 2 loaded cores
# here). Uncapped, the singles of each iteration's carryover grow the subspace toward the full CI space.
DEFAULT_MAX_DIM = 300


class SQDParameters(BaseModel):
    """Validated parameters of an active-space-sqd run: a molecule (atom, basis, ...) or an FCIDUMP file."""

    atom: str | None = None
    basis: str = "sto-3g"
    charge: int = 0
    spin: int = 0
    frozen_core: bool = False
    active_orbitals: int | None = Field(default=None, ge=1)
    active_electrons: int | None = Field(default=None, ge=2)
    fcidump: str | None = None
    shots: int = Field(default=20_000, ge=100, le=10_000_000)
    samples_per_batch: int = Field(default=300, ge=1)
    batches: int = Field(default=3, ge=1, le=64)
    iterations: int = Field(default=3, ge=1, le=50)
    seed: int = Field(default=0, ge=0)
    sampler: SamplerName | Literal["auto"] = "auto"
    enlargement: Enlargement = "singles"
    max_dim: int | None = Field(default=DEFAULT_MAX_DIM, ge=1)
    casci_determinant_limit: int = Field(default=DEFAULT_CASCI_DETERMINANT_LIMIT, ge=0)

    @model_validator(mode="after")
    def _one_source(self) -> SQDParameters:
        if (self.atom is None) == (self.fcidump is None):
            raise ValueError(
                "atom/fcidump: give exactly one: a molecule (atom, basis, ...) or an FCIDUMP file path"
            )
        if self.fcidump is not None and not Path(self.fcidump).is_file():
            raise ValueError(f"fcidump: {self.fcidump} is not a file; give the path of an FCIDUMP file")
        if self.atom is not None:
            self.molecule()  # the molecule's own checks (odd electrons, open shell, ...)
        return self

    def molecule(self) -> MoleculeSpec:
        """The molecule part as a MoleculeSpec (only when `atom` is given)."""
        return MoleculeSpec(
            atom=self.atom or "",
            basis=self.basis,
            charge=self.charge,
            spin=self.spin,
            frozen_core=self.frozen_core,
            active_orbitals=self.active_orbitals,
            active_electrons=self.active_electrons,
        )

    def settings(self) -> SQDSettings:
        """The subspace settings of the diagonalization segment."""
        return SQDSettings(
            samples_per_batch=self.samples_per_batch,
            batches=self.batches,
            iterations=self.iterations,
            enlargement=self.enlargement,
            max_dim=self.max_dim,
        )


@task(name="active-space", persist_result=False)
def active_space(params: SQDParameters) -> ActiveSpaceProblem:
    """RHF, active-space integrals and CCSD amplitudes; refused before sampling if the problem cannot fit."""
    cap = None if params.max_dim is None else params.max_dim**2
    if params.fcidump:
        return read_fcidump(params.fcidump, cap)
    return molecule_problem(params.molecule(), cap)


@task(name="reference", persist_result=False)
def reference(problem: ActiveSpaceProblem, determinant_limit: int) -> ReferenceEnergy:
    """CASCI of the active space (Ha), or null with the reason when it has too many determinants."""
    return casci_reference(problem, determinant_limit)


@task(name="sampling", persist_result=False)
def sampling(
    problem: ActiveSpaceProblem, shots: int, seed: int, sampler: SamplerName
) -> tuple[np.ndarray, float]:
    """Sample the CCSD-initialised LUCJ circuit; the configurations and the measured seconds."""
    start = time.perf_counter()
    bitstrings = sample_configurations(problem, lucj_operator(problem), shots, seed, sampler)
    return bitstrings, time.perf_counter() - start


@task(name="diagonalization", persist_result=False)
def diagonalization(
    problem: ActiveSpaceProblem, bitstrings: np.ndarray, settings: SQDSettings, seed: int
) -> Diagonalization:
    """Configuration recovery and subspace diagonalization, iterated (qiskit-addon-sqd)."""
    return diagonalize(problem, bitstrings, settings, seed)


def publish_sqd_artifacts(result: SQDResult) -> None:
    """Energy per iteration against the reference, and a summary with the subspace dimension and times."""
    rows = [
        {
            "iteration": index + 1,
            "energy_ha": round(energy, 8),
            "reference_ha": None if result.reference_energy is None else round(result.reference_energy, 8),
            "error_mha": None
            if result.reference_energy is None
            else round((energy - result.reference_energy) * 1000, 3),
            "subspace_dimension": dimension,
        }
        for index, (energy, dimension) in enumerate(
            zip(result.energies, result.subspace_dimensions, strict=True)
        )
    ]
    create_table_artifact(
        rows, key="sqd-energy-per-iteration", description="SQD energy per iteration vs CASCI (Ha, mHa)"
    )
    create_markdown_artifact(summary_markdown(result), key="sqd-summary", description="SQD result")


def summary_markdown(result: SQDResult) -> str:
    """A few lines a scientist reads first: energy, reference, error, subspace, times."""
    reference = (
        f"{result.reference_energy:.6f} Ha (CASCI)"
        if result.reference_energy is not None
        else f"none ({result.reference_reason})"
    )
    error = "n/a" if result.error_mha is None else f"{result.error_mha:.3f} mHa (chemical accuracy: 1.6 mHa)"
    times = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.seconds.items())
    return "\n".join(
        [
            f"# SQD of {result.molecule}",
            f"- energy: {result.energy:.6f} Ha; reference: {reference}; error: {error}",
            f"- RHF {result.hf_energy:.6f} Ha, CCSD {result.ccsd_energy:.6f} Ha",
            f"- {result.qubits} qubits, {result.shots} shots on {result.sampler}; Hartree-Fock in "
            f"{result.hartree_fock_fraction:.1%} of them, {result.distinct_configurations} distinct",
            f"- largest subspace: {result.subspace_dimension:,} determinants; {result.iterations} iterations; "
            f"enlargement: {result.settings.enlargement}",
            f"- measured: {times}",
        ]
    )


def place_sampling(problem: ActiveSpaceProblem, params: SQDParameters, catalog: ResourceCatalog) -> Placement:
    """The broker's placement of the LUCJ sampling (a forced sampler is the only resource the policy allows)."""
    segment = FermionicSampling(
        name=f"lucj-sampling-{problem.name}",
        orbitals=problem.norb,
        n_alpha=problem.n_alpha,
        n_beta=problem.n_beta,
        shots=params.shots,
    )
    forced = {"ffsim": "ffsim", "aer_statevector": "aer-cpu", "aer_mps": "aer-cpu"}.get(params.sampler)
    placement = place(segment, catalog, Policy(allowed_resources=[forced] if forced else None))
    if params.sampler in ("aer_statevector", "aer_mps"):
        method = {"aer_statevector": "statevector", "aer_mps": "matrix_product_state"}[params.sampler]
        chosen = next(e for e in [placement.estimate, *placement.runners_up] if e.method == method)
        if not chosen.feasible:
            raise ValueError(f"sampler={params.sampler}: {chosen.why_not}; use sampler=auto or ffsim")
        others = [e for e in [placement.estimate, *placement.runners_up] if e is not chosen]
        placement = Placement.on(
            segment.name, segment.kind, chosen, others, [f"sampler {params.sampler} asked for"]
        )
    return placement


@flow(name="active-space-sqd", task_runner=ThreadPoolTaskRunner(max_workers=2), log_prints=False)
def active_space_sqd(
    atom: str | None = None,
    basis: str = "sto-3g",
    charge: int = 0,
    spin: int = 0,
    frozen_core: bool = False,
    active_orbitals: int | None = None,
    active_electrons: int | None = None,
    fcidump: str | None = None,
    shots: Annotated[int, Field(ge=100, le=10_000_000)] = 20_000,
    samples_per_batch: Annotated[int, Field(ge=1)] = 300,
    batches: Annotated[int, Field(ge=1, le=64)] = 3,
    iterations: Annotated[int, Field(ge=1, le=50)] = 3,
    seed: Annotated[int, Field(ge=0)] = 0,
    sampler: Literal["auto", "ffsim", "aer_statevector", "aer_mps"] = "auto",
    enlargement: Literal["none", "singles", "singles_doubles"] = "singles",
    max_dim: Annotated[int, Field(ge=1)] | None = DEFAULT_MAX_DIM,
    casci_determinant_limit: int = DEFAULT_CASCI_DETERMINANT_LIMIT,
) -> SQDResult:
    """Sample-based quantum diagonalization of a molecule's active space, against CASCI where affordable.

    Args:
        atom: Geometry in pyscf's format, Å, e.g. "N 0 0 0; N 0 0 1.1" (or give fcidump instead).
        basis: Gaussian basis set name, e.g. sto-3g, 6-31g.
        charge: Total charge of the molecule.
        spin: 2S = n_alpha - n_beta; must be 0 (closed-shell RHF reference).
        frozen_core: Freeze the chemical core orbitals.
        active_orbitals: Active spatial orbitals K (qubits = 2K); all above the core when not given.
        active_electrons: Active electrons M (even); all outside the core when not given.
        fcidump: Path of an FCIDUMP file (every orbital active), instead of atom.
        shots: Configurations sampled from the LUCJ circuit.
        samples_per_batch: Sampled configurations per batch (subspace).
        batches: Independent batches diagonalized per iteration.
        iterations: Configuration-recovery iterations (at most; stops when converged).
        seed: Seed of sampling and subsampling.
        sampler: Where the LUCJ circuit is sampled: auto (the broker's choice among ffsim's fixed-particle
            simulator and Aer's statevector and MPS, by estimated time and memory), ffsim, aer_statevector or aer_mps.
        enlargement: Excitations added to each batch's CI strings: none, singles, singles_doubles.
        max_dim: Cap on CI strings per spin sector (subspace <= max_dim^2, 300: 90,000 determinants); none: no cap.
        casci_determinant_limit: CASCI reference only up to this many determinants.
    """
    logger = get_run_logger()
    params = SQDParameters(**{name: value for name, value in locals().items() if name != "logger"})
    problem = active_space(params)
    logger.info("%s: %d qubits, %s determinants", problem.name, 2 * problem.norb, f"{problem.determinants:,}")
    reference_future = reference.submit(problem, params.casci_determinant_limit)
    placement = place_sampling(problem, params, flow_catalog())
    logger.info("LUCJ sampling placed on %s: %s", placement.label(), "; ".join(placement.reasons[:2]))
    sampler = placement.options["sampler"]
    bitstrings, sampling_seconds = sampling.with_options(tags=["quantum", placement.label()])(
        problem, params.shots, params.seed, sampler
    )
    found = diagonalization(problem, bitstrings, params.settings(), params.seed)
    ref = reference_future.result()
    seconds = {"reference": ref.seconds, "sampling": sampling_seconds, "diagonalization": found.seconds}
    result = sqd_result(problem, bitstrings, found, ref, sampler, params.settings(), seconds)
    result = result.model_copy(update={"placement": placement.model_dump(mode="json")})
    logger.info("SQD %.6f Ha, reference %s, error %s mHa", result.energy, ref.energy, result.error_mha)
    publish_sqd_artifacts(result)
    return result
