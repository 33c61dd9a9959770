"""The door's steps beyond the rules, on the real database: a lockdown refuses at a
door with no door hardware, and ``kiosk-admin rules check`` answers what the door
would do, the PIN and anti-passback included, without recording anything."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from core.access.door_access import DoorAccess
from core.access.door_commands import DoorCommandKind
from core.access.door_pin import DoorPins, PinVerdict
from core.people.pins import PinKind, PinService
from core.records import Operator, Refusal
from core.rules.model import ALWAYS, AccessGroup, AntiPassbackArea, Door, DoorMode
from core.rules.public_holidays import PublicHolidays
from core.rules.rule_set import RuleSet
from core.settings import SecuritySettings
from storage.area_presence import SqlAreaPresence
from storage.door_commands import SqlDoorCommands
from storage.identity_store import SqlIdentityStore
from storage.kiosk_registry import register_kiosk
from storage.pin_store import SqlPinStore
from storage.rules_store import SqlRulesStore
from tests.rules_cli_fixtures import enroll

# Each test runs kiosk-admin in processes of its own, on a real server.
pytestmark = pytest.mark.slow

Cli = Callable[..., subprocess.CompletedProcess[str]]
POLICY = SecuritySettings(pin_bcrypt_rounds=8)
PIN = "24681357"


@pytest.fixture
def ada(identity_store: SqlIdentityStore, alice: Operator, rules: SqlRulesStore) -> uuid.UUID:
    """Ada, in group staff at every door at all times; the hall is entered through the
    front door (a face-and-PIN door) and left through the back door, hard mode."""
    person = enroll(identity_store, alice, "Ada")
    rules.apply_rule_set(
        RuleSet(
            doors=(
                Door("front", "Front door", "Europe/Berlin", mode=DoorMode.FACE_AND_PIN),
                Door("back", "Back door", "Europe/Berlin"),
            ),
            schedules=(ALWAYS,),
            groups=(AccessGroup("staff", "always", all_doors=True),),
            members={"staff": frozenset({person})},
            areas=(AntiPassbackArea("hall", frozenset({"front"}), frozenset({"back"})),),
        ),
        actor=alice,
        dry_run=False,
    )
    return person


def count(engine: Engine, sql: str) -> int:
    with engine.connect() as connection:
        found = connection.scalar(text(sql))
    assert isinstance(found, int)
    return found


def test_a_lockdown_refuses_at_a_door_without_door_hardware(
    admin_cli: Cli, alice: Operator, ada: uuid.UUID, rules: SqlRulesStore, db_engine: Engine
) -> None:
    register_kiosk(db_engine, "back", "Back door", "test")
    # A kiosk with door_io.adapter none: no door controller holds a lockdown for it.
    access = DoorAccess(kiosk_id="back", rules=rules, holidays=PublicHolidays())
    assert access.check(ada) is None
    commands = SqlDoorCommands(db_engine)
    commands.request(
        actor=alice, kiosk_id="back", kind=DoorCommandKind.LOCKDOWN, reason="drill", seconds=None
    )
    assert access.check(ada) is Refusal.LOCKDOWN
    # rules check reads the same lockdown, with no door report to go by.
    checked = admin_cli(
        "rules", "check", "--person", str(ada), "--door", "back", "--operator", "alice", "--json"
    )
    assert checked.returncode == 4, checked.stderr
    answer = json.loads(checked.stdout)
    assert (answer["reason"], answer["lockdown"], answer["rules_reason"]) == (
        "lockdown",
        True,
        None,
    )
    commands.request(
        actor=alice, kiosk_id="back", kind=DoorCommandKind.RELEASE, reason="over", seconds=None
    )
    assert access.check(ada) is None


def test_rules_check_answers_as_the_door_would_with_the_pin_and_anti_passback(
    admin_cli: Cli,
    alice: Operator,
    ada: uuid.UUID,
    rules: SqlRulesStore,
    db_engine: Engine,
) -> None:
    def check(door: str = "front") -> tuple[int, dict[str, object], str]:
        args = ("--person", str(ada), "--door", door, "--operator", "alice")
        as_data = admin_cli("rules", "check", *args, "--json")
        said = admin_cli("rules", "check", *args)
        assert as_data.returncode == said.returncode, said.stderr
        return as_data.returncode, json.loads(as_data.stdout), said.stdout

    decisions = count(db_engine, "SELECT count(*) FROM access_events")
    # The rules allow Ada, but she has no PIN: whatever she types is refused.
    code, answer, said = check()
    assert code == 4
    assert (answer["reason"], answer["rules_reason"], answer["pin_required"]) == (
        "pin_wrong",
        None,
        True,
    )
    assert answer["pin"] == {
        "set": False,
        "waits_until": None,
        "refused": "the person has no PIN: any PIN typed is refused",
    }
    assert "PIN: the person has no PIN" in said

    pins = SqlPinStore(db_engine)
    PinService(pins, POLICY).set_pin(alice, ada, PIN, PinKind.PIN)
    code, answer, said = check()
    assert code == 0
    assert answer["allowed"] is True
    assert said.startswith("allowed at front (Front door)")
    assert "then needs their PIN" in said.splitlines()[0]
    assert answer["anti_passback"] == [
        {"area": "hall", "action": "pass", "inside_since": None, "entered_through": None}
    ]

    # Ada goes in through the front door: a second entry is refused until she exits.
    presence = SqlAreaPresence(db_engine)
    entered = datetime.now(UTC)
    presence.pass_door(ada, "front", entered, Door("front", "Front", "Europe/Berlin").zone)
    code, answer, said = check()
    assert code == 4
    assert answer["reason"] == "anti_passback"
    (hall,) = answer["anti_passback"]  # type: ignore[misc]
    assert (hall["area"], hall["action"], hall["entered_through"]) == ("hall", "refuse", "front")
    assert "anti-passback: area hall: already inside since" in said
    assert "(through front): refused (hard)" in said
    exit_code, exit_answer, _ = check("back")  # the exit is never refused
    assert (exit_code, exit_answer["anti_passback"][0]["action"]) == (0, "pass")  # type: ignore[index]

    presence.pass_door(ada, "back", datetime.now(UTC), Door("back", "Back", "Europe/Berlin").zone)
    assert check()[0] == 0
    # Someone with her photo types wrong PINs at the front door: it waits for her there.
    front_pins = DoorPins(store=pins, policy=POLICY, kiosk_id="front", record_audit=lambda _: None)
    for _ in range(POLICY.pin_max_failures):
        assert front_pins.verify(ada, "0000") is PinVerdict.WRONG
    code, answer, said = check()
    assert code == 4
    assert answer["reason"] == "pin_wrong"
    pin = answer["pin"]
    assert isinstance(pin, dict)
    assert pin["set"] is True
    assert pin["waits_until"] is not None
    assert str(pin["refused"]).startswith("PIN entry waits until")
    # Nothing was decided, counted or moved by the checks.
    assert count(db_engine, "SELECT count(*) FROM access_events") == decisions
    inside = count(db_engine, "SELECT count(*) FROM area_presence WHERE inside_since IS NOT NULL")
    assert inside == 0
