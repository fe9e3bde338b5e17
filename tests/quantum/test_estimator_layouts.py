"""Estimator observables and circuit layouts: ISA circuits with observables already laid out (the usual primitives
V2 input) and logical circuits, on Aer and on a fake backend's QPU path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.providers import BackendV2
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from simple_placements import SimplePlacement, qpu_placement

from quantum.executors import estimator_for
from quantum.ibm.runtime import fake_backend

# Z on logical qubit 0, 1, 2 after X on qubit 0 (labels are little-endian): -1, +1, +1.
TERMS = ("IIZ", "IZI", "ZII")
EXACT = [-1.0, 1.0, 1.0]


@pytest.fixture(scope="module")
def manila() -> BackendV2:
    """IBM Manila's calibration snapshot (5 qubits), shipped with qiskit-ibm-runtime."""
    return fake_backend("fake_manila")


def flipped_first(width: int) -> QuantumCircuit:
    circuit = QuantumCircuit(width)
    circuit.x(0)
    return circuit


def isa_pub(backend: BackendV2, initial_layout: list[int]) -> tuple[QuantumCircuit, list[SparsePauliOp]]:
    """An ISA circuit on the backend and its observables laid out with `apply_layout`, as Qiskit documents."""
    logical = flipped_first(len(initial_layout))
    pass_manager = generate_preset_pass_manager(1, backend=backend, initial_layout=initial_layout)
    isa = pass_manager.run(logical)
    pad = "I" * (len(initial_layout) - 3)
    return isa, [SparsePauliOp(pad + term).apply_layout(isa.layout) for term in TERMS]


@pytest.mark.parametrize("initial_layout", [[4, 2, 3], [4, 2, 3, 1, 0]], ids=["3-of-5", "5-permuted"])
@pytest.mark.parametrize("method", ["statevector", "matrix_product_state"])
def test_aer_takes_observables_already_on_the_isa_layout(
    manila: BackendV2, method: str, initial_layout: list[int]
) -> None:
    isa, observables = isa_pub(manila, initial_layout)
    evs = estimator_for(SimplePlacement(method)).run([(isa, observables)]).result()[0].data.evs
    np.testing.assert_allclose(evs, EXACT, atol=1e-9)


def test_qpu_path_takes_isa_and_logical_circuits(manila: BackendV2, tmp_path: Path) -> None:
    isa, isa_observables = isa_pub(manila, [4, 2, 3, 1, 0])
    logical = (flipped_first(3), [SparsePauliOp(term) for term in TERMS])
    estimator = estimator_for(qpu_placement(), backend=manila, journal=tmp_path)
    result = estimator.run([(isa, isa_observables), logical], precision=0.05).result()
    # Noisy (Manila's calibration): within 0.3 of the exact values.
    for pub_result in result:
        np.testing.assert_allclose(pub_result.data.evs, EXACT, atol=0.3)
