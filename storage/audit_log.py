"""The audit and access logs: chained appends, reads, and the anchor verify compares with."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core import log_records, records
from core.accounts.permissions import Permission
from core.administration.chains import GENESIS_HASH, Chain, chain_hash
from core.administration.server_supervision import RESTARTED_ACTION
from core.errors import NotAllowed, StoreError
from storage import schema
from storage.chain_anchor import ChainAnchor
from storage.event_chains import (
    lock_chains,
    next_position,
    note_head,
    transaction_committed,
)
from storage.operator_authority import act_as
from storage.request_context import with_request_id
from storage.transactions import transaction

log = logging.getLogger(__name__)

T = TypeVar("T")
SYSTEM_ACTOR = "system"
REANCHORED_ACTION = "audit.reanchored"
VERIFY_FAILED_ACTION = "audit.verify_failed"
# What a failed verify's audit event keeps of its problems (each a line of the report).
_MAX_PROBLEMS, _MAX_PROBLEM_CHARS = 10, 300
DENIED_ACTION = "permission.denied"
# Rows fetched per round trip when a whole chain is walked.
_STREAMED_ROWS = 1000


def append_audit(
    session: Session,
    actor: str,
    action: str,
    target: str | None,
    details: dict[str, Any],
    event_id: uuid.UUID | None = None,
) -> bool:
    """Add an event to the chain, inside the caller's transaction.

    Call it after the transaction's row locks (storage/event_chains.py says why).
    An ``event_id`` already in the log (a spooled event sent twice) adds nothing;
    returns whether the event was added."""
    details = with_request_id(details)
    lock_chains(session)
    if event_id is not None and session.scalar(
        select(schema.AuditEvent.id).where(schema.AuditEvent.event_id == event_id)
    ):
        return False
    position = next_position(session, schema.AuditEvent, Chain.AUDIT)
    occurred_at = session.scalar(select(func.clock_timestamp()))
    assert occurred_at is not None
    digest = chain_hash(position.prev_hash, occurred_at, actor, action, target, details)
    session.add(
        schema.AuditEvent(
            event_id=event_id or uuid.uuid4(),
            occurred_at=occurred_at,
            actor=actor,
            action=action,
            target=target,
            details=details,
            seq=position.seq,
            prev_hash=position.prev_hash,
            hash=digest,
        )
    )
    # Flushed now so the next event in this transaction chains to this one.
    session.flush()
    note_head(session, Chain.AUDIT, position, digest)
    return True


AuditItem = tuple[str, str | None, dict[str, Any]]
"""(action, target, details) of one event of a batch."""


def append_audit_batch(session: Session, actor: str, events: Sequence[AuditItem]) -> None:
    """Add ``events`` to the chain in this order, inside the caller's transaction, as
    ``append_audit`` would one by one, in a few round trips: the end of the chain is
    read once, the hashes chained here, the rows inserted together. They share one
    time. For a purge of thousands of people, each deletion its own event."""
    if not events:
        return
    lock_chains(session)
    position = next_position(session, schema.AuditEvent, Chain.AUDIT)
    occurred_at = session.scalar(select(func.clock_timestamp()))
    assert occurred_at is not None
    rows = []
    prev_hash, seq = position.prev_hash, position.seq
    for action, target, given in events:
        details = with_request_id(given)
        digest = chain_hash(prev_hash, occurred_at, actor, action, target, details)
        rows.append(
            {
                "event_id": uuid.uuid4(),
                "occurred_at": occurred_at,
                "actor": actor,
                "action": action,
                "target": target,
                "details": details,
                "seq": seq,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash, seq = digest, seq + 1
    session.execute(insert(schema.AuditEvent), rows)
    note_head(session, Chain.AUDIT, replace(position, seq=seq - 1), prev_hash)


def record_apart(
    sessions: sessionmaker[Session],
    actor: str,
    action: str,
    target: str | None,
    details: dict[str, Any],
) -> None:
    """An audit event in a transaction of its own, for a refusal: the error raised
    next must not roll it back. A database that fails loses it, with a warning,
    and never hides the refusal."""
    write_apart(
        sessions,
        lambda session: append_audit(session, actor, action, target, details),
        f"{action} by {actor}",
    )


def write_apart(
    sessions: sessionmaker[Session], write: Callable[[Session], object], what: str
) -> None:
    """``write`` (audit appends) in a transaction of its own; a database that fails
    loses it with a warning naming ``what``, and never raises."""
    try:
        with transaction(sessions) as session:
            write(session)
    except (StoreError, SQLAlchemyError) as error:
        log.warning("the audit log missed %s: %s", what, error)


def record_denial(
    sessions: sessionmaker[Session],
    operator: records.Operator,
    permission: str,
    *,
    session_ended: bool = False,
) -> None:
    """``operator`` was refused ``permission`` (its name, e.g. "delete_people");
    ``session_ended``: because their account changed since the login (``operator``
    is then the account as it is now)."""
    details: dict[str, Any] = {"role": operator.role.value, "disabled": operator.disabled}
    if session_ended:
        details["session_ended"] = True
    record_apart(sessions, operator.username, DENIED_ACTION, permission, details)


_ANYTHING = log_records.LogFilter()


class SqlAuditLog:
    """Reads of the audit and access logs, each by an operator allowed to read them
    now, and their anchor. Thread-safe: a Session per call.

    ``anchor`` is the one kept in this kiosk's data folder; without it (tests,
    tools) verify checks the links only."""

    def __init__(self, engine: Engine, anchor: ChainAnchor | None = None) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._anchor = anchor

    def record_denial(
        self, operator: records.Operator, permission: str, *, session_ended: bool = False
    ) -> None:
        record_denial(self._sessions, operator, permission, session_ended=session_ended)

    def anchored_heads(self) -> log_records.AnchorReading:
        """The anchor, read under the chains' lock together with each log's newest event,
        so no append comes between the two (a sole writer's log must end at its anchor)."""
        if self._anchor is None:
            return log_records.AnchorReading(
                log_records.AnchorStatus.NONE, {}, "this store was opened without an anchor"
            )
        with transaction(self._sessions) as session:
            lock_chains(session)
            heads = {chain.value: _newest(session, table) for chain, table in _TABLES.items()}
            reading = self._anchor.read()
            committed = frozenset(
                chain
                for chain, anchored in reading.chains.items()
                if transaction_committed(session, anchored.pending_xact)
            )
        return dataclasses.replace(reading, log_heads=heads, pending_committed=committed)

    def replace_anchor(
        self,
        heads: dict[str, log_records.ChainHead],
        actor: records.Operator,
        details: dict[str, object],
    ) -> str:
        """Anchor the logs as they end now, if each still holds its head in ``heads``
        (what the admin's check found); events after those are anchored too: they
        chain to them, and the door went on appending while the anchor was stuck.
        Raises NotAllowed when a head is no longer in the log."""
        if self._anchor is None:
            raise StoreError(
                "this store keeps no anchor; run kiosk-admin on the kiosk, with its data folder"
            )
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.REANCHOR_AUDIT, self)
            lock_chains(session)  # no append between the heads read and the anchor written
            now = {}
            for chain, table in _TABLES.items():
                checked = heads[chain.value]
                found = session.scalar(select(table.hash).where(table.seq == checked.count))
                if checked.count and found != checked.hash:
                    raise NotAllowed(
                        f"the {chain} log changed since it was checked; verify it again"
                    )
                now[chain.value] = _newest(session, table)
            # Replaced first: this append then checks, and moves, the new anchor.
            kept = self._anchor.replace(now)
            anchored = {chain: {"count": h.count, "hash": h.hash} for chain, h in now.items()}
            append_audit(
                session,
                actor.username,
                REANCHORED_ACTION,
                None,
                {**details, "anchored": anchored, "kept": kept},
            )
        return kept

    def record_verify_failure(self, actor: records.Operator, problems: list[str]) -> None:
        """Append "audit.verify_failed" with the problems found: kiosks raise an alert on
        it (integrations.alerts). Raises StoreError when the database cannot be reached."""
        details = {"problems": [p[:_MAX_PROBLEM_CHARS] for p in problems[:_MAX_PROBLEMS]]}
        with transaction(self._sessions) as session:
            append_audit(session, actor.username, VERIFY_FAILED_ACTION, None, details)

    def newest_verify_failure(self) -> int:
        """The id of the newest "audit.verify_failed" event, 0 if none. Needs no operator:
        the kiosk's alert check reads it, and it names nobody."""
        table = schema.AuditEvent
        query = select(func.max(table.id)).where(table.action == VERIFY_FAILED_ACTION)
        with transaction(self._sessions) as session:
            return session.scalar(query) or 0

    def audit_events(
        self, limit: int, only: log_records.LogFilter = _ANYTHING, *, actor: records.Operator
    ) -> list[log_records.AuditEntry]:
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
            act_as(session, actor, Permission.READ_AUDIT, self)
            return [_entry(event) for event in session.scalars(query)]

    def server_restarts(self, since: datetime, limit: int) -> list[log_records.AuditEntry]:
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

    def audit_chain(self, *, actor: records.Operator) -> Iterator[log_records.AuditEntry]:
        """Every event in chain order, streamed."""
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.VERIFY_AUDIT, self)
            yield from audit_entries(session)

    def access_chain(self, *, actor: records.Operator) -> Iterator[log_records.ChainedAccessEntry]:
        """Every access event in chain order, with every stored field, streamed."""
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.VERIFY_AUDIT, self)
            yield from access_entries(session)

    def access_events(
        self, limit: int, only: log_records.LogFilter = _ANYTHING, *, actor: records.Operator
    ) -> list[log_records.AccessEntry]:
        table = schema.AccessEvent
        query = _in_window(select(table), table.occurred_at, only)
        if only.kiosk_id is not None:
            query = query.where(table.kiosk_id == only.kiosk_id)
        if only.outcome is not None:
            query = query.where(table.outcome == only.outcome.value)
        query = query.order_by(table.id.desc()).limit(limit)
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.READ_ACCESS_LOG, self)
            return [
                log_records.AccessEntry(
                    e.id,
                    e.occurred_at,
                    e.kiosk_id,
                    records.AccessOutcome(e.outcome),
                    e.person_id,
                    e.similarity,
                    e.latency_ms,
                    records.DecisionSource(e.source),
                    records.Refusal(e.refusal) if e.refusal is not None else None,
                )
                for e in session.scalars(query)
            ]


