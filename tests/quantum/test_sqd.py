"""SQD on qiskit-addon-sqd and ffsim: refusals of bad input, accuracy against CASCI, recovery under noise.

References are computed here with pyscf's own CASCI (mcscf.CASCI on the RHF orbitals, Sun et al., J. Chem. Phys.
153, 024109 (2020)), independently of quantum.chemistry.active_space. Chemical accuracy: 1 kcal/mol = 1.594 mHa (NIST CODATA
conversion, 1 Ha = 627.5095 kcal/mol), the 1.6 mHa of the issue.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from pyscf import ao2mo, fci, gto, mcscf, scf
from pyscf.tools import fcidump

from quantum.chemistry.active_space import (
    DENSE_DETERMINANT_LIMIT,
    ActiveSpaceProblem,
    MoleculeSpec,
    ProblemError,
    casci_reference,
    check_fits,
    molecule_problem,
    read_fcidump,
)
from quantum.chemistry.sqd import (
    SQDSettings,
    diagonalize,
    distinct_spin_strings,
    lucj_circuit,
    lucj_operator,
    postselected,
    sample_configurations,
    sampled_fraction_hartree_fock,
)

CHEMICAL_ACCURACY_MHA = 1.6
WATER = "O 0 0 0; H 0 0.757 0.587; H 0 -0.757 0.587"  # experimental geometry, Å (NIST CCCBDB)
CARBON_MONOXIDE = "C 0 0 0; O 0 0 1.128"  # r_e 1.128 Å (NIST CCCBDB)
NITROGEN = "N 0 0 0; N 0 0 1.1"  # r_e 1.098 Å (NIST CCCBDB), rounded as in the issue


def pyscf_casci(atom: str, basis: str, norb: int, nelec: int, group: str | bool = True) -> float:
    """CASCI energy (Ha) straight from pyscf, frozen core below the active space, in the point group `group`
    (an abelian subgroup for linear molecules, whose active spaces may cut a degenerate pi pair)."""
    mol = gto.M(atom=atom, basis=basis, symmetry=group, verbose=0)
    casci = mcscf.CASCI(scf.RHF(mol).run(), norb, nelec)
    casci.fcisolver.conv_tol = 1e-8
    return float(casci.kernel()[0])


# ---- refusals at the edge -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "names"),
    [
        ({"active_orbitals": 4, "active_electrons": 5}, "active_electrons: 5 is odd"),
        ({"spin": 2}, "spin: 2 is an open shell"),
        ({"active_orbitals": 4}, "give both or neither"),
    ],
)
def test_molecule_spec_refuses_bad_fields_naming_them(fields: dict, names: str) -> None:
    with pytest.raises(ValueError, match=names):
        MoleculeSpec(atom=WATER, basis="sto-3g", **fields)


def test_active_space_larger_than_the_basis_is_refused_before_rhf() -> None:
    spec = MoleculeSpec(atom=WATER, basis="sto-3g", active_orbitals=9, active_electrons=8)
    with pytest.raises(ProblemError, match=r"active_orbitals: 9 active .* exceed the 7 orbitals of sto-3g"):
        molecule_problem(spec)
    # 6 electrons in 6 orbitals leave 2 doubly occupied orbitals below them (1 frozen core): 8 > 7.
    spec = MoleculeSpec(atom=WATER, basis="sto-3g", frozen_core=True, active_orbitals=6, active_electrons=6)
    with pytest.raises(ProblemError, match=r"6 active \+ 2 inactive .* give at most 5"):
        molecule_problem(spec)


def test_electron_count_inconsistent_with_spin_is_refused() -> None:
    with pytest.raises(ProblemError, match="atom/charge/spin"):
        molecule_problem(MoleculeSpec(atom="O 0 0 0; H 0 0 0.97", basis="sto-3g"))


def test_unparsable_fcidump_is_refused_with_the_file(tmp_path) -> None:
    bad = tmp_path / "broken.fcidump"
    bad.write_text("this is not an FCIDUMP\n1.0 1 1 0 0\n")
    with pytest.raises(ProblemError, match=r"fcidump: .*broken.fcidump does not parse as FCIDUMP"):
        read_fcidump(bad)
    with pytest.raises(ProblemError, match="is not a file"):
        read_fcidump(tmp_path / "missing.fcidump")


def test_a_subspace_that_cannot_fit_is_refused_with_the_fix() -> None:
    with pytest.raises(ProblemError, match=r"needs .* GiB .* choose a smaller active space"):
        check_fits("N2/cc-pvdz (10e,26o)", 65780**2, available=16 * 2**30)
    check_fits("CO/6-31g (10e,12o)", 792**2, max_subspace_dimension=10**5, available=16 * 2**30)


def test_fcidump_round_trip_matches_pyscf_fci(tmp_path) -> None:
    """An FCIDUMP written by pyscf from the water RHF is read back with the same CASCI energy."""
    mol = gto.M(atom=WATER, basis="sto-3g", verbose=0)
    mean_field = scf.RHF(mol).run()
    path = tmp_path / "water.fcidump"
    fcidump.from_scf(mean_field, str(path))
    problem = read_fcidump(path)
    assert problem.norb == 7 and problem.nelec == (5, 5)
    assert casci_reference(problem).energy == pytest.approx(pyscf_casci(WATER, "sto-3g", 7, 10), abs=1e-7)


# ---- the CASCI reference is the lowest state of every symmetry ------------------------------------------------

MAGNESIUM_OXIDE = "Mg 0 0 0; O 0 0 2.105"  # the rocksalt fragment's Mg-O distance (a = 4.21 Å)


def dense_fci(problem: ActiveSpaceProblem) -> float:
    """Lowest eigenvalue of the whole determinant space: pyscf's FCI Hamiltonian matrix, no symmetry, diagonalized
    densely (Ha), so no solver start can miss a state."""
    _, hamiltonian = fci.direct_spin1.pspace(
        problem.one_body, problem.two_body, problem.norb, problem.nelec, np=problem.determinants
    )
    return float(np.linalg.eigvalsh(hamiltonian)[0]) + problem.constant


def test_casci_reference_is_the_lowest_state_when_it_is_not_totally_symmetric() -> None:
    """MgO/STO-3G (4e,4o) in C2v: the lowest state is a triplet of B2 symmetry, 22 mHa below the lowest totally
    symmetric one that the reference used to be. Checked against pyscf's own CASCI integrals, without symmetry."""
    problem = molecule_problem(
        MoleculeSpec(atom=MAGNESIUM_OXIDE, basis="sto-3g", active_orbitals=4, active_electrons=4)
    )
    assert problem.orbsym is not None
    mol = gto.M(atom=MAGNESIUM_OXIDE, basis="sto-3g", verbose=0)
    casci = mcscf.CASCI(scf.RHF(mol).run(), 4, 4)
    one_body, constant = casci.get_h1eff()
    two_body = ao2mo.restore(1, casci.get_h2eff(), 4)
    _, hamiltonian = fci.direct_spin1.pspace(one_body, two_body, 4, (2, 2), np=36)
    lowest = float(np.linalg.eigvalsh(hamiltonian)[0]) + constant
    symmetric, _ = fci.direct_spin1_symm.FCI().kernel(
        one_body, two_body, 4, (2, 2), orbsym=np.asarray(problem.orbsym), wfnsym=0
    )
    assert casci_reference(problem).energy == pytest.approx(lowest, abs=1e-8)
    assert symmetric + constant - lowest > 0.020


