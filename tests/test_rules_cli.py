"""kiosk-admin rules, doors and people access on the real database, run as a person
runs them: a file with one bad line changes nothing, an export imports as the same
rules, a check explains without recording a decision."""

from __future__ import annotations

import json
import stat
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from core.access.door_commands import DoorReport
from core.records import (
    AccessOutcome,
    Operator,
    Refusal,
    access_decision,
)
from core.rules.model import (
    TimeRange,
    Weekday,
)
from core.rules.rules_file import read_rules_file
from storage.door_commands import SqlDoorCommands
from storage.identity_store import SqlIdentityStore
from storage.rules_store import SqlRulesStore
from tests.cli_fixtures import as_json
from tests.rules_cli_fixtures import enroll
from tests.test_rules_file import doc_example

# Each test runs kiosk-admin in processes of its own, on a real server.
pytestmark = pytest.mark.slow

Cli = Callable[..., subprocess.CompletedProcess[str]]
TUESDAY_9 = "2026-12-01T09:00"
TUESDAY_22 = "2026-12-01T22:00"


def count(engine: Engine, sql: str) -> int:
    with engine.connect() as connection:
        found = connection.scalar(text(sql))
    assert isinstance(found, int)
    return found


def imports(engine: Engine) -> int:
    return count(engine, "SELECT count(*) FROM audit_events WHERE action = 'rules.imported'")


def test_a_file_with_one_bad_line_changes_nothing_and_names_the_line(
    admin_cli: Cli,
    alice: Operator,
    ada: uuid.UUID,
    rules: SqlRulesStore,
    db_engine: Engine,
    tmp_path: Path,
) -> None:
    before = rules.rule_set(actor=alice)
    imported = imports(db_engine)
    exported = as_json(admin_cli("rules", "export", "--operator", "alice", "--json"))["text"]
    stranger = uuid.uuid4()
    # A fault only the database shows: someone not enrolled here, among the members.
    good = f'members = ["{ada}"]'
    assert good in exported
    bad_file = tmp_path / "rules.toml"  # in the data folder: owner-only, or a warning says so
    bad_file.touch(mode=0o600)
    bad_file.write_text(exported.replace(good, f'members = [\n    "{ada}",\n    "{stranger}",\n]'))
    bad_line = bad_file.read_text().splitlines().index(f'    "{stranger}",') + 1
    for extra in ((), ("--dry-run",)):
        result = admin_cli("rules", "import", bad_file, *extra, "--operator", "alice")
        assert result.returncode == 2, result.stderr
        assert f"rules.toml line {bad_line}: group staff lists person {stranger}" in result.stderr
        assert result.stderr.count("\n") == 1
    # A fault in the file itself, found before a password is asked.
    bad_file.write_text(exported.replace('time_zone = "Europe/Berlin"', 'time_zone = "Berlin"'))
    zone_line = bad_file.read_text().splitlines().index('time_zone = "Berlin"') + 1
    result = admin_cli("rules", "import", bad_file, "--operator", "alice", password=None)
    assert result.returncode == 2, result.stderr
    assert f"rules.toml line {zone_line}: door front: time zone 'Berlin'" in result.stderr
    assert rules.rule_set(actor=alice) == before
    assert imports(db_engine) == imported


def test_export_then_import_gives_the_same_rules(
    admin_cli: Cli,
    alice: Operator,
    ada: uuid.UUID,
    rules: SqlRulesStore,
    db_engine: Engine,
    tmp_path: Path,
) -> None:
    before = rules.rule_set(actor=alice)
    out = tmp_path / "exported" / "rules.toml"
    out.parent.mkdir()
    written = as_json(admin_cli("rules", "export", "--out", out, "--operator", "alice", "--json"))
    assert written["groups"] == 2
    assert written["memberships"] == 1
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert read_rules_file(out.read_text()).rules == before
    imported = imports(db_engine)

    change = as_json(admin_cli("rules", "import", out, "--operator", "alice", "--json"))
    assert change["applied"] is True
    assert sum(change["added"].values()) + sum(change["changed"].values()) == 0
    assert sum(change["removed"].values()) == 0
    assert (change["members_added"], change["members_removed"]) == (0, 0)
    assert rules.rule_set(actor=alice) == before
    assert imports(db_engine) == imported + 1
    # Printed, the export is the file: a site's copy under version control has no diff.
    printed = admin_cli("rules", "export", "--operator", "alice")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == out.read_text()


