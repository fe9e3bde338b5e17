"""The broker benchmark's rows and report: solved counts, ratios to the oracle and to Aer `automatic`, and the
estimators' errors against what was measured (see benchmarks/broker.py)."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.aer_runs import Run


@dataclass
class Row:
    family: str
    qubits: int
    choice: str
    runs: dict[str, Run] = field(default_factory=dict)
    predicted: dict[str, tuple[float, int]] = field(default_factory=dict)
    place_seconds: float = 0.0

    def best(self) -> tuple[str, Run] | None:
        """The oracle: the fastest exact method (the extended stabilizer samples approximately: left out)."""
        exact = [m for m in self.runs if m not in ("automatic", "extended_stabilizer")]
        done = [(m, self.runs[m]) for m in exact if self.runs[m].ok]
        return min(done, key=lambda mr: mr[1].seconds) if done else None


def _geomean(values: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else float("nan")


def report(rows: list[Row]) -> None:
    """Print solved counts, ratios, crashes and the estimators' errors."""
    solvable = [r for r in rows if r.best()]
    solved = [r for r in solvable if r.choice in r.runs and r.runs[r.choice].ok]
    automatic = [r for r in rows if r.runs["automatic"].ok]
    print(f"\ncircuits: {len(rows)}; solved by some method: {len(solvable)}; by the broker: {len(solved)}; "
          f"by automatic: {len(automatic)}")  # fmt: skip
    ratio_oracle = [r.runs[r.choice].seconds / r.best()[1].seconds for r in solved]  # type: ignore[index]
    total_broker = sum(r.runs[r.choice].seconds for r in solved)
    total_oracle = sum(r.best()[1].seconds for r in solved)  # type: ignore[index]
    print(f"broker/oracle: total {total_broker / total_oracle:.3f}x, geometric mean {_geomean(ratio_oracle):.3f}x, "
          f"oracle's own pick {sum(r.choice == r.best()[0] for r in solved) / max(len(solved), 1):.0%}, "
          f"within 1.1x {sum(x <= 1.1 for x in ratio_oracle) / max(len(solved), 1):.0%}")  # fmt: skip
    _versus_automatic(solved)
    for r in rows:
        if r.best() and r not in solved:
            print(f"  MISSED {r.family} {r.qubits}q: broker {r.choice}, oracle {r.best()[0]}")  # type: ignore[index]
    for r in rows:
        auto = r.runs["automatic"]
        if not auto.ok:
            print(f"  automatic failed on {r.family} {r.qubits}q: {auto.error}")
    places = [r.place_seconds for r in rows]
    print(f"placement time (profile + estimates + MPS trials): median {statistics.median(places):.3f} s, "
          f"max {max(places):.2f} s")  # fmt: skip
    _estimator_errors(rows)


def _versus_automatic(solved: list[Row]) -> None:
    """Broker/automatic on the circuits automatic runs, and on those where the two pick different methods."""
    both = [r for r in solved if r.runs["automatic"].ok]
    vs_auto = [r.runs[r.choice].seconds / r.runs["automatic"].seconds for r in both]
    if both:
        worst = both[vs_auto.index(max(vs_auto))]
        total = sum(r.runs[r.choice].seconds for r in both) / sum(r.runs["automatic"].seconds for r in both)
        print(f"broker/automatic on the {len(both)} circuits automatic runs: geometric mean {_geomean(vs_auto):.3f}x "
              f"(speed-up {1 / _geomean(vs_auto):.2f}x), worst {max(vs_auto):.2f}x ({worst.family} {worst.qubits}q), "
              f"total {total:.3f}x")  # fmt: skip
    if both:
        ceiling = [r.runs["automatic"].seconds / r.best()[1].seconds for r in both]  # type: ignore[index]
        print(f"  the oracle's speed-up over automatic on the same {len(both)} circuits, the most any choice of method "
              f"and option could reach: geometric mean {_geomean(ceiling):.2f}x")  # fmt: skip
    differ = [x for r, x in zip(both, vs_auto, strict=True) if r.runs["automatic"].chosen != r.choice]
    if differ:
        print(f"  where the broker runs a circuit otherwise than automatic (another method or option, {len(differ)} "
              f"circuits): speed-up geometric mean {1 / _geomean(differ):.2f}x, from {1 / max(differ):.2f}x to "
              f"{1 / min(differ):.0f}x")  # fmt: skip
    print(f"broker solves {len(solved) - len(both)} circuits automatic fails")


def _estimator_errors(rows: list[Row]) -> None:
    time_errors: dict[str, list[float]] = {}
    chosen_errors, memory_ratios = [], []
    for r in rows:
        for method, run in r.runs.items():
            if method == "automatic" or not run.ok or method not in r.predicted:
                continue
            seconds, memory = r.predicted[method]
            error = abs(seconds - run.seconds) / run.seconds
            time_errors.setdefault(method, []).append(error)
            if method == r.choice:
                chosen_errors.append(error)
            if run.peak_bytes > 64 * 2**20:  # below this the process's own noise dominates
                memory_ratios.append(memory / run.peak_bytes)
    every = [e for errors in time_errors.values() for e in errors]
    for label, errors in [("all runs", every), ("broker's choices", chosen_errors), *time_errors.items()]:
        if errors:
            q = np.quantile(errors, [0.5, 0.9])
            print(f"time estimate error, {label} ({len(errors)}): median {q[0]:.0%}, 90th pct {q[1]:.0%}")
    if memory_ratios:
        within = sum(abs(x - 1) <= 0.25 for x in memory_ratios) / len(memory_ratios)
        low = sum(x < 0.9 for x in memory_ratios) / len(memory_ratios)
        print(
            f"peak memory (runs > 64 MiB, {len(memory_ratios)}): within 25 % {within:.0%}, "
            f">10 % too low {low:.0%}, predicted/measured median {statistics.median(memory_ratios):.2f}"
        )


def saved_rows(path: str) -> list[Row]:
    """Rows saved by `--save`, for reporting again (after a change of the report, say)."""
    rows = []
    for saved in json.loads(Path(path).read_text()):
        runs = {method: Run(**run) for method, run in saved.pop("runs").items()}
        predicted = {method: (time_s, memory) for method, (time_s, memory) in saved.pop("predicted").items()}
        rows.append(Row(**saved, runs=runs, predicted=predicted))
    return rows
