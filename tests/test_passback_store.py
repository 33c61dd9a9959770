"""Anti-passback on the real database: areas in the stored rule set, the door's step
serialised across kiosks, a grant that was not recorded withdrawn, and the admin's
view and reset."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.orm import Session

from core.access.door_access import Admission, DoorAccess
from core.errors import NotAllowed, NotFound, StoreBusy, StoreError
from core.records import (
    AccessDecision,
    Candidate,
    ConsentGrant,
    Enrollment,
    NewTemplate,
    Operator,
    Refusal,
    Role,
)
from core.rules.model import AntiPassbackArea, Door, DoorMode, PassbackMode
from core.rules.passback import PassbackAction
from core.rules.public_holidays import PublicHolidays
from core.rules.rule_set import RuleSet
from storage import schema
from storage.area_presence import (
    PASSBACK_ACTION,
    RESET_ACTION,
    SqlAreaPresence,
    areas_at,
    lock_presence,
)
from storage.database import connect
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from storage.rules_store import SqlRulesStore
from tests.cli_fixtures import as_json
from tests.test_door_policy import FRAME, FakeIdentifier, face, make_door, match

BERLIN = ZoneInfo("Europe/Berlin")
RNG = np.random.default_rng(25)
MONDAY_NINE = datetime(2026, 12, 7, 9, 0, tzinfo=BERLIN).astimezone(UTC)
DOORS = ("gate-in", "gate-in-2", "gate-out")
WAIT_S = 20.0
RACE_ROUNDS = 30


def lab(mode: PassbackMode = PassbackMode.HARD) -> AntiPassbackArea:
    return AntiPassbackArea(
        "lab", frozenset({"gate-in", "gate-in-2"}), frozenset({"gate-out"}), mode
    )


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return operator_store.add_first_operator("alice", "bcrypt-sha256$unused", Role.ADMIN)


@pytest.fixture
def rules(db_engine: Engine) -> SqlRulesStore:
    store = SqlRulesStore(db_engine)
    for door in DOORS:
        store.ensure_door(Door(door, door, "Europe/Berlin"))
    return store


@pytest.fixture
def presence(db_engine: Engine) -> SqlAreaPresence:
    return SqlAreaPresence(db_engine)


@pytest.fixture
def two_engines(fresh_database: str) -> Iterator[tuple[Engine, Engine]]:
    """Two kiosks' own connection pools on one database."""
    first, second = connect(fresh_database), connect(fresh_database)
    yield first, second
    first.dispose()
    second.dispose()


@pytest.fixture
def ada(identity_store: SqlIdentityStore, admin: Operator) -> uuid.UUID:
    """Someone in the default group: every door, at all times."""
    return enroll(identity_store, admin, "Ada")


def enroll(store: SqlIdentityStore, witness: Operator, name: str) -> uuid.UUID:
    vector = RNG.standard_normal(512)
    unit = (vector / np.linalg.norm(vector)).astype(np.float32)
    return store.enroll(
        Enrollment(
            display_name=name,
            external_ref=None,
            consent=ConsentGrant("v1", "ab" * 32, witness),
            templates=(NewTemplate(unit, "m", 0.9),),
        )
    )


def with_areas(rules: SqlRulesStore, admin: Operator, *areas: AntiPassbackArea) -> RuleSet:
    current = rules.rule_set(actor=admin)
    wanted = replace(current, areas=areas)
    rules.apply_rule_set(wanted, actor=admin, dry_run=False)
    return wanted


def door_access(
    rules: SqlRulesStore, presence: SqlAreaPresence, kiosk_id: str, now: Callable[[], datetime]
) -> DoorAccess:
    return DoorAccess(
        kiosk_id=kiosk_id, rules=rules, holidays=PublicHolidays(), presence=presence, now=now
    )


def audited(engine: Engine, action: str) -> list[schema.AuditEvent]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(schema.AuditEvent)
                .where(schema.AuditEvent.action == action)
                .order_by(schema.AuditEvent.id)
            )
        )


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


# --- areas in the rule set ----------------------------------------------------------------------