def test_an_import_applies_a_change_in_one_audited_step_and_a_dry_run_stores_nothing(
    admin_cli: Cli,
    alice: Operator,
    ada: uuid.UUID,
    identity_store: SqlIdentityStore,
    rules: SqlRulesStore,
    db_engine: Engine,
    tmp_path: Path,
) -> None:
    bea = enroll(identity_store, alice, "Bea")
    exported = as_json(admin_cli("rules", "export", "--operator", "alice", "--json"))["text"]
    changed = exported.replace('"08:00-18:00"', '"07:00-19:00"').replace(
        f'members = ["{ada}"]', f'members = ["{ada}", "{bea}"]'
    )
    path = tmp_path / "rules.toml"
    path.write_text(changed)
    before = rules.rule_set(actor=alice)
    imported = imports(db_engine)

    dry = as_json(admin_cli("rules", "import", path, "--dry-run", "--operator", "alice", "--json"))
    assert dry["dry_run"] is True
    assert dry["changed"]["schedule"] == 1
    assert dry["members_added"] == 1
    assert rules.rule_set(actor=alice) == before
    assert imports(db_engine) == imported

    done = admin_cli("rules", "import", path, "--operator", "alice")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rules imported: changed 1 schedule")
    after = rules.rule_set(actor=alice)
    assert after.members["staff"] == {ada, bea}
    assert next(s for s in after.schedules if s.name == "office hours").week[Weekday.MON] == (
        TimeRange.parse("07:00-19:00"),
    )
    assert imports(db_engine) == imported + 1
    event = as_json(
        admin_cli("audit", "--action", "rules.imported", "--operator", "alice", "--json")
    )["events"][0]  # the newest
    assert event["details"]["members_added"] == 1
    assert event["details"]["changed"]["schedule"] == 1


def test_the_complete_example_in_the_docs_imports_as_written(
    admin_cli: Cli, alice: Operator, rules: SqlRulesStore, db_engine: Engine, tmp_path: Path
) -> None:
    example = doc_example()
    wanted = read_rules_file(example).rules
    people = {person for members in wanted.members.values() for person in members}
    with db_engine.begin() as connection:  # the two people the example names, enrolled
        for person in people:
            connection.execute(
                text("INSERT INTO people (id, display_name) VALUES (:id, 'Someone')"),
                {"id": person},
            )
    path = tmp_path / "example.toml"
    path.write_text(example)
    result = admin_cli("rules", "import", path, "--operator", "alice", "--json")
    stored = rules.rule_set(actor=alice)
    assert as_json(result)["added"]["group"] == len(wanted.groups)

    def by_name(items: tuple[object, ...], key: str) -> dict[str, object]:
        return {getattr(item, key): item for item in items}

    assert by_name(stored.doors, "kiosk_id") == by_name(wanted.doors, "kiosk_id")
    assert by_name(stored.schedules, "name") == by_name(wanted.schedules, "name")
    assert by_name(stored.calendars, "name") == by_name(wanted.calendars, "name")
    assert by_name(stored.groups, "name") == by_name(wanted.groups, "name")
    assert stored.members == wanted.members


