"""People's PINs on PostgreSQL: setting them, and the door's throttled check.

The throttle's rules are core.people.pin_throttle's; here they run with the
person's row locked (FOR UPDATE), in database time, so PINs typed at every kiosk
sharing the server queue on that row and each sees the counts the one before
left. Locks in order: the operator's row (act_as), the person's, their PIN row,
their row at the door, the audit chain's last (storage/event_chains.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from core import records
from core.accounts.permissions import Permission, denied_action
from core.errors import NotAllowed, NotFound, StoreError
from core.people.pin_throttle import PinFailures, PinScope, reserve_pin
from core.people.pins import PinAttempt, PinChange, PinHashes, PinKind
from core.settings import SecuritySettings
from storage import schema
from storage.audit_log import SYSTEM_ACTOR, append_audit, record_denial
from storage.operator_authority import act_as
from storage.pin_schema import PersonPin, PinDoorFailures
from storage.transactions import after_rollback, transaction

_ACTIVE = records.PersonStatus.ACTIVE.value
PIN_LOCKED_ACTION = "door.pin_locked"


class SqlPinStore:
    """Thread-safe: every call opens its own Session from a shared pool."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def record_denial(
        self, operator: records.Operator, permission: str, *, session_ended: bool = False
    ) -> None:
        record_denial(self._sessions, operator, permission, session_ended=session_ended)

    # --- the door ---------------------------------------------------------------------------

    def reserve_pin_attempt(
        self, person_id: uuid.UUID, kiosk_id: str, policy: SecuritySettings
    ) -> PinAttempt:
        try:
            with transaction(self._sessions) as session:
                return _reserve(session, person_id, kiosk_id, policy)
        except StoreError as error:
            raise type(error)(
                f"the PIN could not be counted, so it was not checked: {error}"
            ) from error

    def pin_accepted(self, attempt: PinAttempt) -> None:
        with transaction(self._sessions) as session:
            row = session.get(PersonPin, attempt.person_id, with_for_update=True)
            if row is not None:
                row.failures = 0
                row.locks = 0
                row.locked_until = None
                _forget_door_failures(session, attempt.person_id)

    # --- operators --------------------------------------------------------------------------

    def set_pin(
        self,
        person_id: uuid.UUID,
        kind: PinKind,
        pin_hash: str,
        *,
        actor: records.Operator,
        clashes: Callable[[str], bool],
    ) -> PinChange:
        with transaction(self._sessions) as session:
            current = self._may_change(session, actor, person_id)
            row = _locked_row(session, person_id)
            assert row is not None  # the person is active and locked
            other = row.duress_hash if kind is PinKind.PIN else row.pin_hash
            if kind is PinKind.DURESS and other is None:
                raise NotAllowed(
                    "set the person's PIN before their duress PIN (kiosk-admin people pin)"
                )
            clash = other is not None and clashes(other)
            if clash and kind is PinKind.DURESS:
                # Answering "must differ" alone would tell whoever typed it the PIN: the
                # PIN goes, so what they learnt opens nothing (core.people.pins).
                row.pin_hash = row.duress_hash = None
                append_audit(
                    session,
                    current.username,
                    "person.pin_cleared",
                    str(person_id),
                    {"kind": PinKind.PIN.value, "had_one": True, "reason": "duress_pin_was_pin"},
                )
                return PinChange.BOTH_CLEARED
            details: dict[str, object] = {"kind": kind.value}
            if kind is PinKind.PIN:
                row.pin_hash = pin_hash
                if clash:
                    row.duress_hash = None
                    details["duress_cleared"] = True
                # Whoever sets a new PIN has seen the person: a lock ends with it.
                details["unlocked"] = row.locked_until is not None or row.failures > 0
                row.failures, row.locks, row.locked_until = 0, 0, None
                _forget_door_failures(session, person_id)
            else:
                row.duress_hash = pin_hash
            append_audit(session, current.username, "person.pin_set", str(person_id), details)
            return PinChange.DURESS_CLEARED if clash else PinChange.SET

    def clear_pin(self, person_id: uuid.UUID, kind: PinKind, *, actor: records.Operator) -> bool:
        with transaction(self._sessions) as session:
            current = self._may_change(session, actor, person_id)
            row = session.get(PersonPin, person_id, with_for_update=True)
            had = (
                row is not None
                and (row.pin_hash if kind is PinKind.PIN else row.duress_hash) is not None
            )
            if row is not None:
                row.duress_hash = None
                if kind is PinKind.PIN:
                    row.pin_hash = None  # the duress PIN goes with it: it needs a PIN
            append_audit(
                session,
                current.username,
                "person.pin_cleared",
                str(person_id),
                {"kind": kind.value, "had_one": had},
            )
            return had

    def _may_change(
        self, session: Session, actor: records.Operator, person_id: uuid.UUID
    ) -> records.Operator:
        """``actor`` as they are now, allowed to change ``person_id``'s PINs, with the
        person's row locked: admins for anyone, enrollers for whom they enrolled."""
        current = act_as(session, actor, Permission.ASSIGN_ACCESS, self)
        person = session.scalar(
            select(schema.Person)
            .where(schema.Person.id == person_id, schema.Person.status == _ACTIVE)
            .with_for_update()
        )
        if person is None:
            raise NotFound(f"no active person {person_id}")
        if current.role is not records.Role.ADMIN and not _witnessed_by(
            session, person_id, current
        ):
            denied = denied_action(Permission.ASSIGN_ACCESS)
            after_rollback(session, lambda: self.record_denial(current, denied))
            raise NotAllowed(
                f"operator {current.username} may set PINs only for the people they "
                "enrolled; ask an admin"
            )
        return current


