"""Jordan-Wigner qubit Hamiltonians against pyscf (FCI, CASCI, RHF) on H2 and LiH in sto-3g."""

from __future__ import annotations

import numpy as np
import pytest
from pyscf import ao2mo, fci, gto, mcscf, scf
from qiskit.quantum_info import SparsePauliOp, Statevector

from quantum.chemistry.ansatz import hartree_fock_circuit
from quantum.chemistry.hamiltonian import (
    ElectronicIntegrals,
    annihilation_operator,
    exact_ground_energy,
    number_operator,
    qubit_hamiltonian,
    sector_hamiltonian,
)

# Reference energies: pyscf FCI, sto-3g, as listed in docs/architecture.md ("Reference figures", Chemistry).
H2_FCI_HARTREE = -1.13730604  # H2, 0.735 Å
LIH_FCI_HARTREE = -7.88240193  # LiH, 1.595 Å


def full_space_integrals(atom: str) -> tuple[ElectronicIntegrals, scf.hf.RHF]:
    """All-orbital MO integrals of a closed-shell molecule from pyscf RHF (sto-3g)."""
    mol = gto.M(atom=atom, basis="sto-3g", verbose=0)
    mean_field = scf.RHF(mol).run(conv_tol=1e-11)
    orbitals = mean_field.mo_coeff
    n = orbitals.shape[1]
    integrals = ElectronicIntegrals(
        one_body=orbitals.T @ mean_field.get_hcore() @ orbitals,
        two_body=ao2mo.restore(1, ao2mo.kernel(mol, orbitals), n),
        constant=float(mol.energy_nuc()),
        n_alpha=mol.nelec[0],
        n_beta=mol.nelec[1],
    )
    return integrals, mean_field


@pytest.fixture(scope="module")
def h2() -> tuple[ElectronicIntegrals, scf.hf.RHF]:
    return full_space_integrals("H 0 0 0; H 0 0 0.735")


@pytest.fixture(scope="module")
def lih() -> tuple[ElectronicIntegrals, scf.hf.RHF]:
    return full_space_integrals("Li 0 0 0; H 0 0 1.595")


def test_h2_ground_energy_matches_pyscf_fci(h2) -> None:
    integrals, mean_field = h2
    hamiltonian = qubit_hamiltonian(integrals)
    energy = exact_ground_energy(hamiltonian, integrals.n_alpha, integrals.n_beta)
    assert hamiltonian.num_qubits == 4
    assert energy == pytest.approx(H2_FCI_HARTREE, abs=1e-6)
    assert energy == pytest.approx(fci.FCI(mean_field).kernel()[0], abs=1e-10)


def test_lih_full_space_twelve_qubits_matches_fci(lih) -> None:
    """12 qubits: exercises the sparse sector path (no 4096 x 4096 dense matrix)."""
    integrals, _ = lih
    hamiltonian = qubit_hamiltonian(integrals)
    assert hamiltonian.num_qubits == 12
    assert exact_ground_energy(hamiltonian, 2, 2) == pytest.approx(LIH_FCI_HARTREE, abs=1e-6)


@pytest.mark.parametrize(("n_orbitals", "n_electrons"), [(3, 2), (4, 2), (4, 4)])
def test_lih_active_space_matches_casci(lih, n_orbitals: int, n_electrons: int) -> None:
    _, mean_field = lih
    casci = mcscf.CASCI(mean_field, n_orbitals, n_electrons)
    casci.fcisolver.conv_tol = 1e-12
    casci.kernel()
    one_body, core_energy = casci.get_h1eff()
    integrals = ElectronicIntegrals(
        one_body,
        ao2mo.restore(1, casci.get_h2eff(), n_orbitals),
        core_energy,
        n_electrons // 2,
        n_electrons // 2,
    )
    energy = exact_ground_energy(qubit_hamiltonian(integrals), n_electrons // 2, n_electrons // 2)
    assert energy == pytest.approx(casci.e_tot, abs=1e-8)


def test_hartree_fock_determinant_energy_and_occupations(lih) -> None:
    """<HF|H|HF> is the RHF energy; the number operators count the electrons of each spin on the HF state."""
    integrals, mean_field = lih
    n = integrals.n_orbitals
    state = Statevector(hartree_fock_circuit(n, integrals.n_alpha, integrals.n_beta))
    assert state.expectation_value(qubit_hamiltonian(integrals)).real == pytest.approx(
        mean_field.e_tot, abs=1e-9
    )
    assert state.expectation_value(number_operator(n, "alpha")).real == pytest.approx(integrals.n_alpha)
    assert state.expectation_value(number_operator(n, "beta")).real == pytest.approx(integrals.n_beta)
    assert state.expectation_value(number_operator(n)).real == pytest.approx(
        integrals.n_alpha + integrals.n_beta
    )


def test_hamiltonian_is_hermitian_and_conserves_each_spin_population(h2) -> None:
    integrals, _ = h2
    hamiltonian = qubit_hamiltonian(integrals)
    assert np.all(np.isreal(hamiltonian.coeffs))
    matrix = hamiltonian.to_matrix()
    np.testing.assert_allclose(matrix, matrix.conj().T, atol=1e-14)
    for spin in ("alpha", "beta"):
        commutator = (
            hamiltonian.dot(number_operator(2, spin)) - number_operator(2, spin).dot(hamiltonian)
        ).simplify()
        assert np.max(np.abs(commutator.coeffs)) < 1e-12


def test_ladder_operators_satisfy_canonical_anticommutation() -> None:
    n_modes = 4
    identity = SparsePauliOp("I" * n_modes)
    for p in range(n_modes):
        for q in range(n_modes):
            a_p, a_q = annihilation_operator(p, n_modes), annihilation_operator(q, n_modes)
            anticommutator = (a_p.dot(a_q.adjoint()) + a_q.adjoint().dot(a_p)).simplify()
            expected = identity if p == q else 0 * identity
            np.testing.assert_allclose(anticommutator.to_matrix(), expected.to_matrix(), atol=1e-14)


def test_sector_block_equals_the_dense_matrix_block(lih) -> None:
    integrals, _ = lih
    reduced = ElectronicIntegrals(
        integrals.one_body[:4, :4], integrals.two_body[:4, :4, :4, :4], integrals.constant, 2, 1
    )
    hamiltonian = qubit_hamiltonian(reduced)
    states = [
        index for index in range(2**8) if (index & 0b1111).bit_count() == 2 and (index >> 4).bit_count() == 1
    ]
    dense_block = hamiltonian.to_matrix()[np.ix_(states, states)]
    np.testing.assert_allclose(sector_hamiltonian(hamiltonian, 2, 1).toarray(), dense_block, atol=1e-13)


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(ValueError, match="two_body"):
        ElectronicIntegrals(np.eye(2), np.zeros((2, 2)), 0.0, 1, 1)
    with pytest.raises(ValueError, match="n_alpha"):
        ElectronicIntegrals(np.eye(2), np.zeros((2, 2, 2, 2)), 0.0, 3, 1)
    with pytest.raises(ValueError, match="qubits"):
        exact_ground_energy(SparsePauliOp("ZZZ"), 1, 1)
    with pytest.raises(ValueError, match="n_beta"):
        exact_ground_energy(SparsePauliOp("ZZZZ"), 1, 3)
