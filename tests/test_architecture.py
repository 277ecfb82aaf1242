"""The layers of design.md §5 hold: data flows api/web/cli/worker → services → domain + storage."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "contactmerge"
FORBIDDEN = {
    "domain": (
        "contactmerge.storage",
        "contactmerge.services",
        "contactmerge.api",
        "contactmerge.web",
        "contactmerge.cli",
        "contactmerge.worker",
    ),
    "storage": (
        "contactmerge.services",
        "contactmerge.api",
        "contactmerge.web",
        "contactmerge.cli",
        "contactmerge.worker",
    ),
    "services": ("contactmerge.api", "contactmerge.web", "contactmerge.cli", "contactmerge.worker"),
}


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_domain_imports_only_the_standard_library() -> None:
    offenders = {}
    for path in (PACKAGE / "domain").rglob("*.py"):
        outside = {
            m
            for m in imported_modules(path)
            if m.split(".")[0] not in sys.stdlib_module_names
            and not m.startswith("contactmerge.domain")
            and m != "__future__"
        }
        if outside:
            offenders[path.name] = sorted(outside)
    assert offenders == {}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_does_not_reach_outwards(layer: str) -> None:
    offenders = {
        path.name: sorted(m for m in imported_modules(path) if m.startswith(FORBIDDEN[layer]))
        for path in (PACKAGE / layer).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_sql_lives_in_storage() -> None:
    """Services and routes build no SQL of their own: sqlalchemy's query builders appear only in storage/."""
    builders = {"select", "insert", "update", "delete", "text"}
    offenders = []
    for layer in ("services", "api", "web", "cli"):
        for path in (PACKAGE / layer).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sqlalchemy"):
                    used = {alias.name for alias in node.names} & builders
                    if used:
                        offenders.append(f"{layer}/{path.name}: {sorted(used)}")
    assert offenders == []
