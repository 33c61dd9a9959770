"""What ``kiosk-admin rules check`` reads besides the door's own read: that the door
and the person exist, and the door's lockdown as its kiosk last reported it."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from core import records
from core.access.rule_check import CheckSubject
from core.accounts.permissions import Permission
from core.errors import NotFound
from core.rules.model import Door, DoorMode
from storage import rules_schema as rs
from storage import schema
from storage.audit_log import record_denial
from storage.operator_authority import act_as
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
            )
