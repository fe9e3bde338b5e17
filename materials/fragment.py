"""Fragments: a small cluster cut around a site of a crystal, turned into an active-space problem (pyscf).

The cluster keeps the crystal's interatomic distances (Å); the active-space integrals are in Hartree and feed
:func:`quantum.chemistry.hamiltonian.qubit_hamiltonian`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Molecule, Structure
from pymatgen.core.periodic_table import Element
from pyscf import ao2mo, gto, mcscf, scf

from quantum.chemistry import active_space as sqd_active_space
from quantum.chemistry.active_space import MoleculeSpec
from quantum.chemistry.hamiltonian import ElectronicIntegrals

logger = logging.getLogger(__name__)

_SHELL_TOLERANCE = 1e-3  # Å; neighbours closer than this to the nearest distance belong to the nearest shell
_MAX_SEARCH_RADIUS = 12.0  # Å; no nearest neighbour within this radius means the structure is not a solid


def _electronegativity(symbol: str) -> float:
    """Pauling electronegativity (pymatgen's periodic table); 0 where undefined (noble gases)."""
    value = Element(symbol).X
    return 0.0 if math.isnan(value) else float(value)


def _neighbours_by_distance(structure: Structure, site_index: int) -> list:
    """Periodic neighbours of a site, nearest first, within the smallest radius (doubling from 3 Å) that has any."""
    radius = 3.0
    while radius <= _MAX_SEARCH_RADIUS:
        neighbours = structure.get_neighbors(structure[site_index], radius)
        if neighbours:
            centre_x = _electronegativity(structure[site_index].specie.symbol)
            # Nearest first; within a shell the most electronegativity-different first; then index, image.
            return sorted(
                neighbours,
                key=lambda nb: (
                    round(nb.nn_distance / _SHELL_TOLERANCE),
                    -abs(_electronegativity(nb.specie.symbol) - centre_x),
                    nb.index,
                    tuple(np.rint(nb.image).astype(int)),
                ),
            )
        radius *= 2
    raise ValueError(
        f"site_index={site_index} has no neighbour within {_MAX_SEARCH_RADIUS} Å; pass a bulk crystal structure."
    )


def default_fragment_site(structure: Structure) -> int:
    """The first site (lowest index) whose nearest neighbour differs most from it in electronegativity.

    For an ionic binary (rocksalt MgO, NaCl) every site ties, so it is site 0: a deterministic, documented rule.
    """
    contrasts = []
    for index, site in enumerate(structure):
        nearest = _neighbours_by_distance(structure, index)[0]
        contrasts.append(
            abs(_electronegativity(nearest.specie.symbol) - _electronegativity(site.specie.symbol))
        )
    return int(np.argmax(np.round(contrasts, 6)))


def cut_fragment(structure: Structure, site_index: int | None = None, *, max_atoms: int = 2) -> Molecule:
    """A neutral cluster (charge 0): the site plus its max_atoms - 1 nearest neighbours at crystal distances (Å).

    ``site_index`` defaults to :func:`default_fragment_site`. Neighbours are taken nearest first, the most
    electronegativity-different first within a shell, then by site index; the site sits at the origin.
    """
    if not structure.is_ordered:
        raise ValueError(
            "structure is disordered (partial occupancies); order it first, e.g. with pymatgen's "
            "OrderDisorderedStructureTransformation."
        )
    if max_atoms < 2:
        raise ValueError(f"max_atoms={max_atoms} must be at least 2 (the site and one neighbour).")
    if site_index is None:
        site_index = default_fragment_site(structure)
    if not 0 <= site_index < len(structure):
        raise ValueError(
            f"site_index={site_index} is outside 0..{len(structure) - 1} for this {len(structure)}-site "
            "structure; pass a valid index or None for the default site."
        )
    centre = structure[site_index]
    neighbours = _neighbours_by_distance(structure, site_index)[: max_atoms - 1]
    species = [centre.specie.symbol, *(nb.specie.symbol for nb in neighbours)]
    coords = [np.zeros(3), *(np.asarray(nb.coords) - centre.coords for nb in neighbours)]
    logger.debug("fragment around site %d: %s", site_index, species)
    return Molecule(species, coords, charge=0)


@dataclass(frozen=True)
class ActiveSpaceProblem:
    """An active-space electronic-structure problem: integrals (Ha) and pyscf's reference energies (Ha)."""

    integrals: ElectronicIntegrals
    casci_energy: float
    hf_energy: float
    formula: str
    basis: str
    n_orbitals: int
    n_electrons: int
    charge: int


def _check_active_space(n_orbitals: int, n_electrons: int) -> None:
    if n_orbitals < 1:
        raise ValueError(f"n_orbitals={n_orbitals} must be at least 1.")
    if n_electrons < 2 or n_electrons % 2:
        raise ValueError(
            f"n_electrons={n_electrons} must be even and at least 2 (closed-shell RHF reference, "
            "equal alpha and beta electrons)."
        )
    if n_electrons > 2 * n_orbitals:
        raise ValueError(
            f"n_electrons={n_electrons} exceeds 2 * n_orbitals = {2 * n_orbitals}; use at most "
            f"{2 * n_orbitals} electrons or at least {n_electrons // 2} orbitals."
        )


def _pyscf_molecule(molecule: Molecule, basis: str, charge: int) -> gto.Mole:
    atoms = [(site.specie.symbol, tuple(float(x) for x in site.coords)) for site in molecule]
    try:
        return gto.M(atom=atoms, basis=basis, charge=charge, spin=0, unit="Angstrom", verbose=0)
    except (KeyError, RuntimeError) as error:  # pyscf's BasisNotFoundError is a RuntimeError
        raise ValueError(
            f"basis={basis!r} is not available in pyscf for {molecule.formula}; use e.g. 'sto-3g', "
            "'6-31g' or 'def2-svp'."
        ) from error


def _closed_shell_charge(molecule: Molecule) -> int:
    """The molecule's charge, raised by one (a cation) when its electron count is odd, so RHF is closed shell."""
    charge = int(molecule.charge)
    if round(molecule.nelectrons) % 2:
        charge += 1
        logger.info(
            "%s has an odd electron count; using charge %+d for a closed shell", molecule.formula, charge
        )
    return charge


@dataclass(frozen=True)
class FragmentSize:
    """A fragment's size in a basis, found without any SCF: its orbitals and its closed-shell electron count."""

    formula: str
    basis: str
    orbitals: int
    electrons: int
    charge: int

    def max_active_orbitals(self, n_electrons: int) -> int:
        """The most active orbitals around the Fermi level that hold n_electrons: the orbitals of the basis less
        the doubly occupied ones below the active space."""
        return self.orbitals - (self.electrons - n_electrons) // 2

    def active_space_problem(self, n_orbitals: int, n_electrons: int) -> str | None:
        """Why CAS(n_electrons, n_orbitals) does not fit this fragment (its electrons, its basis), or None."""
        if n_electrons > self.electrons:
            return (
                f"n_electrons={n_electrons} exceeds the {self.electrons} electrons of {self.formula} "
                f"(charge {self.charge}); use at most {self.electrons}."
            )
        if n_orbitals > (largest := self.max_active_orbitals(n_electrons)):
            return (
                f"n_orbitals={n_orbitals} with n_electrons={n_electrons} needs {n_orbitals - n_electrons // 2} "
                f"virtual orbitals but {self.formula}/{self.basis} ({self.orbitals} orbitals, {self.electrons} "
                f"electrons) has {self.orbitals - self.electrons // 2}; use at most {largest} orbitals or a "
                "larger basis."
            )
        return None


def fragment_size(molecule: Molecule, basis: str = "sto-3g") -> FragmentSize:
    """The fragment's orbitals in `basis` and its electrons at the closed-shell charge (pyscf builds the molecule,
    no SCF: milliseconds); ValueError naming the basis when pyscf lacks it for these elements."""
    return _size(molecule, _pyscf_molecule(molecule, basis, _closed_shell_charge(molecule)), basis)


def _size(molecule: Molecule, mol: gto.Mole, basis: str) -> FragmentSize:
    formula = _reduced_formula_label(molecule)
    return FragmentSize(formula, basis, int(mol.nao_nr()), int(mol.nelectron), int(mol.charge))


def _check_active_space_fits(size: FragmentSize, *, n_orbitals: int, n_electrons: int) -> None:
    """Refuse an active space with more electrons than the molecule has or more virtuals than the basis has."""
    if problem := size.active_space_problem(n_orbitals, n_electrons):
        raise ValueError(problem)


def basis_name_problem(basis: str) -> str | None:
    """Why pyscf knows no basis by this name (for any element), or None: pyscf's own basis names (case and
    punctuation as pyscf normalizes them), else whatever pyscf can load for one of a few common elements."""
    from pyscf.gto import basis as pyscf_basis

    if pyscf_basis._format_basis_name(basis) in pyscf_basis.ALIAS:
        return None
    for symbol in ("H", "C", "O", "Si", "Fe"):
        try:
            with warnings.catch_warnings(action="ignore", category=UserWarning):  # pyscf's install hint
                if pyscf_basis.load(basis, symbol):
                    return None
        except Exception:  # pyscf raises BasisNotFoundError (a RuntimeError), KeyError or others per format
            continue
    return f"basis={basis!r} is not a basis pyscf knows; use e.g. 'sto-3g', '6-31g', 'cc-pvdz' or 'def2-svp'"


def fragments_active_space_problem(
    structures: Iterable[Structure], *, n_orbitals: int, n_electrons: int, basis: str
) -> str | None:
    """Why no fragment of these structures can hold CAS(n_electrons, n_orbitals) in `basis`, or None as soon as
    one can (no SCF). Structures whose fragment cannot be cut are passed over; none at all is no problem."""
    misfits: list[str] = []
    best = 0
    for structure in structures:
        try:
            fragment = cut_fragment(structure)
        except ValueError:  # disordered, or no neighbour: never refined, and the screening reports why
            continue
        try:
            with warnings.catch_warnings(action="ignore", category=UserWarning):  # pyscf's install hint
                size = fragment_size(fragment, basis)
        except ValueError:  # the basis lacks one of its elements
            misfits.append(f"{fragment_label(fragment)}: {basis} lacks one of its elements")
            continue
        if not size.active_space_problem(n_orbitals, n_electrons):
            return None
        if n_electrons > size.electrons:
            misfits.append(f"{size.formula}: only {size.electrons} electrons")
            continue
        best = max(best, size.max_active_orbitals(n_electrons))
        misfits.append(
            f"{size.formula}/{basis}: {size.orbitals} orbitals, {size.electrons} electrons, so at most "
            f"{size.max_active_orbitals(n_electrons)} active orbitals hold {n_electrons} active electrons"
        )
    if not misfits:
        return None
    shown = "; ".join(misfits[:3]) + (f"; and {len(misfits) - 3} more" if len(misfits) > 3 else "")
    fix = f"at most {best} active_orbitals or " if best > n_electrons // 2 else ""
    return (
        f"active_orbitals={n_orbitals} with active_electrons={n_electrons} fits no candidate's fragment in "
        f"quantum_basis={basis!r} ({shown}); use {fix}a larger quantum_basis, e.g. 'cc-pvdz'"
    )


def _converged_rhf(mol: gto.Mole, molecule: Molecule, basis: str) -> scf.hf.SCF:
    """A tightly converged RHF (Ha): DIIS first, second-order (Newton) if DIIS fails; raises if neither converges."""
    mean_field = scf.RHF(mol)
    mean_field.conv_tol = 1e-11
    mean_field.kernel()
    if not mean_field.converged:
        logger.info("RHF of %s did not converge with DIIS; retrying second-order (Newton)", molecule.formula)
        mean_field = mean_field.newton()
        mean_field.kernel()
    if not mean_field.converged:
        raise RuntimeError(
            f"RHF of {molecule.formula} in {basis} did not converge; check the geometry or charge."
        )
    return mean_field


def _solved_casci(mean_field: scf.hf.SCF, n_orbitals: int, n_electrons: int) -> mcscf.casci.CASCI:
    """CASCI(n_orbitals, n_electrons) on the RHF orbitals around the Fermi level, solved tightly (Ha)."""
    casci = mcscf.CASCI(mean_field, n_orbitals, n_electrons)
    casci.fcisolver.conv_tol = 1e-12
    casci.kernel()
    return casci


def _active_space_integrals(
    casci: mcscf.casci.CASCI, n_orbitals: int, n_electrons: int
) -> ElectronicIntegrals:
    """The CASCI effective one-body h (core folded in), 4-index (pq|rs) and core energy with nuclear repulsion (Ha)."""
    one_body, core_energy = casci.get_h1eff()
    two_body = ao2mo.restore(1, casci.get_h2eff(), n_orbitals)
    return ElectronicIntegrals(
        one_body=np.asarray(one_body),
        two_body=np.asarray(two_body),
        constant=float(core_energy),
        n_alpha=n_electrons // 2,
        n_beta=n_electrons // 2,
    )


def _reduced_formula_label(molecule: Molecule) -> str:
    """The composition formula without spaces or unit counts (e.g. 'Mg1 O1' -> 'MgO')."""
    return re.sub(r"(?<=[A-Za-z])1(?![0-9])", "", molecule.composition.formula.replace(" ", ""))


def active_space_problem(
    molecule: Molecule, *, n_orbitals: int = 2, n_electrons: int = 2, basis: str = "sto-3g"
) -> ActiveSpaceProblem:
    """RHF, then CASCI(n_orbitals, n_electrons) around the Fermi level (pyscf), with the active-space integrals.

    The charge is the molecule's own, raised by one (a cation) when that leaves an odd electron count, so the RHF
    reference is closed shell; the problem records the charge used. Integrals are pyscf's CASCI effective
    one-body h (core folded in), (pq|rs) restored to 4 indices, and the core energy incl. nuclear repulsion.
    """
    _check_active_space(n_orbitals, n_electrons)
    charge = _closed_shell_charge(molecule)
    mol = _pyscf_molecule(molecule, basis, charge)
    _check_active_space_fits(_size(molecule, mol, basis), n_orbitals=n_orbitals, n_electrons=n_electrons)
    mean_field = _converged_rhf(mol, molecule, basis)
    casci = _solved_casci(mean_field, n_orbitals, n_electrons)
    integrals = _active_space_integrals(casci, n_orbitals, n_electrons)
    n_core = (mol.nelectron - n_electrons) // 2
    logger.debug("%s: %d core orbitals, CAS(%de, %do)", molecule.formula, n_core, n_electrons, n_orbitals)
    return ActiveSpaceProblem(
        integrals=integrals,
        casci_energy=float(casci.e_tot),
        hf_energy=float(mean_field.e_tot),
        formula=_reduced_formula_label(molecule),
        basis=basis,
        n_orbitals=n_orbitals,
        n_electrons=n_electrons,
        charge=charge,
    )


def fragment_molecule_spec(
    molecule: Molecule, *, n_orbitals: int, n_electrons: int, basis: str = "sto-3g"
) -> MoleculeSpec:
    """The fragment as an SQD molecule (quantum.chemistry.active_space): geometry in Å, the same closed-shell charge and the
    same CASCI(n_orbitals, n_electrons) active space around the Fermi level as :func:`active_space_problem`."""
    atom = "; ".join(
        f"{site.specie.symbol} {site.coords[0]:.10f} {site.coords[1]:.10f} {site.coords[2]:.10f}"
        for site in molecule
    )
    return MoleculeSpec(
        atom=atom,
        basis=basis,
        charge=_closed_shell_charge(molecule),
        active_orbitals=n_orbitals,
        active_electrons=n_electrons,
    )


def fragment_label(molecule: Molecule) -> str:
    """The fragment's formula as the screening reports name it (e.g. 'MgO')."""
    return _reduced_formula_label(molecule)


def fragment_sqd_problem(
    molecule: Molecule,
    *,
    n_orbitals: int,
    n_electrons: int,
    basis: str = "sto-3g",
    max_subspace_dimension: int | None = None,
) -> sqd_active_space.ActiveSpaceProblem:
    """The fragment's active-space problem for SQD (integrals, RHF, CCSD amplitudes; quantum.chemistry.active_space), refused
    before the RHF when it does not fit the basis or the memory.

    Its point-group labels are dropped, so its CASCI reference covers every determinant: a fragment's active space
    may cut a degenerate shell, and its lowest state need not be totally symmetric (MgO sto-3g (4e,4o): 22 mHa
    below the lowest totally symmetric one), while SQD's subspaces hold determinants of every symmetry.
    """
    spec = fragment_molecule_spec(molecule, n_orbitals=n_orbitals, n_electrons=n_electrons, basis=basis)
    name = f"{fragment_label(molecule)}/{basis} ({n_electrons}e,{n_orbitals}o)"
    problem = sqd_active_space.molecule_problem(spec, max_subspace_dimension, name=name)
    return dataclasses.replace(problem, orbsym=None)
