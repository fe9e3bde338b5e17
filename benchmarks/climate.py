"""Throughput of the two-layer ensemble emulator (member-years per second) against the 1e7 reference figure.

Run: .venv/bin/python benchmarks/climate.py [--members 10000] [--repeats 5]  (or python -m benchmarks.climate)

The reference: a plain numpy two-layer model passes 10 million member-years per second on one core of the project
machine (issue 5). Threads are pinned to one (OMP/OpenBLAS/MKL) before numpy loads. If ``fair`` 1.x is importable,
the same scenario also runs through FaIR (central parameters, CO2 concentration-driven with our other forcings)
for a warming and speed comparison; otherwise that part is reported as skipped.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
# This file is named climate.py: run as a script, its folder would shadow the climate package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from climate.emulator import simulate_two_layer  # noqa: E402
from climate.ensemble import (  # noqa: E402
    central_parameters,
    ensemble_forcing,
    run_ensemble,
    sample_parameters,
    warming_summary,
)
from climate.forcing import forcing_components  # noqa: E402
from climate.scenarios import load_scenario  # noqa: E402

REFERENCE_MEMBER_YEARS_PER_S = 1e7  # issue 5: plain numpy two-layer model, one core


def best_time(function: object, repeats: int) -> float:
    """Fastest of ``repeats`` wall-clock timings (s)."""
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return min(timings)


def compare_with_fair(scenario_name: str) -> None:
    """Central-parameter 2081-2100 warming from FaIR 1.x beside ours, when fair is installed."""
    if importlib.util.find_spec("fair") is None:
        print("FaIR comparison: skipped (fair is not installed)")
        return
    import fair

    if not str(fair.__version__).startswith("1."):
        print(
            f"FaIR comparison: skipped (fair {fair.__version__}; only the 1.x fair_scm interface is wired up)"
        )
        return
    from fair.forward import fair_scm

    scenario = load_scenario(scenario_name).between(1750, 2100)
    params = central_parameters()
    components = forcing_components(scenario)
    other = params.forcing_scales[0, 1:] @ components[1:]  # the same non-CO2 ERF as our central member
    start = time.perf_counter()
    _, _, fair_temperature = fair_scm(
        emissions_driven=False,
        useMultigas=False,
        C=scenario.co2,
        other_rf=other,
        tcrecs=np.array([1.8, 3.0]),
        F2x=3.93,
    )
    fair_seconds = time.perf_counter() - start
    baseline = (scenario.years >= 1850) & (scenario.years <= 1900)
    period = (scenario.years >= 2081) & (scenario.years <= 2100)
    fair_warming = fair_temperature[period].mean() - fair_temperature[baseline].mean()
    ours = warming_summary(run_ensemble(scenario, params))["median"]
    print(
        f"FaIR {fair.__version__} ({scenario_name}, TCR 1.8 K / ECS 3 K, same forcing): 2081-2100 warming "
        f"{fair_warming:.2f} K vs two-layer central {ours:.2f} K; FaIR {len(scenario.years) / fair_seconds:,.0f} "
        "member-years/s (one member per call)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scenario", default="ssp245")
    args = parser.parse_args()

    scenario = load_scenario(args.scenario).between(1750, 2100)
    params = sample_parameters(args.members, seed=0, calibrated=False)
    forcing = ensemble_forcing(scenario, params)
    member_years = args.members * len(scenario.years)

    core = best_time(lambda: simulate_two_layer(forcing, params.climate), args.repeats)
    full = best_time(lambda: run_ensemble(scenario, params), args.repeats)
    calibration = best_time(lambda: sample_parameters(1000, seed=1), 1)
    for label, seconds in (
        ("two-layer time stepping", core),
        ("run_ensemble (forcing + model + anomaly)", full),
    ):
        rate = member_years / seconds
        print(
            f"{label}: {args.members} members x {len(scenario.years)} years in {seconds * 1e3:.1f} ms = "
            f"{rate:,.0f} member-years/s, {rate / REFERENCE_MEMBER_YEARS_PER_S:.2f}x the 1e7 reference"
        )
    print(f"sample_parameters(1000, calibrated=True): {calibration:.2f} s (prior draws run over 1750-2014)")
    compare_with_fair(args.scenario)


if __name__ == "__main__":
    main()
