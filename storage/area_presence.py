"""Anti-passback on PostgreSQL: the door's serialised step, and who is inside each area.

Each door's step is one transaction: it share-locks the areas the door belongs
to, makes the person's presence rows if they have none, locks them, judges the
passage (core.rules.passback) and writes the result. Every lock is taken in area
id order, so two kiosks passing one person through doors of overlapping areas
wait for each other instead of deadlocking; the audit chain's lock comes last
(storage/event_chains.py says why).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from psycopg.errors import LockNotAvailable
from sqlalchemy import Engine, Row, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core import records
from core.accounts.permissions import Permission
from core.errors import NotFound, StoreBusy
from core.rules.model import PassbackMode
from core.rules.passback import (
    AreaDoor,
    DoorRole,
    PassbackVerdict,
    Presence,
    judge_door,
)
from core.rules.presence_store import DoorPassage, PersonInside
from core.service_settings import RulesSettings
from storage import area_schema as aps
from storage.answer_deadline import deadline_of
from storage.audit_log import SYSTEM_ACTOR, append_audit, record_denial
from storage.operator_authority import act_as
from storage.transactions import transaction

log = logging.getLogger(__name__)

PASSBACK_ACTION = "door.passback"
"""Audited for each soft area a second entry was granted in."""
RESET_ACTION = "area.presence_reset"


class SqlAreaPresence:
    """Thread-safe: every call opens its own Session from a shared pool."""

    def __init__(
        self,
        engine: Engine,
        lock_wait_ms: int = RulesSettings().presence_lock_wait_ms,
    ) -> None:
        """``lock_wait_ms``: the longest a door waits for presence rows another
        kiosk holds (rules.presence_lock_wait_ms)."""
        self._deadline = deadline_of(engine)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._lock_wait_ms = lock_wait_ms

    def record_denial(
        self, operator: records.Operator, permission: str, *, session_ended: bool = False
    ) -> None:
        record_denial(self._sessions, operator, permission, session_ended=session_ended)

    # --- the door -------------------------------------------------------------------------

    def pass_door(
        self, person_id: uuid.UUID, kiosk_id: str, at: datetime, zone: ZoneInfo
    ) -> DoorPassage:
        # On the door's path: a server that never answers costs at most the deadline.
        with (
            self._deadline.bounded(),
            transaction(self._sessions) as session,
            self._bounded_wait(session),
        ):
            areas = areas_at(session, kiosk_id)
            if not areas:
                return DoorPassage(person_id, kiosk_id, PassbackVerdict())
            rows = lock_presence(session, person_id, [area.id for area in areas])
            verdict = judge_door(
                [
                    AreaDoor(
                        area.name,
                        PassbackMode(area.mode),
                        DoorRole(area.role),
                        _presence(rows[area.id]),
                    )
                    for area in areas
                ],
                kiosk_id,
                at,
                zone,
            )
            if verdict.refusal is not None:
                # The person does not pass: nothing is kept, not even a row just made.
                session.rollback()
                return DoorPassage(person_id, kiosk_id, verdict)
            mark = uuid.uuid4()
            for area, passage in zip(areas, verdict.passages, strict=True):
                _write(rows[area.id], passage.after, mark)
            session.flush()
            for passage in verdict.flagged:
                append_audit(
                    session,
                    SYSTEM_ACTOR,
                    PASSBACK_ACTION,
                    kiosk_id,
                    {
                        "at": at.isoformat(),
                        "person_id": str(person_id),
                        "area": passage.area,
                        "entered_at": _moment(passage.before.inside_since),
                        "entered_through": passage.before.door,
                    },
                )
            return DoorPassage(person_id, kiosk_id, verdict, mark)

    def withdraw(self, passage: DoorPassage) -> None:
        if passage.mark is None:
            return
        names = [p.area for p in passage.verdict.passages]
        with (
            self._deadline.bounded(),
            transaction(self._sessions) as session,
            self._bounded_wait(session),
        ):
            ids = dict(
                session.execute(
                    select(aps.Area.name, aps.Area.id).where(aps.Area.name.in_(names))
                ).all()
            )
            put_back = 0
            for area in passage.verdict.passages:
                if area.area not in ids:
                    continue  # removed since, and its presence with it
                before = area.before
                result = session.execute(
                    update(aps.AreaPresence)
                    .where(
                        aps.AreaPresence.area_id == ids[area.area],
                        aps.AreaPresence.person_id == passage.person_id,
                        aps.AreaPresence.mark == passage.mark,
                    )
                    .values(
                        inside_since=before.inside_since,
                        counts_until=before.counts_until,
                        door=before.door,
                        passed_at=before.passed_at,
                        mark=None,
                    )
                )
                put_back += _rowcount(result)
        log.warning(
            "a grant at %s was not recorded; %d area presence(s) put back",
            passage.kiosk_id,
            put_back,
        )

    # --- operators ------------------------------------------------------------------------

    def inside(self, area: str, *, actor: records.Operator, at: datetime) -> list[PersonInside]:
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.READ_ACCESS_LOG, self)
            area_id = _area_id(session, area)
            rows = session.scalars(
                select(aps.AreaPresence)
                .where(aps.AreaPresence.area_id == area_id, aps.AreaPresence.counts_until > at)
                .order_by(aps.AreaPresence.inside_since, aps.AreaPresence.person_id)
            )
            return [
                PersonInside(r.person_id, r.inside_since, r.door or "", r.counts_until)
                for r in rows
                if r.inside_since is not None and r.counts_until is not None
            ]

    def reset(
        self,
        area: str,
        *,
        actor: records.Operator,
        at: datetime,
        person_id: uuid.UUID | None = None,
    ) -> int:
        with transaction(self._sessions) as session:
            current = act_as(session, actor, Permission.EDIT_RULES, self)
            area_id = _area_id(session, area)
            query = delete(aps.AreaPresence).where(aps.AreaPresence.area_id == area_id)
            if person_id is not None:
                query = query.where(aps.AreaPresence.person_id == person_id)
            counted = session.scalars(query.returning(aps.AreaPresence.counts_until)).all()
            cleared = sum(1 for until in counted if until is not None and until > at)
            append_audit(
                session,
                current.username,
                RESET_ACTION,
                area,
                {"person_id": str(person_id) if person_id else None, "cleared": cleared},
            )
            return cleared

    @contextmanager
    def _bounded_wait(self, session: Session) -> Iterator[None]:
        """Lock waits in ``session``'s transaction end after ``lock_wait_ms`` as StoreBusy."""
        session.execute(select(func.set_config("lock_timeout", f"{self._lock_wait_ms}ms", True)))
        try:
            yield
        except OperationalError as error:
            if isinstance(error.orig, LockNotAvailable):
                raise StoreBusy(
                    f"another kiosk held this person's anti-passback presence for over "
                    f"{self._lock_wait_ms} ms; try again"
                ) from error
            raise


