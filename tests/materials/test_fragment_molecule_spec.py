"""The fragment as an SQD molecule: the same charge and active space as the VQE path's active_space_problem."""

from __future__ import annotations

import pytest
from pymatgen.core import Structure

from materials.fragment import (
    active_space_problem,
    cut_fragment,
    fragment_label,
    fragment_molecule_spec,
    fragment_sqd_problem,
)
from quantum.chemistry.active_space import casci_reference


def test_the_sqd_problem_of_a_fragment_has_the_vqe_paths_casci_energy(rocksalt_mgo: Structure) -> None:
    fragment = cut_fragment(rocksalt_mgo)
    spec = fragment_molecule_spec(fragment, n_orbitals=4, n_electrons=4)
    assert (spec.charge, spec.basis, spec.active_orbitals, spec.active_electrons) == (0, "sto-3g", 4, 4)
    assert fragment_label(fragment) == "MgO"
    problem = fragment_sqd_problem(fragment, n_orbitals=4, n_electrons=4)
    assert (problem.name, problem.norb, problem.nelec, problem.orbsym) == (
        "MgO/sto-3g (4e,4o)",
        4,
        (2, 2),
        None,
    )
    vqe_problem = active_space_problem(fragment, n_orbitals=4, n_electrons=4)
    # Both are pyscf CASCI(4e,4o) on RHF/sto-3g orbitals, over every determinant: the lowest state here is not
    # totally symmetric (22 mHa below the lowest one that is). The CI solvers' tolerances differ (1e-12 in the
    # VQE path, pyscf's default here): about a micro-Hartree.
    assert casci_reference(problem).energy == pytest.approx(vqe_problem.casci_energy, abs=1e-5)


def test_an_odd_electron_fragment_is_made_a_closed_shell_cation(make_rocksalt) -> None:  # type: ignore[no-untyped-def]
    fragment = cut_fragment(make_rocksalt("Na", "O", 4.6))  # NaO: 19 electrons
    assert fragment_molecule_spec(fragment, n_orbitals=4, n_electrons=4).charge == 1


def test_both_paths_build_the_fragment_in_the_basis_asked_for(rocksalt_mgo: Structure) -> None:
    fragment = cut_fragment(rocksalt_mgo)
    problem = fragment_sqd_problem(fragment, n_orbitals=6, n_electrons=4, basis="6-31g")
    assert (problem.name, problem.norb, problem.nelec) == ("MgO/6-31g (4e,6o)", 6, (2, 2))
    vqe_problem = active_space_problem(fragment, n_orbitals=6, n_electrons=4, basis="6-31g")
    assert vqe_problem.basis == "6-31g"
    sto_3g = active_space_problem(fragment, n_orbitals=6, n_electrons=4)
    assert vqe_problem.hf_energy < sto_3g.hf_energy - 0.5  # 6-31g is a better basis: RHF far lower
    assert casci_reference(problem).energy == pytest.approx(vqe_problem.casci_energy, abs=1e-5)
    with pytest.raises(ValueError, match=r"active_orbitals: 17 active .* orbitals of 6-31g; give at most 16"):
        fragment_sqd_problem(fragment, n_orbitals=17, n_electrons=8, basis="6-31g")