def audit_entries(session: Session) -> Iterator[log_records.AuditEntry]:
    """Every audit event in chain order, streamed, in ``session``'s transaction."""
    query = select(schema.AuditEvent).order_by(schema.AuditEvent.id)
    for event in session.scalars(query.execution_options(yield_per=_STREAMED_ROWS)):
        yield _entry(event)


def access_entries(session: Session) -> Iterator[log_records.ChainedAccessEntry]:
    """Every access event in chain order, every stored field, streamed."""
    query = select(schema.AccessEvent).order_by(schema.AccessEvent.id)
    for e in session.scalars(query.execution_options(yield_per=_STREAMED_ROWS)):
        yield log_records.ChainedAccessEntry(
            e.id,
            e.event_id,
            e.occurred_at,
            e.kiosk_id,
            e.outcome,
            e.person_id,
            e.similarity,
            e.latency_ms,
            e.source,
            e.refusal,
            e.prev_hash,
            e.hash,
        )


_ChainTable = type[schema.AuditEvent] | type[schema.AccessEvent]
_TABLES: dict[Chain, _ChainTable] = {
    Chain.AUDIT: schema.AuditEvent,
    Chain.ACCESS: schema.AccessEvent,
}


def _newest(session: Session, table: _ChainTable) -> log_records.ChainHead:
    """The chain's last event, by row order (storage.event_chains.next_position's too)."""
    newest = select(table.seq, table.hash).order_by(table.id.desc()).limit(1)
    row = session.execute(newest).first()
    if row is None:
        return log_records.ChainHead(0, GENESIS_HASH)
    return log_records.ChainHead(row.seq, row.hash)


def _in_window(query: Select[T], occurred_at: Any, only: log_records.LogFilter) -> Select[T]:
    if only.since is not None:
        query = query.where(occurred_at >= only.since)
    if only.until is not None:
        query = query.where(occurred_at < only.until)
    return query


def _entry(event: schema.AuditEvent) -> log_records.AuditEntry:
    return log_records.AuditEntry(
        event.id,
        event.occurred_at,
        event.actor,
        event.action,
        event.target,
        event.details,
        event.prev_hash,
        event.hash,
    )
