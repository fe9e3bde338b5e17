"""The layers contract: only workflows/ imports Prefect, no domain package imports workflows/, and the broker's
contract models import no part that depends on them (docs/architecture.md, "Layers")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PREFECT_FREE = ("broker", "classical", "climate", "config", "materials", "quantum")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (imports inside functions count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", PREFECT_FREE)
def test_domain_packages_import_neither_prefect_nor_workflows(package: str) -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in (ROOT / package).rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in ("prefect", "prefect_dask", "workflows")
    }
    assert not offenders, sorted(offenders)


def test_the_broker_contract_models_depend_on_no_broker_logic() -> None:
    modules = imported_modules(ROOT / "broker" / "models.py")
    assert not {m for m in modules if m.startswith("broker.")}, modules
    assert not {m for m in modules if m.split(".")[0] in ("classical", "workflows", "materials", "climate")}
