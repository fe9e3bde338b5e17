"""Which quantum method refines an active space: VQE while its circuit is small, SQD beyond (the `auto` rule).

VQE here is a one-layer UCCSD-type excitation ansatz (quantum/chemistry/ansatz.py) optimised with central-difference
gradients: every optimiser step is one estimator call with 2P + 1 parameter sets, and P grows as
(occupied x virtual)^2. Measured here (LiF sto-3g fragment, Aer statevector, 2 loaded cores, niced):
(2e,2o) 3 parameters 0.6 s and (4e,4o) 26 parameters 2.8 s, both within 0.02 mHa of CASCI; (6e,5o) 54 parameters
25 s and 1.86 mHa above CASCI, outside chemical accuracy (1.594 mHa). SQD (quantum/chemistry/sqd.py) on the same fragment
reaches CASCI to 1e-8 Ha at (6e,6o) in under a second, because its subspace is then the whole CI space. So `auto`
takes VQE up to 4 active orbitals (8 qubits) and SQD beyond; VQE itself is refused above 6 orbitals (12 qubits),
where one optimiser step is hundreds of circuits, and SQD takes 10-20 orbitals, refused only when its sampling
vector or subspaces cannot fit in memory.
"""

from __future__ import annotations

import math
from typing import Literal

from quantum.chemistry.active_space import ProblemError, check_fits

QuantumMethod = Literal["vqe", "sqd"]
MethodChoice = Literal["vqe", "sqd", "auto"]

AUTO_VQE_MAX_ORBITALS = 4  # `auto` picks VQE up to here (8 qubits), SQD beyond: see the module docstring
VQE_MAX_ORBITALS = 6  # VQE is refused beyond 12 qubits
VQE_MAX_ELECTRONS = 6
SQD_MAX_ORBITALS = 20  # 40 qubits; the memory check refuses the dense electron counts long before
SQD_MAX_ELECTRONS = 2 * SQD_MAX_ORBITALS - 2  # at least one empty orbital


def refinement_method(requested: MethodChoice, active_orbitals: int) -> QuantumMethod:
    """The method that refines an active space of `active_orbitals` spatial orbitals: the requested one, or for
    "auto" VQE up to AUTO_VQE_MAX_ORBITALS and SQD beyond."""
    if requested != "auto":
        return requested
    return "vqe" if active_orbitals <= AUTO_VQE_MAX_ORBITALS else "sqd"


def refinement_problem(
    requested: MethodChoice,
    active_orbitals: int,
    active_electrons: int,
    max_subspace_dimension: int | None = None,
) -> str | None:
    """Why the chosen method cannot refine this active space (the field, the value and the fix), or None.

    Checked before any work: VQE's size limits, and for SQD whether its ffsim vector and subspaces (at most
    `max_subspace_dimension` determinants each) fit in the memory available now.
    """
    method = refinement_method(requested, active_orbitals)
    if method == "vqe" and active_orbitals > VQE_MAX_ORBITALS:
        return (
            f"active_orbitals={active_orbitals} is beyond VQE's limit of {VQE_MAX_ORBITALS} "
            f"({2 * VQE_MAX_ORBITALS} qubits); use quantum_method=sqd (or auto) for up to {SQD_MAX_ORBITALS} "
            f"orbitals, or at most {VQE_MAX_ORBITALS} active_orbitals"
        )
    if method == "vqe" and active_electrons > VQE_MAX_ELECTRONS:
        return (
            f"active_electrons={active_electrons} is beyond VQE's limit of {VQE_MAX_ELECTRONS}; use "
            f"quantum_method=sqd, or at most {VQE_MAX_ELECTRONS} active_electrons"
        )
    if method == "sqd":
        half = active_electrons // 2
        name = f"CAS({active_electrons}e,{active_orbitals}o)"
        try:
            check_fits(name, math.comb(active_orbitals, half) ** 2, max_subspace_dimension)
        except ProblemError as error:
            return str(error)
    return None