def test_areas_are_stored_with_the_rules_counted_and_keep_who_is_inside(
    rules: SqlRulesStore, presence: SqlAreaPresence, admin: Operator, ada: uuid.UUID
) -> None:
    current = rules.rule_set(actor=admin)
    change = rules.apply_rule_set(replace(current, areas=(lab(),)), actor=admin, dry_run=False)
    assert change.added["area"] == 1
    assert rules.rule_set(actor=admin).areas == (lab(),)

    presence.pass_door(ada, "gate-in", MONDAY_NINE, BERLIN)
    # The same rules again, then the area softened: Ada stays inside.
    again = rules.apply_rule_set(replace(current, areas=(lab(),)), actor=admin, dry_run=False)
    assert (again.added["area"], again.changed["area"], again.removed["area"]) == (0, 0, 0)
    soft = lab(PassbackMode.SOFT)
    change = rules.apply_rule_set(replace(current, areas=(soft,)), actor=admin, dry_run=False)
    assert change.changed["area"] == 1
    assert rules.rule_set(actor=admin).areas == (soft,)
    assert [p.person_id for p in presence.inside("lab", actor=admin, at=MONDAY_NINE)] == [ada]

    # An area the rules leave out goes, with its presence; made again, it starts empty.
    dropped = rules.apply_rule_set(current, actor=admin, dry_run=False)
    assert dropped.removed["area"] == 1
    assert rules.rule_set(actor=admin).areas == ()
    rules.apply_rule_set(replace(current, areas=(lab(),)), actor=admin, dry_run=False)
    assert presence.inside("lab", actor=admin, at=MONDAY_NINE) == []


# --- the door's step ----------------------------------------------------------------------------


def test_hard_mode_refuses_a_second_entry_until_an_exit_or_local_midnight(
    rules: SqlRulesStore, presence: SqlAreaPresence, admin: Operator, ada: uuid.UUID
) -> None:
    with_areas(rules, admin, lab())
    now = [MONDAY_NINE]

    def at(kiosk_id: str) -> DoorAccess:
        return door_access(rules, presence, kiosk_id, lambda: now[0])

    assert at("gate-in").check(ada) is None
    assert at("gate-in-2").check(ada) is Refusal.ANTI_PASSBACK
    assert at("gate-in").check(ada) is Refusal.ANTI_PASSBACK
    assert at("gate-out").check(ada) is None
    assert at("gate-out").check(ada) is None  # an exit without an entry passes
    assert at("gate-in-2").check(ada) is None
    (inside,) = presence.inside("lab", actor=admin, at=now[0])
    assert (inside.person_id, inside.door, inside.inside_since) == (ada, "gate-in-2", now[0])
    # Local midnight in Berlin resets the entry; a second before, it still counts.
    midnight = datetime(2026, 12, 8, tzinfo=BERLIN).astimezone(UTC)
    assert inside.counts_until == midnight
    now[0] = midnight - timedelta(seconds=1)
    assert at("gate-in").check(ada) is Refusal.ANTI_PASSBACK
    now[0] = midnight
    assert at("gate-in").check(ada) is None


def test_soft_mode_grants_a_second_entry_and_audits_it(
    rules: SqlRulesStore,
    presence: SqlAreaPresence,
    admin: Operator,
    ada: uuid.UUID,
    db_engine: Engine,
) -> None:
    with_areas(rules, admin, lab(PassbackMode.SOFT))
    first, second = MONDAY_NINE, MONDAY_NINE + timedelta(minutes=5)
    assert door_access(rules, presence, "gate-in", lambda: first).check(ada) is None
    assert audited(db_engine, PASSBACK_ACTION) == []
    assert door_access(rules, presence, "gate-in-2", lambda: second).check(ada) is None
    (event,) = audited(db_engine, PASSBACK_ACTION)
    assert event.target == "gate-in-2"
    assert event.details == {
        "at": second.isoformat(),
        "person_id": str(ada),
        "area": "lab",
        "entered_at": first.isoformat(),
        "entered_through": "gate-in",
    }
    # The second entry is the one that counts now.
    (inside,) = presence.inside("lab", actor=admin, at=second)
    assert (inside.door, inside.inside_since) == ("gate-in-2", second)


def test_the_rules_refuse_before_the_area_is_touched(
    rules: SqlRulesStore, presence: SqlAreaPresence, admin: Operator, ada: uuid.UUID
) -> None:
    current = with_areas(rules, admin, lab())
    rules.apply_rule_set(replace(current, members={}), actor=admin, dry_run=False)
    access = door_access(rules, presence, "gate-in", lambda: MONDAY_NINE)
    assert access.check(ada) is Refusal.NO_GROUP_FOR_DOOR
    assert presence.inside("lab", actor=admin, at=MONDAY_NINE) == []


