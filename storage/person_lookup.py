"""People found by the start of their id, and people's names for a list of ids:
what kiosk-admin needs to take a short id and to name the people of the access log."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from core.accounts.permissions import Permission
from core.records import Operator
from core.store import DenialLog
from storage import schema
from storage.operator_authority import act_as
from storage.transactions import transaction

_HEX_DIGITS = 32


def id_range(prefix: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The lowest and highest ids starting with ``prefix`` (hex digits, dashes ignored).

    Raises ValueError when ``prefix`` holds anything else or more than 32 digits."""
    digits = prefix.replace("-", "").lower()
    if not digits or len(digits) > _HEX_DIGITS or any(c not in "0123456789abcdef" for c in digits):
        raise ValueError(f"{prefix!r} is not the start of an id")
    rest = _HEX_DIGITS - len(digits)
    return uuid.UUID(digits + "0" * rest), uuid.UUID(digits + "f" * rest)


def people_with_id_prefix(
    engine: Engine, actor: Operator, prefix: str, denials: DenialLog, limit: int
) -> tuple[list[tuple[uuid.UUID, str | None]], int]:
    """Up to ``limit`` people (id, name; None once erased) whose id starts with
    ``prefix``, in id order, and how many there are in all. Found through the
    primary key's index (a range of ids), deleted people included.

    The actor must be allowed to view people (checked in the transaction). Raises
    ValueError for a ``prefix`` that is not the start of an id, NotAllowed,
    SessionExpired, StoreError."""
    low, high = id_range(prefix)
    person = schema.Person
    in_range = person.id.between(low, high)
    with transaction(sessionmaker(engine)) as session:
        act_as(session, actor, Permission.VIEW_PEOPLE, denials)
        total = session.scalar(select(func.count()).where(in_range)) or 0
        rows = session.execute(
            select(person.id, person.display_name).where(in_range).order_by(person.id).limit(limit)
        )
        return [(row.id, row.display_name) for row in rows], total


def display_names(
    engine: Engine, actor: Operator, ids: Collection[uuid.UUID], denials: DenialLog
) -> dict[uuid.UUID, str | None]:
    """The names of the people ``ids`` (None once erased; an unknown id is left out).
    The actor must be allowed to view people (checked in the transaction)."""
    if not ids:
        return {}
    person = schema.Person
    with transaction(sessionmaker(engine)) as session:
        act_as(session, actor, Permission.VIEW_PEOPLE, denials)
        rows = session.execute(
            select(person.id, person.display_name).where(person.id.in_(set(ids)))
        )
        return {row.id: row.display_name for row in rows}
