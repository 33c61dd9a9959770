"""Whether a recognised person may pass a door at a moment, and which rule says no.

Pure: the moment and everything about the person at that door are given, so the
same call answers the door, ``kiosk-admin rules check`` and the tests.

Daylight saving: a schedule is wall-clock time at the door. On the day the
clocks go forward, the skipped hour never happens, so a range inside it admits
no one that day and a range across it is an hour shorter. On the day they go
back, the repeated hour happens twice and a range holding it admits both times.
Validity dates are the door's local dates too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from core.records import Refusal
from core.rules.model import Door, HolidayCalendar, Schedule, Validity, Weekday, minute_of


class HolidayLookup(Protocol):
    """core.rules.public_holidays.PublicHolidays, or a fake."""

    def closed(self, calendar: HolidayCalendar, day: date) -> str | None: ...


@dataclass(frozen=True)
class Grant:
    """One of the person's groups that covers the door, with its schedules."""

    group: str
    schedule: Schedule
    holiday_schedule: Schedule | None = None


@dataclass(frozen=True)
class DoorRules:
    """Everything the rules need about one person at one door (one database read)."""

    door: Door
    validity: Validity
    grants: tuple[Grant, ...]
    calendar: HolidayCalendar | None = None
    in_area: bool = True
    """The door is an entry or exit of an anti-passback area (read with the rules, so
    a door in none costs no anti-passback step)."""
    lockdown: bool = False
    """An operator's lockdown of this door stands (its newest lockdown or release
    command, read with the rules): it refuses everyone, door hardware or none."""


@dataclass(frozen=True)
class RuleVerdict:
    refusal: Refusal | None
    """None: allowed."""
    door: str
    local_time: datetime
    """The moment at the door, in the door's time zone."""
    group: str | None = None
    """The group that admitted (the first in name order), when allowed."""
    holiday: str | None = None
    """The holiday or closure in force at the door that day."""

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def evaluate(rules: DoorRules, at: datetime, holidays: HolidayLookup) -> RuleVerdict:
    """The verdict for ``rules`` at ``at`` (an aware datetime; ValueError if naive).

    Checked in this order, the first that fails refusing: validity (not yet
    valid, expired), a group for the door, then the schedules (the holiday
    schedule on a holiday: refused as ``holiday``, else ``outside_schedule``).
    Access is the union of the person's groups."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the moment to check needs a time zone (an aware datetime)")
    door = rules.door
    local = at.astimezone(door.zone)
    day = local.date()

    validity = rules.validity
    if validity.valid_from is not None and day < validity.valid_from:
        return RuleVerdict(Refusal.NOT_YET_VALID, door.kiosk_id, local)
    if validity.valid_until is not None and day > validity.valid_until:
        return RuleVerdict(Refusal.EXPIRED, door.kiosk_id, local)
    if not rules.grants:
        return RuleVerdict(Refusal.NO_GROUP_FOR_DOOR, door.kiosk_id, local)
    closed = holidays.closed(rules.calendar, day) if rules.calendar is not None else None
    weekday = Weekday(local.weekday())
    minute = minute_of(local.time())
    for grant in sorted(rules.grants, key=lambda g: g.group):
        schedule = grant.holiday_schedule if closed is not None else grant.schedule
        if schedule is not None and schedule.admits(weekday, minute):
            return RuleVerdict(None, door.kiosk_id, local, grant.group, closed)
    refusal = Refusal.HOLIDAY if closed is not None else Refusal.OUTSIDE_SCHEDULE
    return RuleVerdict(refusal, door.kiosk_id, local, None, closed)
