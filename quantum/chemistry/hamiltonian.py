"""Electronic-structure Hamiltonians as qubit operators (Jordan-Wigner), and their exact ground energies.

Spin-orbital ordering ("block" interleaving): for ``n`` spatial orbitals, qubit ``p`` holds the alpha spin orbital
``p`` and qubit ``n + p`` the beta spin orbital ``p`` (alpha block, then beta block). Qiskit labels are little-endian,
so qubit ``k`` is bit ``k`` of a basis-state index and character ``-1 - k`` of a Pauli label.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from qiskit.quantum_info import SparsePauliOp

logger = logging.getLogger(__name__)

_DENSE_SECTOR_LIMIT = 2000  # sector dimension above which the ground state comes from sparse Lanczos (eigsh)


@dataclass(frozen=True)
class ElectronicIntegrals:
    """Active-space integrals in an orthonormal molecular-orbital basis, in Hartree.

    ``one_body`` is h_pq (n, n); ``two_body`` is (pq|rs) in chemists' notation (n, n, n, n); ``constant`` is the
    energy of everything outside the active space, nuclear repulsion included (Ha).
    """

    one_body: np.ndarray
    two_body: np.ndarray
    constant: float
    n_alpha: int
    n_beta: int

    def __post_init__(self) -> None:
        n = self.one_body.shape[0]
        if self.one_body.shape != (n, n):
            raise ValueError(f"one_body has shape {self.one_body.shape}; it must be square (n, n).")
        if self.two_body.shape != (n, n, n, n):
            raise ValueError(
                f"two_body has shape {self.two_body.shape}; it must be ({n}, {n}, {n}, {n}) in chemists' "
                "notation (restore pyscf's packed integrals with pyscf.ao2mo.restore(1, eri, n))."
            )
        for field, count in (("n_alpha", self.n_alpha), ("n_beta", self.n_beta)):
            if not 0 <= count <= n:
                raise ValueError(f"{field}={count} is outside 0..{n}; it must fit the {n} active orbitals.")

    @property
    def n_orbitals(self) -> int:
        """Number of active spatial orbitals (the qubit count is twice this)."""
        return int(self.one_body.shape[0])


def annihilation_operator(mode: int, n_modes: int) -> SparsePauliOp:
    """Jordan-Wigner image of a_mode: Z on every lower mode, then (X + iY)/2 on the mode itself."""
    prefix = "I" * (n_modes - mode - 1)
    suffix = "Z" * mode
    return SparsePauliOp([prefix + "X" + suffix, prefix + "Y" + suffix], coeffs=[0.5, 0.5j])


def excitation_operators(n_modes: int) -> list[list[SparsePauliOp]]:
    """E[p][q] = a†_p a_q for spin orbitals p, q under Jordan-Wigner (each a sum of at most 4 Paulis)."""
    lowering = [annihilation_operator(mode, n_modes) for mode in range(n_modes)]
    raising = [op.adjoint() for op in lowering]
    return [[raising[p].dot(lowering[q]).simplify() for q in range(n_modes)] for p in range(n_modes)]


def spin_orbital_integrals(integrals: ElectronicIntegrals) -> tuple[np.ndarray, np.ndarray]:
    """Spin-orbital h_PQ (2n, 2n) and (PQ|RS) (2n, 2n, 2n, 2n) in the alpha-block-then-beta-block order (Ha)."""
    same_spin = np.eye(2)
    one_body = np.kron(same_spin, integrals.one_body)
    # (PQ|RS) is nonzero only when P, Q share a spin and R, S share a spin.
    two_body = np.einsum("ab,cd,pqrs->apbqcrds", same_spin, same_spin, integrals.two_body)
    n_modes = 2 * integrals.n_orbitals
    return one_body, two_body.reshape(n_modes, n_modes, n_modes, n_modes)


def qubit_hamiltonian(integrals: ElectronicIntegrals, *, atol: float = 1e-12) -> SparsePauliOp:
    """Jordan-Wigner qubit Hamiltonian (Ha) of H = Σ h_PQ a†_P a_Q + ½ Σ (PQ|RS) a†_P a†_R a_S a_Q + constant.

    Uses a†_P a†_R a_S a_Q = E_PQ E_RS - δ_QR E_PS, so the two-body part is Σ_PQ E_PQ (½ Σ_RS (PQ|RS) E_RS) plus a
    one-body correction -½ Σ_R (PR|RQ). Terms below ``atol`` are dropped; coefficients are real (the operator is
    Hermitian). Qubit order: alpha orbitals on qubits 0..n-1, beta orbitals on n..2n-1.
    """
    one_body, two_body = spin_orbital_integrals(integrals)
    n_modes = one_body.shape[0]
    excitations = excitation_operators(n_modes)
    effective_one_body = one_body - 0.5 * np.einsum("prrq->pq", two_body)
    identity = SparsePauliOp("I" * n_modes, coeffs=[integrals.constant])
    terms: list[SparsePauliOp] = [identity]
    for p in range(n_modes):
        for q in range(n_modes):
            if abs(effective_one_body[p, q]) > atol:
                terms.append(effective_one_body[p, q] * excitations[p][q])
            pair_block = 0.5 * two_body[p, q]
            nonzero = np.argwhere(np.abs(pair_block) > atol)
            if len(nonzero) == 0:
                continue
            inner = SparsePauliOp.sum([pair_block[r, s] * excitations[r][s] for r, s in nonzero]).simplify(
                atol=0.0
            )
            terms.append(excitations[p][q].dot(inner))
    hamiltonian = SparsePauliOp.sum(terms).simplify(atol=atol)
    largest_imaginary = float(np.max(np.abs(hamiltonian.coeffs.imag), initial=0.0))
    if largest_imaginary > 1e-10:
        raise ValueError(
            f"integrals give a non-Hermitian Hamiltonian (imaginary coefficient {largest_imaginary:.2e} Ha); "
            "one_body and two_body must be real and symmetric (h_pq = h_qp, (pq|rs) = (qp|rs) = (rs|pq))."
        )
    return SparsePauliOp(hamiltonian.paulis, coeffs=hamiltonian.coeffs.real)


def number_operator(n_orbitals: int, spin: str | None = None) -> SparsePauliOp:
    """Particle-number operator N = Σ a†_P a_P over spin orbitals; ``spin`` "alpha" or "beta" restricts it."""
    selected = {
        "alpha": range(n_orbitals),
        "beta": range(n_orbitals, 2 * n_orbitals),
        None: range(2 * n_orbitals),
    }
    if spin not in selected:
        raise ValueError(f"spin={spin!r} is not understood; use 'alpha', 'beta' or None (both).")
    n_modes = 2 * n_orbitals
    terms = [SparsePauliOp("I" * n_modes, coeffs=[0.5 * len(selected[spin])])]
    for mode in selected[spin]:  # a†_P a_P = (I - Z_P) / 2
        terms.append(SparsePauliOp("I" * (n_modes - mode - 1) + "Z" + "I" * mode, coeffs=[-0.5]))
    return SparsePauliOp.sum(terms).simplify()


def _popcount(values: np.ndarray) -> np.ndarray:
    """Number of set bits of each non-negative int64."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(values).astype(np.int64)
    return np.vectorize(int.bit_count, otypes=[np.int64])(values)


