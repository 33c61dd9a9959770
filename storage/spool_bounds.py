"""What the database can hold: spooled events are checked against it before they are sent."""

from __future__ import annotations

import math
from datetime import UTC
from typing import Any

from core.log_records import KioskAuditEvent
from core.records import AccessDecision, AccessOutcome, DecisionSource, Refusal
from storage import schema

KIOSK_ACTIONS = ("kiosk.", "door.")
"""The only audit actions a spool carries: a kiosk reports on itself and its door
(core.access.door_events), never for an operator."""


class SpoolError(ValueError):
    """A spooled line that is not an event this kiosk wrote, or one the database
    could not hold (a value longer than its column, text PostgreSQL refuses)."""


def _length(column: Any) -> int:
    length = column.type.length
    assert isinstance(length, int)
    return length


# The columns' own bounds, read from the schema so the two cannot drift apart.
_ACCESS_KIOSK_ID = _length(schema.AccessEvent.__table__.c.kiosk_id)
_AUDIT_TARGET = _length(schema.AuditEvent.__table__.c.target)
_AUDIT_ACTION = _length(schema.AuditEvent.__table__.c.action)
# A refusal's reason is a few words (spooled, not stored); anything longer was not a kiosk's.
_MAX_REASON = 200
_MAX_DETAILS_DEPTH = 16


def validate(event: AccessDecision | KioskAuditEvent) -> None:
    """SpoolError naming the first value the database would refuse to store."""
    if event.occurred_at.tzinfo is None:
        raise SpoolError("occurred_at has no time zone")
    try:
        event.occurred_at.astimezone(UTC)
    except OverflowError as error:
        raise SpoolError("occurred_at is out of range") from error
    if isinstance(event, AccessDecision):
        _check_text("kiosk_id", event.kiosk_id, _ACCESS_KIOSK_ID)
        if not isinstance(event.outcome, AccessOutcome):
            raise SpoolError("outcome is not an access outcome")
        if not isinstance(event.source, DecisionSource):
            raise SpoolError("source is not a decision source")
        if event.refusal is not None and not isinstance(event.refusal, Refusal):
            raise SpoolError("refusal is not an access rule's refusal")
        if (event.refusal is not None) is not (event.outcome is AccessOutcome.REFUSED):
            raise SpoolError("a refused decision names its rule, and only a refused one")
        if not isinstance(event.duress, bool):
            raise SpoolError("duress is not true or false")
        if event.duress and event.person_id is None:
            raise SpoolError("a decision on a duress PIN names the person who typed it")
        if event.reason is not None:
            _check_text("reason", event.reason, _MAX_REASON)
        number(event.similarity, "similarity", optional=True)
        latency = number(event.latency_ms, "latency_ms", optional=False)
        if latency is None or latency < 0:
            raise SpoolError("latency_ms is negative")
        return
    _check_text("kiosk_id", event.kiosk_id, _AUDIT_TARGET)
    _check_text("action", event.action, _AUDIT_ACTION)
    if not event.action.startswith(KIOSK_ACTIONS):
        raise SpoolError(f"action {event.action[:40]!r} is not one a kiosk reports")
    _check_json("details", event.details)


def _check_text(key: str, value: object, max_length: int) -> None:
    if not isinstance(value, str) or not value:
        raise SpoolError(f"{key} is not text")
    if len(value) > max_length:
        raise SpoolError(f"{key} has {len(value)} characters; its column holds {max_length}")
    _storable(key, value)


def _storable(key: str, value: str) -> None:
    # PostgreSQL text and jsonb refuse NUL, and UTF-8 has no lone surrogates.
    if "\x00" in value:
        raise SpoolError(f"{key} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise SpoolError(f"{key} is not valid Unicode") from error


def _check_json(key: str, value: object, depth: int = 0) -> None:
    # A kiosk's details nest two or three deep; far deeper would overflow the JSON
    # encoder's recursion on the way to the database and stop the spool for good.
    if depth > _MAX_DETAILS_DEPTH:
        raise SpoolError(f"{key} nests deeper than {_MAX_DETAILS_DEPTH} levels")
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        number(value, key, optional=False)
    elif isinstance(value, str):
        _storable(key, value)
    elif isinstance(value, list):
        for item in value:
            _check_json(key, item, depth + 1)
    elif isinstance(value, dict):
        for name, item in value.items():
            if not isinstance(name, str):
                raise SpoolError(f"{key} has a key that is not text")
            _storable(f"{key}.{name[:40]}", name)
            _check_json(f"{key}.{name[:40]}", item, depth + 1)
    else:
        raise SpoolError(f"{key} holds a {type(value).__name__}, not JSON")


def number(value: object, key: str, optional: bool) -> float | None:
    """``value`` as a finite float (None if ``optional`` and absent); SpoolError otherwise."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpoolError(f"{key} is not a number")
    try:
        as_float = float(value)
    except OverflowError:
        as_float = math.inf
    if not math.isfinite(as_float):
        raise SpoolError(f"{key} is not a finite number")
    return as_float
