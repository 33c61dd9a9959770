"""The rules file (core.rules.rules_file): read back as written, and every fault
named by its line and its fix. Pure: no database."""

from __future__ import annotations

import re
import uuid
from datetime import date
from pathlib import Path

import pytest

from core.errors import RulesFileInvalid
from core.rules.model import (
    ALWAYS,
    AccessGroup,
    AntiPassbackArea,
    Door,
    DoorMode,
    HolidayCalendar,
    PassbackMode,
    Schedule,
    TimeRange,
    Weekday,
)
from core.rules.rule_set import RulesChange, RuleSet, RuleSetError
from core.rules.rules_file import read_rules_file
from core.rules.rules_file_text import rules_file_text
from core.rules.rules_import import change_text

DOC = Path(__file__).resolve().parent.parent / "docs" / "access-rules.md"
ADA = uuid.UUID("0b7c6f1e-2d3a-4e5f-8a9b-0c1d2e3f4a5b")
BEA = uuid.UUID("9e8d7c6b-5a49-4382-a716-0f1e2d3c4b5a")
OFFICE = Schedule(
    "office hours",
    {
        d: (TimeRange.parse("08:00-12:00"), TimeRange.parse("13:00-18:00"))
        for d in list(Weekday)[:5]
    },
)
NIGHT = Schedule(
    "night",
    {d: (TimeRange.parse("00:00-06:00"), TimeRange.parse("22:00-24:00")) for d in Weekday},
)


def example_rules() -> RuleSet:
    return RuleSet(
        doors=(
            Door("front", 'Front "main" door', "Europe/Berlin", "bavaria", DoorMode.FACE_AND_PIN),
            Door("lab", "Lab", "America/New_York"),
        ),
        schedules=(ALWAYS, NIGHT, OFFICE),
        calendars=(
            HolidayCalendar(
                "bavaria", "DE", "BY", frozenset({date(2026, 12, 28), date(2026, 12, 31)})
            ),
            HolidayCalendar("site only"),
        ),
        groups=(
            AccessGroup("cleaners", "night", all_doors=True),
            AccessGroup("everyone", "always", all_doors=True, default=True),
            AccessGroup(
                "staff", "office hours", frozenset({"front", "lab"}), holiday_schedule="always"
            ),
        ),
        members={
            "cleaners": frozenset({BEA}),
            "everyone": frozenset(),
            "staff": frozenset({ADA, BEA, *(uuid.UUID(int=n) for n in range(1, 4))}),
        },
        areas=(
            AntiPassbackArea("hall", frozenset({"front"}), frozenset({"lab"}), PassbackMode.SOFT),
        ),
    )


def test_a_written_file_reads_back_as_the_same_rules() -> None:
    rules = example_rules()
    text = rules_file_text(rules)
    assert read_rules_file(text).rules == rules
    # The same rules, the same text: a site's file changes only when its rules do.
    assert rules_file_text(read_rules_file(text).rules) == text


def test_the_files_order_is_kept_and_each_days_ranges_are_sorted_once() -> None:
    text = """
[[schedule]]
name = "zeta"
mon = ["13:00-17:00", "08:00-12:00", "08:00-12:00"]
sun = []

[[schedule]]
name = "alpha"
"""
    zeta, alpha = read_rules_file(text).rules.schedules
    assert (zeta.name, alpha.name) == ("zeta", "alpha")
    assert zeta.week == {Weekday.MON: (TimeRange(480, 720), TimeRange(780, 1020))}
    assert alpha.week == {}


def test_the_complete_example_in_the_docs_reads() -> None:
    rules = read_rules_file(doc_example(), str(DOC)).rules
    assert {d.kiosk_id for d in rules.doors} == {"front-door", "lab", "back-door"}
    assert [g.name for g in rules.groups if g.default] == ["visitors"]
    assert rules.areas[0].mode is PassbackMode.SOFT
    assert all(rules.members[g.name] is not None for g in rules.groups)


def doc_example() -> str:
    """The TOML block under "A complete example" in docs/access-rules.md."""
    page = DOC.read_text(encoding="utf-8")
    section = page[page.index("### A complete example") :]
    found = re.search(r"```toml\n(.*?)```", section, re.DOTALL)
    assert found is not None
    return found.group(1)


BASE = """\
[[door]]
id = "front"
name = "Front door"
time_zone = "Europe/Berlin"
calendar = "bavaria"
mode = "face"

[[schedule]]
name = "office"
mon = ["08:00-18:00"]

[[calendar]]
name = "bavaria"
country = "DE"
subdivision = "BY"
closures = [2026-12-24]

[[group]]
name = "everyone"
schedule = "office"
all_doors = true
default = true

[[group]]
name = "staff"
schedule = "office"
doors = ["front"]
members = [
    "0b7c6f1e-2d3a-4e5f-8a9b-0c1d2e3f4a5b",
    "9e8d7c6b-5a49-4382-a716-0f1e2d3c4b5a",
]

[[area]]
name = "hall"
entry = ["front"]
exit = ["back"]
mode = "hard"
"""


def test_the_base_of_the_fault_table_is_itself_valid() -> None:
    rules = read_rules_file(BASE).rules
    assert rules.members["staff"] == {ADA, BEA}


