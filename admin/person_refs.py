"""A person named on the command line by their id or its first characters."""

from __future__ import annotations

import argparse
import uuid

from admin.context import CommandContext
from core.errors import InvalidValue, NotFound
from core.records import Operator
from storage.person_lookup import id_range, people_with_id_prefix

CANDIDATES_SHOWN = 10
"""People listed when the start of an id fits several."""


def person_ref(value: str) -> str:
    """argparse type: a person id or its start (hex digits, dashes allowed)."""
    try:
        id_range(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a person id or its start; ids look like the ones "
            "`kiosk-admin people` prints, and their first characters will do"
        ) from None
    return value


def resolve(ctx: CommandContext, actor: Operator, ref: str) -> uuid.UUID:
    """The one person whose id starts with ``ref``.

    Raises NotFound when nobody's does, InvalidValue listing the candidates when
    several do, NotAllowed when ``actor`` may not view people."""
    found, total = people_with_id_prefix(
        ctx.store.engine, actor, ref, ctx.store.identity, CANDIDATES_SHOWN
    )
    if total == 0:
        raise NotFound(f"no person's id starts with {ref}; kiosk-admin people lists them")
    if total > 1:
        listed = "; ".join(f"{person} {name or '(erased)'}" for person, name in found)
        more = f"; and {total - len(found)} more" if total > len(found) else ""
        raise InvalidValue(
            f"{total} people's ids start with {ref}: {listed}{more}; give more of the id"
        )
    return found[0][0]
