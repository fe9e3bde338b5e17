"""Accuracy of CHGNet formation energies against measured enthalpies, raw and with a per-element correction.

Compounds: every AFLOW prototype bundled with pymatgen (broken entries corrected or left out, see
materials/prototype_corrections.py) whose reduced formula has a measured formation enthalpy in pymatgen's
`analysis/compatibility/exp_compounds.json.gz`. Each structure is relaxed with CHGNet (FIRE,
fmax 0.1 eV/Å, 200 steps); where a formula has several prototypes the lowest-energy one stands for the compound
(the measured enthalpy is of the ground state). Elemental references come from `elemental_reference_energies`;
references and relaxed energies are cached on disk (keyed on the structures too), so a second run only redoes
the statistics (--recompute relaxes again).

Correction: the residual (experiment - CHGNet) of each compound is fitted as sum_el x_el * c_el (x_el the atomic
fraction, c_el one number per element, eV/atom) on a seeded training split. Plain least squares has about as many
unknowns (~50 elements) as training compounds (~65) and overfits, so it is reported next to ridge least squares
whose strength is picked by leave-one-out error inside the training split (the held-out split is never looked
at). Both are scored on the held-out split next to the raw MAE of the same compounds, for one split and as the
mean over several seeded splits.

    .venv/bin/python benchmarks/formation_energy.py [--max-sites N] [--splits 20] [--cache-dir DIR] [--recompute]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from pymatgen.core import Composition
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from materials.candidates import Prototype, aflow_prototypes, experimental_formation_enthalpies
from materials.stability import (
    DEFAULT_CACHE_DIR,
    REFERENCE_RECIPE,
    elemental_reference_energies,
    formation_energy_per_atom,
)
from materials.surrogate import Surrogate, load_surrogate

RIDGE_STRENGTHS = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


@dataclass(frozen=True)
class Compound:
    """One compound: its lowest-energy prototype's CHGNet formation energy and the measured one (eV/atom)."""

    formula: str
    prototype: str
    predicted: float
    measured: float


def benchmark_prototypes(surrogate: Surrogate, max_sites: int) -> list[Prototype]:
    """Prototypes (as corrected in materials/prototype_corrections.py) whose formula has a measured enthalpy."""
    measured = experimental_formation_enthalpies()
    return [
        p
        for p in aflow_prototypes()
        if p.formula in measured
        and len(p.structure) <= max_sites
        and {el.symbol for el in p.structure.composition.elements} <= surrogate.supported_elements
    ]


