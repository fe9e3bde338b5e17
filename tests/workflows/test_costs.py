"""Cost and energy rows of a screening run: work reused from the cache is shown as such and costs nothing now."""

from __future__ import annotations

from materials.screening import SurrogateEnergy
from workflows.schemas import CandidateResult, QuantumRefinement, ScreeningReport
from workflows.screening.costs import quantum_costs
from workflows.screening.flow import _segment_costs


def refined(source: str) -> CandidateResult:
    """A candidate with a VQE whose execution record says it took 2 simulator seconds."""
    quantum = QuantumRefinement(
        fragment="MgO", basis="sto-3g", active_orbitals=2, active_electrons=2, qubits=4,
        vqe_energy=-1.0, exact_energy=-1.0, hartree_fock_energy=-0.9, error_mha=0.0,
        iterations=3, estimator_calls=9, convergence=[-0.9, -1.0], placement={}, seconds=2.0,
        execution={"resource": "aer-cpu", "method": "statevector", "device": "CPU",
                   "measured_seconds": 2.0, "cost_usd": 0.001, "energy_joules": 20.0},
    )  # fmt: skip
    return CandidateResult(formula="MgO", source=source, status="ok", quantum=quantum)


def test_a_cached_vqe_is_shown_as_cached_and_costs_nothing_now() -> None:
    fresh, cached = quantum_costs([refined("a.cif"), refined("b.cif")], cached_sources={"b.cif"})
    assert not fresh.from_cache and fresh.seconds == 2.0 and fresh.energy_joules == 20.0
    assert cached.from_cache
    assert (cached.seconds, cached.cost_usd, cached.energy_joules) == (0.0, 0.0, 0.0)


def test_a_rerun_lists_the_surrogate_once_as_cached() -> None:
    energies = [
        SurrogateEnergy(source=s, energy_per_atom=-3.0, relaxed=False, from_cache=True, cpu_seconds=0.5)
        for s in ("a.cif", "b.cif")
    ]
    report = ScreeningReport(surrogate="chgnet", parameters={}, candidates=[refined("a.cif")], shortlist=[])
    costs = _segment_costs(energies, report, "chgnet", cached_quantum={"a.cif"})
    assert [(c.segment, c.from_cache) for c in costs] == [
        ("surrogate (chgnet)", True),
        ("vqe MgO (MgO)", True),
    ]
    assert sum(c.seconds for c in costs) == 0.0


def test_a_partly_resumed_run_lists_what_it_spent_and_what_it_reused() -> None:
    energies = [
        SurrogateEnergy(
            source="a.cif", energy_per_atom=-3.0, relaxed=False, from_cache=False, cpu_seconds=0.5
        ),
        SurrogateEnergy(
            source="b.cif", energy_per_atom=-3.0, relaxed=False, from_cache=True, cpu_seconds=0.5
        ),
    ]
    report = ScreeningReport(surrogate="chgnet", parameters={}, candidates=[], shortlist=[])
    costs = _segment_costs(energies, report, "chgnet", cached_quantum=set())
    assert [(c.seconds, c.from_cache) for c in costs] == [(0.5, False), (0.0, True)]
