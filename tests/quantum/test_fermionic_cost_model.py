"""Where SQD's LUCJ sampling runs: ffsim's fixed-particle space against Aer's 2^n statevector and MPS."""

from __future__ import annotations

import math

import pytest

from broker.catalog import discover_catalog
from broker.models import PlacementRefused, Policy
from broker.place import place
from quantum.cost.fermionic_cost_model import FermionicSampling


@pytest.fixture(scope="module")
def catalog():
    return discover_catalog(classical=False)


def test_n2_at_32_qubits_goes_to_ffsim_and_statevector_is_refused_by_memory(catalog) -> None:
    segment = FermionicSampling(name="n2", orbitals=16, n_alpha=5, n_beta=5, shots=20_000)
    assert segment.amplitudes == math.comb(16, 5) ** 2 == 19_079_424  # 19 million, the figure
    placement = place(segment, catalog)
    assert placement.resource == "ffsim" and placement.options["sampler"] == "ffsim"
    statevector = next(e for e in placement.runners_up if e.method == "statevector")
    assert not statevector.feasible and "68.7 GB" in (statevector.why_not or "")  # 2^32 x 16 bytes
    assert any(r.startswith("chose ffsim/ffsim") for r in placement.reasons)


def test_a_policy_that_allows_only_aer_refuses_what_aer_cannot_hold(catalog) -> None:
    segment = FermionicSampling(name="n2", orbitals=16, n_alpha=5, n_beta=5, shots=20_000)
    with pytest.raises(PlacementRefused) as refused:
        place(segment, catalog, Policy(allowed_resources=["aer-cpu"]))
    assert "a smaller active space (now 16 orbitals" in (refused.value.placement.refused or "")


def test_small_active_spaces_still_prefer_the_fixed_particle_space(catalog) -> None:
    placement = place(FermionicSampling(name="h2o", orbitals=8, n_alpha=4, n_beta=4, shots=1000), catalog)
    assert placement.resource == "ffsim"
    aer = {e.method: e for e in placement.runners_up}
    assert aer["statevector"].feasible and aer["statevector"].seconds > placement.estimate.seconds