@pytest.mark.parametrize("labelled", [True, False], ids=["point-group", "no-labels"])
def test_casci_reference_finds_a_triplet_a_davidson_from_hartree_fock_misses(labelled: bool) -> None:
    """MgO/6-31G (4e,10o), 2,025 determinants (past the dense limit, so a Davidson): the lowest state is a triplet
    20 mHa below the closed-shell ground state that pyscf's direct_spin1, started from Hartree-Fock alone,
    converges to. Point-group labels, given or not, change nothing: the reference's start breaks every symmetry."""
    spec = MoleculeSpec(atom=MAGNESIUM_OXIDE, basis="6-31g", active_orbitals=10, active_electrons=4)
    problem = molecule_problem(spec)
    problem = problem if labelled else dataclasses.replace(problem, orbsym=None)
    assert problem.determinants > DENSE_DETERMINANT_LIMIT
    lowest = dense_fci(problem)
    from_hartree_fock, _ = fci.direct_spin1.FCI().kernel(
        problem.one_body, problem.two_body, problem.norb, problem.nelec
    )
    assert casci_reference(problem).energy == pytest.approx(lowest, abs=1e-7)
    assert from_hartree_fock + problem.constant - lowest > 0.015


# ---- circuits and samplers agree --------------------------------------------------------------------------------


def test_aer_samplers_see_the_same_configurations_as_ffsim() -> None:
    """The LUCJ decomposed by ffsim's passes and run on Aer samples the same distribution as ffsim's simulator."""
    problem = molecule_problem(MoleculeSpec(atom=WATER, basis="sto-3g", frozen_core=True))
    operator = lucj_operator(problem)
    assert lucj_circuit(problem, operator).num_qubits == 12
    fractions = {
        sampler: sampled_fraction_hartree_fock(
            problem, sample_configurations(problem, operator, 4000, 3, sampler)
        )
        for sampler in ("ffsim", "aer_statevector", "aer_mps")
    }
    assert fractions["aer_statevector"] == pytest.approx(fractions["ffsim"], abs=0.02)
    assert fractions["aer_mps"] == pytest.approx(fractions["ffsim"], abs=0.02)


