"""A site's whole rule set: what ``kiosk-admin rules export`` writes and ``import`` applies."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from core.errors import InvalidValue
from core.rules.model import AccessGroup, AntiPassbackArea, Door, HolidayCalendar, Schedule


class RuleSetError(InvalidValue, ValueError):
    """A rule set that cannot be applied; ``where`` says which part (for a line number).
    In the tree of core.errors; still a ValueError, as the model's own checks are."""

    def __init__(self, message: str, where: tuple[str, str] | None = None) -> None:
        super().__init__(message)
        self.where = where
        """(kind, name) of the part at fault: ("group", "staff"), ("door", "front")."""


@dataclass(frozen=True)
class RuleSet:
    """Every door, schedule, holiday calendar and group, with each group's members.

    Doors are kept when a rule set leaves them out (a kiosk's door exists while the
    kiosk does); schedules, calendars and groups a rule set leaves out are removed."""

    doors: tuple[Door, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    calendars: tuple[HolidayCalendar, ...] = ()
    groups: tuple[AccessGroup, ...] = ()
    members: Mapping[str, frozenset[uuid.UUID]] = field(default_factory=dict)
    """Group name -> the ids of the people in it."""
    areas: tuple[AntiPassbackArea, ...] = ()
    """Anti-passback areas (pairs of entry and exit doors)."""
    generation: int = field(default=0, compare=False)
    """The stored rules' generation this set was read at (storage.rules_generation; a
    file's ``generation``): where it comes from, not part of what the rules are."""

    def check(self, known_doors: Iterable[str] = ()) -> None:
        """RuleSetError for the first reference that does not resolve or name used
        twice. ``known_doors``: doors stored already, which groups may name too."""
        _unique("door", [d.kiosk_id for d in self.doors])
        _unique("schedule", [s.name for s in self.schedules])
        _unique("holiday calendar", [c.name for c in self.calendars])
        _unique("group", [g.name for g in self.groups])
        schedules = {s.name for s in self.schedules}
        calendars = {c.name for c in self.calendars}
        doors = {d.kiosk_id for d in self.doors} | set(known_doors)
        for door in self.doors:
            if door.calendar is not None and door.calendar not in calendars:
                raise RuleSetError(
                    f"door {door.kiosk_id} names holiday calendar {door.calendar!r}, "
                    "which the rules do not define",
                    ("door", door.kiosk_id),
                )
        defaults = [g.name for g in self.groups if g.default]
        if len(defaults) > 1:
            raise RuleSetError(
                f"groups {', '.join(defaults)} are all marked default; at most one may be",
                ("group", defaults[1]),
            )
        for group in self.groups:
            where = ("group", group.name)
            for used in (group.schedule, group.holiday_schedule):
                if used is not None and used not in schedules:
                    raise RuleSetError(
                        f"group {group.name} names schedule {used!r}, which the rules do not "
                        "define",
                        where,
                    )
            unknown = sorted(group.doors - doors)
            if unknown:
                raise RuleSetError(
                    f"group {group.name} names door {unknown[0]!r}, which is neither in the "
                    "rules nor a kiosk of this site",
                    where,
                )
            if group.all_doors and group.doors:
                raise RuleSetError(
                    f"group {group.name} has both all_doors and a list of doors; give one",
                    where,
                )
        _unique("area", [a.name for a in self.areas])
        for area in self.areas:
            unknown = sorted((area.entry | area.exit) - doors)
            if unknown:
                raise RuleSetError(
                    f"area {area.name} names door {unknown[0]!r}, which is neither in the "
                    "rules nor a kiosk of this site",
                    ("area", area.name),
                )
        groups = {g.name for g in self.groups}
        for name in self.members:
            if name not in groups:
                raise RuleSetError(f"members are given for unknown group {name!r}", ("group", name))


def _unique(kind: str, names: list[str]) -> None:
    twice = [name for name, n in Counter(names).items() if n > 1]
    if twice:
        raise RuleSetError(f"{kind} {twice[0]!r} is defined twice", (kind, twice[0]))


@dataclass(frozen=True)
class RulesChange:
    """What applying a rule set changed (or would change, on a dry run): counts per
    kind, for the audit event and the operator."""

    added: Mapping[str, int]
    changed: Mapping[str, int]
    removed: Mapping[str, int]
    members_added: int
    members_removed: int
    generation: int = 0
    """The stored rules' generation after the change (before it, on a dry run)."""

    @property
    def changes(self) -> bool:
        """Whether anything at all was (or would be) changed."""
        counts = (*self.added.values(), *self.changed.values(), *self.removed.values())
        return any(counts) or bool(self.members_added or self.members_removed)

    def summary(self) -> dict[str, object]:
        return {
            "added": dict(self.added),
            "changed": dict(self.changed),
            "removed": dict(self.removed),
            "members_added": self.members_added,
            "members_removed": self.members_removed,
            "generation": self.generation,
        }
