"""TOML documents people write (kiosk.toml, a rules file), read with a bound on nesting.

tomllib recurses once per level of tables or arrays within each other: a document
nested a few hundred deep ends in a RecursionError, a stack trace instead of a
refusal. One nested less deeply still hands on data that repr, json or pydantic
walk the same way. Neither format needs more than a few levels, so anything
deeper is refused as bad TOML, with the same one-line message as any other.
"""

from __future__ import annotations

import tomllib
from typing import Any

MAX_NESTING = 16
"""Tables and arrays within each other, the document itself counted: kiosk.toml
needs 3 (a section, a list), a rules file 5 (a table in a list, a list in it)."""


def load_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads(text)``, refusing a document nested deeper than MAX_NESTING.
    Raises tomllib.TOMLDecodeError for that as for any other invalid TOML."""
    try:
        document = tomllib.loads(text)
    except RecursionError:
        raise _too_deep() from None
    if _deepest(document) > MAX_NESTING:
        raise _too_deep()
    return document


def _too_deep() -> tomllib.TOMLDecodeError:
    return tomllib.TOMLDecodeError(
        f"tables or arrays are nested more than {MAX_NESTING} levels deep"
    )


def _deepest(document: dict[str, Any]) -> int:
    """How many containers deep ``document`` goes, walked without recursion."""
    deepest = 0
    waiting: list[tuple[object, int]] = [(document, 1)]
    while waiting:
        value, depth = waiting.pop()
        if isinstance(value, dict):
            children: list[object] = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_NESTING:
            return depth  # no need to walk the rest
        waiting.extend((child, depth + 1) for child in children)
    return deepest
