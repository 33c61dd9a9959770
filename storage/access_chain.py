"""Access events, each chained to the one before: a changed decision shows."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from core import records
from core.administration.chains import Chain, access_chain_hash
from storage import schema
from storage.event_chains import lock_chains, next_position, note_head


def append_access(session: Session, event: records.AccessDecision) -> bool:
    """Store ``event`` at the end of the access chain unless its id is already
    stored; True if it was new.

    A spooled event may reach the database long after it happened: a person
    deleted since is recorded as no one, and the event still stored. Only a
    door's grant counts as the person being seen (their retention runs from it).
    The name is never stored with the event.
    """
    person_id = _lock_person(session, event)
    lock_chains(session)
    table = schema.AccessEvent
    if session.scalar(select(table.id).where(table.event_id == event.event_id)) is not None:
        return False
    position = next_position(session, table, Chain.ACCESS)
    # The spool refuses times without a zone; anything else here is the kiosk's UTC.
    occurred_at = (
        event.occurred_at if event.occurred_at.tzinfo else event.occurred_at.replace(tzinfo=UTC)
    )
    similarity = float(event.similarity) if event.similarity is not None else None
    latency_ms = float(event.latency_ms)
    digest = access_chain_hash(
        position.prev_hash,
        event.event_id,
        occurred_at,
        event.kiosk_id,
        event.outcome.value,
        person_id,
        similarity,
        latency_ms,
        event.source.value,
        event.refusal.value if event.refusal is not None else None,
    )
    session.execute(
        insert(table).values(
            event_id=event.event_id,
            occurred_at=occurred_at,
            kiosk_id=event.kiosk_id,
            outcome=event.outcome.value,
            person_id=person_id,
            similarity=similarity,
            latency_ms=latency_ms,
            source=event.source.value,
            refusal=event.refusal.value if event.refusal is not None else None,
            seq=position.seq,
            prev_hash=position.prev_hash,
            hash=digest,
        )
    )
    note_head(session, Chain.ACCESS, position, digest)
    return True


def lock_people(session: Session, events: Iterable[records.AccessDecision]) -> None:
    """For a transaction that stores several events: lock every person they name
    first, in one order, so that no append holds the chain lock while it waits
    for a person (storage/event_chains.py)."""
    named = [e for e in events if e.person_id is not None]
    for event in sorted(named, key=lambda e: str(e.person_id)):
        _lock_person(session, event)


def _lock_person(session: Session, event: records.AccessDecision) -> uuid.UUID | None:
    """The event's person if still stored, locked as the insert's foreign key
    would lock them; a door's grant also moves their last recognition forward."""
    if event.person_id is None:
        return None
    table = schema.Person
    if event.granted and event.source is records.DecisionSource.DOOR:
        return session.scalar(
            update(table)
            .where(table.id == event.person_id)
            # A spooled grant may be older than a later one already stored.
            .values(
                last_recognized_at=func.greatest(
                    func.coalesce(table.last_recognized_at, event.occurred_at),
                    event.occurred_at,
                )
            )
            .returning(table.id)
            .execution_options(synchronize_session=False)
        )
    still_there = select(table.id).where(table.id == event.person_id)
    return session.scalar(still_there.with_for_update(read=True, key_share=True))