def race_in(
    kiosks: tuple[SqlAreaPresence, SqlAreaPresence], person: uuid.UUID, moment: datetime
) -> dict[str, PassbackAction | BaseException]:
    """Two kiosks pass ``person`` through their entry doors at the same moment."""
    start = threading.Barrier(2, timeout=WAIT_S)
    results: dict[str, PassbackAction | BaseException] = {}

    def enter(store: SqlAreaPresence, door: str) -> None:
        start.wait()
        try:
            (passage,) = store.pass_door(person, door, moment, BERLIN).verdict.passages
            results[door] = passage.action
        except BaseException as error:  # noqa: BLE001 - reported by the caller's assertion
            results[door] = error

    threads = [
        threading.Thread(target=enter, args=(kiosks[0], "gate-in")),
        threading.Thread(target=enter, args=(kiosks[1], "gate-in-2")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    return results


def test_two_kiosks_racing_one_person_in_grant_exactly_one_entry(
    rules: SqlRulesStore,
    admin: Operator,
    ada: uuid.UUID,
    two_engines: tuple[Engine, Engine],
    db_engine: Engine,
) -> None:
    """Two threads, each with its own pool: the kiosk's own threads and a second kiosk."""
    with_areas(rules, admin, lab())
    kiosks = (SqlAreaPresence(two_engines[0]), SqlAreaPresence(two_engines[1]))
    for day in range(RACE_ROUNDS):
        # A day apart: the daily reset clears the round before. The first round
        # makes the presence row; the others find it.
        moment = MONDAY_NINE + timedelta(days=day)
        results = race_in(kiosks, ada, moment)
        assert sorted(str(r) for r in results.values()) == ["pass", "refuse"], (day, results)
        assert len(SqlAreaPresence(db_engine).inside("lab", actor=admin, at=moment)) == 1


@pytest.fixture
def racers(fresh_database: str, ada: uuid.UUID) -> Iterator[list[subprocess.Popen[str]]]:
    """Two kiosk processes, one at each entry door, each answering when connected."""
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.passback_racer", fresh_database, door, str(ada)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parent.parent,
        )
        for door in ("gate-in", "gate-in-2")
    ]
    try:
        for racer in started:
            assert racer.stdout is not None
            assert "ready" in json.loads(racer.stdout.readline())
        yield started
    finally:
        for racer in started:
            assert racer.stdin is not None
            racer.stdin.close()
            racer.wait(WAIT_S)


def test_two_kiosk_processes_racing_one_person_in_grant_exactly_one_entry(
    rules: SqlRulesStore,
    admin: Operator,
    ada: uuid.UUID,
    racers: list[subprocess.Popen[str]],
    db_engine: Engine,
) -> None:
    """Two processes on two cores: nothing in common but the database."""
    with_areas(rules, admin, lab())
    for day in range(RACE_ROUNDS):
        moment = MONDAY_NINE + timedelta(days=day)
        for racer in racers:  # both wait on their stdin: the two lines are the start
            assert racer.stdin is not None
            racer.stdin.write(f"enter {moment.isoformat()}\n")
        for racer in racers:
            assert racer.stdin is not None
            racer.stdin.flush()
        answers = []
        for racer in racers:
            assert racer.stdout is not None
            answers.append(json.loads(racer.stdout.readline()))
        assert sorted(a.get("actions", [a.get("error")])[0] for a in answers) == [
            "pass",
            "refuse",
        ], (day, answers)
        assert len(SqlAreaPresence(db_engine).inside("lab", actor=admin, at=moment)) == 1


