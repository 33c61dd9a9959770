"""The audit and access logs: chained appends and reads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from core import records
from core.accounts.permissions import Permission
from core.administration.audit import GENESIS_HASH, chain_hash
from core.administration.server_supervision import RESTARTED_ACTION
from storage import schema
from storage.operator_authority import act_as
from storage.transactions import transaction

T = TypeVar("T")
SYSTEM_ACTOR = "system"
# Any fixed number: serialises appends so each event chains to the one before.
_AUDIT_CHAIN_LOCK = 7_301_520_115


def append_audit(
    session: Session,
    actor: str,
    action: str,
    target: str | None,
    details: dict[str, Any],
    event_id: uuid.UUID | None = None,
) -> bool:
    """Add an event to the chain, inside the caller's transaction.

    An ``event_id`` already in the log (a spooled event sent twice) adds nothing;
    returns whether the event was added."""
    session.execute(select(func.pg_advisory_xact_lock(_AUDIT_CHAIN_LOCK)))
    if event_id is not None and session.scalar(
        select(schema.AuditEvent.id).where(schema.AuditEvent.event_id == event_id)
    ):
        return False
    prev_hash = session.scalar(
        select(schema.AuditEvent.hash).order_by(schema.AuditEvent.id.desc()).limit(1)
    )
    prev_hash = prev_hash or GENESIS_HASH
    occurred_at = session.scalar(select(func.clock_timestamp()))
    assert occurred_at is not None
    session.add(
        schema.AuditEvent(
            event_id=event_id or uuid.uuid4(),
            occurred_at=occurred_at,
            actor=actor,
            action=action,
            target=target,
            details=details,
            prev_hash=prev_hash,
            hash=chain_hash(prev_hash, occurred_at, actor, action, target, details),
        )
    )
    # Flushed now so the next event in this transaction chains to this one.
    session.flush()
    return True


_ANYTHING = records.LogFilter()


class SqlAuditLog:
    """Reads of the audit and access logs, each by an operator allowed to read them
    now. Thread-safe: a Session per call."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def audit_events(
        self, limit: int, only: records.LogFilter = _ANYTHING, *, actor: records.Operator
    ) -> list[records.AuditEntry]:
        table = schema.AuditEvent
        query = _in_window(select(table), table.occurred_at, only)
        if only.actor is not None:
            query = query.where(table.actor == only.actor)
        if only.action is not None:
            query = query.where(
                table.action.startswith(only.action, autoescape=True)
                if only.action.endswith(".")
                else table.action == only.action
            )
        query = query.order_by(table.id.desc()).limit(limit)
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.READ_AUDIT)
            return [_entry(event) for event in session.scalars(query)]

    def server_restarts(self, since: datetime, limit: int) -> list[records.AuditEntry]:
        """The embedded server's audited restarts since ``since``, newest first.

        For ``kiosk-admin health``, which needs no operator: these events name no
        person and no operator (actor "system", a kiosk id, how long it was down)."""
        table = schema.AuditEvent
        query = (
            select(table)
            .where(
                table.action == RESTARTED_ACTION,
                table.actor == SYSTEM_ACTOR,
                table.occurred_at >= since,
            )
            .order_by(table.id.desc())
            .limit(limit)
        )
        with transaction(self._sessions) as session:
            return [_entry(event) for event in session.scalars(query)]

    def audit_chain(self, *, actor: records.Operator) -> Iterator[records.AuditEntry]:
        """Every event in chain order, streamed."""
        query = select(schema.AuditEvent).order_by(schema.AuditEvent.id)
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.VERIFY_AUDIT)
            for event in session.scalars(query.execution_options(yield_per=1000)):
                yield _entry(event)

    def access_events(
        self, limit: int, only: records.LogFilter = _ANYTHING, *, actor: records.Operator
    ) -> list[records.AccessEntry]:
        table = schema.AccessEvent
        query = _in_window(select(table), table.occurred_at, only)
        if only.kiosk_id is not None:
            query = query.where(table.kiosk_id == only.kiosk_id)
        if only.outcome is not None:
            query = query.where(table.outcome == only.outcome.value)
        query = query.order_by(table.id.desc()).limit(limit)
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.READ_ACCESS_LOG)
            return [
                records.AccessEntry(
                    e.id,
                    e.occurred_at,
                    e.kiosk_id,
                    records.AccessOutcome(e.outcome),
                    e.person_id,
                    e.similarity,
                    e.latency_ms,
                    records.DecisionSource(e.source),
                )
                for e in session.scalars(query)
            ]


def _in_window(query: Select[T], occurred_at: Any, only: records.LogFilter) -> Select[T]:
    if only.since is not None:
        query = query.where(occurred_at >= only.since)
    if only.until is not None:
        query = query.where(occurred_at < only.until)
    return query


def _entry(event: schema.AuditEvent) -> records.AuditEntry:
    return records.AuditEntry(
        event.id,
        event.occurred_at,
        event.actor,
        event.action,
        event.target,
        event.details,
        event.prev_hash,
        event.hash,
    )
