"""The tamper-evident audit chain: each event's hash covers the one before it.

Hashing and verification live here, in plain Python, so a check never trusts
code stored in the database it is checking.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from core.accounts.permissions import Permission, authorize
from core.errors import InvalidValue
from core.records import AccessEntry, AuditEntry, LogFilter, Operator
from core.store import AuditLog

GENESIS_HASH = "0" * 64
MAX_LOG_ROWS = 10_000
_ANYTHING = LogFilter()


def chain_hash(
    prev_hash: str,
    occurred_at: datetime,
    actor: str,
    action: str,
    target: str | None,
    details: Mapping[str, object],
) -> str:
    payload = json.dumps(
        {
            "prev": prev_hash,
            "at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "target": target,
            "details": details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    event_id: int
    problem: str

    def __str__(self) -> str:
        return f"audit event {self.event_id}: {self.problem}"


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken: BrokenLink | None


def verify_chain(entries: Iterable[AuditEntry]) -> ChainReport:
    """Walk the events in id order; report the first one that breaks the chain."""
    expected_prev = GENESIS_HASH
    checked = 0
    for entry in entries:
        if entry.prev_hash != expected_prev:
            problem = "does not follow the event before it (an event was removed or reordered)"
            return ChainReport(checked, BrokenLink(entry.id, problem))
        recomputed = chain_hash(
            entry.prev_hash,
            entry.occurred_at,
            entry.actor,
            entry.action,
            entry.target,
            entry.details,
        )
        if recomputed != entry.hash:
            problem = "its content no longer matches its hash (the row was changed)"
            return ChainReport(checked, BrokenLink(entry.id, problem))
        expected_prev = entry.hash
        checked += 1
    return ChainReport(checked, None)


class AuditService:
    """Reading and verifying the logs; auditors and admins only."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log

    def events(self, actor: Operator, limit: int, only: LogFilter = _ANYTHING) -> list[AuditEntry]:
        authorize(actor, Permission.READ_AUDIT)
        return self._log.audit_events(_checked_limit(limit), _checked(only), actor=actor)

    def access_events(
        self, actor: Operator, limit: int, only: LogFilter = _ANYTHING
    ) -> list[AccessEntry]:
        authorize(actor, Permission.READ_ACCESS_LOG)
        return self._log.access_events(_checked_limit(limit), _checked(only), actor=actor)

    def verify(self, actor: Operator) -> ChainReport:
        authorize(actor, Permission.VERIFY_AUDIT)
        return verify_chain(self._log.audit_chain(actor=actor))


def _checked_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LOG_ROWS:
        raise InvalidValue(f"limit {limit} is out of range; give 1 to {MAX_LOG_ROWS}")
    return limit


def _checked(only: LogFilter) -> LogFilter:
    for moment in (only.since, only.until):
        if moment is not None and moment.tzinfo is None:
            raise InvalidValue("a time filter needs a time zone")
    if only.since is not None and only.until is not None and only.since >= only.until:
        raise InvalidValue(
            f"the window from {only.since:%Y-%m-%d %H:%M} to {only.until:%Y-%m-%d %H:%M} "
            "is empty; the start must come before the end"
        )
    for name in ("actor", "action", "kiosk_id"):
        value = getattr(only, name)
        if value is not None and (not value or len(value) > 64 or not value.isprintable()):
            raise InvalidValue(f"the {name} filter must be 1 to 64 printable characters")
    return only
