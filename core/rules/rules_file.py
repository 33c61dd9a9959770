"""Reading the access rules from a TOML file (``kiosk-admin rules import``).

The format (docs/access-rules.md has it in full, with an example)::

    [[door]]      id, name, time_zone, calendar (optional), mode ("face" | "face_and_pin")
    [[schedule]]  name, and mon .. sun = ["HH:MM-HH:MM", ...] (a day left out: closed)
    [[calendar]]  name, country and subdivision (optional), closures = [dates]
    [[group]]     name, schedule, holiday_schedule (optional; none: closed on holidays),
                  doors = [...] or all_doors = true, default, members = ["<person id>", ...]
    [[area]]      name, entry = [...], exit = [...], mode ("soft" | "hard")

The file is read as a whole: every value is checked and every reference resolved
before anything is stored, except what only the database knows (a door kept
there, an enrolled person), which applying the rules checks and ``located`` places
in the file. The first fault is RulesFileInvalid naming its line and the fix.
"""

from __future__ import annotations

import re
import tomllib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from core.errors import RulesFileInvalid
from core.rules.model import (
    AccessGroup,
    AntiPassbackArea,
    Door,
    DoorMode,
    HolidayCalendar,
    PassbackMode,
    Schedule,
    TimeRange,
    Weekday,
    check_kiosk_id,
    check_name,
    check_time_zone,
)
from core.rules.public_holidays import check_region
from core.rules.rule_set import RuleSet, RuleSetError
from core.rules.rules_file_lines import RulesFileLines
from core.toml_documents import load_toml

KINDS = ("door", "schedule", "calendar", "group", "area")
KEYS: dict[str, tuple[str, ...]] = {
    "door": ("id", "name", "time_zone", "calendar", "mode"),
    "schedule": ("name", *(day.key for day in Weekday)),
    "calendar": ("name", "country", "subdivision", "closures"),
    "group": ("name", "schedule", "holiday_schedule", "doors", "all_doors", "default", "members"),
    "area": ("name", "entry", "exit", "mode"),
}
_EXAMPLES = {
    "id": '"front-door"',
    "name": '"Front door"',
    "time_zone": '"Europe/Berlin"',
    "schedule": '"office hours"',
    "entry": '["front-door"]',
    "exit": '["back-door"]',
}
# The fix for each fault RuleSet.check and the store find, by what their message says.
_FIXES = (
    ("which the rules do not define", "define it in this file or correct the name"),
    ("nor a kiosk of this site", "add a [[door]] for it or correct the kiosk id"),
    ("not an enrolled person", "remove that id from members (kiosk-admin people lists them)"),
)
_TOML_PLACE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")


@dataclass(frozen=True)
class RulesFile:
    """A rules file read whole: its rules, and where each part of it is."""

    rules: RuleSet
    source: str
    lines: RulesFileLines
    tables: Mapping[tuple[str, str], int]
    """(kind, name) -> which ``[[kind]]`` (from 0) defines it."""

    def located(self, error: RuleSetError) -> RulesFileInvalid:
        """``error`` (from RuleSet.check or the store) as the file's fault: its line,
        found from ``error.where`` and the value the message names, and the fix."""
        message = str(error)
        line: int | None = None
        if error.where is not None:
            kind, name = error.where
            kind = "calendar" if kind == "holiday calendar" else kind
            index = self.tables.get((kind, name))
            if index is not None:
                named = re.findall(r"'([^']*)'", message) + _UUID.findall(message)
                # The value at fault is a reference, never the part's own name.
                own = ("id", "name")
                found = (self.lines.find_value(kind, index, None, v, own) for v in named)
                line = next((n for n in found if n is not None), None)
                line = line or self.lines.table_line(kind, index)
        fix = next((fix for fragment, fix in _FIXES if fragment in message), None)
        if fix is None and ";" not in message:
            fix = "correct it and import again"
        text = f"{message}; {fix}" if fix else message
        return _invalid(self.source, line, text)


