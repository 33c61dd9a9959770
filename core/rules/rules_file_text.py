"""Writing the access rules as a TOML file (``kiosk-admin rules export``).

The text reads back (core.rules.rules_file) as the same rules. It is the same for
the same rules, with no date or time in it, so a site can keep it under version
control and see each change as a diff; its ``generation`` line (the stored rules'
generation, one more with each change) moves with every change. Values are written
by ``tomli_w``; the ``[[table]]`` headers and short lists on one line are ours, for
people to read.
"""

from __future__ import annotations

import tomli_w

from core.rules.model import AccessGroup, AntiPassbackArea, Door, HolidayCalendar, Schedule
from core.rules.rule_set import RuleSet
from core.rules.rules_file import GENERATION

_WIDTH = 100
"""Lists longer than this on one line get one item per line."""
HEADER = (
    "# The access rules of this site, as kiosk-admin rules export writes them.\n"
    "# Change them here and apply with: kiosk-admin rules import FILE [--dry-run]\n"
    "# The format: docs/access-rules.md. Doors left out of a file are kept; schedules,\n"
    "# calendars, groups and areas left out are removed.\n"
)


def rules_file_text(rules: RuleSet) -> str:
    """``rules`` as the text of a rules file, in the order they are given."""
    tables = [
        *(("door", _door(d)) for d in rules.doors),
        *(("schedule", _schedule(s)) for s in rules.schedules),
        *(("calendar", _calendar(c)) for c in rules.calendars),
        *(("group", _group(g, rules)) for g in rules.groups),
        *(("area", _area(a)) for a in rules.areas),
    ]
    chunks = [
        HEADER
        + "# An import refuses the file once the stored rules have changed since: export again.\n"
        + f"{GENERATION} = {rules.generation}\n"
    ]
    for kind, values in tables:
        lines = [f"[[{kind}]]"]
        lines.extend(_assignment(key, value) for key, value in values.items() if value is not None)
        chunks.append("\n".join(lines) + "\n")
    return "\n".join(chunks)


def _door(door: Door) -> dict[str, object]:
    return {
        "id": door.kiosk_id,
        "name": door.display_name,
        "time_zone": door.time_zone,
        "calendar": door.calendar,
        "mode": door.mode.value,
    }


def _schedule(schedule: Schedule) -> dict[str, object]:
    values: dict[str, object] = {"name": schedule.name}
    for day in sorted(schedule.week):
        ranges = schedule.week[day]
        if ranges:
            values[day.key] = [str(r) for r in sorted(ranges)]
    return values


def _calendar(calendar: HolidayCalendar) -> dict[str, object]:
    return {
        "name": calendar.name,
        "country": calendar.country,
        "subdivision": calendar.subdivision,
        "closures": sorted(calendar.closures),
    }


def _group(group: AccessGroup, rules: RuleSet) -> dict[str, object]:
    values: dict[str, object] = {
        "name": group.name,
        "schedule": group.schedule,
        "holiday_schedule": group.holiday_schedule,
    }
    if group.all_doors:
        values["all_doors"] = True
    else:
        values["doors"] = sorted(group.doors)
    values["default"] = group.default
    values["enrollers_may_assign"] = group.enrollers_may_assign
    values["members"] = sorted(str(p) for p in rules.members.get(group.name, frozenset()))
    return values


def _area(area: AntiPassbackArea) -> dict[str, object]:
    return {
        "name": area.name,
        "entry": sorted(area.entry),
        "exit": sorted(area.exit),
        "mode": area.mode.value,
    }


def _assignment(key: str, value: object) -> str:
    if not isinstance(value, list):
        return f"{key} = {_value(value)}"
    items = [_value(item) for item in value]
    one_line = f"{key} = [{', '.join(items)}]"
    if len(one_line) <= _WIDTH:
        return one_line
    return "\n".join([f"{key} = [", *(f"    {item}," for item in items), "]"])


def _value(value: object) -> str:
    # tomli_w writes (and escapes) a scalar as TOML; we take it from "v = ...".
    return tomli_w.dumps({"v": value}).removeprefix("v = ").rstrip("\n")