# ---- noiseless accuracy against CASCI ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("atom", "norb", "nelec", "group"),
    [(WATER, 12, 8, "C2v"), (CARBON_MONOXIDE, 12, 10, "C2v"), (NITROGEN, 10, 10, "D2h")],
    ids=["H2O-8e12o", "CO-10e12o", "N2-10e10o"],
)
def test_noiseless_sqd_reaches_chemical_accuracy(atom: str, norb: int, nelec: int, group: str) -> None:
    """One batch, one iteration: the LUCJ's samples (mostly Hartree-Fock) and their single excitations span a
    quarter or less of the CI space and reach chemical accuracy. No reference energy enters the run.
    Measured here (6-31G, seed 11/5): H2O 0.68 mHa at 55,225 of 245,025 determinants, CO 0.56 mHa at 61,504 of
    627,264, N2 (10e,10o) 0.51 mHa at 8,100 of 63,504."""
    spec = MoleculeSpec(
        atom=atom, basis="6-31g", frozen_core=True, active_orbitals=norb, active_electrons=nelec
    )
    problem = molecule_problem(spec)
    bitstrings = sample_configurations(problem, lucj_operator(problem), 20_000, 11)
    found = diagonalize(problem, bitstrings, SQDSettings(batches=1, iterations=1), seed=5)
    error_mha = (found.energy - pyscf_casci(atom, "6-31g", norb, nelec, group)) * 1000
    plain = diagonalize(problem, bitstrings, SQDSettings(enlargement="none", batches=1, iterations=1), seed=5)
    plain_mha = (plain.energy - found.energy) * 1000 + error_mha
    print(
        f"{problem.name}: SQD {error_mha:.3f} mHa ({plain_mha:.1f} without enlargement), {found.subspace_dimensions}"
    )
    assert -1e-6 < error_mha < CHEMICAL_ACCURACY_MHA < plain_mha
    assert max(found.subspace_dimensions) < problem.determinants / 4


@pytest.mark.slow
def test_n2_631g_at_32_qubits_reaches_chemical_accuracy_with_a_second_enlarged_iteration() -> None:
    """N2/6-31G (10e,16o), 32 qubits, 19.1 M determinants: only ffsim's fixed-particle simulator samples it here
    (Aer's statevector would need 2^32 x 16 B = 64 GiB). The unoptimized LUCJ concentrates on Hartree-Fock (14
    distinct CI strings per spin in 20,000 shots), so SQD on its samples alone is ~160 mHa above CASCI. Two
    iterations of extended SQD close the gap: the first diagonalizes the sampled strings and their singles, the
    second the singles of the strings the first weighted (its carryover, by CI weight), up to 1,000 strings per
    spin (1 M determinants, 5 % of the CI space). No reference energy enters the run. Measured here (seed 11/5):
    9.7 mHa after the first iteration, 0.97 mHa after the second (diagonalization 33-71 s on 2 shared cores,
    0.6 GB; the whole test 85 s, 1.5 GB peak). The cap is a budget and the error falls with it: 600 / 800 / 900 /
    1,000 strings per spin give 2.5 / 1.4 / 1.1 / 0.97 mHa (the best 1,000 strings, by exact CI weight: 0.31)."""
    spec = MoleculeSpec(
        atom=NITROGEN, basis="6-31g", frozen_core=True, active_orbitals=16, active_electrons=10
    )
    problem = molecule_problem(spec)
    assert problem.determinants == 4368**2 and 2 * problem.norb == 32
    bitstrings = sample_configurations(problem, lucj_operator(problem), 20_000, 11)
    assert sampled_fraction_hartree_fock(problem, bitstrings) > 0.95
    reference = pyscf_casci(NITROGEN, "6-31g", 16, 10, "D2h")
    plain = diagonalize(problem, bitstrings, SQDSettings(enlargement="none", batches=1, iterations=1), seed=5)
    found = diagonalize(problem, bitstrings, SQDSettings(batches=1, iterations=2, max_dim=1000), seed=5)
    plain_mha, error_mha = ((d.energy - reference) * 1000 for d in (plain, found))
    first_mha = (found.energies[0] - reference) * 1000
    print(
        f"N2 (10e,16o): plain SQD {plain_mha:.1f} mHa, enlarged {first_mha:.2f} then {error_mha:.2f} mHa, "
        f"{found.subspace_dimensions}, {found.seconds:.0f} s"
    )
    assert -1e-6 < error_mha < CHEMICAL_ACCURACY_MHA < first_mha < plain_mha
    assert max(found.subspace_dimensions) == 1000**2  # of 19.1 M: ~5 % of the CI space


