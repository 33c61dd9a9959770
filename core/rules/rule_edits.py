"""One change to a site's rules, as the operator screens make it: a part of the rule
set added, replaced or removed, everything else kept.

Each edit is a pure function ``RuleSet -> RuleSet``, applied by the store to the
rules as they are under the rules lock (RulesStore.edit_rule_set), so that two
operators' edits, or an edit and an enrollment, never undo each other. An edit
raises RuleSetError (a ValueError) naming the problem and the fix, in one line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from typing import Protocol, TypeVar

from core.rules.model import (
    AccessGroup,
    AntiPassbackArea,
    HolidayCalendar,
    Schedule,
    TimeRange,
)
from core.rules.public_holidays import check_region
from core.rules.rule_set import RuleSet, RuleSetError

RuleEdit = Callable[[RuleSet], RuleSet]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


P = TypeVar("P", bound=_Named)


def parse_day(text: str) -> tuple[TimeRange, ...]:
    """One weekday's ranges as typed: "08:00-12:00, 13:00-17:00"; empty: closed.
    ValueError (TimeRange.parse's) for a range that is not one."""
    parts = [part for part in text.replace(";", ",").split(",") if part.strip()]
    return tuple(sorted({TimeRange.parse(part) for part in parts}))


def parse_days(text: str) -> frozenset[date]:
    """Closure days as typed: "2026-12-24, 2026-12-31" (commas, spaces or lines
    between them); ValueError naming the first one that is not a date."""
    days: set[date] = set()
    for word in text.replace(",", " ").split():
        try:
            days.add(date.fromisoformat(word))
        except ValueError:
            raise ValueError(
                f"{word[:20]!r} is not a day: write each closure day as YYYY-MM-DD, as 2026-12-24"
            ) from None
    return frozenset(days)


def put_schedule(schedule: Schedule, *, new: bool) -> RuleEdit:
    def edit(rules: RuleSet) -> RuleSet:
        return replace(rules, schedules=_put("schedule", rules.schedules, schedule, new))

    return edit


def remove_schedule(name: str) -> RuleEdit:
    def edit(rules: RuleSet) -> RuleSet:
        users = [g.name for g in rules.groups if name in (g.schedule, g.holiday_schedule)]
        if users:
            raise RuleSetError(
                f"schedule {name} is used by group {users[0]}; give that group another "
                "schedule first"
            )
        return replace(rules, schedules=_without("schedule", rules.schedules, name))

    return edit


def put_calendar(calendar: HolidayCalendar, *, new: bool) -> RuleEdit:
    """ValueError at once for a country or subdivision the holidays package lacks."""
    if calendar.country is not None:
        check_region(calendar.country, calendar.subdivision)

    def edit(rules: RuleSet) -> RuleSet:
        return replace(rules, calendars=_put("holiday calendar", rules.calendars, calendar, new))

    return edit


def remove_calendar(name: str) -> RuleEdit:
    def edit(rules: RuleSet) -> RuleSet:
        users = [d.kiosk_id for d in rules.doors if d.calendar == name]
        if users:
            raise RuleSetError(
                f"holiday calendar {name} is used by door {users[0]}; give that door "
                "another calendar (or none) first"
            )
        return replace(rules, calendars=_without("holiday calendar", rules.calendars, name))

    return edit


def put_group(group: AccessGroup, *, new: bool) -> RuleEdit:
    """A group marked default takes the mark from the group that had it (one at most)."""

    def edit(rules: RuleSet) -> RuleSet:
        others = rules.groups
        if group.default:
            others = tuple(replace(g, default=False) for g in others)
        groups = _put("group", others, group, new)
        members = dict(rules.members)
        members.setdefault(group.name, frozenset())
        return replace(rules, groups=groups, members=members)

    return edit


def remove_group(name: str) -> RuleEdit:
    """The group and its memberships; its members keep their other groups."""

    def edit(rules: RuleSet) -> RuleSet:
        members = {g: people for g, people in rules.members.items() if g != name}
        return replace(rules, groups=_without("group", rules.groups, name), members=members)

    return edit


def put_area(area: AntiPassbackArea, *, new: bool) -> RuleEdit:
    def edit(rules: RuleSet) -> RuleSet:
        return replace(rules, areas=_put("area", rules.areas, area, new))

    return edit


def remove_area(name: str) -> RuleEdit:
    def edit(rules: RuleSet) -> RuleSet:
        return replace(rules, areas=_without("area", rules.areas, name))

    return edit


def _put(kind: str, parts: Sequence[P], part: P, new: bool) -> tuple[P, ...]:
    """``parts`` with ``part`` added (``new``) or in place of the one of its name."""
    names = [p.name for p in parts]
    if new and part.name in names:
        raise RuleSetError(f"{kind} {part.name} exists already; choose another name")
    if not new and part.name not in names:
        raise RuleSetError(f"{kind} {part.name} is no longer there; refresh and try again")
    return tuple(sorted((*(p for p in parts if p.name != part.name), part), key=_name))


def _without(kind: str, parts: Sequence[P], name: str) -> tuple[P, ...]:
    if name not in [p.name for p in parts]:
        raise RuleSetError(f"{kind} {name} is no longer there; refresh and try again")
    return tuple(p for p in parts if p.name != name)


def _name(part: _Named) -> str:
    return part.name
