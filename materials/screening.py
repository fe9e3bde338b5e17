"""A screening's candidates as plain records, and the steps between reading them and the quantum refinement:
which candidates are screened and which pass validation, the elements whose references the hull needs, each
candidate's score (surrogate energy and phase stability, or why it was rejected) and the shortlist of the most
stable ones (no Prefect; the flow's tasks wrap these)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pymatgen.core import Composition

from materials.candidates import bundled_candidates
from materials.generation import generated_candidates
from materials.stability import ElementalReferences, assess_stability
from materials.structures import Candidate, read_candidates
from materials.validation import duplicate_problems, validate_structure

# One candidate's stability: formation_energy_per_atom and energy_above_hull (eV/atom, None when implausible)
# and `problem` (why its energies are implausible, or None).
StabilityRow = dict[str, float | str | None]
StabilityOf = Callable[[list[str], list[float], dict[str, float]], list[StabilityRow]]


class ScreenedInput(BaseModel):
    """A candidate after reading and validation: its structure (pymatgen dict) or why it was rejected."""

    source: str
    formula: str | None
    structure: dict[str, Any] | None
    error: str | None


class SurrogateEnergy(BaseModel):
    """Surrogate energy of one structure, or the error that stopped it."""

    source: str
    energy_per_atom: float | None
    relaxed: bool
    error: str | None = None
    from_cache: bool = False
    cpu_seconds: float = 0.0


class CandidateScore(BaseModel):
    """One candidate's score on the surrogate's (MP2020-corrected) scale, eV/atom, or why it was rejected."""

    formula: str | None
    source: str
    status: Literal["ok", "rejected"]
    error: str | None = None
    energy_per_atom: float | None = None
    formation_energy_per_atom: float | None = None
    energy_above_hull: float | None = None
    relaxed: bool = False
    from_cache: bool = False


def screening_candidates(
    candidate_paths: Sequence[str | Path], generate: int, seed: int, supported: frozenset[str]
) -> list[Candidate]:
    """The candidates of a screening: those read from `candidate_paths`, plus `generate` made by substitution
    (reproducibly from `seed`, of `supported` elements); the bundled set when no path is given and none is
    generated."""
    candidates = read_candidates(candidate_paths) if candidate_paths else []
    if generate:
        candidates += generated_candidates(generate, seed, supported)
    elif not candidate_paths:
        candidates = bundled_candidates()
    return candidates


def screened_input(candidate: Candidate, supported: frozenset[str]) -> ScreenedInput:
    """A read candidate validated for a surrogate of `supported` elements: its structure, or why it is rejected."""
    if candidate.structure is None:
        return ScreenedInput(source=candidate.source, formula=None, structure=None, error=candidate.error)
    already_valid = candidate.valid_for is not None and candidate.valid_for == supported
    problem = None if already_valid else validate_structure(candidate.structure, supported)
    return ScreenedInput(
        source=candidate.source,
        formula=candidate.structure.composition.reduced_formula,
        structure=None if problem else candidate.structure.as_dict(),
        error=problem,
    )


def validated_candidates(candidates: Sequence[Candidate], supported: frozenset[str]) -> list[ScreenedInput]:
    """Every candidate validated before any surrogate call; a structure given twice is rejected as a repeat of the
    first, so it is neither computed nor refined twice."""
    screened = [screened_input(candidate, supported) for candidate in candidates]
    repeats = duplicate_problems(
        [c.structure if s.error is None else None for c, s in zip(candidates, screened, strict=True)],
        [c.source for c in candidates],
    )
    return [
        s.model_copy(update={"structure": None, "error": repeat}) if repeat else s
        for s, repeat in zip(screened, repeats, strict=True)
    ]


def formula_elements(formula: str | None) -> list[str]:
    """Element symbols of a formula, sorted."""
    return sorted(el.symbol for el in Composition(formula or "").elements)


def elements_to_reference(
    screened: Sequence[ScreenedInput], energies: Sequence[SurrogateEnergy]
) -> list[str]:
    """The elements of every candidate the surrogate gave an energy: those whose references the hull needs."""
    formulas = {s.source: s.formula for s in screened}
    computed = (e for e in energies if e.energy_per_atom is not None)
    return sorted({el for e in computed for el in formula_elements(formulas[e.source])})


def stability_rows(
    formulas: list[str], energies: list[float], references: dict[str, float]
) -> list[StabilityRow]:
    """Formation energy and energy above hull (eV/atom) from one phase diagram over all candidates; `problem` says
    why a candidate's energies are implausible (materials.plausibility), and then its energies are None."""
    results = assess_stability([Composition(f) for f in formulas], energies, references)
    return [
        {
            "formation_energy_per_atom": None if r.problem else r.formation_energy_per_atom,
            "energy_above_hull": None if r.problem else r.energy_above_hull,
            "problem": r.problem,
        }
        for r in results
    ]


def score_candidates(
    screened: Sequence[ScreenedInput],
    energies: Sequence[SurrogateEnergy],
    references: ElementalReferences,
    stability: StabilityOf = stability_rows,
) -> dict[str, CandidateScore]:
    """Merge surrogate energies and stability into one score per candidate, keyed by source.

    A candidate is rejected, with the reason, when validation rejected it, when its surrogate call failed, when one
    of its elements has no plausible reference, or when its energies are implausible (the stability's `problem`);
    the others are scored. `stability` computes the rows of the candidates left to score (`stability_rows`; the
    flow passes its task that wraps it).
    """
    results = {
        s.source: CandidateScore(formula=s.formula, source=s.source, status="rejected", error=s.error)
        for s in screened
    }
    for failed in (e for e in energies if e.energy_per_atom is None):
        results[failed.source].error = f"surrogate failed: {failed.error}"
    computed = [e for e in energies if e.energy_per_atom is not None]
    if not computed:
        return results
    scored = []
    for energy in computed:
        missing = [
            references.problems[el]
            for el in formula_elements(results[energy.source].formula)
            if el in references.problems
        ]
        if missing:
            results[energy.source].energy_per_atom = energy.energy_per_atom
            results[energy.source].error = "; ".join(missing)
        else:
            scored.append(energy)
    if not scored:
        return results
    formulas = [results[e.source].formula or "" for e in scored]
    stabilities = stability(formulas, [e.energy_per_atom for e in scored], references.energies)
    for energy, stab in zip(scored, stabilities, strict=True):
        problem = stab.pop("problem")
        results[energy.source] = results[energy.source].model_copy(
            update={
                "status": "rejected" if problem else "ok",
                "error": problem,
                "energy_per_atom": energy.energy_per_atom,
                "relaxed": energy.relaxed,
                "from_cache": energy.from_cache,
                **stab,
            }
        )
    return results


def shortlisted(scores: Iterable[CandidateScore], hull_threshold: float, size: int) -> list[str]:
    """Sources of the `size` most stable scored candidates within `hull_threshold` eV/atom of the hull: lowest
    energy above hull first, then lowest formation energy."""
    stable = [s for s in scores if s.status == "ok" and s.energy_above_hull <= hull_threshold]
    stable.sort(key=lambda s: (s.energy_above_hull, s.formation_energy_per_atom))
    return [s.source for s in stable[:size]]