# ---- noisy sampling on a fake backend -----------------------------------------------------------------------


@pytest.mark.slow
def test_configuration_recovery_lowers_the_error_of_noisy_samples() -> None:
    """N2/STO-3G (10e,8o), 16 qubits, sampled through qiskit-ibm-runtime's SamplerV2 on FakeGuadalupeV2 (its
    calibrated noise, run locally by Aer): of 200 shots only ~7 % have the right electron count in both spins.

    Both runs get the same samples, samples_per_batch, batches, iterations, max_dim and subsampling seeds. Dropping
    keeps the ~15 valid samples, all of which fit in every batch, so its subspace cannot grow past their CI
    strings. Recovery (qiskit-addon-sqd's recover_configurations) starts the same way (the first iteration's
    occupancies come from the valid samples), then corrects the other ~93 % with those occupancies and fills the
    batches. Measured here (runs with 10, 17 and 14 valid samples, 5 subsampling seeds each): recovered 2.7 +- 1.2,
    3.3 +- 1.9 and 1.2 +- 0.8 mHa against dropped 43.8, 47.0 and 39.4 mHa (no spread: every batch holds every valid
    sample). At the same subspace size the recovered strings are still the better ones: capped at the strings
    dropping reaches (12, 17, 16 per spin, both at the cap), 33.4 +- 6.9, 18.4 +- 1.5 and 18.6 +- 3.1 mHa. That
    needs a carryover threshold (0.05) that leaves room under the cap; the default 1e-4 carries every string of the
    first iteration over, fills the cap with them and freezes both runs there. The draw itself varies between
    processes (pyscf's integrals differ in the last bits, and the transpiled circuit with them). Where the valid
    samples outnumber a batch and recovery gets a single round, the two tie within the subsampling spread (400
    shots, 22 valid, 10 samples per batch, 2 iterations, 8 seeds: 36.7 +- 6.8 recovered against 36.4 +- 2.8 mHa
    dropped): that was the regime of the earlier version of this test (H2O (8e,6o), 88 valid, 10 per batch, 2
    iterations), which could not rank them."""
    from qiskit_ibm_runtime import SamplerV2
    from qiskit_ibm_runtime.fake_provider import FakeGuadalupeV2

    problem = molecule_problem(MoleculeSpec(atom=NITROGEN, basis="sto-3g", frozen_core=True))
    assert problem.determinants == 56**2
    sampler = SamplerV2(mode=FakeGuadalupeV2(), options={"simulator": {"seed_simulator": 17}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        bitstrings = sample_configurations(problem, lucj_operator(problem), 200, 17, sampler)
    kept = postselected(problem, bitstrings)
    valid = len(kept)
    strings = distinct_spin_strings(problem, kept)  # what dropping reaches
    reference = pyscf_casci(NITROGEN, "sto-3g", 8, 10, "D2h")
    wide = {"enlargement": "none", "samples_per_batch": 50, "batches": 2, "iterations": 3}
    errors: dict[str, dict[bool, list[float]]] = {}
    dimensions: dict[bool, set[int]] = {}
    for case, fields in {"uncapped": {}, "capped": {"max_dim": strings, "carryover_threshold": 0.05}}.items():
        errors[case] = {}
        for recovery in (True, False):
            settings = SQDSettings(**wide, **fields, recovery=recovery)
            runs = [diagonalize(problem, bitstrings, settings, seed=seed) for seed in range(5)]
            errors[case][recovery] = [(run.energy - reference) * 1000 for run in runs]
            if case == "capped":
                dimensions[recovery] = {max(run.subspace_dimensions) for run in runs}
    mean = {
        case: {flag: float(np.mean(values)) for flag, values in by.items()} for case, by in errors.items()
    }
    print(
        f"noisy N2: {valid} of 200 valid; recovered {mean['uncapped'][True]:.2f} +- "
        f"{np.std(errors['uncapped'][True]):.2f} mHa, dropped {mean['uncapped'][False]:.2f} mHa; at "
        f"{strings}^2 determinants {mean['capped'][True]:.2f} +- {np.std(errors['capped'][True]):.2f} against "
        f"{mean['capped'][False]:.2f} mHa"
    )
    assert valid < 0.15 * len(bitstrings) and valid < 50  # few valid samples: fewer than one batch holds
    every_error = [error for by in errors.values() for values in by.values() for error in values]
    assert min(every_error) > -1e-6  # SQD is variational: never below CASCI
    assert mean["uncapped"][True] < mean["uncapped"][False]
    assert dimensions[True] == dimensions[False] == {strings**2}  # the same subspace size, and still lower
    assert mean["capped"][True] < mean["capped"][False]
