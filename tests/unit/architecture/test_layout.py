"""The house rules (docs/ARCHITECTURE.md), checked on the code's own imports: services never import one
another, the core imports no service, the workflow's domain packages import only the rooms below them,
and no module grows past 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("intake", "risk", "workflow", "notify")
MAX_LINES = 500
GENERATED = ROOT / "libs" / "core" / "src" / "safetynet" / "v1"
WORKFLOW = ROOT / "services" / "workflow" / "src" / "safetynet_workflow"
# What a workflow package's own code may import from its sibling packages (pages may also use other
# packages' pages and services; nothing imports the composition: registry, main, worker).
WORKFLOW_LAYERS: dict[str, set[str]] = {
    "projection": set(),
    "clients": set(),
    "regions": set(),
    "auth": set(),
    "tasks": {"projection", "auth"},
    "reports": {"projection", "clients", "regions"},
    "cases": {"tasks", "projection", "clients", "reports", "regions"},
    "ledger": {"tasks", "projection"},
    "inspection": {"cases", "ledger", "tasks", "projection"},
    "sweeps": {"tasks", "projection", "clients", "reports.tables"},
    "corrections": {"tasks", "projection", "clients", "reports.tables"},
    "quality": {"clients"},
    "oversight": {"regions", "reports", "cases", "tasks", "projection"},
    "ui": {"tasks.forms", "projection"},
}
COMPOSITION = {"registry", "main", "worker"}


def python_files(*parts: str) -> list[Path]:
    return [p for p in ROOT.joinpath(*parts).rglob("*.py") if GENERATED not in p.parents and ".venv" not in p.parts]


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def top_package(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    others = {f"safetynet_{s}" for s in SERVICES if s != service} | {"safetynet_cli"}
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in python_files("services", service)
        for module in imported_modules(path)
        if top_package(module) in others
    }
    assert not offenders, "services talk over topics and HTTP only:\n" + "\n".join(sorted(offenders))


def test_the_core_imports_no_service() -> None:
    services = {f"safetynet_{s}" for s in SERVICES} | {"safetynet_cli"}
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in python_files("libs", "core")
        for module in imported_modules(path)
        if top_package(module) in services
    }
    assert not offenders, "\n".join(sorted(offenders))


def test_no_module_under_services_or_libs_grows_past_500_lines() -> None:
    long = {
        f"{path.relative_to(ROOT)}: {lines}"
        for path in [*python_files("services"), *python_files("libs")]
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, "split these modules:\n" + "\n".join(sorted(long))


def _workflow_layer_offences(path: Path, root: Path = WORKFLOW) -> list[str]:
    parts = path.relative_to(root).parts
    package = parts[0] if len(parts) > 1 else None
    offences = []
    for module in imported_modules(path):
        if not module.startswith("safetynet_workflow.") or package is None:
            continue  # the root modules (main, worker, registry, bootstrap, deps...) compose the packages
        target = module.removeprefix("safetynet_workflow.")
        first = target.split(".")[0]
        if first in COMPOSITION:
            offences.append(f"{path.relative_to(root)} imports the composition ({module})")
            continue
        if package not in WORKFLOW_LAYERS or first == package or first not in WORKFLOW_LAYERS:
            continue  # root modules and the package itself
        if path.name.endswith("pages.py") and package != "ui":
            continue  # a page may show another package's page or call its service
        allowed = WORKFLOW_LAYERS[package]
        if first not in allowed and not any(target == a or target.startswith(f"{a}.") for a in allowed):
            offences.append(f"{path.relative_to(root)} imports {module}")
    return offences


def test_workflow_packages_import_only_the_rooms_below_them() -> None:
    assert set(WORKFLOW_LAYERS) == {
        p.name for p in WORKFLOW.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    }, "a new package needs its line in WORKFLOW_LAYERS (and in docs/ARCHITECTURE.md)"
    offences = [o for path in WORKFLOW.rglob("*.py") for o in _workflow_layer_offences(path)]
    assert not offences, "\n".join(sorted(offences))


def test_the_rules_catch_what_they_forbid(tmp_path: Path) -> None:
    """Stray imports are caught (the checks above are not vacuous)."""
    (tmp_path / "tasks").mkdir()
    stray = tmp_path / "tasks" / "store.py"
    stray.write_text("from safetynet_workflow.cases.store import CaseStore\nfrom safetynet_workflow import registry\n")
    offences = " ".join(_workflow_layer_offences(stray, tmp_path))
    assert "imports safetynet_workflow.cases.store" in offences and "the composition" in offences
    page = tmp_path / "tasks" / "pages.py"
    page.write_text("from safetynet_workflow.cases.pages import case_context\nimport safetynet_notify\n")
    assert _workflow_layer_offences(page, tmp_path) == []
    assert "safetynet_notify" in imported_modules(page)
