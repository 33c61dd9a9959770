"""The layer rules, checked: core imports neither Qt nor SQL; storage knows no front end."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "core": {"PySide6", "sqlalchemy", "alembic", "psycopg", "storage", "kiosk", "admin", "config"},
    "storage": {"PySide6", "kiosk", "admin"},
    "config": {"PySide6", "sqlalchemy", "kiosk", "admin"},
}


def imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_stay_inside_their_bounds(layer: str) -> None:
    offences = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / layer).rglob("*.py")
        for name in imported_packages(path) & FORBIDDEN[layer]
    }
    assert not offences, sorted(offences)
