"""Particle-conserving ansätze on block-ordered Jordan-Wigner qubits (alpha orbitals on 0..n-1, beta on n..2n-1).

The excitation ansatz is a product (one layer, disentangled UCCSD) of exp(θ (T - T†)) over spin-conserving singles
and doubles, applied to the Hartree-Fock determinant. exp(θ (T - T†)) = exp(-i θ G) with G = i (T - T†) Hermitian;
the JW image of one single (2 Paulis) or double (8 Paulis) has mutually commuting terms, so one PauliEvolutionGate
per excitation is exact (no Trotter error).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, product

from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.circuit.library import PauliEvolutionGate
from qiskit.quantum_info import SparsePauliOp

from quantum.chemistry.hamiltonian import annihilation_operator


@dataclass(frozen=True)
class Excitation:
    """Electrons move from spin orbitals ``occupied`` to ``virtual`` (qubit indices, block order)."""

    occupied: tuple[int, ...]
    virtual: tuple[int, ...]

    @property
    def name(self) -> str:
        """Parameter name, e.g. ``t_0_2-4_6`` for occupied (0, 2) -> virtual (4, 6)."""
        occupied = "_".join(str(mode) for mode in self.occupied)
        virtual = "_".join(str(mode) for mode in self.virtual)
        return f"t_{occupied}-{virtual}"


def _check_electron_counts(n_orbitals: int, n_alpha: int, n_beta: int) -> None:
    if n_orbitals < 1:
        raise ValueError(f"n_orbitals={n_orbitals} must be at least 1.")
    for field, count in (("n_alpha", n_alpha), ("n_beta", n_beta)):
        if not 0 <= count <= n_orbitals:
            raise ValueError(
                f"{field}={count} is outside 0..{n_orbitals}; it must fit the {n_orbitals} orbitals."
            )


def hartree_fock_circuit(n_orbitals: int, n_alpha: int, n_beta: int) -> QuantumCircuit:
    """Hartree-Fock determinant: X on the lowest n_alpha alpha qubits and the lowest n_beta beta qubits."""
    _check_electron_counts(n_orbitals, n_alpha, n_beta)
    circuit = QuantumCircuit(2 * n_orbitals, name="hartree_fock")
    for qubit in [*range(n_alpha), *range(n_orbitals, n_orbitals + n_beta)]:
        circuit.x(qubit)
    return circuit


def singles_and_doubles(n_orbitals: int, n_alpha: int, n_beta: int) -> list[Excitation]:
    """Spin-conserving excitations out of the HF determinant: doubles (αα, ββ, αβ) first, then singles (α, β)."""
    _check_electron_counts(n_orbitals, n_alpha, n_beta)
    alpha_occupied, alpha_virtual = range(n_alpha), range(n_alpha, n_orbitals)
    beta_occupied = range(n_orbitals, n_orbitals + n_beta)
    beta_virtual = range(n_orbitals + n_beta, 2 * n_orbitals)
    doubles = [
        Excitation(occupied, virtual)
        for occupied_modes, virtual_modes in ((alpha_occupied, alpha_virtual), (beta_occupied, beta_virtual))
        for occupied, virtual in product(combinations(occupied_modes, 2), combinations(virtual_modes, 2))
    ]
    doubles += [
        Excitation((i, j), (a, b))
        for i, a in product(alpha_occupied, alpha_virtual)
        for j, b in product(beta_occupied, beta_virtual)
    ]
    singles = [
        Excitation((i,), (a,))
        for occupied_modes, virtual_modes in ((alpha_occupied, alpha_virtual), (beta_occupied, beta_virtual))
        for i, a in product(occupied_modes, virtual_modes)
    ]
    return doubles + singles


def excitation_generator(excitation: Excitation, n_modes: int) -> SparsePauliOp:
    """G = i (T - T†) for T = a†_a a_i (single) or a†_a a†_b a_j a_i (double), JW-mapped; exp(-iθG) = exp(θ(T-T†))."""
    lowering = {
        mode: annihilation_operator(mode, n_modes) for mode in (*excitation.occupied, *excitation.virtual)
    }
    excite = SparsePauliOp("I" * n_modes)
    for mode in excitation.virtual:  # T = a†_a (a†_b) (a_j) a_i
        excite = excite.dot(lowering[mode].adjoint())
    for mode in reversed(excitation.occupied):
        excite = excite.dot(lowering[mode])
    generator = (1j * (excite - excite.adjoint())).simplify()
    return SparsePauliOp(generator.paulis, coeffs=generator.coeffs.real)


def excitation_ansatz(n_orbitals: int, n_alpha: int, n_beta: int) -> QuantumCircuit:
    """HF determinant followed by exp(θ_k (T_k - T_k†)) for every single and double; θ = 0 gives HF.

    One named parameter per excitation (see :class:`Excitation`); ``circuit.metadata["excitations"]`` maps each
    parameter name to its (occupied, virtual) spin orbitals.
    """
    circuit = hartree_fock_circuit(n_orbitals, n_alpha, n_beta)
    circuit.name = "excitation_ansatz"
    n_modes = 2 * n_orbitals
    excitations = singles_and_doubles(n_orbitals, n_alpha, n_beta)
    for excitation in excitations:
        generator = excitation_generator(excitation, n_modes)
        circuit.append(PauliEvolutionGate(generator, time=Parameter(excitation.name)), range(n_modes))
    circuit.metadata = {"excitations": {exc.name: (exc.occupied, exc.virtual) for exc in excitations}}
    return circuit