def test_rules_check_explains_without_recording_a_decision(
    admin_cli: Cli, ada: uuid.UUID, db_engine: Engine
) -> None:
    decisions = count(db_engine, "SELECT count(*) FROM access_events")

    def check(at: str, *more: str) -> subprocess.CompletedProcess[str]:
        args = ("--person", str(ada), "--door", "front", "--at", at, "--operator", "alice")
        return admin_cli("rules", "check", *args, *more)

    allowed = check(TUESDAY_9, "--json")
    assert allowed.returncode == 0, allowed.stderr
    answer = json.loads(allowed.stdout)
    assert answer["allowed"] is True
    assert answer["reason"] is None
    assert answer["door"] == "front"
    assert answer["local_time"] == "2026-12-01T09:00:00+01:00"
    assert answer["group"] == "staff"
    assert answer["holiday"] is None

    refused = check(TUESDAY_22, "--json")
    assert refused.returncode == 4
    assert refused.stderr == ""
    answer = json.loads(refused.stdout)
    assert answer["allowed"] is False
    assert answer["reason"] == "outside_schedule"
    assert answer["local_time"] == "2026-12-01T22:00:00+01:00"
    assert answer["screen"] == "not allowed at this time"
    assert answer["groups"] == [
        {
            "group": "staff",
            "schedule": "office hours",
            "holiday_schedule": None,
            "ranges": ["08:00-18:00"],
        }
    ]
    said = check(TUESDAY_22)
    assert said.returncode == 4
    assert said.stdout.startswith("refused at front (Front door), Tue 2026-12-01 22:00 CET")
    assert "group staff: office hours, that day 08:00-18:00" in said.stdout

    # An offset says whose clock: 08:30 UTC is 09:30 at the Berlin door.
    utc = json.loads(check("2026-12-01T08:30+00:00", "--json").stdout)
    assert (utc["allowed"], utc["local_time"]) == (True, "2026-12-01T09:30:00+01:00")
    holiday = json.loads(check("2026-12-28T09:00", "--json").stdout)  # a site closure
    assert (holiday["reason"], holiday["holiday"]) == ("holiday", "site closure")
    assert count(db_engine, "SELECT count(*) FROM access_events") == decisions

    unknown_door = admin_cli(
        "rules", "check", "--person", str(ada), "--door", "nowhere", "--operator", "alice"
    )
    assert unknown_door.returncode == 5
    assert "no door 'nowhere'" in unknown_door.stderr
    nobody = admin_cli(
        "rules", "check", "--person", str(uuid.uuid4()), "--door", "front", "--operator", "alice"
    )
    assert nobody.returncode == 5


def test_rules_check_refuses_first_for_a_door_reported_locked_down(
    admin_cli: Cli, ada: uuid.UUID, db_engine: Engine
) -> None:
    SqlDoorCommands(db_engine).report(
        DoorReport(
            kiosk_id="front",
            adapter="simulated",
            unlocked=False,
            door_open=None,
            lockdown=True,
            alarms=(),
            fault=None,
        )
    )
    result = admin_cli(
        "rules",
        "check",
        *("--person", str(ada), "--door", "front", "--at", TUESDAY_9, "--operator", "alice"),
        "--json",
    )
    assert result.returncode == 4
    answer = json.loads(result.stdout)
    assert (answer["reason"], answer["lockdown"], answer["rules_reason"]) == (
        "lockdown",
        True,
        None,
    )


def test_people_access_shows_and_changes_groups_and_validity(
    admin_cli: Cli, ada: uuid.UUID, db_engine: Engine
) -> None:
    def access(*options: str) -> subprocess.CompletedProcess[str]:
        return admin_cli("people", "access", str(ada), *options, "--operator", "alice", "--json")

    assert as_json(access()) == {
        "person_id": str(ada),
        "groups": ["staff"],
        "valid_from": None,
        "valid_until": None,
    }
    assert as_json(access("--groups", "staff,everyone"))["groups"] == ["everyone", "staff"]
    assert as_json(access("--valid-until", "2027-01-31"))["valid_until"] == "2027-01-31"
    # One end set, the other kept.
    both = as_json(access("--valid-from", "2027-01-04"))
    assert (both["valid_from"], both["valid_until"]) == ("2027-01-04", "2027-01-31")
    late = access("--valid-from", "2027-02-01")
    assert late.returncode == 2
    assert "give the first day, then the last" in late.stderr
    assert as_json(access())["valid_from"] == "2027-01-04"
    open_ended = as_json(access("--no-end", "--no-groups"))
    assert (open_ended["valid_until"], open_ended["groups"]) == (None, [])
    assert access("--groups", "nobody").returncode == 5
    assert access("--groups", "staff", "--no-groups").returncode == 2
    listed = admin_cli("people", str(ada), "--operator", "alice")
    assert listed.returncode == 2  # a person id without "access"
    changes = count(
        db_engine, "SELECT count(*) FROM audit_events WHERE action = 'person.access_changed'"
    )
    assert changes == 4