def _row_locked_elsewhere(engine: Engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


@pytest.mark.parametrize("first_entry", [True, False])
def test_an_entry_waits_for_another_kiosks_entry_in_progress_and_sees_it(
    rules: SqlRulesStore,
    presence: SqlAreaPresence,
    admin: Operator,
    ada: uuid.UUID,
    db_engine: Engine,
    first_entry: bool,
) -> None:
    """Another kiosk's transaction is held open between its check and its write; the
    door's step must wait for it, then read its entry and refuse."""
    with_areas(rules, admin, lab())
    if not first_entry:
        presence.pass_door(ada, "gate-out", MONDAY_NINE - timedelta(hours=1), BERLIN)
    until = datetime(2026, 12, 8, tzinfo=BERLIN).astimezone(UTC)
    values = {"person": ada, "at": MONDAY_NINE, "until": until}
    other: Connection
    with db_engine.connect() as other:
        area = other.scalar(text("SELECT id FROM areas WHERE name = 'lab'"))
        if first_entry:
            other.execute(
                text(
                    "INSERT INTO area_presence (area_id, person_id, inside_since, counts_until, "
                    "door, passed_at) VALUES (:area, :person, :at, :until, 'gate-in', :at)"
                ),
                {**values, "area": area},
            )
        else:
            other.execute(
                text("SELECT 1 FROM area_presence WHERE person_id = :person FOR UPDATE"), values
            )
        found: list[Refusal | BaseException | None] = []

        def enter() -> None:
            try:
                passage = presence.pass_door(ada, "gate-in-2", MONDAY_NINE, BERLIN)
                found.append(passage.verdict.refusal)
            except BaseException as error:  # noqa: BLE001 - reported by the assertion below
                found.append(error)

        thread = threading.Thread(target=enter)
        thread.start()
        wait_for(lambda: _row_locked_elsewhere(db_engine), "the door to wait for the row")
        assert found == []
        if not first_entry:
            other.execute(
                text(
                    "UPDATE area_presence SET inside_since = :at, counts_until = :until, "
                    "door = 'gate-in', passed_at = :at WHERE person_id = :person"
                ),
                values,
            )
        other.commit()
        thread.join(WAIT_S)
    assert found == [Refusal.ANTI_PASSBACK]


def test_a_kiosk_mid_step_holds_up_only_the_same_person_and_only_so_long(
    rules: SqlRulesStore,
    admin: Operator,
    ada: uuid.UUID,
    identity_store: SqlIdentityStore,
    db_engine: Engine,
) -> None:
    with_areas(rules, admin, lab())
    bob = enroll(identity_store, admin, "Bob")
    quick = SqlAreaPresence(db_engine, lock_wait_ms=100)
    # Another kiosk, stopped between its check and its write for Ada at gate-in.
    with Session(db_engine) as other, other.begin():
        areas = areas_at(other, "gate-in")
        lock_presence(other, ada, [area.id for area in areas])
        with pytest.raises(StoreBusy, match="100 ms"):
            quick.pass_door(ada, "gate-in-2", MONDAY_NINE, BERLIN)
        # Bob, at the same moment, through the same area, does not wait for it.
        assert quick.pass_door(bob, "gate-in-2", MONDAY_NINE, BERLIN).verdict.refusal is None
        other.rollback()
    assert quick.pass_door(ada, "gate-in", MONDAY_NINE, BERLIN).verdict.refusal is None


# --- a grant the door could not record ----------------------------------------------------------


class FailingOnce(FakeIdentifier):
    """Its first record fails as a full spool does (the database was lost meanwhile)."""

    def record(self, decision: AccessDecision) -> None:
        if not getattr(self, "failed", False):
            self.failed = True
            raise StoreError("no space left for the spool")
        super().record(decision)


def test_a_grant_that_was_not_recorded_does_not_count_as_an_entry(
    rules: SqlRulesStore, presence: SqlAreaPresence, admin: Operator, ada: uuid.UUID
) -> None:
    with_areas(rules, admin, lab())
    access = door_access(rules, presence, "gate-in", lambda: MONDAY_NINE)
    person = match(Candidate(ada, "Ada", 0.8))
    door = make_door([(face(),)] * 4, [], access=access)
    door.identifier = FailingOnce([person] * 4)
    door.recognizer._identifier = door.identifier
    door.run(2)
    with pytest.raises(StoreError):
        door.recognizer.process(FRAME)
    assert presence.inside("lab", actor=admin, at=MONDAY_NINE) == []
    # The next frame decides afresh: a grant, not a refusal as a second entry.
    (decision,) = door.decisions(door.run(1))
    assert decision.granted
    assert [p.person_id for p in presence.inside("lab", actor=admin, at=MONDAY_NINE)] == [ada]


def test_a_withdrawal_puts_back_only_what_no_later_passage_changed(
    rules: SqlRulesStore, presence: SqlAreaPresence, admin: Operator, ada: uuid.UUID
) -> None:
    with_areas(rules, admin, lab())
    entry = presence.pass_door(ada, "gate-in", MONDAY_NINE, BERLIN)
    later = MONDAY_NINE + timedelta(hours=1)
    presence.pass_door(ada, "gate-out", later, BERLIN)
    presence.withdraw(entry)  # stale: the exit since must stay
    assert presence.inside("lab", actor=admin, at=later) == []
    again = presence.pass_door(ada, "gate-in", later, BERLIN)
    assert [p.person_id for p in presence.inside("lab", actor=admin, at=later)] == [ada]
    presence.withdraw(again)
    assert presence.inside("lab", actor=admin, at=later) == []


# --- operators ----------------------------------------------------------------------------------


@pytest.fixture
def auditor(operator_store: SqlOperatorStore, admin: Operator) -> Operator:
    return operator_store.add_operator("audrey", "bcrypt-sha256$unused", Role.AUDITOR, admin)


def test_an_admin_clears_a_persons_presence_audited_and_an_auditor_may_only_look(
    rules: SqlRulesStore,
    presence: SqlAreaPresence,
    admin: Operator,
    auditor: Operator,
    ada: uuid.UUID,
    identity_store: SqlIdentityStore,
    db_engine: Engine,
) -> None:
    with_areas(rules, admin, lab())
    bob = enroll(identity_store, admin, "Bob")
    presence.pass_door(ada, "gate-in", MONDAY_NINE, BERLIN)
    presence.pass_door(bob, "gate-in", MONDAY_NINE + timedelta(minutes=1), BERLIN)
    seen = presence.inside("lab", actor=auditor, at=MONDAY_NINE + timedelta(minutes=2))
    assert [p.person_id for p in seen] == [ada, bob]
    with pytest.raises(NotAllowed):
        presence.reset("lab", actor=auditor, at=MONDAY_NINE, person_id=ada)
    with pytest.raises(NotFound, match="no anti-passback area"):
        presence.reset("garage", actor=admin, at=MONDAY_NINE)

    later = MONDAY_NINE + timedelta(minutes=2)
    assert presence.reset("lab", actor=admin, at=later, person_id=ada) == 1
    assert presence.reset("lab", actor=admin, at=later, person_id=ada) == 0
    assert [p.person_id for p in presence.inside("lab", actor=admin, at=later)] == [bob]
    assert door_access(rules, presence, "gate-in", lambda: later).check(ada) is None
    assert presence.reset("lab", actor=admin, at=later) == 2
    assert presence.inside("lab", actor=admin, at=later) == []
    events = audited(db_engine, RESET_ACTION)
    assert [(e.actor, e.target, e.details) for e in events] == [
        ("alice", "lab", {"person_id": str(ada), "cleared": 1}),
        ("alice", "lab", {"person_id": str(ada), "cleared": 0}),
        ("alice", "lab", {"person_id": None, "cleared": 2}),
    ]


def test_kiosk_admin_shows_who_is_inside_and_clears_a_person(
    admin_cli: Callable[..., subprocess.CompletedProcess[str]], db_engine: Engine
) -> None:
    alice = SqlOperatorStore(db_engine).find_operator("alice")
    assert alice is not None
    rules = SqlRulesStore(db_engine)
    for door in DOORS:
        rules.ensure_door(Door(door, door, "Europe/Berlin"))
    with_areas(rules, alice, lab())
    ada = enroll(SqlIdentityStore(db_engine), alice, "Ada")
    SqlAreaPresence(db_engine).pass_door(ada, "gate-in", datetime.now(UTC), BERLIN)

    shown = as_json(admin_cli("areas", "inside", "lab", "--operator", "alice", "--json"))
    assert [(p["person_id"], p["door"]) for p in shown["inside"]] == [(str(ada), "gate-in")]
    cleared = admin_cli("areas", "reset", "lab", "--person", str(ada), "--operator", "alice")
    assert cleared.returncode == 0, cleared.stderr
    assert f"person {ada} now counts as outside lab" in cleared.stdout
    shown = as_json(admin_cli("areas", "inside", "lab", "--operator", "alice", "--json"))
    assert shown["inside"] == []
    (event,) = audited(db_engine, RESET_ACTION)
    assert (event.actor, event.details) == ("alice", {"person_id": str(ada), "cleared": 1})
    unknown = admin_cli("areas", "reset", "garage", "--operator", "alice")
    assert unknown.returncode == 5
    assert "no anti-passback area 'garage'" in unknown.stderr


def test_at_a_pin_door_only_a_right_pin_counts_the_person_inside(
    rules: SqlRulesStore, presence: SqlAreaPresence, admin: Operator, ada: uuid.UUID
) -> None:
    """At a face_and_pin entry, the match alone asks for the PIN and leaves no one
    inside (a wrong PIN must not lock its owner out); the right PIN passes the area."""
    with_areas(rules, admin, lab())
    rules.update_door("gate-in", actor=admin, mode=DoorMode.FACE_AND_PIN)
    gate = door_access(rules, presence, "gate-in", lambda: MONDAY_NINE)
    assert gate.admit(ada) == Admission(None, pin_required=True)
    assert presence.inside("lab", actor=admin, at=MONDAY_NINE) == []
    assert gate.admit(ada) == Admission(None, pin_required=True)  # asked again: no refusal
    assert gate.admit(ada, pin_checked=True) == Admission(None, pin_required=True)
    (inside,) = presence.inside("lab", actor=admin, at=MONDAY_NINE)
    assert inside.person_id == ada
    again = gate.admit(ada, pin_checked=True)
    assert again.refusal is Refusal.ANTI_PASSBACK