def read_rules_file(text: str, source: str = "the rules file") -> RulesFile:
    """The rules in ``text`` (a TOML document), checked as a whole.
    ``source`` names the file in messages. Raises RulesFileInvalid."""
    lines = RulesFileLines(text)
    try:
        data = load_toml(text)  # nesting bounded: a deep file is bad TOML, not a crash
    except tomllib.TOMLDecodeError as error:
        raise _syntax_error(source, lines, error) from None
    for key, value in data.items():
        line = lines.top_keys.get(key) or lines.header(key)
        if key not in KINDS:
            raise _invalid(
                source,
                line,
                f"unknown table {key!r}; a rules file has only "
                + ", ".join(f"[[{k}]]" for k in KINDS),
            )
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            raise _invalid(
                source, line, f"{key} must be written as tables: a [[{key}]] header for each"
            )
    reader = _Reader(source, lines)
    doors = [_door(reader.table("door", i, raw)) for i, raw in enumerate(data.get("door", []))]
    schedules = [
        _schedule(reader.table("schedule", i, raw))
        for i, raw in enumerate(data.get("schedule", []))
    ]
    calendars = [
        _calendar(reader.table("calendar", i, raw))
        for i, raw in enumerate(data.get("calendar", []))
    ]
    members: dict[str, frozenset[uuid.UUID]] = {}
    groups = []
    default: str | None = None
    for i, raw in enumerate(data.get("group", [])):
        table = reader.table("group", i, raw)
        group, people = _group(table)
        if group.default and default is not None:
            raise table.fail(
                f"group {default} is the default already; at most one group may be: "
                "remove one default = true",
                "default",
            )
        default = group.name if group.default else default
        groups.append(group)
        members[group.name] = people
    areas = [_area(reader.table("area", i, raw)) for i, raw in enumerate(data.get("area", []))]
    parsed = RulesFile(
        RuleSet(
            tuple(doors), tuple(schedules), tuple(calendars), tuple(groups), members, tuple(areas)
        ),
        source,
        lines,
        reader.tables,
    )
    # The doors the file names may be kept in the database only: applying checks them.
    named = {d for g in groups for d in g.doors} | {d for a in areas for d in a.entry | a.exit}
    try:
        parsed.rules.check(known_doors=named)
    except RuleSetError as error:
        raise parsed.located(error) from None
    return parsed


class _Reader:
    """Hands out the file's tables, and finds a name given twice."""

    def __init__(self, source: str, lines: RulesFileLines) -> None:
        self.source = source
        self.lines = lines
        self.tables: dict[tuple[str, str], int] = {}

    def table(self, kind: str, index: int, raw: dict[str, Any]) -> _Table:
        table = _Table(self, kind, index, raw)
        label = raw.get("id" if kind == "door" else "name")
        table.name = label if isinstance(label, str) else None
        for key in raw:
            if key not in KEYS[kind]:
                raise table.fail(
                    f"unknown key {key!r}; a [[{kind}]] takes " + ", ".join(KEYS[kind]), key
                )
        name = table.required("id" if kind == "door" else "name")
        table.name = name
        first = self.tables.setdefault((kind, name), index)
        if first != index:
            raise table.fail(
                f"the name is used twice (first at line {self.lines.table_line(kind, first)}); "
                "remove one or rename it",
                "id" if kind == "door" else "name",
            )
        return table


class _Table:
    """One ``[[kind]]`` table, its values read and checked one key at a time."""

    def __init__(self, reader: _Reader, kind: str, index: int, raw: dict[str, Any]) -> None:
        self._reader = reader
        self.kind = kind
        self._index = index
        self._raw = raw
        self.name: str | None = None

    def fail(
        self, problem: str, key: str | None = None, value: str | None = None
    ) -> RulesFileInvalid:
        lines = self._reader.lines
        if value is not None:
            line = lines.value_line(self.kind, self._index, key, value)
        elif key is not None:
            line = lines.key_line(self.kind, self._index, key)
        else:
            line = lines.table_line(self.kind, self._index)
        what = (
            f"{self.kind} {self.name}"
            if self.name is not None
            else f"[[{self.kind}]] number {self._index + 1}"
        )
        # A model's own message may name the part already ("area hall: ...").
        problem = problem.removeprefix(f"{what}: ")
        return _invalid(self._reader.source, line, f"{what}: {problem}")

    def has(self, key: str) -> bool:
        return key in self._raw

    def required(self, key: str, check: Callable[[str], object] | None = None) -> str:
        """The text at ``key``, through ``check`` if given (its ValueError: at the key)."""
        value = self.optional(key, check)
        if value is None:
            raise self.fail(f"{key} is missing; add {key} = {_EXAMPLES.get(key, '...')}")
        return value

    def optional(self, key: str, check: Callable[[str], object] | None = None) -> str | None:
        value = self._raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{key} must be text in double quotes", key)
        if check is not None:
            try:
                check(value)
            except ValueError as error:
                raise self.fail(str(error), key) from None
        return value

    def choice(self, key: str, kind: type[E], default: E) -> E:
        value = self.optional(key)
        if value is None:
            return default
        try:
            return kind(value)
        except ValueError:
            allowed = " or ".join(f'"{member.value}"' for member in kind)
            raise self.fail(f"{key} {value[:40]!r} is not one of {allowed}", key) from None

    def texts(self, key: str, check: Callable[[str], T]) -> list[T]:
        """Each text of the list at ``key`` through ``check`` (ValueError: at its line)."""
        values = self._raw.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise self.fail(f'{key} must be a list of texts, as ["a", "b"]', key)
        checked = []
        for value in values:
            try:
                checked.append(check(value))
            except ValueError as error:
                raise self.fail(str(error), key, value) from None
        return checked

    def flag(self, key: str) -> bool:
        value = self._raw.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(f"{key} must be true or false", key)
        return value

    def days(self, key: str) -> frozenset[date]:
        values = self._raw.get(key, [])
        if not isinstance(values, list):
            raise self.fail(f"{key} must be a list of dates, as [2026-12-24, 2026-12-31]", key)
        days = set()
        for value in values:
            if isinstance(value, str):
                try:
                    value = date.fromisoformat(value)
                except ValueError:
                    raise self.fail(
                        f"{value[:40]!r} is not a date; write it as 2026-12-24", key, value
                    ) from None
            if isinstance(value, datetime):
                raise self.fail(
                    f"{value} is a date and time; write the day alone, as 2026-12-24", key
                )
            if not isinstance(value, date):
                raise self.fail(f"{key} holds {value!r}, not a date; write 2026-12-24", key)
            days.add(value)
        return frozenset(days)

    def built(self, make: Callable[[], T], key: str) -> T:
        """``make()``, its ValueError (a model's own check) placed at ``key``."""
        try:
            return make()
        except ValueError as error:
            raise self.fail(str(error), key) from None