def test_doors_are_listed_renamed_and_set(
    admin_cli: Cli, ada: uuid.UUID, db_engine: Engine
) -> None:
    listed = as_json(admin_cli("doors", "list", "--operator", "alice", "--json"))["doors"]
    assert [d["kiosk_id"] for d in listed] == ["front", "lab"]
    renamed = as_json(
        admin_cli("doors", "rename", "front", "Main  entrance", "--operator", "alice", "--json")
    )
    assert renamed["name"] == "Main entrance"
    changed = as_json(
        admin_cli(
            "doors",
            "set",
            "lab",
            *("--time-zone", "Europe/Berlin", "--calendar", "bavaria", "--mode", "face_and_pin"),
            *("--operator", "alice", "--json"),
        )
    )
    assert changed == {
        "kiosk_id": "lab",
        "name": "Lab",
        "time_zone": "Europe/Berlin",
        "calendar": "bavaria",
        "mode": "face_and_pin",
    }
    cleared = as_json(
        admin_cli("doors", "set", "lab", "--no-calendar", "--operator", "alice", "--json")
    )
    assert cleared["calendar"] is None
    bad_zone = admin_cli(
        "doors", "set", "lab", "--time-zone", "Mars/Olympus", "--operator", "alice"
    )
    assert bad_zone.returncode == 2
    assert "not an IANA time zone" in bad_zone.stderr
    assert (
        admin_cli("doors", "set", "lab", "--calendar", "x", "--operator", "alice").returncode == 5
    )
    assert admin_cli("doors", "set", "lab", "--operator", "alice").returncode == 2
    assert admin_cli("doors", "rename", "nowhere", "X", "--operator", "alice").returncode == 5
    changes = count(db_engine, "SELECT count(*) FROM audit_events WHERE action = 'door.changed'")
    assert changes == 3


def test_the_access_log_shows_each_refusals_rule(
    admin_cli: Cli, ada: uuid.UUID, identity_store: SqlIdentityStore
) -> None:
    for refusal in (Refusal.OUTSIDE_SCHEDULE, None):
        outcome = AccessOutcome.GRANTED if refusal is None else AccessOutcome.REFUSED
        decision = access_decision(
            kiosk_id="front", outcome=outcome, latency_ms=10.0, refusal=refusal
        )
        identity_store.record_access(replace(decision, person_id=ada, similarity=0.7))
    events = as_json(admin_cli("access-log", "--operator", "alice", "--json"))["events"]
    assert sorted((e["outcome"], e["refusal"]) for e in events) == [
        ("granted", None),
        ("refused", "outside_schedule"),
    ]
    refused = admin_cli("access-log", "--outcome", "refused", "--operator", "alice")
    assert refused.returncode == 0, refused.stderr
    header, line = refused.stdout.splitlines()  # headed columns, then the one refusal
    assert header.split()[:4] == ["TIME", "KIOSK", "OUTCOME", "REFUSED"]
    assert "  front  refused  outside_schedule  " in line


def test_a_visitor_enrolled_without_an_end_may_pass_the_configured_days(
    admin_cli: Cli, tmp_path: Path, yaoming_jpg: Path
) -> None:
    zone = ZoneInfo("Pacific/Kiritimati")  # UTC+14: "today" is this kiosk's, not UTC's
    (tmp_path / "kiosk.toml").write_text(
        '[rules]\nvisitor_valid_days = 3\ntime_zone = "Pacific/Kiritimati"\n'
    )
    first = datetime.now(zone).date()
    enrolled = as_json(
        admin_cli(
            "enroll",
            *("--name", "Visitor", "--image", yaoming_jpg, "--consent", "--visitor"),
            *("--groups", "everyone", "--operator", "alice", "--json"),
        )
    )
    last = datetime.now(zone).date()
    assert enrolled["groups"] == ["everyone"]
    assert enrolled["valid_from"] is None
    ends = {str(day + timedelta(days=2)) for day in (first, last)}
    assert enrolled["valid_until"] in ends
    shown = as_json(
        admin_cli("people", "access", enrolled["person_id"], "--operator", "alice", "--json")
    )
    assert shown["valid_until"] == enrolled["valid_until"]
    assert shown["groups"] == ["everyone"]
