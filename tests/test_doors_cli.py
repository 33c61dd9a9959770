"""Doors on the real database, as an admin changes them: only a place's IANA time
zone is taken (never "localtime" or "Factory"), a door stored with an odd one still
works, and ``door.changed`` records no calendar as null."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from core.access.door_access import DoorAccess
from core.records import Operator
from core.rules.public_holidays import PublicHolidays
from storage.rules_store import SqlRulesStore
from tests.cli_fixtures import as_json

# Each test runs kiosk-admin in processes of its own, on a real server.
pytestmark = pytest.mark.slow

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.parametrize("zone", ["localtime", "Factory", "posixrules", "Berlin"])
def test_a_door_takes_only_a_places_time_zone_and_says_where_to_find_one(
    admin_cli: Cli, ada: uuid.UUID, tmp_path: Path, zone: str
) -> None:
    result = admin_cli(
        "doors", "set", "lab", "--time-zone", zone, "--operator", "alice", password=None
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert f"time zone {zone!r} is not an IANA time zone name of a place" in result.stderr
    assert "timedatectl list-timezones" in result.stderr
    exported = as_json(admin_cli("rules", "export", "--operator", "alice", "--json"))["text"]
    path = tmp_path / "rules.toml"
    path.write_text(exported.replace('time_zone = "America/New_York"', f'time_zone = "{zone}"'))
    line = path.read_text().splitlines().index(f'time_zone = "{zone}"') + 1
    imported = admin_cli("rules", "import", path, "--operator", "alice", password=None)
    assert imported.returncode == 2
    assert f"rules.toml line {line}: door lab: time zone {zone!r}" in imported.stderr
    door = as_json(admin_cli("doors", "list", "--operator", "alice", "--json"))["doors"][1]
    assert (door["kiosk_id"], door["time_zone"]) == ("lab", "America/New_York")


def test_a_door_stored_with_an_odd_zone_still_decides(
    admin_cli: Cli, alice: Operator, ada: uuid.UUID, rules: SqlRulesStore, db_engine: Engine
) -> None:
    """A bad record never stops the door: a zone stored before the stricter check
    (here "Factory", UTC under another name) is read as it is, until an admin sets
    a place's zone."""
    with db_engine.begin() as connection:
        connection.execute(text("UPDATE doors SET time_zone = 'Factory' WHERE kiosk_id = 'lab'"))
    rules.set_person_access(ada, actor=alice, groups=frozenset({"staff", "everyone"}))
    access = DoorAccess(kiosk_id="lab", rules=rules, holidays=PublicHolidays())
    assert access.check(ada) is None  # group "everyone": the lab, always
    listed = as_json(admin_cli("doors", "list", "--operator", "alice", "--json"))["doors"]
    assert ("lab", "Factory") in {(d["kiosk_id"], d["time_zone"]) for d in listed}
    fixed = admin_cli("doors", "set", "lab", "--time-zone", "Etc/UTC", "--operator", "alice")
    assert fixed.returncode == 0, fixed.stderr


def test_door_changed_records_no_calendar_as_null_not_as_a_word(
    admin_cli: Cli, ada: uuid.UUID, db_engine: Engine
) -> None:
    def changed(*options: str) -> None:
        result = admin_cli("doors", "set", "lab", *options, "--operator", "alice")
        assert result.returncode == 0, result.stderr

    changed("--calendar", "bavaria", "--mode", "face_and_pin")
    changed("--no-calendar")
    with db_engine.connect() as connection:
        details = connection.scalars(
            text("SELECT details FROM audit_events WHERE action = 'door.changed' ORDER BY id")
        ).all()
    assert details == [
        {
            "calendar": {"from": None, "to": "bavaria"},
            "mode": {"from": "face", "to": "face_and_pin"},
        },
        {"calendar": {"from": "bavaria", "to": None}},
    ]
    events = as_json(
        admin_cli("audit", "--action", "door.changed", "--operator", "alice", "--json")
    )["events"]
    assert events[0]["details"] == {"calendar": {"from": "bavaria", "to": None}}
