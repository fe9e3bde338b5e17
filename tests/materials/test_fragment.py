"""Fragments cut from real rocksalt crystals, and their pyscf active-space problems."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Molecule, Structure

from materials.fragment import active_space_problem, cut_fragment, default_fragment_site
from quantum.chemistry.hamiltonian import exact_ground_energy, qubit_hamiltonian

# Rocksalt lattice constants at room temperature (Å): MgO 4.212, NaCl 5.640 (CRC Handbook of Chemistry and
# Physics, "Crystal structures and lattice parameters of inorganic compounds").
MGO_LATTICE_ANGSTROM = 4.212
NACL_LATTICE_ANGSTROM = 5.640
# pyscf FCI, H2 sto-3g 0.735 Å, as listed in docs/architecture.md ("Reference figures", Chemistry).
H2_FCI_HARTREE = -1.13730604


def rocksalt(cation: str, anion: str, lattice_constant: float) -> Structure:
    """Conventional 8-site rocksalt cell (space group Fm-3m, cation at 0 0 0, anion at ½ ½ ½)."""
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(lattice_constant), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


@pytest.fixture(scope="module")
def magnesia() -> Structure:
    return rocksalt("Mg", "O", MGO_LATTICE_ANGSTROM)


def nearest_neighbour_distance(structure: Structure) -> float:
    """Shortest distance between distinct sites (minimum image), Å."""
    distances = structure.distance_matrix
    return float(distances[distances > 1e-8].min())


def test_pair_fragment_keeps_the_crystal_nearest_neighbour_distance(magnesia) -> None:
    fragment = cut_fragment(magnesia)
    assert [site.specie.symbol for site in fragment] == ["Mg", "O"]
    assert fragment.charge == 0
    assert fragment.get_distance(0, 1) == pytest.approx(nearest_neighbour_distance(magnesia), abs=1e-9)
    # Rocksalt geometry: the cation-anion distance is half the cubic lattice constant.
    assert fragment.get_distance(0, 1) == pytest.approx(MGO_LATTICE_ANGSTROM / 2, abs=1e-9)


def test_default_site_and_larger_cluster() -> None:
    salt = rocksalt("Na", "Cl", NACL_LATTICE_ANGSTROM)
    assert default_fragment_site(salt) == 0  # every site ties in rocksalt: the rule takes the lowest index
    fragment = cut_fragment(
        salt, site_index=4, max_atoms=3
    )  # site 4 is the first Cl of the conventional cell
    assert [site.specie.symbol for site in fragment] == ["Cl", "Na", "Na"]
    for neighbour in (1, 2):
        assert fragment.get_distance(0, neighbour) == pytest.approx(NACL_LATTICE_ANGSTROM / 2, abs=1e-9)
    # Two octahedral neighbours of one site are either cis (90°, a/√2 apart) or trans (180°, a apart).
    cis, trans = NACL_LATTICE_ANGSTROM / np.sqrt(2), NACL_LATTICE_ANGSTROM
    assert min(abs(fragment.get_distance(1, 2) - cis), abs(fragment.get_distance(1, 2) - trans)) < 1e-9


def test_mgo_fragment_integrals_reproduce_pyscf_casci(magnesia) -> None:
    problem = active_space_problem(cut_fragment(magnesia), n_orbitals=3, n_electrons=2)
    assert (problem.formula, problem.charge, problem.n_orbitals, problem.n_electrons) == ("MgO", 0, 3, 2)
    hamiltonian = qubit_hamiltonian(problem.integrals)
    assert hamiltonian.num_qubits == 6
    assert exact_ground_energy(hamiltonian, 1, 1) == pytest.approx(problem.casci_energy, abs=1e-8)
    assert problem.casci_energy <= problem.hf_energy + 1e-10  # CASCI includes the HF determinant


def test_h2_full_space_problem_is_fci() -> None:
    hydrogen = Molecule(["H", "H"], [[0, 0, 0], [0, 0, 0.735]])
    problem = active_space_problem(hydrogen, n_orbitals=2, n_electrons=2)
    assert problem.casci_energy == pytest.approx(H2_FCI_HARTREE, abs=1e-6)


def test_odd_electron_fragment_becomes_a_closed_shell_cation() -> None:
    problem = active_space_problem(Molecule(["H", "H", "H"], [[0, 0, 0], [0, 0, 0.9], [0, 0.9, 0]]))
    assert problem.charge == 1  # H3: 3 electrons -> H3+ with 2
    energy = exact_ground_energy(qubit_hamiltonian(problem.integrals), 1, 1)
    assert energy == pytest.approx(problem.casci_energy, abs=1e-8)


@pytest.mark.parametrize(
    ("n_orbitals", "n_electrons", "field"),
    [
        (2, 3, "n_electrons"),
        (2, 6, "n_electrons"),
        (0, 2, "n_orbitals"),
        (3, 4, "n_electrons"),
        (5, 2, "n_orbitals"),
    ],
)
def test_bad_active_space_names_the_field(n_orbitals: int, n_electrons: int, field: str) -> None:
    """H2 sto-3g has 2 electrons and 2 orbitals: 4 electrons or 5 orbitals do not fit."""
    hydrogen = Molecule(["H", "H"], [[0, 0, 0], [0, 0, 0.735]])
    with pytest.raises(ValueError, match=field):
        active_space_problem(hydrogen, n_orbitals=n_orbitals, n_electrons=n_electrons)


def test_bad_fragment_requests_name_the_field(magnesia) -> None:
    with pytest.raises(ValueError, match="site_index"):
        cut_fragment(magnesia, site_index=8)
    with pytest.raises(ValueError, match="max_atoms"):
        cut_fragment(magnesia, max_atoms=1)
    with pytest.raises(ValueError, match="basis"):
        active_space_problem(cut_fragment(magnesia), basis="no-such-basis")


def test_fragment_size_counts_pyscf_orbitals_and_refuses_what_the_basis_cannot_hold(magnesia) -> None:
    from pyscf import gto

    from materials.fragment import fragment_size

    fragment = cut_fragment(magnesia)
    atoms = [(site.specie.symbol, tuple(float(x) for x in site.coords)) for site in fragment]
    for basis in ("sto-3g", "6-31g"):
        independent = gto.M(atom=atoms, basis=basis, unit="Angstrom", verbose=0)
        size = fragment_size(fragment, basis)
        assert (size.orbitals, size.electrons, size.charge) == (independent.nao_nr(), 20, 0)
    # MgO/6-31g: 22 orbitals, 10 doubly occupied; CAS(8e,16o) leaves 6 below it, CAS(8e,17o) would need 7 + 17
    assert fragment_size(fragment, "6-31g").max_active_orbitals(8) == 16


def test_an_active_space_beyond_the_fragments_basis_is_refused_before_the_rhf(magnesia) -> None:
    with pytest.raises(
        ValueError, match=r"n_orbitals=17 .* MgO/6-31g .* use at most 16 orbitals or a larger basis"
    ):
        active_space_problem(cut_fragment(magnesia), n_orbitals=17, n_electrons=8, basis="6-31g")


def test_fragments_problem_stops_at_the_first_fragment_that_fits_and_names_those_that_do_not(
    magnesia,
) -> None:
    from materials.fragment import fragments_active_space_problem

    titanium = rocksalt("Ti", "O", 4.18)  # TiO/6-31g: 36 orbitals, 30 electrons: 23 hold 4 active electrons
    lead = rocksalt("Pb", "O", 5.0)  # pyscf's 6-31g stops at Kr
    assert (
        fragments_active_space_problem([lead, titanium], n_orbitals=16, n_electrons=4, basis="6-31g") is None
    )
    problem = fragments_active_space_problem([lead, magnesia], n_orbitals=16, n_electrons=4, basis="6-31g")
    assert problem == (
        "active_orbitals=16 with active_electrons=4 fits no candidate's fragment in quantum_basis='6-31g' "
        "(PbO: 6-31g lacks one of its elements; MgO/6-31g: 22 orbitals, 20 electrons, so at most 14 active "
        "orbitals hold 4 active electrons); use at most 14 active_orbitals or a larger quantum_basis, e.g. 'cc-pvdz'"
    )
    assert fragments_active_space_problem([], n_orbitals=16, n_electrons=4, basis="6-31g") is None


@pytest.mark.parametrize("name", ["sto-3g", "6-31G", "6-31g*", "cc-pVDZ", "def2-svp"])
def test_basis_names_pyscf_knows_pass(name: str) -> None:
    from materials.fragment import basis_name_problem

    assert basis_name_problem(name) is None


def test_an_unknown_basis_name_is_named_with_examples() -> None:
    from materials.fragment import basis_name_problem

    assert basis_name_problem("6-31q") == (
        "basis='6-31q' is not a basis pyscf knows; use e.g. 'sto-3g', '6-31g', 'cc-pvdz' or 'def2-svp'"
    )
