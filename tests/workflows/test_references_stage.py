"""The elemental references run as a placed classical stage: the same energies as the serial computation, cached
element by element, nothing recomputed on a second run, and an untrusted element reported, not raised (real
Prefect API, real CHGNet relaxations)."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.models import Policy
from broker.place import place
from classical.resources import classical_resources
from config.settings import get_settings, settings_override
from materials.stability import elemental_references
from materials.surrogate import load_surrogate
from workflows.screening.references_stage import elemental_references_placed, reference_segment

# Molecular-only elements: one trial structure each (the diatomic molecule), so the relaxations stay short.
ELEMENTS = ["F", "Ne", "O"]


def test_the_segment_counts_every_trial_structure() -> None:
    segment = reference_segment(["F", "Mg"], "chgnet")
    assert segment.relax_steps == 200 and segment.model == "chgnet"
    assert segment.atoms[0] == 2  # the F2 molecule; Mg tries several crystals after it
    assert len(segment.atoms) >= 4


@pytest.mark.slow
def test_references_stage_matches_the_serial_references_and_resumes(
    prefect_api: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from broker.models import ResourceCatalog

    with settings_override(home=tmp_path / "home"):  # an empty reference cache
        catalog = ResourceCatalog(resources=classical_resources(get_settings()))
        threads = Policy(allowed_resources=["local-threads"])
        found, run, cpu_seconds = elemental_references_placed(ELEMENTS, "chgnet", catalog, threads)
        again, second_run, _ = elemental_references_placed(ELEMENTS, "chgnet", catalog, threads)
    assert run is not None and run.kind == "ml_potential"
    assert run.placement["resource"] == "local-threads" and cpu_seconds > 0
    assert set(found.energies) == {"F", "O"}
    assert "Ne" in found.problems and "no reference" in found.problems["Ne"]
    assert second_run is None  # every reference came from the cache
    assert again.energies == found.energies

    serial = elemental_references(ELEMENTS, load_surrogate("chgnet"), cache_dir=tmp_path / "serial")
    assert found.energies == pytest.approx(serial.energies, abs=1e-6)


def test_a_placement_of_references_names_the_relaxations() -> None:
    from broker.models import ResourceCatalog

    placement = place(
        reference_segment(["F", "O"], "chgnet"),
        ResourceCatalog(resources=classical_resources(get_settings())),
    )
    assert placement.kind == "ml_potential"
    assert any("relaxations" in reason for reason in placement.reasons)
