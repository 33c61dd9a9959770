"""The tree drawn in core/errors.py's docstring is the tree of the classes: each error
under its parent, and every error of core.errors drawn."""

from __future__ import annotations

import importlib
import re

from core import errors

# The errors drawn that live next to the only code raising them.
ELSEWHERE = ("core.rules.rule_set", "storage.sealed_stream")
BRANCH = re.compile(r"^(?P<indent>[│ ]*)(?:├── |└── )(?P<name>\w+)")


def drawn_parents() -> dict[str, str]:
    doc = errors.__doc__ or ""
    parents: dict[str, str] = {}
    stack = ["KioskError"]
    for line in doc.splitlines():
        branch = BRANCH.match(line)
        if branch is None:
            continue
        depth = len(branch["indent"]) // 4 + 1
        del stack[depth:]
        parents[branch["name"]] = stack[-1]
        stack.append(branch["name"])
    return parents


def error_class(name: str) -> type[BaseException]:
    for module in ("core.errors", *ELSEWHERE):
        found = getattr(importlib.import_module(module), name, None)
        if isinstance(found, type) and issubclass(found, BaseException):
            return found
    raise AssertionError(f"{name} is drawn in core/errors.py but defined nowhere")


def test_each_drawn_error_derives_from_the_error_drawn_above_it() -> None:
    parents = drawn_parents()
    assert len(parents) > 30  # the drawing was read
    wrong = {
        name: parent
        for name, parent in parents.items()
        if error_class(parent) not in error_class(name).__bases__
    }
    assert wrong == {}


def test_every_error_of_core_errors_is_drawn() -> None:
    defined = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type)
        and issubclass(value, errors.KioskError)
        and value.__module__ == errors.__name__
    }
    assert defined - set(drawn_parents()) == {"KioskError"}
