"""Reading the access rules from a TOML file (``kiosk-admin rules import``).

The format (docs/access-rules.md has it in full, with an example)::

    [[door]]      id, name, time_zone, calendar (optional), mode ("face" | "face_and_pin")
    [[schedule]]  name, and mon .. sun = ["HH:MM-HH:MM", ...] (a day left out: closed)
    [[calendar]]  name, country and subdivision (optional), closures = [dates]
    generation    (top level, optional) the rules' generation the file was exported at
    [[group]]     name, schedule, holiday_schedule (optional; none: closed on holidays),
                  doors = [...] or all_doors = true, default, enrollers_may_assign,
                  members = ["<person id>", ...]
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
from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import RulesFileInvalid
from core.rules.rule_set import RuleSet, RuleSetError
from core.rules.rules_file_lines import RulesFileLines
from core.rules.rules_tables import (
    TableReader,
    invalid,
    read_area,
    read_calendar,
    read_door,
    read_group,
    read_schedule,
)
from core.toml_documents import load_toml

KINDS = ("door", "schedule", "calendar", "group", "area")
GENERATION = "generation"
"""The top-level key an export writes: the stored rules' generation then. A file
without it is of generation 0 (the rules of a database that never changed them)."""
BOM = "\ufeff"
# The fix for each fault RuleSet.check and the store find, by what their message says.
_FIXES = (
    ("which the rules do not define", "define it in this file or correct the name"),
    ("nor a kiosk of this site", "add a [[door]] for it or correct the kiosk id"),
    ("not an enrolled person", "remove that id from members (kiosk-admin people lists them)"),
)
_TOML_PLACE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


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
        return invalid(self.source, line, text)


def read_rules_file(text: str, source: str = "the rules file") -> RulesFile:
    """The rules in ``text`` (a TOML document), checked as a whole. A byte order mark
    at the start (as some Windows editors save UTF-8) is skipped. ``source`` names the
    file in messages. Raises RulesFileInvalid."""
    text = text.removeprefix(BOM)
    lines = RulesFileLines(text)
    try:
        data = load_toml(text)  # nesting bounded: a deep file is bad TOML, not a crash
    except tomllib.TOMLDecodeError as error:
        raise _syntax_error(source, lines, error) from None
    generation = _generation(data.pop(GENERATION, 0), source, lines)
    for key, value in data.items():
        line = lines.top_keys.get(key) or lines.header(key)
        if key not in KINDS:
            raise invalid(
                source,
                line,
                f"unknown table {key!r}; a rules file has only {GENERATION} = N and "
                + ", ".join(f"[[{k}]]" for k in KINDS),
            )
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            raise invalid(
                source, line, f"{key} must be written as tables: a [[{key}]] header for each"
            )
    reader = TableReader(source, lines)
    doors = [read_door(reader.table("door", i, raw)) for i, raw in enumerate(data.get("door", []))]
    schedules = [
        read_schedule(reader.table("schedule", i, raw))
        for i, raw in enumerate(data.get("schedule", []))
    ]
    calendars = [
        read_calendar(reader.table("calendar", i, raw))
        for i, raw in enumerate(data.get("calendar", []))
    ]
    members: dict[str, frozenset[uuid.UUID]] = {}
    groups = []
    default: str | None = None
    for i, raw in enumerate(data.get("group", [])):
        table = reader.table("group", i, raw)
        group, people = read_group(table)
        if group.default and default is not None:
            raise table.fail(
                f"group {default} is the default already; at most one group may be: "
                "remove one default = true",
                "default",
            )
        default = group.name if group.default else default
        groups.append(group)
        members[group.name] = people
    areas = [read_area(reader.table("area", i, raw)) for i, raw in enumerate(data.get("area", []))]
    parsed = RulesFile(
        RuleSet(
            tuple(doors),
            tuple(schedules),
            tuple(calendars),
            tuple(groups),
            members,
            tuple(areas),
            generation,
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


def _generation(value: object, source: str, lines: RulesFileLines) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid(
            source,
            lines.top_keys.get(GENERATION),
            f"{GENERATION} must be a whole number of 0 or more, as an export writes it "
            f"({GENERATION} = 12); correct it, or export the rules afresh",
        )
    return value


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
    return invalid(
        source,
        line,
        f"not valid TOML: {message}; write text in double quotes, dates as 2026-12-24 and "
        "each table as [[group]] (docs/access-rules.md)",
    )
