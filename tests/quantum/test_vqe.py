"""VQE with the excitation ansatz on the real Aer EstimatorV2 (statevector, exact expectation values)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytest
import scipy.linalg
from pyscf import ao2mo, gto, mcscf, scf
from qiskit.primitives import BaseEstimatorV2
from qiskit.primitives.containers import EstimatorPubLike
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.quantum_info import Operator, Statevector
from qiskit_aer.primitives import EstimatorV2

from quantum.chemistry.ansatz import (
    excitation_ansatz,
    excitation_generator,
    hartree_fock_circuit,
    singles_and_doubles,
)
from quantum.chemistry.hamiltonian import (
    ElectronicIntegrals,
    annihilation_operator,
    exact_ground_energy,
    number_operator,
    qubit_hamiltonian,
)
from quantum.chemistry.vqe import run_vqe

# pyscf FCI, H2 sto-3g 0.735 Å, as listed in docs/architecture.md ("Reference figures", Chemistry).
H2_FCI_HARTREE = -1.13730604
# Chemical accuracy, 1 kcal/mol = 1.594 mHa (docs/architecture.md "Reference figures").
CHEMICAL_ACCURACY_HARTREE = 1.594e-3


class CountingEstimator(BaseEstimatorV2):
    """The real Aer EstimatorV2, recording how many times it is called and the parameter shape of each PUB."""

    def __init__(self) -> None:
        self.inner = EstimatorV2(options={"backend_options": {"method": "statevector"}})
        self.parameter_shapes: list[list[tuple[int, ...]]] = []

    def run(self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None):
        pubs = [EstimatorPub.coerce(pub) for pub in pubs]
        self.parameter_shapes.append([pub.parameter_values.shape for pub in pubs])
        return self.inner.run(pubs, precision=precision)


def casci_integrals(atom: str, n_orbitals: int, n_electrons: int) -> tuple[ElectronicIntegrals, float]:
    """pyscf RHF + CASCI (sto-3g): active-space integrals and the CASCI energy (Ha)."""
    mean_field = scf.RHF(gto.M(atom=atom, basis="sto-3g", verbose=0)).run(conv_tol=1e-11)
    casci = mcscf.CASCI(mean_field, n_orbitals, n_electrons)
    casci.fcisolver.conv_tol = 1e-12
    casci.kernel()
    one_body, core_energy = casci.get_h1eff()
    two_body = ao2mo.restore(1, casci.get_h2eff(), n_orbitals)
    half = n_electrons // 2
    return ElectronicIntegrals(one_body, two_body, core_energy, half, half), float(casci.e_tot)


@pytest.fixture
def aer_estimator() -> EstimatorV2:
    return EstimatorV2(options={"backend_options": {"method": "statevector"}})


def test_h2_vqe_reaches_chemical_accuracy(aer_estimator) -> None:
    integrals, _ = casci_integrals("H 0 0 0; H 0 0 0.735", 2, 2)
    hamiltonian = qubit_hamiltonian(integrals)
    result = run_vqe(hamiltonian, excitation_ansatz(2, 1, 1), aer_estimator)
    assert abs(result.energy - H2_FCI_HARTREE) < CHEMICAL_ACCURACY_HARTREE
    assert result.energy >= exact_ground_energy(hamiltonian, 1, 1) - 1e-9  # variational bound
    assert result.history[-1] == pytest.approx(result.energy)


def test_lih_active_space_vqe_reaches_chemical_accuracy_of_casci(aer_estimator) -> None:
    integrals, casci_energy = casci_integrals("Li 0 0 0; H 0 0 1.595", 4, 2)
    hamiltonian = qubit_hamiltonian(integrals)
    assert hamiltonian.num_qubits == 8
    result = run_vqe(hamiltonian, excitation_ansatz(4, 1, 1), aer_estimator)
    assert abs(result.energy - casci_energy) < CHEMICAL_ACCURACY_HARTREE
    assert result.energy >= casci_energy - 1e-9


def test_one_estimator_call_per_optimiser_evaluation() -> None:
    integrals, _ = casci_integrals("Li 0 0 0; H 0 0 1.595", 3, 2)
    ansatz = excitation_ansatz(3, 1, 1)
    estimator = CountingEstimator()
    result = run_vqe(qubit_hamiltonian(integrals), ansatz, estimator)
    n_parameters = ansatz.num_parameters
    assert len(estimator.parameter_shapes) == result.estimator_calls == result.evaluations
    # Each call is one PUB holding the energy point and the 2P central-difference neighbours.
    assert all(shapes == [(2 * n_parameters + 1,)] for shapes in estimator.parameter_shapes)
    assert result.evaluations >= result.iterations == len(result.history)
    assert result.history[-1] <= result.history[0]


def test_ansatz_at_zero_is_hartree_fock_and_conserves_spin_populations() -> None:
    n_orbitals, n_alpha, n_beta = 3, 2, 1
    ansatz = excitation_ansatz(n_orbitals, n_alpha, n_beta)
    # αα doubles: C(2,2)·C(1,2)=0; ββ: 0; αβ: 2·1·1·2 = 4; singles α: 2·1, β: 1·2 -> 8 parameters.
    assert ansatz.num_parameters == len(singles_and_doubles(n_orbitals, n_alpha, n_beta)) == 8
    zero_state = Statevector(ansatz.assign_parameters(np.zeros(ansatz.num_parameters)))
    assert zero_state.equiv(Statevector(hartree_fock_circuit(n_orbitals, n_alpha, n_beta)))
    theta = np.random.default_rng(7).uniform(-1.0, 1.0, ansatz.num_parameters)
    state = Statevector(ansatz.assign_parameters(theta))
    assert state.expectation_value(number_operator(n_orbitals, "alpha")).real == pytest.approx(
        n_alpha, abs=1e-12
    )
    assert state.expectation_value(number_operator(n_orbitals, "beta")).real == pytest.approx(
        n_beta, abs=1e-12
    )


@pytest.mark.parametrize("index", [0, -1])  # a double (first) and a single (last)
def test_each_factor_is_exactly_exp_theta_t_minus_t_dagger(index: int) -> None:
    n_modes = 6
    excitation = singles_and_doubles(3, 1, 1)[index]
    lowering = [annihilation_operator(mode, n_modes).to_matrix() for mode in range(n_modes)]
    excite = np.eye(2**n_modes)
    for mode in excitation.virtual:
        excite = excite @ lowering[mode].conj().T
    for mode in reversed(excitation.occupied):
        excite = excite @ lowering[mode]
    theta = 0.37
    expected = scipy.linalg.expm(theta * (excite - excite.conj().T))
    ansatz = excitation_ansatz(3, 1, 1)
    factor = ansatz.copy_empty_like()
    factor.append(ansatz.data[2:][index])  # the first 2 instructions are the HF X gates
    generator = excitation_generator(excitation, n_modes)
    assert factor.data[0].operation.operator == generator
    np.testing.assert_allclose(Operator(factor.assign_parameters([theta])).data, expected, atol=1e-12)


def test_run_vqe_rejects_mismatched_inputs(aer_estimator) -> None:
    integrals, _ = casci_integrals("H 0 0 0; H 0 0 0.735", 2, 2)
    hamiltonian = qubit_hamiltonian(integrals)
    with pytest.raises(ValueError, match="qubits"):
        run_vqe(hamiltonian, excitation_ansatz(3, 1, 1), aer_estimator)
    with pytest.raises(ValueError, match="initial_point"):
        run_vqe(hamiltonian, excitation_ansatz(2, 1, 1), aer_estimator, initial_point=[0.0, 0.1])