def structures_digest(prototypes: list[Prototype]) -> str:
    """A short hash of the prototypes' structures, so cached energies are redone when a structure changes."""
    payload = json.dumps([[p.identifier, p.structure.as_dict()] for p in prototypes], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def relaxed_energies(surrogate: Surrogate, prototypes: list[Prototype]) -> dict[str, tuple[float, str]]:
    """Relax every prototype; per formula, the lowest energy (eV/atom) and its AFLOW label."""
    best: dict[str, tuple[float, str]] = {}
    for prototype in tqdm(prototypes, desc="relaxing prototypes", unit="structure"):
        (relaxation,) = surrogate.relax([prototype.structure])
        if prototype.formula not in best or relaxation.energy_per_atom < best[prototype.formula][0]:
            best[prototype.formula] = (relaxation.energy_per_atom, prototype.aflow_label)
    return best


def benchmark_compounds(max_sites: int, cache_dir: Path, recompute: bool) -> list[Compound]:
    """Formation energies of the benchmark compounds, from cached relaxed energies where available."""
    surrogate = load_surrogate("chgnet")
    prototypes = benchmark_prototypes(surrogate, max_sites)
    key = f"{surrogate.version}_{REFERENCE_RECIPE}_maxsites{max_sites}_{structures_digest(prototypes)}"
    energies_file = cache_dir / "benchmarks" / f"formation_energy_{key.replace('/', '-')}.json"
    if energies_file.exists() and not recompute:
        energies = {formula: tuple(value) for formula, value in json.loads(energies_file.read_text()).items()}
    else:
        energies = relaxed_energies(surrogate, prototypes)
        energies_file.parent.mkdir(parents=True, exist_ok=True)
        energies_file.write_text(json.dumps(energies, indent=1, sort_keys=True))
    elements = sorted({el.symbol for formula in energies for el in Composition(formula).elements})
    references: dict[str, float] = {}
    for element in tqdm(elements, desc="elemental references", unit="element"):
        references |= elemental_reference_energies([element], surrogate, cache_dir=cache_dir)
    measured = experimental_formation_enthalpies()
    return [
        Compound(
            formula,
            label,
            formation_energy_per_atom(Composition(formula), energy, references),
            measured[formula],
        )
        for formula, (energy, label) in sorted(energies.items())
    ]


def element_fractions(compounds: list[Compound]) -> np.ndarray:
    """Matrix of atomic fractions, one row per compound, one column per element (sorted symbols)."""
    elements = sorted({el.symbol for c in compounds for el in Composition(c.formula).elements})
    matrix = np.zeros((len(compounds), len(elements)))
    for row, compound in enumerate(compounds):
        for el, fraction in Composition(compound.formula).fractional_composition.items():
            matrix[row, elements.index(el.symbol)] = fraction
    return matrix


def ridge_fit(fractions: np.ndarray, residuals: np.ndarray, strength: float) -> np.ndarray:
    """Per-element corrections minimising |X c - r|^2 + strength |c|^2 (strength 0: minimum-norm least squares)."""
    if strength == 0:
        return np.linalg.lstsq(fractions, residuals, rcond=None)[0]
    n_elements = fractions.shape[1]
    return np.linalg.solve(fractions.T @ fractions + strength * np.eye(n_elements), fractions.T @ residuals)


def leave_one_out_strength(fractions: np.ndarray, residuals: np.ndarray) -> float:
    """The ridge strength with the lowest leave-one-out mean absolute error on the given (training) rows."""
    errors = []
    for strength in RIDGE_STRENGTHS:
        gram = fractions.T @ fractions + strength * np.eye(fractions.shape[1])
        hat = fractions @ np.linalg.solve(gram, fractions.T)
        loo = (residuals - hat @ residuals) / (1 - np.diag(hat))
        errors.append(np.mean(np.abs(loo)))
    return RIDGE_STRENGTHS[int(np.argmin(errors))]


def split_errors(compounds: list[Compound], seed: int, test_fraction: float) -> dict[str, float]:
    """Held-out MAEs (eV/atom) of one seeded split: raw, least-squares corrected and ridge corrected."""
    fractions = element_fractions(compounds)
    residuals = np.array([c.measured - c.predicted for c in compounds])
    order = np.random.default_rng(seed).permutation(len(compounds))
    n_test = max(1, round(test_fraction * len(compounds)))
    test, train = order[:n_test], order[n_test:]
    strength = leave_one_out_strength(fractions[train], residuals[train])
    result = {"n_test": n_test, "raw": float(np.mean(np.abs(residuals[test]))), "strength": strength}
    for name, lam in (("least_squares", 0.0), ("ridge", strength)):
        corrections = ridge_fit(fractions[train], residuals[train], lam)
        result[name] = float(np.mean(np.abs(residuals[test] - fractions[test] @ corrections)))
    return result


def print_report(compounds: list[Compound], splits: list[dict[str, float]]) -> None:
    """The raw MAE, the worst compounds and the table of held-out errors."""
    errors = np.array([c.predicted - c.measured for c in compounds])
    print(
        f"\n{len(compounds)} compounds; raw CHGNet MAE {np.mean(np.abs(errors)):.3f} eV/atom (all compounds)"
    )
    print("largest raw errors (eV/atom):")
    for index in np.argsort(-np.abs(errors))[:5]:
        c = compounds[index]
        print(f"  {c.formula:8s} {c.prototype:22s} CHGNet {c.predicted:+.3f}  exp {c.measured:+.3f}")
    print("\nheld-out MAE (eV/atom)   n  raw    least-squares (ratio)  ridge (ratio, strength)")
    first = splits[0]
    rows = [("first seed", first, f"{first['strength']:g}")]
    mean = {
        key: float(np.mean([s[key] for s in splits])) for key in ("n_test", "raw", "least_squares", "ridge")
    }
    rows.append((f"mean of {len(splits)} seeds", mean, "LOO"))
    for label, row, strength in rows:
        print(
            f"{label:22s} {row['n_test']:3.0f}  {row['raw']:.3f}  {row['least_squares']:.3f} "
            f"({row['least_squares'] / row['raw']:.2f})          {row['ridge']:.3f} ({row['ridge'] / row['raw']:.2f}, "
            f"{strength})"
        )
    ratios = np.array([s["ridge"] / s["raw"] for s in splits])
    print(f"ridge ratio over seeds: mean {ratios.mean():.2f}, min {ratios.min():.2f}, max {ratios.max():.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-sites", type=int, default=1000, help="skip prototypes with more sites")
    parser.add_argument("--splits", type=int, default=20, help="number of seeded train/test splits")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first split")
    parser.add_argument("--test-fraction", type=float, default=0.3, help="held-out share of the compounds")
    parser.add_argument(
        "--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="cache of references and energies"
    )
    parser.add_argument("--recompute", action="store_true", help="relax the compounds again")
    parser.add_argument("--json", type=Path, default=None, help="also write the compounds and splits here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    compounds = benchmark_compounds(args.max_sites, args.cache_dir, args.recompute)
    splits = [
        split_errors(compounds, seed, args.test_fraction)
        for seed in range(args.seed, args.seed + args.splits)
    ]
    print_report(compounds, splits)
    if args.json:
        args.json.write_text(
            json.dumps({"compounds": [asdict(c) for c in compounds], "splits": splits}, indent=1)
        )


if __name__ == "__main__":
    main()
