"""The access rules on PostgreSQL: the door's read, doors, and each person's access."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, sessionmaker

from core import records
from core.accounts.permissions import Permission, denied_action
from core.errors import NotAllowed, NotFound
from core.records import Role
from core.rules.evaluation import DoorRules, Grant
from core.rules.model import (
    Door,
    DoorMode,
    HolidayCalendar,
    Schedule,
    TimeRange,
    Validity,
    Weekday,
    check_time_zone,
)
from core.rules.person_validity import ValidityChange
from core.rules.rule_set import RulesChange, RuleSet
from storage import rules_schema as rs
from storage import schema
from storage.audit_log import append_audit, record_denial
from storage.group_members import hold_rules_alone, hold_rules_shared, set_groups
from storage.migrate import check_revision
from storage.operator_authority import act_as
from storage.rules_apply import apply_rule_set, read_rule_set
from storage.rules_generation import bump
from storage.search_pool import run_search, search_engine
from storage.transactions import after_rollback, database_failures, transaction

_ACTIVE = records.PersonStatus.ACTIVE.value

# One round trip: the person's validity, the door, its calendar and closures, the
# person's groups that cover the door with their schedules' ranges, the door's standing
# lockdown (the newest lockdown or release command for it, whatever the door hardware)
# and the schema's revision (a newer release may have migrated the shared database).
_DOOR_RULES = text(
    """
WITH mine AS (
    SELECT g.name, g.schedule_id, g.holiday_schedule_id
    FROM group_members m JOIN access_groups g ON g.id = m.group_id
    WHERE m.person_id = :person
      AND (g.all_doors OR EXISTS (
          SELECT 1 FROM group_doors gd WHERE gd.group_id = g.id AND gd.kiosk_id = :door))
)
SELECT
    (SELECT json_build_object('from', p.valid_from, 'until', p.valid_until, 'status', p.status)
     FROM people p WHERE p.id = :person) AS person,
    (SELECT json_build_object(
        'name', d.display_name, 'zone', d.time_zone, 'mode', d.mode,
        'calendar', (SELECT json_build_object(
            'name', c.name, 'country', c.country, 'subdivision', c.subdivision,
            'closures', COALESCE(
                (SELECT json_agg(cd.day) FROM closure_days cd WHERE cd.calendar_id = c.id),
                '[]'::json))
         FROM holiday_calendars c WHERE c.id = d.calendar_id))
     FROM doors d WHERE d.kiosk_id = :door) AS door,
    EXISTS (SELECT 1 FROM area_doors ad WHERE ad.kiosk_id = :door) AS in_area,
    COALESCE((SELECT json_agg(json_build_array(name, schedule_id, holiday_schedule_id))
              FROM mine), '[]'::json) AS grants,
    COALESCE((SELECT json_object_agg(s.id, json_build_object(
                  'name', s.name,
                  'ranges', COALESCE((SELECT json_agg(json_build_array(
                                          r.weekday, r.start_minute, r.end_minute))
                                      FROM schedule_ranges r WHERE r.schedule_id = s.id),
                                     '[]'::json)))
              FROM schedules s
              WHERE s.id IN (SELECT schedule_id FROM mine
                             UNION SELECT holiday_schedule_id FROM mine)),
             '{}'::json) AS schedules,
    COALESCE((SELECT c.kind = 'lockdown' FROM door_commands c
              WHERE c.kiosk_id = :door AND c.kind IN ('lockdown', 'release')
              ORDER BY c.id DESC LIMIT 1), false) AS lockdown,
    (SELECT version_num FROM alembic_version LIMIT 1) AS schema_revision
