"""The layers contract: only workflows/ imports Prefect, no domain package imports workflows/, and the broker's
contract models import no part that depends on them (docs/architecture.md, "Layers"). The domain packages' tests
keep the same rule, so `make test-fast` runs them without Prefect."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PREFECT_FREE = ("broker", "classical", "climate", "config", "materials", "quantum")
# The tests `make test-fast` runs (keep in step with the Makefile's FAST_TESTS).
PREFECT_FREE_TESTS = ("broker", "classical", "climate", "materials", "quantum")
PREFECT_ONLY = ("prefect", "prefect_dask", "workflows")
PREFECT_FIXTURES = ("prefect_api",)


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
        if module.split(".")[0] in PREFECT_ONLY
    }
    assert not offenders, sorted(offenders)


def prefect_fixtures_requested(path: Path) -> set[str]:
    """The Prefect-only fixtures that a file's functions take as arguments."""
    return {
        arg.arg
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for arg in node.args.args + node.args.kwonlyargs
        if arg.arg in PREFECT_FIXTURES
    }


@pytest.mark.parametrize("folder", PREFECT_FREE_TESTS)
def test_domain_tests_need_no_prefect(folder: str) -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "tests" / folder).rglob("*.py")
        for name in {m for m in imported_modules(path) if m.split(".")[0] in PREFECT_ONLY}
        | prefect_fixtures_requested(path)
    }
    assert not offenders, sorted(offenders)


def test_the_shared_conftest_imports_prefect_only_inside_fixtures() -> None:
    """tests/conftest.py is loaded for every test: a module-level Prefect import would load Prefect for the domain
    tests too (the Prefect API fixture imports it when a flow test asks for it)."""
    tree = ast.parse((ROOT / "tests" / "conftest.py").read_text(encoding="utf-8"))
    top_level: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_level |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            top_level.add(node.module)
    assert not {m for m in top_level if m.split(".")[0] in PREFECT_ONLY}, top_level


def test_the_broker_contract_models_depend_on_no_broker_logic() -> None:
    modules = imported_modules(ROOT / "broker" / "models.py")
    assert not {m for m in modules if m.startswith("broker.")}, modules
    assert not {m for m in modules if m.split(".")[0] in ("classical", "workflows", "materials", "climate")}
