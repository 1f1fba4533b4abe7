"""The package layers of docs/architecture.md: imports point downwards only.

Pure packages (standards, carbon, gep, protocols, alerting) never import the store, services or
the presentation layers; the store never imports services or presentation; services never import
the presentation layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).parents[1] / "src" / "qingshan"
PRESENTATION = {"api", "commands", "web", "cli"}
FORBIDDEN = {
    **{
        pure: {"store", "services", *PRESENTATION}
        for pure in ("standards", "carbon", "gep", "protocols", "alerting")
    },
    "store": {"services", *PRESENTATION},
    "services": PRESENTATION,
}


def imported_packages(path: Path) -> set[str]:
    """The ``qingshan.<package>`` names a module imports (anywhere in it)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found |= {
            name.split(".")[1]
            for name in names
            if name.startswith("qingshan.") and name.count(".") >= 1
        }
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_point_downwards(layer: str) -> None:
    offending = {
        str(path.relative_to(SOURCE)): sorted(imported_packages(path) & FORBIDDEN[layer])
        for path in (SOURCE / layer).rglob("*.py")
    }
    assert {path: names for path, names in offending.items() if names} == {}