"""
)


class SqlRulesStore:
    """Thread-safe: every call opens its own Session from a shared pool."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._search = search_engine(engine)

    def record_denial(
        self, operator: records.Operator, permission: str, *, session_ended: bool = False
    ) -> None:
        record_denial(self._sessions, operator, permission, session_ended=session_ended)

    # --- the door's read --------------------------------------------------------------------

    def door_rules(self, person_id: uuid.UUID, kiosk_id: str) -> DoorRules:
        # On the door's path: the search's own connections, one prepared statement.
        with database_failures():
            (row,) = run_search(
                self._search, _DOOR_RULES, {"person": person_id, "door": kiosk_id}, None
            )
        *rules, lockdown, revision = row
        check_revision(revision)  # SchemaNewer: this kiosk's rules may not be the database's
        return replace(_door_rules(kiosk_id, *rules), lockdown=bool(lockdown))

    # --- doors ------------------------------------------------------------------------------

    def ensure_door(self, door: Door) -> Door:
        with transaction(self._sessions) as session:
            session.execute(
                pg_insert(rs.Door)
                .values(
                    kiosk_id=door.kiosk_id,
                    display_name=door.display_name,
                    time_zone=door.time_zone,
                    mode=door.mode.value,
                )
                .on_conflict_do_nothing(index_elements=[rs.Door.kiosk_id])
            )
            return _door(session, _stored_door(session, door.kiosk_id))

    def doors(self, *, actor: records.Operator) -> list[Door]:
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.VIEW_DOORS, self)
            rows = session.scalars(select(rs.Door).order_by(rs.Door.kiosk_id)).all()
            return [_door(session, row) for row in rows]

    def update_door(
        self,
        kiosk_id: str,
        *,
        actor: records.Operator,
        display_name: str | None = None,
        time_zone: str | None = None,
        calendar: str | None = None,
        clear_calendar: bool = False,
        mode: DoorMode | None = None,
    ) -> Door:
        if time_zone is not None:
            check_time_zone(time_zone)  # a place's zone, before any lock is taken
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.EDIT_RULES, self)
            # A door is part of the rules: after an import, never in the middle of one.
            hold_rules_shared(session)
            row = session.scalar(
                select(rs.Door).where(rs.Door.kiosk_id == kiosk_id).with_for_update()
            )
            if row is None:
                raise NotFound(
                    f"no door {kiosk_id!r}; a kiosk makes its door when it first starts "
                    "(kiosk-admin doors list shows them)"
                )
            before = _door(session, row)
            calendar_id = row.calendar_id
            if clear_calendar:
                calendar_id = None
            elif calendar is not None:
                calendar_id = _calendar_id(session, calendar)
            # Validated as a whole before anything is written (ValueError names the field).
            after = Door(
                kiosk_id,
                display_name if display_name is not None else before.display_name,
                time_zone if time_zone is not None else before.time_zone,
                None if calendar_id is None else (calendar or before.calendar),
                mode if mode is not None else before.mode,
            )
            row.display_name = after.display_name
            row.time_zone = after.time_zone
            row.calendar_id = calendar_id
            row.mode = after.mode.value
            changes = _door_changes(before, after)
            if changes:
                bump(session)
                append_audit(session, actor.username, "door.changed", kiosk_id, changes)
            return after

    # --- the whole rule set -----------------------------------------------------------------

    def rule_set(self, *, actor: records.Operator) -> RuleSet:
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.READ_RULES, self)
            return read_rule_set(session)

    def apply_rule_set(
        self,
        rules: RuleSet,
        *,
        actor: records.Operator,
        dry_run: bool,
        check_generation: bool = False,
    ) -> RulesChange:
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.EDIT_RULES, self)
            change = apply_rule_set(session, rules, check_generation=check_generation)
            if dry_run:
                session.rollback()
                return change
            change = _counted(session, change)
            append_audit(session, actor.username, "rules.imported", None, change.summary())
            return change

    def edit_rule_set(
        self, edit: Callable[[RuleSet], RuleSet], *, actor: records.Operator, what: str
    ) -> RulesChange:
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.EDIT_RULES, self)
            # The read and the write under one lock: an import, another edit or a
            # membership written meanwhile waits, and is not overwritten.
            hold_rules_alone(session)
            change = _counted(session, apply_rule_set(session, edit(read_rule_set(session))))
            details = {"edit": what[:200], **change.summary()}
            append_audit(session, actor.username, "rules.edited", None, details)
            return change

    # --- each person's access ---------------------------------------------------------------

    def person_access(
        self, person_id: uuid.UUID, *, actor: records.Operator
    ) -> tuple[frozenset[str], Validity]:
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.VIEW_PEOPLE, self)
            person = _active_person(session, person_id)
            return _groups_of(session, person_id), Validity(person.valid_from, person.valid_until)

    def set_person_access(
        self,
        person_id: uuid.UUID,
        *,
        actor: records.Operator,
        groups: frozenset[str] | None = None,
        validity: Validity | ValidityChange | None = None,
    ) -> None:
        with transaction(self._sessions) as session:
            current = act_as(session, actor, Permission.ASSIGN_ACCESS, self)
            if groups is not None:
                # The rules lock before the person's row, in the order an import or an
                # edit takes them (it writes memberships, which key-lock people rows):
                # the other order deadlocks against it.
                hold_rules_shared(session)
            person = _active_person(session, person_id, lock=True)
            if current.role is not Role.ADMIN and not _witnessed_by(session, person_id, current):
                # Audited like any refusal, once this transaction has rolled back.
                denied = denied_action(Permission.ASSIGN_ACCESS)
                after_rollback(session, lambda: self.record_denial(current, denied))
                raise NotAllowed(
                    f"operator {current.username} may set access only for the people they "
                    "enrolled; ask an admin"
                )
            details: dict[str, Any] = {}
            if groups is not None:
                before = _groups_of(session, person_id)
                set_groups(session, person_id, groups, actor=current, denials=self)
                details["groups_added"] = sorted(groups - before)
                details["groups_removed"] = sorted(before - groups)
            if isinstance(validity, ValidityChange):
                # Under the person's row lock: the other end is as it is now.
                validity = validity.applied_to(Validity(person.valid_from, person.valid_until))
            if validity is not None:
                person.valid_from = validity.valid_from
                person.valid_until = validity.valid_until
                details["valid_from"] = _day(validity.valid_from)
                details["valid_until"] = _day(validity.valid_until)
            append_audit(
                session, current.username, "person.access_changed", str(person_id), details
            )