def _occupation_strings(n_orbitals: int, n_electrons: int) -> np.ndarray:
    """Bit strings (as ints) with n_electrons of n_orbitals bits set, ascending."""
    strings = [
        sum(1 << orbital for orbital in occupied) for occupied in combinations(range(n_orbitals), n_electrons)
    ]
    return np.sort(np.asarray(strings, dtype=np.int64))


def sector_basis_states(n_orbitals: int, n_alpha: int, n_beta: int) -> np.ndarray:
    """Ascending indices of the basis states with n_alpha alpha and n_beta beta electrons (block order)."""
    alpha = _occupation_strings(n_orbitals, n_alpha)
    beta = _occupation_strings(n_orbitals, n_beta)
    return (alpha[np.newaxis, :] | (beta[:, np.newaxis] << n_orbitals)).ravel()


def sector_hamiltonian(
    hamiltonian: SparsePauliOp, n_alpha: int, n_beta: int, *, terms_per_chunk: int = 256
) -> scipy.sparse.csr_matrix:
    """The block of a block-ordered JW Hamiltonian (Ha) on the (n_alpha, n_beta) basis states, as a sparse matrix.

    Built from the Pauli terms without any 2^n object: qiskit's Pauli is (-i)^(q + #Y) Z^z X^x (q = ``phase``,
    #Y = popcount(x & z)), which maps |j> to (-i)^(q + #Y) (-1)^popcount((j^x) & z) |j^x>. Terms go in chunks
    (memory ~ 30 bytes x terms_per_chunk x sector size).
    """
    if hamiltonian.num_qubits % 2:
        raise ValueError(
            f"hamiltonian acts on {hamiltonian.num_qubits} qubits; a block-ordered JW Hamiltonian has an even "
            "count (alpha orbitals then beta orbitals)."
        )
    n_orbitals = hamiltonian.num_qubits // 2
    for field, count in (("n_alpha", n_alpha), ("n_beta", n_beta)):
        if not 0 <= count <= n_orbitals:
            raise ValueError(
                f"{field}={count} is outside 0..{n_orbitals} for a {2 * n_orbitals}-qubit Hamiltonian."
            )
    sector = sector_basis_states(n_orbitals, n_alpha, n_beta)  # ascending, so searchsorted finds positions
    bit_values = 1 << np.arange(hamiltonian.num_qubits, dtype=np.int64)
    x_masks = hamiltonian.paulis.x.astype(np.int64) @ bit_values
    z_masks = hamiltonian.paulis.z.astype(np.int64) @ bit_values
    y_counts = np.sum(hamiltonian.paulis.x & hamiltonian.paulis.z, axis=1)
    phases = (-1j) ** ((hamiltonian.paulis.phase + y_counts) % 4) * hamiltonian.coeffs
    columns = np.broadcast_to(np.arange(len(sector)), (min(terms_per_chunk, len(phases)), len(sector)))
    rows, cols, values = [], [], []
    for first in range(0, len(phases), terms_per_chunk):
        chunk = slice(first, first + terms_per_chunk)
        targets = sector[np.newaxis, :] ^ x_masks[chunk, np.newaxis]
        positions = np.minimum(np.searchsorted(sector, targets), len(sector) - 1)
        inside = sector[positions] == targets  # terms that leave the sector vanish for a number-conserving H
        signs = 1 - 2 * (_popcount(targets & z_masks[chunk, np.newaxis]) & 1)
        rows.append(positions[inside])
        cols.append(columns[: len(targets)][inside])
        values.append((phases[chunk, np.newaxis] * signs)[inside])
    shape = (len(sector), len(sector))
    matrix = scipy.sparse.coo_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape
    )
    return matrix.tocsr()


def exact_ground_energy(hamiltonian: SparsePauliOp, n_alpha: int, n_beta: int) -> float:
    """Lowest eigenvalue (Ha) of a block-ordered JW Hamiltonian in the (n_alpha, n_beta) particle-number sector.

    The Hamiltonian conserves both spin populations, so its sector block is exact. The block is built sparse
    (no 2^n x 2^n matrix); dense diagonalisation up to a few thousand states, Lanczos (scipy eigsh) above.
    """
    block = sector_hamiltonian(hamiltonian, n_alpha, n_beta)
    if block.shape[0] <= _DENSE_SECTOR_LIMIT:
        return float(np.linalg.eigvalsh(block.toarray())[0])
    logger.debug("Lanczos on a %d-state sector of %d qubits", block.shape[0], hamiltonian.num_qubits)
    lowest = scipy.sparse.linalg.eigsh(block, k=1, which="SA", return_eigenvectors=False)
    return float(lowest[0])
