"""What ``kiosk-admin rules check`` reads besides the door's own read: that the door
and the person exist, the door's lockdown as its kiosk last reported it, the
person's PIN state at the door, and where they are in the door's anti-passback
areas. Read only: no row is locked, made or changed."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from core import records
from core.access.rule_check import CheckSubject, PinState
from core.accounts.permissions import Permission
from core.errors import NotFound
from core.rules.model import Door, DoorMode, PassbackMode
from core.rules.passback import OUTSIDE, AreaDoor, DoorRole, Presence
from storage import area_schema as aps
from storage import rules_schema as rs
from storage import schema
from storage.audit_log import record_denial
from storage.operator_authority import act_as
from storage.pin_schema import PersonPin, PinDoorFailures
from storage.transactions import transaction


class SqlRuleCheckSource:
    """Thread-safe: a Session per call."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def record_denial(
        self, operator: records.Operator, permission: str, *, session_ended: bool = False
    ) -> None:
        record_denial(self._sessions, operator, permission, session_ended=session_ended)

    def check_subject(
        self, person_id: uuid.UUID, kiosk_id: str, *, actor: records.Operator
    ) -> CheckSubject:
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.READ_RULES, self)
            door = session.get(rs.Door, kiosk_id)
            if door is None:
                raise NotFound(
                    f"no door {kiosk_id[:64]!r}; a kiosk makes its door when it first starts "
                    "(kiosk-admin doors list shows them)"
                )
            active = session.scalar(
                select(schema.Person.id).where(
                    schema.Person.id == person_id,
                    schema.Person.status == records.PersonStatus.ACTIVE.value,
                )
            )
            if active is None:
                raise NotFound(f"no enrolled person {person_id}; kiosk-admin people lists them")
            calendar = (
                session.get(rs.HolidayCalendar, door.calendar_id)
                if door.calendar_id is not None
                else None
            )
            lockdown = session.scalar(
                select(schema.DoorReport.lockdown).where(schema.DoorReport.kiosk_id == kiosk_id)
            )
            return CheckSubject(
                Door(
                    door.kiosk_id,
                    door.display_name,
                    door.time_zone,
                    calendar.name if calendar is not None else None,
                    DoorMode(door.mode),
                ),
                lockdown=bool(lockdown),
                pin=_pin_state(session, person_id, kiosk_id),
                areas=_areas(session, person_id, kiosk_id),
            )


def _pin_state(session: Session, person_id: uuid.UUID, kiosk_id: str) -> PinState:
    pin = session.get(PersonPin, person_id)
    if pin is None:
        return PinState()
    at_door = session.get(PinDoorFailures, (person_id, kiosk_id))
    waits = [pin.locked_until, at_door.locked_until if at_door is not None else None]
    return PinState(
        has_pin=pin.pin_hash is not None,
        waits_until=max((w for w in waits if w is not None), default=None),
    )


def _areas(session: Session, person_id: uuid.UUID, kiosk_id: str) -> tuple[AreaDoor, ...]:
    rows = session.execute(
        select(aps.Area.name, aps.Area.mode, aps.AreaDoor.role, aps.AreaPresence)
        .join(aps.AreaDoor, aps.AreaDoor.area_id == aps.Area.id)
        .outerjoin(
            aps.AreaPresence,
            (aps.AreaPresence.area_id == aps.Area.id) & (aps.AreaPresence.person_id == person_id),
        )
        .where(aps.AreaDoor.kiosk_id == kiosk_id)
        .order_by(aps.Area.id)
    ).all()
    return tuple(
        AreaDoor(
            name,
            PassbackMode(mode),
            DoorRole(role),
            OUTSIDE
            if presence is None
            else Presence(
                presence.inside_since, presence.counts_until, presence.door, presence.passed_at
            ),
        )
        for name, mode, role, presence in rows
    )