def _reserve(
    session: Session, person_id: uuid.UUID, kiosk_id: str, policy: SecuritySettings
) -> PinAttempt:
    row = _locked_row(session, person_id)
    if row is None:  # no such active person: no PIN of theirs is right, nothing to count
        return PinAttempt(person_id, kiosk_id, PinHashes(), 0, locked=False)
    at_door = _locked_door_row(session, person_id, kiosk_id)
    # Read after the locks: the wait for them may have been long.
    now = _clock(session)
    count = reserve_pin(_failures(at_door), _failures(row), now, policy)
    _store_failures(at_door, count.door, now)
    _store_failures(row, count.person, now)
    for wait in count.waits:
        append_audit(
            session,
            SYSTEM_ACTOR,
            PIN_LOCKED_ACTION,
            str(person_id),
            {
                "kiosk": kiosk_id,
                "scope": wait.scope.value,
                "failures": (count.door if wait.scope is PinScope.DOOR else count.person).failures,
                "seconds": wait.seconds,
            },
        )
    return PinAttempt(
        person_id,
        kiosk_id,
        PinHashes(row.pin_hash, row.duress_hash),
        count.person.failures,
        locked=bool(count.waits),
        waits=count.waits,
    )


def _locked_door_row(session: Session, person_id: uuid.UUID, kiosk_id: str) -> PinDoorFailures:
    """The person's counters at ``kiosk_id``, made if missing, locked until commit
    (after their PIN row: the order every PIN step takes them in)."""
    session.execute(
        insert(PinDoorFailures)
        .values(person_id=person_id, kiosk_id=kiosk_id)
        .on_conflict_do_nothing()
    )
    row = session.get(
        PinDoorFailures, (person_id, kiosk_id), with_for_update=True, populate_existing=True
    )
    assert row is not None  # made above, and its person's PIN row is locked
    return row


def _failures(row: PersonPin | PinDoorFailures) -> PinFailures:
    return PinFailures(row.failures, row.locks, row.locked_until)


def _store_failures(row: PersonPin | PinDoorFailures, after: PinFailures, now: datetime) -> None:
    row.failures, row.locks, row.locked_until = after.failures, after.locks, after.locked_until
    row.last_failure_at = now


def _forget_door_failures(session: Session, person_id: uuid.UUID) -> None:
    """A right PIN, or a new one: the person's counts at every door start again."""
    session.execute(delete(PinDoorFailures).where(PinDoorFailures.person_id == person_id))


def _locked_row(session: Session, person_id: uuid.UUID) -> PersonPin | None:
    """The active person's PIN row, made if missing, locked until commit; None if
    there is no such active person."""
    active = select(schema.Person.id).where(
        schema.Person.id == person_id, schema.Person.status == _ACTIVE
    )
    session.execute(insert(PersonPin).from_select(["person_id"], active).on_conflict_do_nothing())
    return session.get(PersonPin, person_id, with_for_update=True, populate_existing=True)


def _witnessed_by(session: Session, person_id: uuid.UUID, operator: records.Operator) -> bool:
    found = session.scalar(
        select(schema.ConsentRecord.id).where(
            schema.ConsentRecord.person_id == person_id,
            schema.ConsentRecord.witnessed_by == operator.id,
        )
    )
    return found is not None


def _clock(session: Session) -> datetime:
    now = session.scalar(select(func.clock_timestamp()))
    assert now is not None
    return now
