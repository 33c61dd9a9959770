"""Reading the whole rule set, and making the stored rules a given rule set."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import date
from typing import TypeVar

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from core import records
from core.rules.model import (
    AccessGroup,
    Door,
    DoorMode,
    HolidayCalendar,
    Schedule,
    TimeRange,
    Weekday,
)
from core.rules.rule_set import RulesChange, RuleSet, RuleSetError
from storage import rules_schema as rs
from storage import schema
from storage.area_rules import read_areas, store_areas
from storage.group_members import RULES_LOCK
from storage.rules_generation import current_generation, refuse_stale

T = TypeVar("T")


def read_rule_set(session: Session) -> RuleSet:
    """Every door, schedule, calendar, group (with its members) and anti-passback
    area, as stored."""
    ranges: dict[int, dict[Weekday, list[TimeRange]]] = defaultdict(lambda: defaultdict(list))
    for r in session.scalars(select(rs.ScheduleRange)):
        ranges[r.schedule_id][Weekday(r.weekday)].append(TimeRange(r.start_minute, r.end_minute))
    schedule_names: dict[int, str] = {}
    schedules: list[Schedule] = []
    for s in session.scalars(select(rs.Schedule).order_by(rs.Schedule.name)):
        schedule_names[s.id] = s.name
        week = {day: tuple(sorted(found)) for day, found in sorted(ranges[s.id].items())}
        schedules.append(Schedule(s.name, week))
    closures: dict[int, set[date]] = defaultdict(set)
    for closure in session.scalars(select(rs.ClosureDay)):
        closures[closure.calendar_id].add(closure.day)
    calendar_names: dict[int, str] = {}
    calendars: list[HolidayCalendar] = []
    for c in session.scalars(select(rs.HolidayCalendar).order_by(rs.HolidayCalendar.name)):
        calendar_names[c.id] = c.name
        days = frozenset(closures[c.id])
        calendars.append(HolidayCalendar(c.name, c.country, c.subdivision, days))
    doors = [
        Door(
            d.kiosk_id,
            d.display_name,
            d.time_zone,
            calendar_names.get(d.calendar_id) if d.calendar_id is not None else None,
            DoorMode(d.mode),
        )
        for d in session.scalars(select(rs.Door).order_by(rs.Door.kiosk_id))
    ]
    group_doors: dict[int, set[str]] = defaultdict(set)
    for gd in session.scalars(select(rs.GroupDoor)):
        group_doors[gd.group_id].add(gd.kiosk_id)
    members: dict[int, set[uuid.UUID]] = defaultdict(set)
    for m in session.scalars(select(rs.GroupMember)):
        members[m.group_id].add(m.person_id)
    groups: list[AccessGroup] = []
    group_members: dict[str, frozenset[uuid.UUID]] = {}
    for g in session.scalars(select(rs.AccessGroup).order_by(rs.AccessGroup.name)):
        groups.append(
            AccessGroup(
                g.name,
                schedule_names[g.schedule_id],
                frozenset(group_doors[g.id]),
                g.all_doors,
                schedule_names[g.holiday_schedule_id] if g.holiday_schedule_id else None,
                g.is_default,
                g.enrollers_may_assign,
            )
        )
        group_members[g.name] = frozenset(members[g.id])
    return RuleSet(
        tuple(doors),
        tuple(schedules),
        tuple(calendars),
        tuple(groups),
        group_members,
        read_areas(session),
        current_generation(session),
    )


def apply_rule_set(
    session: Session, rules: RuleSet, *, check_generation: bool = False
) -> RulesChange:
    """Make the stored rules ``rules``, in the caller's transaction, and say what
    changed (with the generation as it was: the caller moves it on, storage.
    rules_generation). One import at a time per database (a transaction-level
    advisory lock). ``check_generation``: refuse (RulesFileStale) unless
    ``rules.generation`` is the stored one, under that lock. Raises RuleSetError
    when the set does not hold together with what is stored (a door no kiosk has,
    a member who is not an active person)."""
    session.execute(select(func.pg_advisory_xact_lock(RULES_LOCK)))
    if check_generation:
        refuse_stale(session, rules.generation, "the rules file")
    before = read_rule_set(session)
    rules.check(known_doors=[d.kiosk_id for d in before.doors])
    _check_members(session, rules)
    added: Counter[str] = Counter()
    changed: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    _count("door", before.doors, rules.doors, lambda d: d.kiosk_id, added, changed, None)
    _count("schedule", before.schedules, rules.schedules, lambda s: s.name, added, changed, removed)
    _count("calendar", before.calendars, rules.calendars, lambda c: c.name, added, changed, removed)
    _count("group", before.groups, rules.groups, lambda g: g.name, added, changed, removed)
    _count("area", before.areas, rules.areas, lambda a: a.name, added, changed, removed)
    members_added = members_removed = 0
    for group in rules.groups:
        old = before.members.get(group.name, frozenset())
        new = rules.members.get(group.name, frozenset())
        members_added += len(new - old)
        members_removed += len(old - new)
    for name, old in before.members.items():
        if name not in {g.name for g in rules.groups}:
            members_removed += len(old)

    # Everything but the doors goes and comes back as the file says: the ids are
    # internal, so nothing outside these tables points at them.
    session.execute(delete(rs.AccessGroup))
    session.execute(delete(rs.Schedule))
    session.execute(delete(rs.HolidayCalendar))
    schedule_ids = _insert_schedules(session, rules.schedules)
    calendar_ids = _insert_calendars(session, rules.calendars)
    _upsert_doors(session, rules.doors, calendar_ids, before.doors)
    _insert_groups(session, rules, schedule_ids)
    store_areas(session, rules.areas)  # by name, after the doors they name
    return RulesChange(
        dict(added),
        dict(changed),
        dict(removed),
        members_added,
        members_removed,
        before.generation,
    )


def _check_members(session: Session, rules: RuleSet) -> None:
    named = {person for members in rules.members.values() for person in members}
    if not named:
        return
    active = set(
        session.scalars(
            select(schema.Person.id).where(
                schema.Person.id.in_(named),
                schema.Person.status == records.PersonStatus.ACTIVE.value,
            )
        )
    )
    for group, members in sorted(rules.members.items()):
        unknown = sorted(str(p) for p in members - active)
        if unknown:
            raise RuleSetError(
                f"group {group} lists person {unknown[0]}, who is not an enrolled person "
                "(deleted, or from another site)",
                ("group", group),
            )


def _count(
    kind: str,
    before: Sequence[T],
    after: Sequence[T],
    key: Callable[[T], str],
    added: Counter[str],
    changed: Counter[str],
    removed: Counter[str] | None,
) -> None:
    old = {key(x): x for x in before}
    new = {key(x): x for x in after}
    added[kind] += len(new.keys() - old.keys())
    changed[kind] += sum(1 for k in new.keys() & old.keys() if new[k] != old[k])
    if removed is not None:
        removed[kind] += len(old.keys() - new.keys())


def _insert_schedules(session: Session, schedules: tuple[Schedule, ...]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for schedule in schedules:
        ids[schedule.name] = session.execute(
            insert(rs.Schedule).values(name=schedule.name).returning(rs.Schedule.id)
        ).scalar_one()
        rows = {(int(day), r.start, r.end) for day, found in schedule.week.items() for r in found}
        if rows:
            session.execute(
                insert(rs.ScheduleRange),
                [
                    {
                        "schedule_id": ids[schedule.name],
                        "weekday": d,
                        "start_minute": s,
                        "end_minute": e,
                    }
                    for d, s, e in sorted(rows)
                ],
            )
    return ids


def _insert_calendars(session: Session, calendars: tuple[HolidayCalendar, ...]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for calendar in calendars:
        ids[calendar.name] = session.execute(
            insert(rs.HolidayCalendar)
            .values(name=calendar.name, country=calendar.country, subdivision=calendar.subdivision)
            .returning(rs.HolidayCalendar.id)
        ).scalar_one()
        if calendar.closures:
            session.execute(
                insert(rs.ClosureDay),
                [{"calendar_id": ids[calendar.name], "day": d} for d in sorted(calendar.closures)],
            )
    return ids


def _upsert_doors(
    session: Session,
    doors: tuple[Door, ...],
    calendar_ids: dict[str, int],
    stored: tuple[Door, ...],
) -> None:
    """Doors in the set take its values; stored doors it leaves out keep theirs, but
    lose a calendar the set removed (their calendar's row went with it)."""
    given = {door.kiosk_id for door in doors}
    for door in stored:
        if door.kiosk_id not in given and door.calendar in calendar_ids:
            row = session.get(rs.Door, door.kiosk_id)
            assert row is not None
            row.calendar_id = calendar_ids[door.calendar]
    for door in doors:
        values = {
            "display_name": door.display_name,
            "time_zone": door.time_zone,
            "calendar_id": calendar_ids[door.calendar] if door.calendar else None,
            "mode": door.mode.value,
        }
        row = session.get(rs.Door, door.kiosk_id)
        if row is None:
            session.add(rs.Door(kiosk_id=door.kiosk_id, **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)
    session.flush()


def _insert_groups(session: Session, rules: RuleSet, schedule_ids: dict[str, int]) -> None:
    for group in rules.groups:
        group_id = session.scalar(
            insert(rs.AccessGroup)
            .values(
                name=group.name,
                schedule_id=schedule_ids[group.schedule],
                holiday_schedule_id=(
                    schedule_ids[group.holiday_schedule] if group.holiday_schedule else None
                ),
                all_doors=group.all_doors,
                is_default=group.default,
                enrollers_may_assign=group.enrollers_may_assign,
            )
            .returning(rs.AccessGroup.id)
        )
        if group.doors:
            session.execute(
                insert(rs.GroupDoor),
                [{"group_id": group_id, "kiosk_id": door} for door in sorted(group.doors)],
            )
        members = rules.members.get(group.name, frozenset())
        if members:
            session.execute(
                insert(rs.GroupMember),
                [{"group_id": group_id, "person_id": p} for p in sorted(members, key=str)],
            )
