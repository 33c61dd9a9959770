"""The tables of a rules file (core.rules.rules_file), one ``[[kind]]`` at a time:
each key read and checked, each fault placed at its line with the fix."""

from __future__ import annotations

import uuid
from collections.abc import Callable
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
from core.rules.rules_file_lines import RulesFileLines

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")

KEYS: dict[str, tuple[str, ...]] = {
    "door": ("id", "name", "time_zone", "calendar", "mode"),
    "schedule": ("name", *(day.key for day in Weekday)),
    "calendar": ("name", "country", "subdivision", "closures"),
    "group": (
        "name",
        "schedule",
        "holiday_schedule",
        "doors",
        "all_doors",
        "default",
        "enrollers_may_assign",
        "members",
    ),
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


class TableReader:
    """Hands out the file's tables, and finds a name given twice."""

    def __init__(self, source: str, lines: RulesFileLines) -> None:
        self.source = source
        self.lines = lines
        self.tables: dict[tuple[str, str], int] = {}

    def table(self, kind: str, index: int, raw: dict[str, Any]) -> Table:
        table = Table(self, kind, index, raw)
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


class Table:
    """One ``[[kind]]`` table, its values read and checked one key at a time."""

    def __init__(self, reader: TableReader, kind: str, index: int, raw: dict[str, Any]) -> None:
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
        return invalid(self._reader.source, line, f"{what}: {problem}")

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


def read_door(table: Table) -> Door:
    """The ``[[door]]`` table as a Door. Raises RulesFileInvalid."""
    kiosk_id = table.required("id", check_kiosk_id)
    name = table.required("name")
    zone = table.required("time_zone", check_time_zone)
    calendar = table.optional("calendar")
    mode = table.choice("mode", DoorMode, DoorMode.FACE)
    return table.built(lambda: Door(kiosk_id, name, zone, calendar, mode), "name")


def read_schedule(table: Table) -> Schedule:
    """The ``[[schedule]]`` table as a Schedule. Raises RulesFileInvalid."""
    name = table.required("name", lambda n: check_name("schedule", n))
    week: dict[Weekday, tuple[TimeRange, ...]] = {}
    for day in Weekday:
        ranges = table.texts(day.key, TimeRange.parse)
        if ranges:
            week[day] = tuple(sorted(set(ranges)))
    return Schedule(name, week)


def read_calendar(table: Table) -> HolidayCalendar:
    """The ``[[calendar]]`` table as a HolidayCalendar. Raises RulesFileInvalid."""
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


def read_group(table: Table) -> tuple[AccessGroup, frozenset[uuid.UUID]]:
    """The ``[[group]]`` table as an AccessGroup and its members' person ids. Raises
    RulesFileInvalid."""
    name = table.required("name", lambda n: check_name("group", n))
    schedule = table.required("schedule")
    holiday = table.optional("holiday_schedule")
    doors = frozenset(table.texts("doors", check_kiosk_id))
    all_doors = table.flag("all_doors")
    if all_doors and doors:
        raise table.fail("has both all_doors and a list of doors; give one", "all_doors")
    default = table.flag("default")
    open_to_enrollers = table.flag("enrollers_may_assign")
    members = frozenset(table.texts("members", _person_id))
    group = table.built(
        lambda: AccessGroup(name, schedule, doors, all_doors, holiday, default, open_to_enrollers),
        "name",
    )
    return group, members


def read_area(table: Table) -> AntiPassbackArea:
    """The ``[[area]]`` table as an AntiPassbackArea. Raises RulesFileInvalid."""
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


def invalid(source: str, line: int | None, message: str) -> RulesFileInvalid:
    """``message`` as the fault of ``source`` at ``line`` (1-based; None: the file)."""
    where = f"{source} line {line}" if line is not None else source
    return RulesFileInvalid(f"{where}: {message}", line)
