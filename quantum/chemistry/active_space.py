"""Active-space problems for sample-based quantum diagonalization (SQD): a molecule or an FCIDUMP file in, the
active-space integrals, the RHF and CCSD results that seed the LUCJ circuit, and CASCI as the reference out.

Everything is checked at the edge (`MoleculeSpec`, `read_fcidump`, `check_fits`), so a problem that cannot be
built or cannot fit in memory is refused with the field, the value and the fix before any work starts.
Energies are in Hartree, memory in bytes, time in seconds.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
from pydantic import BaseModel, Field, model_validator
from pyscf import ao2mo, cc, fci, gto, mcscf, scf
from pyscf.tools import fcidump

logger = logging.getLogger(__name__)

# CASCI (pyscf direct_spin1) is exact but its cost grows with the determinant count: N2/6-31G (10e,16o),
# 19.1 M determinants, is the largest computed by default (minutes on 2 cores here); beyond, the reference is null.
DEFAULT_CASCI_DETERMINANT_LIMIT = 20_000_000
# Up to this many determinants CASCI is one dense diagonalization (an 8 MB matrix at 1,000).
DENSE_DETERMINANT_LIMIT = 1_000
# pyscf's Davidson solver keeps up to ~12 trial vectors, their images and a few work vectors (float64).
DAVIDSON_VECTORS = 30
# Abelian subgroups pyscf's symmetry-adapted FCI accepts for linear molecules (Dooh -> D2h, Coov -> C2v).
LINEAR_SUBGROUPS = {"Dooh": "D2h", "Coov": "C2v"}


class ProblemError(ValueError):
    """An active-space problem that cannot be built: the message names the field, the value and the fix."""


class MoleculeSpec(BaseModel):
    """A molecule and its active space, validated before any quantum-chemistry work.

    `atom` is pyscf's geometry string (Å), e.g. "N 0 0 0; N 0 0 1.1"; `spin` is 2S (n_alpha - n_beta).
    Without `active_orbitals`/`active_electrons` every orbital above the frozen core is active.
    """

    atom: str = Field(min_length=1, description="Geometry in pyscf's format, Å: 'N 0 0 0; N 0 0 1.1'.")
    basis: str = Field(default="sto-3g", min_length=1, description="Gaussian basis set name (pyscf).")
    charge: int = Field(default=0, description="Total charge.")
    spin: int = Field(default=0, ge=0, description="2S = n_alpha - n_beta; SQD here needs 0 (closed shell).")
    frozen_core: bool = Field(default=False, description="Freeze the chemical core orbitals (pyscf's count).")
    active_orbitals: int | None = Field(default=None, ge=1, description="Active spatial orbitals K.")
    active_electrons: int | None = Field(default=None, ge=2, description="Active electrons M.")

    @model_validator(mode="after")
    def _consistent(self) -> MoleculeSpec:
        if (self.active_orbitals is None) != (self.active_electrons is None):
            raise ValueError(
                "active_orbitals/active_electrons: give both or neither "
                f"(got {self.active_orbitals} and {self.active_electrons})"
            )
        if self.spin != 0:
            raise ValueError(
                f"spin: {self.spin} is an open shell; the LUCJ circuit starts from a closed-shell RHF "
                "reference, so give spin 0 (an even number of electrons)"
            )
        if self.active_electrons is not None and self.active_electrons % 2:
            raise ValueError(
                f"active_electrons: {self.active_electrons} is odd; a closed-shell reference needs an even "
                "number of active electrons (change it by one, or the charge)"
            )
        return self


@dataclass(frozen=True)
class ActiveSpaceProblem:
    """Active-space Hamiltonian in the RHF orbital basis (Ha), with what seeds and checks SQD.

    `one_body` (K, K) and `two_body` (K, K, K, K, chemists' notation) act on the active orbitals; `constant` is
    the energy of everything outside them, nuclear repulsion included. `t1`/`t2` are CCSD amplitudes of the
    active space (occupied-virtual), the LUCJ circuit's starting parameters.
    """

    name: str
    one_body: np.ndarray
    two_body: np.ndarray
    constant: float
    n_alpha: int
    n_beta: int
    hf_energy: float
    ccsd_energy: float
    t1: np.ndarray
    t2: np.ndarray
    orbsym: tuple[int, ...] | None = None  # point-group irreps of the active orbitals (pyscf ids), if known

    @property
    def norb(self) -> int:
        """Active spatial orbitals (qubits = 2 * norb)."""
        return int(self.one_body.shape[0])

    @property
    def nelec(self) -> tuple[int, int]:
        """(n_alpha, n_beta)."""
        return (self.n_alpha, self.n_beta)

    @property
    def determinants(self) -> int:
        """Dimension of the full CI space of the active space (alpha strings x beta strings)."""
        return math.comb(self.norb, self.n_alpha) * math.comb(self.norb, self.n_beta)


class ReferenceEnergy(BaseModel):
    """CASCI energy of the active space (Ha), or null with the reason it was not computed."""

    energy: float | None
    reason: str | None = None
    seconds: float = 0.0


def build_molecule(spec: MoleculeSpec) -> gto.Mole:
    """pyscf's molecule (point group detected), refused with the field when pyscf cannot build it."""
    try:
        mol = gto.M(
            atom=spec.atom, basis=spec.basis, charge=spec.charge, spin=spec.spin, symmetry=True, verbose=0
        )
    except (KeyError, RuntimeError, ValueError) as error:
        if isinstance(error, KeyError) or "unknown basis" in str(error).lower():  # pyscf 2: RuntimeError
            raise ProblemError(
                f"basis: {spec.basis!r} is not a basis pyscf knows ({' '.join(str(error).split())}); "
                "use e.g. sto-3g, 6-31g, cc-pvdz"
            ) from error
        raise ProblemError(
            f"atom/charge/spin: pyscf cannot build {spec.atom!r} with charge {spec.charge} and spin {spec.spin} "
            f"({error}); check the element symbols, coordinates (Å) and that electrons minus spin is even"
        ) from error
    if mol.topgroup in LINEAR_SUBGROUPS:  # degenerate pi pairs may be cut by the active space: use D2h / C2v
        mol = mol.build(symmetry=LINEAR_SUBGROUPS[mol.topgroup])
    return mol


def active_space_of(spec: MoleculeSpec, mol: gto.Mole) -> tuple[int, int, int]:
    """(frozen core orbitals, active orbitals, active electrons) of a molecule, refused if they do not fit."""
    ncore = _frozen_core_orbitals(mol) if spec.frozen_core else 0
    n_orbitals = int(mol.nao_nr())
    free_electrons = mol.nelectron - 2 * ncore
    norb = spec.active_orbitals if spec.active_orbitals is not None else n_orbitals - ncore
    nelecas = spec.active_electrons if spec.active_electrons is not None else free_electrons
    inactive = ncore + max(free_electrons - nelecas, 0) // 2  # frozen core + doubly occupied below the space
    if inactive + norb > n_orbitals:
        raise ProblemError(
            f"active_orbitals: {norb} active + {inactive} inactive (frozen core and doubly occupied) orbitals exceed "
            f"the {n_orbitals} orbitals of {spec.basis}; give at most {n_orbitals - inactive} or a larger basis"
        )
    if nelecas > free_electrons:
        raise ProblemError(
            f"active_electrons: {nelecas} exceeds the {free_electrons} electrons outside the frozen core; "
            f"give at most {free_electrons}"
        )
    if (free_electrons - nelecas) % 2:
        raise ProblemError(
            f"active_electrons: {nelecas} leaves an odd number of inactive electrons "
            f"({free_electrons - nelecas}); a closed-shell reference needs an even number"
        )
    if not 0 < nelecas // 2 < norb:
        raise ProblemError(
            f"active_orbitals/active_electrons: {nelecas} electrons in {norb} orbitals leave no empty or no "
            "occupied orbital; SQD needs both (more orbitals or fewer electrons)"
        )
    return ncore, norb, nelecas


def _formula(mol: gto.Mole) -> str:
    counts = Counter(mol.atom_pure_symbol(i) for i in range(mol.natm))
    return "".join(f"{element}{count if count > 1 else ''}" for element, count in counts.items())


def _frozen_core_orbitals(mol: gto.Mole) -> int:
    """Chemical core orbitals (pyscf's count: 1 per Li-Ne atom, 5 per Na-Ar, ...)."""
    from pyscf.data import elements

    return int(elements.chemcore(mol))


def molecule_problem(
    spec: MoleculeSpec, max_subspace_dimension: int | None = None, name: str | None = None
) -> ActiveSpaceProblem:
    """RHF, active-space integrals and CCSD amplitudes of a molecule.

    Refused with the field before the RHF if the active space does not fit the basis or the memory.
    """
    mol = build_molecule(spec)
    _, norb, nelecas = active_space_of(spec, mol)
    name = name or f"{_formula(mol)}/{spec.basis} ({nelecas}e,{norb}o)"
    check_fits(name, math.comb(norb, nelecas // 2) ** 2, max_subspace_dimension)
    mean_field = scf.RHF(mol).run()
    if not mean_field.converged:
        raise ProblemError(
            f"atom: RHF did not converge for {spec.atom!r}/{spec.basis}; check the geometry (Å)"
        )
    casci = mcscf.CASCI(mean_field, norb, nelecas)
    one_body, constant = casci.get_h1eff()
    two_body = ao2mo.restore(1, casci.get_h2eff(), norb)
    inactive = casci.ncore  # frozen core plus the doubly occupied orbitals below the active space
    frozen = [p for p in range(mol.nao_nr()) if p < inactive or p >= inactive + norb]
    labels = mean_field.get_orbsym(mean_field.mo_coeff)[inactive : inactive + norb]
    orbsym = tuple(int(irrep) for irrep in labels)
    return _with_ccsd(
        name,
        np.asarray(one_body),
        np.asarray(two_body),
        float(constant),
        nelecas,
        float(mean_field.e_tot),
        cc.CCSD(mean_field, frozen=frozen or None),
        orbsym,
    )


def _with_ccsd(
    name: str,
    one_body: np.ndarray,
    two_body: np.ndarray,
    constant: float,
    nelecas: int,
    hf_energy: float,
    ccsd: cc.ccsd.CCSD,
    orbsym: tuple[int, ...] | None = None,
) -> ActiveSpaceProblem:
    ccsd.verbose = 0
    ccsd.kernel()
    if not ccsd.converged:
        logger.warning("CCSD did not converge for %s; the LUCJ starts from unconverged amplitudes", name)
    return ActiveSpaceProblem(
        name=name,
        one_body=one_body,
        two_body=two_body,
        constant=constant,
        n_alpha=nelecas // 2,
        n_beta=nelecas // 2,
        hf_energy=hf_energy,
        ccsd_energy=float(ccsd.e_tot),
        t1=np.asarray(ccsd.t1),
        t2=np.asarray(ccsd.t2),
        orbsym=orbsym,
    )


def parse_fcidump(path: str | Path) -> dict:
    """pyscf's parse of an FCIDUMP file (H1, H2, ECORE, NORB, NELEC, MS2), refused when it is not a closed shell
    FCIDUMP, with the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise ProblemError(f"fcidump: {path} is not a file; give the path of an FCIDUMP file")
    try:
        data = fcidump.read(str(path), verbose=False)
        norb, nelec, ms2 = int(data["NORB"]), int(data["NELEC"]), int(data.get("MS2", 0))
    except (RuntimeError, ValueError, KeyError, IndexError, UnicodeDecodeError) as error:
        raise ProblemError(
            f"fcidump: {path} does not parse as FCIDUMP ({type(error).__name__}: {error}); it needs a "
            "'&FCI NORB=.., NELEC=.., MS2=..' header ended by '&END' or '/', then 'value i j k l' lines"
        ) from error
    if ms2 != 0 or nelec % 2:
        raise ProblemError(
            f"fcidump: {path} has NELEC={nelec}, MS2={ms2}; SQD here needs a closed shell (MS2=0, even NELEC)"
        )
    if not 0 < nelec // 2 < norb:
        raise ProblemError(
            f"fcidump: {path} has NELEC={nelec} in NORB={norb}; no empty or no occupied orbital"
        )
    return data


def read_fcidump(path: str | Path, max_subspace_dimension: int | None = None) -> ActiveSpaceProblem:
    """An FCIDUMP file as an active-space problem: every orbital active, rotated to its RHF orbitals."""
    path = Path(path)
    data = parse_fcidump(path)
    norb, nelec = int(data["NORB"]), int(data["NELEC"])
    check_fits(path.name, math.comb(norb, nelec // 2) ** 2, max_subspace_dimension)
    mol = gto.M(verbose=0)
    mol.nelectron, mol.nao, mol.incore_anyway = nelec, norb, True
    constant = float(data.get("ECORE", 0.0))
    mean_field = scf.RHF(mol)
    mean_field.get_hcore = lambda *args: data["H1"]
    mean_field.get_ovlp = lambda *args: np.eye(norb)
    mean_field.energy_nuc = lambda *args: constant
    mean_field._eri = ao2mo.restore(8, data["H2"], norb)
    mean_field.kernel()
    orbitals = mean_field.mo_coeff
    one_body = orbitals.T @ data["H1"] @ orbitals
    two_body = ao2mo.restore(1, ao2mo.full(mean_field._eri, orbitals), norb)
    return _with_ccsd(
        f"{path.name} ({nelec}e,{norb}o)",
        one_body,
        two_body,
        constant,
        nelec,
        float(mean_field.e_tot),
        cc.CCSD(mean_field),
    )


def casci_reference(
    problem: ActiveSpaceProblem, determinant_limit: int = DEFAULT_CASCI_DETERMINANT_LIMIT
) -> ReferenceEnergy:
    """Exact (CASCI) ground energy of the active space (Ha): the lowest state over every determinant, whatever
    its point-group irrep or spin, or null with the reason when the space is too large.

    SQD's subspaces hold determinants of every symmetry and its solver fixes no spin, so this lowest state is the
    bound its energies approach; it need not be totally symmetric nor a singlet (MgO/STO-3G (4e,4o): a triplet,
    22 mHa below the lowest totally symmetric singlet). Up to DENSE_DETERMINANT_LIMIT determinants one dense
    diagonalization; beyond, one Davidson (pyscf direct_spin1, no symmetry) from `symmetry_broken_start`.
    """
    if problem.determinants > determinant_limit:
        return ReferenceEnergy(
            energy=None,
            reason=f"CASCI not computed: {problem.determinants:,} determinants exceed the limit of "
            f"{determinant_limit:,}",
        )
    start = time.perf_counter()
    if problem.determinants <= DENSE_DETERMINANT_LIMIT:
        _, hamiltonian = fci.direct_spin1.pspace(
            problem.one_body, problem.two_body, problem.norb, problem.nelec, np=problem.determinants
        )
        energy = float(np.linalg.eigvalsh(hamiltonian)[0])
    else:
        energy, _ = fci.direct_spin1.FCI().kernel(
            problem.one_body,
            problem.two_body,
            problem.norb,
            problem.nelec,
            ci0=symmetry_broken_start(problem),
        )
    return ReferenceEnergy(energy=float(energy) + problem.constant, seconds=time.perf_counter() - start)


def symmetry_broken_start(problem: ActiveSpaceProblem, spread: float = 0.1, seed: int = 0) -> np.ndarray:
    """The Davidson start: the Hartree-Fock determinant plus a small seeded random vector over every determinant.

    The Hamiltonian keeps point-group irreps and spin apart, so a Davidson started from Hartree-Fock alone stays
    in its sector (pyscf's direct_spin1 on MgO/6-31G (4e,10o): 20 mHa above the lowest state, a triplet). The
    random part gives every sector a foothold, so the Rayleigh-Ritz step finds the lowest state wherever it lies,
    while the start stays close to Hartree-Fock and converges about as fast (N2/6-31G (10e,12o): 7 s, against
    121 s from a purely random start and 151 s for one Davidson per symmetry sector, 2 shared cores).
    """
    shape = (math.comb(problem.norb, problem.n_alpha), math.comb(problem.norb, problem.n_beta))
    guess = np.random.default_rng(seed).standard_normal(shape) * spread / math.sqrt(shape[0] * shape[1])
    guess[0, 0] += 1.0  # pyscf orders strings so that the first of each spin is the aufbau (Hartree-Fock) one
    return guess / np.linalg.norm(guess)


def subspace_bytes(dimension: int) -> int:
    """Peak memory of one subspace diagonalization (pyscf selected CI, Davidson): float64 vectors, bytes."""
    return 8 * DAVIDSON_VECTORS * dimension


def statevector_bytes(determinants: int) -> int:
    """ffsim's state vector in the fixed-particle space (complex128, a few copies while gates apply), bytes."""
    return 16 * 4 * determinants


def check_fits(
    name: str,
    determinants: int,
    max_subspace_dimension: int | None = None,
    batches: int = 1,
    available: int | None = None,
) -> None:
    """Refuse, before any work, a problem whose sampling vector or subspaces do not fit in memory.

    `determinants` is the full CI dimension; `batches` is how many subspaces are diagonalized at once.
    """
    available = psutil.virtual_memory().available if available is None else available
    dimension = determinants if max_subspace_dimension is None else min(max_subspace_dimension, determinants)
    needs = {
        "the ffsim state vector": statevector_bytes(determinants),
        f"{batches} subspace diagonalization(s) of dimension {dimension:,}": batches
        * subspace_bytes(dimension),
    }
    for what, size in needs.items():
        if size > available:
            raise ProblemError(
                f"active_orbitals: {name} needs {size / 2**30:.1f} GiB for {what}, "
                f"{available / 2**30:.1f} GiB is available; choose a smaller active space"
                + (" or a smaller max_dim (CI strings per spin sector)" if "subspace" in what else "")
            )