# (the line of BASE to replace, what to put there, what the message must say); the
# fault is on the last line put there, unless the text put there marks it with "#<".
FAULTS = [
    ('name = "Front door"', 'name = "Front door', "not valid TOML"),
    ('mode = "face"', 'mode = "face-only"', 'not one of "face" or "face_and_pin"'),
    ('time_zone = "Europe/Berlin"', 'time_zone = "Europe/Munich"', "not an IANA time zone"),
    ('id = "front"', 'id = "front door"', "not a kiosk id"),
    ('mon = ["08:00-18:00"]', 'mon = ["18:00-08:00"]', "its start must be before its end"),
    ('mon = ["08:00-18:00"]', 'monday = ["08:00-18:00"]', "unknown key 'monday'"),
    ('mon = ["08:00-18:00"]', 'mon = "08:00-18:00"', "must be a list of texts"),
    ('country = "DE"', 'country = "XX"', "country 'XX' has no public-holiday calendar"),
    ('subdivision = "BY"', 'subdivision = "ZZ"', "no subdivision 'ZZ'"),
    ("closures = [2026-12-24]", 'closures = ["24.12.2026"]', "not a date; write it as 2026-12-24"),
    ('doors = ["front"]', 'doors = ["front"]\nall_doors = true', "both all_doors and a list"),
    ('schedule = "office"\ndoors', 'schedule = "ofice" #<\ndoors', "names schedule 'ofice'"),
    ('calendar = "bavaria"', 'calendar = "bavarian"', "names holiday calendar 'bavarian'"),
    (
        '    "9e8d7c6b-5a49-4382-a716-0f1e2d3c4b5a",',
        '    "9e8d7c6b",',
        "'9e8d7c6b' is not a person id",
    ),
    ('name = "staff"', 'name = "everyone"', "the name is used twice (first at line"),
    ('name = "staff"', 'name = "staff"\ndefault = true', "group everyone is the default already"),
    ("[[area]]", "[area]", "must be written as tables"),
    ("[[area]]", "[[areas]]", "unknown table 'areas'"),
    ('exit = ["back"]', 'exit = ["front"]', "cannot be both entry and exit"),
    ('mode = "hard"', 'mode = "strict"', 'not one of "soft" or "hard"'),
]


@pytest.mark.parametrize(("line", "bad", "problem"), FAULTS)
def test_one_bad_line_is_named_with_its_problem(line: str, bad: str, problem: str) -> None:
    assert line in BASE
    text = BASE.replace(line, bad, 1)
    put = BASE.index(line)
    marked = bad.find("#<")
    end = put + (marked if marked >= 0 else len(bad))
    at_fault = text[:end].count("\n") + 1
    with pytest.raises(RulesFileInvalid) as raised:
        read_rules_file(text, "rules.toml")
    message = str(raised.value)
    assert raised.value.line == at_fault, message
    assert message.startswith(f"rules.toml line {at_fault}: "), message
    assert problem in message
    assert "\n" not in message


def test_a_missing_key_names_the_tables_header() -> None:
    text = BASE.replace('schedule = "office"\ndoors', "doors", 1)
    with pytest.raises(RulesFileInvalid, match="schedule is missing; add schedule =") as raised:
        read_rules_file(text, "rules.toml")
    header = text.splitlines().index('name = "staff"')  # the line before it, 0-based
    assert raised.value.line == header


def test_what_only_the_database_knows_is_placed_on_its_line() -> None:
    rules_file = read_rules_file(BASE, "rules.toml")
    lines = BASE.splitlines()
    member = RuleSetError(
        f"group staff lists person {BEA}, who is not an enrolled person (deleted, or from "
        "another site)",
        ("group", "staff"),
    )
    located = rules_file.located(member)
    assert located.line == lines.index(f'    "{BEA}",') + 1
    assert "remove that id from members" in str(located)
    door = RuleSetError(
        "area hall names door 'back', which is neither in the rules nor a kiosk of this site",
        ("area", "hall"),
    )
    located = rules_file.located(door)
    assert located.line == lines.index('exit = ["back"]') + 1
    assert "add a [[door]] for it" in str(located)


def test_a_reference_is_placed_on_its_own_line_not_on_a_name_that_looks_the_same() -> None:
    text = BASE.replace('name = "staff"', 'name = "office2"').replace(
        'schedule = "office"\ndoors', 'schedule = "office2"\ndoors'
    )
    with pytest.raises(RulesFileInvalid, match="names schedule 'office2'") as raised:
        read_rules_file(text, "rules.toml")
    assert raised.value.line == text.splitlines().index('schedule = "office2"') + 1


def test_a_file_that_is_not_toml_at_all_is_named_without_a_stack() -> None:
    with pytest.raises(RulesFileInvalid, match=r"^r.toml line 2: not valid TOML"):
        read_rules_file("[[door]]\nid = \n", "r.toml")


def test_a_change_is_told_in_one_line_and_a_dry_run_says_what_it_would_do() -> None:
    change = RulesChange({"group": 1, "door": 0}, {"door": 2}, {"schedule": 1}, 3, 1, 8)
    assert change_text(change, dry_run=False) == (
        "rules imported: added 1 group; changed 2 doors; removed 1 schedule; "
        "3 membership(s) added, 1 removed; the rules are now generation 8: export them "
        "again before the next change (the file imported is now behind)"
    )
    assert change_text(change, dry_run=True) == (
        "dry run, nothing stored; importing the file would add 1 group; change 2 doors; "
        "remove 1 schedule; add 3 and remove 1 membership(s)"
    )
    nothing = RulesChange({}, {}, {}, 0, 0)
    assert change_text(nothing, dry_run=False) == "rules imported: nothing changed"