def _counted(session: Session, change: RulesChange) -> RulesChange:
    """``change`` with the generation it makes: one more if it changed anything."""
    if not change.changes:
        return change
    return replace(change, generation=bump(session))


def _door_rules(
    kiosk_id: str, person: Any, door: Any, in_area: bool, grants: Any, schedules: Any
) -> DoorRules:
    if person is None or person["status"] != _ACTIVE:
        # Deleted since the search found them: in no group, so refused.
        grants, person = [], {"from": None, "until": None}
    validity = Validity(_date(person["from"]), _date(person["until"]))
    if door is None:
        stored = Door(kiosk_id, kiosk_id, "UTC")
        calendar = None
    else:
        raw = door["calendar"]
        calendar = None
        if raw is not None:
            calendar = HolidayCalendar(
                raw["name"],
                raw["country"],
                raw["subdivision"],
                frozenset(date.fromisoformat(d) for d in raw["closures"]),
            )
        stored = Door(
            kiosk_id,
            door["name"],
            door["zone"],
            calendar.name if calendar else None,
            DoorMode(door["mode"]),
        )
    by_id = {int(key): _schedule(value) for key, value in schedules.items()}
    return DoorRules(
        door=stored,
        validity=validity,
        grants=tuple(
            Grant(name, by_id[schedule], by_id[holiday] if holiday is not None else None)
            for name, schedule, holiday in grants
        ),
        calendar=calendar,
        in_area=bool(in_area),
    )


def _schedule(raw: Any) -> Schedule:
    week: dict[Weekday, list[TimeRange]] = {}
    for weekday, start, end in raw["ranges"]:
        week.setdefault(Weekday(weekday), []).append(TimeRange(start, end))
    return Schedule(raw["name"], {day: tuple(sorted(r)) for day, r in week.items()})


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value is not None else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _stored_door(session: Session, kiosk_id: str) -> rs.Door:
    row = session.get(rs.Door, kiosk_id)
    assert row is not None
    return row


def _door(session: Session, row: rs.Door) -> Door:
    calendar = session.get(rs.HolidayCalendar, row.calendar_id) if row.calendar_id else None
    return Door(
        row.kiosk_id,
        row.display_name,
        row.time_zone,
        calendar.name if calendar is not None else None,
        DoorMode(row.mode),
    )


def _door_changes(before: Door, after: Door) -> dict[str, Any]:
    """Each changed field's values, as JSON values: no calendar is null, not "None"."""
    fields = ("display_name", "time_zone", "calendar", "mode")
    return {
        name: {"from": _audited(getattr(before, name)), "to": _audited(getattr(after, name))}
        for name in fields
        if getattr(before, name) != getattr(after, name)
    }


def _audited(value: str | DoorMode | None) -> str | None:
    return value.value if isinstance(value, DoorMode) else value


def _calendar_id(session: Session, name: str) -> int:
    found = session.scalar(select(rs.HolidayCalendar.id).where(rs.HolidayCalendar.name == name))
    if found is None:
        raise NotFound(f"no holiday calendar {name!r}; define it in the rules file first")
    return found


def _active_person(session: Session, person_id: uuid.UUID, *, lock: bool = False) -> schema.Person:
    query = select(schema.Person).where(
        schema.Person.id == person_id, schema.Person.status == _ACTIVE
    )
    person = session.scalar(query.with_for_update() if lock else query)
    if person is None:
        raise NotFound(f"no active person {person_id}")
    return person


def _groups_of(session: Session, person_id: uuid.UUID) -> frozenset[str]:
    return frozenset(
        session.scalars(
            select(rs.AccessGroup.name)
            .join(rs.GroupMember, rs.GroupMember.group_id == rs.AccessGroup.id)
            .where(rs.GroupMember.person_id == person_id)
        )
    )


def _witnessed_by(session: Session, person_id: uuid.UUID, operator: records.Operator) -> bool:
    return (
        session.scalar(
            select(schema.ConsentRecord.id).where(
                schema.ConsentRecord.person_id == person_id,
                schema.ConsentRecord.witnessed_by == operator.id,
            )
        )
        is not None
    )