def _door(table: _Table) -> Door:
    kiosk_id = table.required("id", check_kiosk_id)
    name = table.required("name")
    zone = table.required("time_zone", check_time_zone)
    calendar = table.optional("calendar")
    mode = table.choice("mode", DoorMode, DoorMode.FACE)
    return table.built(lambda: Door(kiosk_id, name, zone, calendar, mode), "name")


def _schedule(table: _Table) -> Schedule:
    name = table.required("name", lambda n: check_name("schedule", n))
    week: dict[Weekday, tuple[TimeRange, ...]] = {}
    for day in Weekday:
        ranges = table.texts(day.key, TimeRange.parse)
        if ranges:
            week[day] = tuple(sorted(set(ranges)))
    return Schedule(name, week)


def _calendar(table: _Table) -> HolidayCalendar:
    name = table.required("name", lambda n: check_name("holiday calendar", n))
    country = table.optional("country", lambda c: check_region(c, None))
    subdivision = table.optional("subdivision")
    if subdivision is not None:
        if country is None:
            raise table.fail('a subdivision needs a country; add country = "DE"', "subdivision")
        try:
            check_region(country, subdivision)
        except ValueError as error:
            raise table.fail(str(error), "subdivision") from None
    return HolidayCalendar(name, country, subdivision, table.days("closures"))


def _group(table: _Table) -> tuple[AccessGroup, frozenset[uuid.UUID]]:
    name = table.required("name", lambda n: check_name("group", n))
    schedule = table.required("schedule")
    holiday = table.optional("holiday_schedule")
    doors = frozenset(table.texts("doors", check_kiosk_id))
    all_doors = table.flag("all_doors")
    if all_doors and doors:
        raise table.fail("has both all_doors and a list of doors; give one", "all_doors")
    default = table.flag("default")
    members = frozenset(table.texts("members", _person_id))
    group = table.built(
        lambda: AccessGroup(name, schedule, doors, all_doors, holiday, default), "name"
    )
    return group, members


def _area(table: _Table) -> AntiPassbackArea:
    name = table.required("name", lambda n: check_name("area", n))
    for key in ("entry", "exit"):
        if not table.has(key):
            raise table.fail(f"{key} is missing; add {key} = {_EXAMPLES[key]}")
    entry = frozenset(table.texts("entry", check_kiosk_id))
    exit_ = frozenset(table.texts("exit", check_kiosk_id))
    mode = table.choice("mode", PassbackMode, PassbackMode.HARD)
    return table.built(lambda: AntiPassbackArea(name, entry, exit_, mode), "exit")


def _person_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ValueError(
            f"{text[:40]!r} is not a person id; ids look like the ones kiosk-admin people prints"
        ) from None


def _syntax_error(
    source: str, lines: RulesFileLines, error: tomllib.TOMLDecodeError
) -> RulesFileInvalid:
    message = str(error)
    place = _TOML_PLACE.search(message)
    line: int | None = None
    if place is not None:
        message = message[: place.start()]
        line = int(place.group(1)) if place.group(1) else lines.last_line
        if place.group(2):
            message = f"{message} at column {place.group(2)}"
    return _invalid(
        source,
        line,
        f"not valid TOML: {message}; write text in double quotes, dates as 2026-12-24 and "
        "each table as [[group]] (docs/access-rules.md)",
    )


def _invalid(source: str, line: int | None, message: str) -> RulesFileInvalid:
    where = f"{source} line {line}" if line is not None else source
    return RulesFileInvalid(f"{where}: {message}", line)