def areas_at(session: Session, kiosk_id: str) -> Sequence[Row[int, str, str, str]]:
    """The areas ``kiosk_id`` belongs to, as (id, name, mode, role), by id; each area
    share-locked until the transaction ends, so that a rules import cannot remove
    it under the step. FOR KEY SHARE: kiosks passing other people through the area
    never wait for each other."""
    return session.execute(
        select(aps.Area.id, aps.Area.name, aps.Area.mode, aps.AreaDoor.role)
        .join(aps.AreaDoor, aps.AreaDoor.area_id == aps.Area.id)
        .where(aps.AreaDoor.kiosk_id == kiosk_id)
        .order_by(aps.Area.id)
        .with_for_update(of=aps.Area, read=True, key_share=True)
    ).all()


def lock_presence(
    session: Session, person_id: uuid.UUID, area_ids: list[int]
) -> dict[int, aps.AreaPresence]:
    """The person's presence row in each area, made (outside) if missing and locked
    until the transaction ends, in area id order. Two kiosks making the same row at
    once are ordered by its primary key: the second waits for the first's commit
    and then locks the row it made."""
    session.execute(
        pg_insert(aps.AreaPresence)
        .values([{"area_id": area_id, "person_id": person_id} for area_id in sorted(area_ids)])
        .on_conflict_do_nothing()
    )
    return {
        row.area_id: row
        for row in session.scalars(
            select(aps.AreaPresence)
            .where(aps.AreaPresence.person_id == person_id, aps.AreaPresence.area_id.in_(area_ids))
            .order_by(aps.AreaPresence.area_id)
            .with_for_update()
        )
    }


def _presence(row: aps.AreaPresence) -> Presence:
    return Presence(row.inside_since, row.counts_until, row.door, row.passed_at)


def _write(row: aps.AreaPresence, after: Presence, mark: uuid.UUID) -> None:
    row.inside_since = after.inside_since
    row.counts_until = after.counts_until
    row.door = after.door
    row.passed_at = after.passed_at
    row.mark = mark


def _area_id(session: Session, name: str) -> int:
    found = session.scalar(select(aps.Area.id).where(aps.Area.name == name))
    if found is None:
        raise NotFound(f"no anti-passback area {name!r}; the rules file defines the areas")
    return found


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
