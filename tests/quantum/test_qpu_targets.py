"""QPU transpilation avoids couplers a calibration snapshot marks as broken (two-qubit gate error 1.0)."""

from __future__ import annotations

from quantum.circuit_families import ghz
from quantum.ibm.runtime import circuit_fidelity, fake_backend, isa_pass_manager, working_target


def test_routing_avoids_broken_couplers_so_fidelity_is_not_zero() -> None:
    torino = fake_backend(
        "fake_torino"
    )  # its snapshot has 22 couplers at error 1.0 (checked in qiskit-ibm-runtime)
    broken = {
        q for q, p in torino.target["cz"].items() if p is not None and p.error is not None and p.error >= 1
    }
    assert broken and not broken & set(working_target(torino)["cz"])
    isa = isa_pass_manager(torino).run(ghz(60))
    used = {tuple(isa.find_bit(q).index for q in i.qubits) for i in isa.data if i.operation.name == "cz"}
    assert not used & broken
    # Routed over a broken coupler, the product of (1 - error) is exactly 0; around them GHZ-60 is far above 0.
    assert circuit_fidelity(isa, torino) > 0.01
    manila = fake_backend("fake_manila")  # nothing broken: the target is the backend's own
    assert working_target(manila) is manila.target
