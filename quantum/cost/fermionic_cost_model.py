"""Sampling a number-conserving fermionic circuit (the LUCJ ansatz of SQD): where it runs and what it costs.

ffsim simulates the circuit in the fixed-particle space, C(K, n_alpha) x C(K, n_beta) amplitudes, where Aer's
statevector needs 2^(2K): N2/6-31G (10e,16o) is 19 million amplitudes (0.3 GB) against 2^32 (64 GiB). Aer's MPS
runs it approximately with whatever bond dimension the circuit builds. The constants were measured here with
`benchmarks/sqd.py` (N2/6-31G, (10e,8o) to (10e,16o), 2 cores): ffsim 0.1 s at 63,504 amplitudes, 0.7 s at
627,264, ~31 s at 19 million, all about 6.3 ns per amplitude per orbital pair; Aer statevector 4.5 s at 16 qubits,
8.3 s at 20 and 79 s at 24 (its ISA transpilation included); Aer MPS 2.8 s, 4.4 s and 9.3 s.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from broker.cost_models import Adjust, Estimates, adjusted
from broker.models import Estimate, Policy, Resource, ResourceCatalog
from config.settings import QcflowSettings
from quantum.cost.aer_memory import human_bytes

FFSIM_SECONDS_PER_AMPLITUDE_ORBITAL_PAIR = 6.3e-9
FFSIM_BYTES_PER_AMPLITUDE = 16 * 4  # complex128 state plus ffsim's work arrays
SAMPLE_SECONDS_PER_SHOT = 2e-6
STATEVECTOR_SECONDS = 4.0  # decomposition into Aer's gates and transpilation, before any amplitude is touched
STATEVECTOR_SECONDS_PER_AMPLITUDE = 4.7e-6
MPS_SECONDS = 2.0
MPS_SECONDS_PER_QUBIT_PAIR = 0.012
# Below this many qubits the LUCJ's bond dimension is bounded by the full 2^(n/2); the MPS memory estimate uses it.
SAMPLER_OF_METHOD = {"ffsim": "ffsim", "statevector": "aer_statevector", "matrix_product_state": "aer_mps"}


class FermionicSampling(BaseModel):
    """Shots of a number-conserving circuit on K spatial orbitals with fixed alpha and beta electron counts."""

    kind: ClassVar[str] = "fermionic_sampling"

    name: str
    orbitals: int = Field(ge=1)
    n_alpha: int = Field(ge=0)
    n_beta: int = Field(ge=0)
    shots: int = Field(ge=1)

    @property
    def qubits(self) -> int:
        return 2 * self.orbitals

    @property
    def amplitudes(self) -> int:
        """Dimension of the fixed-particle space ffsim works in."""
        return math.comb(self.orbitals, self.n_alpha) * math.comb(self.orbitals, self.n_beta)

    def summary(self) -> str:
        return (
            f"LUCJ sampling, ({self.n_alpha + self.n_beta}e,{self.orbitals}o) = {self.qubits} qubits, "
            f"{self.amplitudes:,} fixed-particle amplitudes, {self.shots:,} shots"
        )


class FermionicSamplingCostModel:
    """ffsim's fixed-particle simulator against Aer's statevector and MPS for sampling a fermionic circuit."""

    kind = FermionicSampling.kind

    def estimate(
        self,
        segment: FermionicSampling,
        catalog: ResourceCatalog,
        policy: Policy,
        adjust: Adjust,
        settings: QcflowSettings,
    ) -> Estimates:
        estimates, notes = adjusted(
            (
                _estimate(segment, resource, method, settings)
                for resource in catalog.of_kind("simulator")
                for method in ("ffsim", "statevector", "matrix_product_state")
                if method in resource.methods and resource.device == "CPU"
            ),
            adjust,
        )
        return Estimates(estimates=estimates, summary=segment.summary(), notes=notes, profile=segment)

    def what_would_fit(
        self,
        segment: FermionicSampling,
        found: Estimates,
        catalog: ResourceCatalog,
        ranked: list[Estimate],
        settings: QcflowSettings,
    ) -> list[str]:
        return [
            f"a smaller active space (now {segment.orbitals} orbitals, {segment.amplitudes:,} amplitudes)"
        ]


def _estimate(
    segment: FermionicSampling, resource: Resource, method: str, settings: QcflowSettings
) -> Estimate:
    n = segment.qubits
    sampling = segment.shots * SAMPLE_SECONDS_PER_SHOT
    if method == "ffsim":
        seconds = (
            FFSIM_SECONDS_PER_AMPLITUDE_ORBITAL_PAIR * segment.amplitudes * segment.orbitals**2 + sampling
        )
        memory = FFSIM_BYTES_PER_AMPLITUDE * segment.amplitudes
    elif method == "statevector":
        seconds = STATEVECTOR_SECONDS + STATEVECTOR_SECONDS_PER_AMPLITUDE * 2.0 ** min(n, 1000) + sampling
        memory = int(16 * 2.0 ** min(n, 1000))
    else:
        seconds = MPS_SECONDS + MPS_SECONDS_PER_QUBIT_PAIR * n**2 + sampling
        memory = int(16 * n * 4.0 ** min(n // 2, 500))  # the largest bond dimension a cut can need
    usable = int(resource.memory_free_bytes * settings.broker.memory_headroom)
    why = None
    if memory > usable:
        why = f"{method} needs {human_bytes(memory)}, {human_bytes(resource.memory_free_bytes)} free on {resource.name}"
    options: dict[str, Any] = {"sampler": SAMPLER_OF_METHOD[method]}
    return Estimate(
        resource=resource.name,
        method=method,
        device=resource.device,
        seconds=seconds,
        memory_bytes=memory,
        cost_usd=seconds * resource.price_per_second_usd,
        fidelity=1.0 if method != "matrix_product_state" else 0.99,
        energy_joules=seconds * resource.power_watts,
        feasible=why is None,
        why_not=why,
        options=options,
    )
