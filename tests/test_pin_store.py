"""People's PINs on the real database: stored hashed, set only by whom may, erased
with the person; the PIN throttle serialised across kiosks; and the face-and-PIN
door end to end over the real rules, PIN store and event log (fake camera)."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from core.access.door import DoorRecognizer
from core.access.door_access import DoorAccess
from core.access.door_pin import DURESS_ACTION, DoorPins, PinVerdict
from core.access.recognition_throttle import RecognitionThrottle
from core.administration.audit import AuditService
from core.errors import InvalidValue, NotAllowed, PinLocked
from core.log_records import LogFilter
from core.people.pin_throttle import PinScope, PinWait
from core.people.pins import PinChange, PinKind, PinService
from core.records import AccessDecision, AccessOutcome, Candidate, Operator, Role
from core.rules.model import Door, DoorMode
from core.rules.public_holidays import PublicHolidays
from core.settings import DoorSettings, QualitySettings, SecuritySettings
from storage.audit_log import DENIED_ACTION, SqlAuditLog
from storage.database import connect
from storage.event_log import ResilientEventLog
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from storage.pin_store import PIN_LOCKED_ACTION, SqlPinStore
from storage.rules_store import SqlRulesStore
from storage.spool import EventSpool, decode, encode, line_of
from storage.spool_bounds import SpoolError
from tests.test_door_policy import FRAME, FakeClock, FakeFaces, FakeIdentifier, face, match
from tests.test_rules_store import enroll

# Eight digits: no chance of meeting them by accident in a hash or an id when the
# tests look for them where they must not be.
PIN = "24681357"
DURESS = "97531864"
POLICY = SecuritySettings(pin_bcrypt_rounds=8, pin_max_failures=3)
KIOSK = "front-door"


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return operator_store.add_first_operator("alice", "bcrypt-sha256$unused", Role.ADMIN)


@pytest.fixture
def pins(db_engine: Engine) -> SqlPinStore:
    return SqlPinStore(db_engine)


@pytest.fixture
def person(identity_store: SqlIdentityStore, admin: Operator) -> uuid.UUID:
    return enroll(identity_store, admin, "Ada")


def pin_row(engine: Engine, person_id: uuid.UUID) -> dict[str, object] | None:
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT * FROM person_pins WHERE person_id = :p"), {"p": person_id}
        ).first()
    return dict(row._mapping) if row is not None else None


def audit_actions(audit_log: SqlAuditLog, admin: Operator, prefix: str) -> list[tuple]:
    """The audit events whose action starts with ``prefix``, oldest first."""
    found = audit_log.audit_events(100, LogFilter(), actor=admin)
    return [(e.action, e.target, e.details) for e in reversed(found) if e.action.startswith(prefix)]


def everything_stored(engine: Engine) -> str:
    """Every row of every table, as text: where a PIN must never be."""
    with engine.connect() as connection:
        tables = connection.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).all()
        return "\n".join(
            str(row)
            for table in tables
            for row in connection.execute(text(f'SELECT * FROM "{table}"'))
        )


def test_a_pin_is_kept_only_as_a_hash_and_audited_without_it(
    db_engine: Engine,
    pins: SqlPinStore,
    person: uuid.UUID,
    admin: Operator,
    audit_log: SqlAuditLog,
) -> None:
    service = PinService(pins, POLICY)
    service.set_pin(admin, person, PIN, PinKind.PIN)
    service.set_pin(admin, person, DURESS, PinKind.DURESS)
    row = pin_row(db_engine, person)
    assert row is not None
    assert str(row["pin_hash"]).startswith("bcrypt-sha256$")
    assert str(row["duress_hash"]).startswith("bcrypt-sha256$")
    assert row["pin_hash"] != row["duress_hash"]
    assert PIN not in everything_stored(db_engine)
    assert DURESS not in everything_stored(db_engine)
    assert audit_actions(audit_log, admin, "person.pin") == [
        ("person.pin_set", str(person), {"kind": "pin", "unlocked": False}),
        ("person.pin_set", str(person), {"kind": "duress"}),
    ]


def test_a_duress_pin_that_is_the_pin_clears_the_pin_so_the_answer_opens_nothing(
    db_engine: Engine,
    pins: SqlPinStore,
    person: uuid.UUID,
    admin: Operator,
    audit_log: SqlAuditLog,
) -> None:
    """Whoever sets a duress PIN must not learn the PIN by trying it: a clash is told,
    but the PIN it matched is cleared with it, and audited (finding 6)."""
    service = PinService(pins, POLICY)
    door = DoorPins(store=pins, policy=POLICY, kiosk_id=KIOSK, record_audit=lambda _: None)
    with pytest.raises(NotAllowed, match="PIN before their duress PIN"):
        service.set_pin(admin, person, DURESS, PinKind.DURESS)
    service.set_pin(admin, person, PIN, PinKind.PIN)
    with pytest.raises(InvalidValue, match="must differ from the PIN") as refused:
        service.set_pin(admin, person, PIN, PinKind.DURESS)
    assert PIN not in str(refused.value)
    assert "cleared" in str(refused.value)
    row = pin_row(db_engine, person)
    assert row is not None
    assert (row["pin_hash"], row["duress_hash"]) == (None, None)
    assert door.verify(person, PIN) is PinVerdict.WRONG  # what was learnt opens nothing
    assert audit_actions(audit_log, admin, "person.pin_cleared") == [
        (
            "person.pin_cleared",
            str(person),
            {"kind": "pin", "had_one": True, "reason": "duress_pin_was_pin"},
        )
    ]
    # A new PIN that is the duress PIN replaces it: the duress PIN is gone, not told.
    assert service.set_pin(admin, person, PIN, PinKind.PIN) is PinChange.SET
    assert service.set_pin(admin, person, DURESS, PinKind.DURESS) is PinChange.SET
    assert service.set_pin(admin, person, DURESS, PinKind.PIN) is PinChange.DURESS_CLEARED
    row = pin_row(db_engine, person)
    assert row is not None
    assert row["pin_hash"] is not None
    assert row["duress_hash"] is None
    assert door.verify(person, DURESS) is PinVerdict.RIGHT  # now the PIN, raising no alarm
    assert door.verify(person, PIN) is PinVerdict.WRONG
    with pytest.raises(InvalidValue, match="4 to 8 digits") as malformed:
        service.set_pin(admin, person, "12ab", PinKind.PIN)
    assert "12ab" not in str(malformed.value)
    service.set_pin(admin, person, PIN, PinKind.DURESS)
    assert service.clear_pin(admin, person, PinKind.PIN) is True
    row = pin_row(db_engine, person)
    assert row is not None
    assert (row["pin_hash"], row["duress_hash"]) == (None, None)  # the duress PIN went too
    assert service.clear_pin(admin, person, PinKind.DURESS) is False


def test_enrollers_set_pins_only_for_whom_they_enrolled_and_auditors_never(
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    pins: SqlPinStore,
    admin: Operator,
    audit_log: SqlAuditLog,
) -> None:
    bob = operator_store.add_operator("bob", "bcrypt-sha256$unused", Role.ENROLLER, actor=admin)
    carol = operator_store.add_operator("carol", "bcrypt-sha256$unused", Role.ENROLLER, actor=admin)
    dave = operator_store.add_operator("dave", "bcrypt-sha256$unused", Role.AUDITOR, actor=admin)
    bobs = enroll(identity_store, bob, "Bea")
    service = PinService(pins, POLICY)
    service.set_pin(bob, bobs, PIN, PinKind.PIN)
    with pytest.raises(NotAllowed, match="only for the people they enrolled"):
        service.set_pin(carol, bobs, "1111", PinKind.PIN)
    with pytest.raises(NotAllowed, match="may not"):
        service.set_pin(dave, bobs, "1111", PinKind.PIN)
    with pytest.raises(NotAllowed):
        service.clear_pin(carol, bobs, PinKind.PIN)
    denials = audit_log.audit_events(10, LogFilter(action=DENIED_ACTION), actor=admin)
    assert {(d.actor, d.target) for d in denials} == {
        ("carol", "assign_access"),
        ("dave", "assign_access"),
    }
    attempt = pins.reserve_pin_attempt(bobs, KIOSK, POLICY)  # Bob's PIN stayed as he set it
    assert attempt.hashes.pin is not None


def door_failures(engine: Engine, person_id: uuid.UUID) -> dict[str, tuple[int, int]]:
    """Each door's (failures, waits) for ``person_id``."""
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT kiosk_id, failures, locks FROM pin_door_failures WHERE person_id = :p"),
            {"p": person_id},
        ).all()
    return {kiosk: (failures, locks) for kiosk, failures, locks in rows}


def test_wrong_pins_at_one_door_make_it_wait_there_while_the_person_passes_another(
    db_engine: Engine,
    pins: SqlPinStore,
    person: uuid.UUID,
    admin: Operator,
    audit_log: SqlAuditLog,
) -> None:
    """Someone holding the person's photo types wrong PINs at one door: that door
    waits, the person's right PIN at another door still opens it (finding 7)."""
    PinService(pins, POLICY).set_pin(admin, person, PIN, PinKind.PIN)
    waits: list[PinWait] = []
    guessed_at = DoorPins(
        store=pins, policy=POLICY, kiosk_id=KIOSK, record_audit=lambda _: None, on_wait=waits.append
    )
    back_door = DoorPins(
        store=pins, policy=POLICY, kiosk_id="back-door", record_audit=lambda _: None
    )
    assert guessed_at.verify(person, "0000") is PinVerdict.WRONG
    assert guessed_at.verify(person, PIN) is PinVerdict.RIGHT
    assert pin_row(db_engine, person)["failures"] == 0  # type: ignore[index]
    assert door_failures(db_engine, person) == {}
    for _ in range(POLICY.pin_max_failures):
        assert guessed_at.verify(person, "0000") is PinVerdict.WRONG
    assert guessed_at.verify(person, PIN) is PinVerdict.LOCKED  # right, but not even checked
    with pytest.raises(PinLocked, match="waits 30 s at this door"):
        pins.reserve_pin_attempt(person, KIOSK, POLICY)
    assert door_failures(db_engine, person) == {KIOSK: (POLICY.pin_max_failures, 1)}
    assert waits == [PinWait(PinScope.DOOR, POLICY.pin_base_lock_s)]  # the alert
    assert audit_actions(audit_log, admin, PIN_LOCKED_ACTION) == [
        (
            PIN_LOCKED_ACTION,
            str(person),
            {
                "kiosk": KIOSK,
                "scope": "door",
                "failures": POLICY.pin_max_failures,
                "seconds": POLICY.pin_base_lock_s,
            },
        )
    ]
    # The person, at another door, is not kept out; their right PIN starts every count again.
    assert back_door.verify(person, PIN) is PinVerdict.RIGHT
    assert door_failures(db_engine, person) == {}
    assert guessed_at.verify(person, PIN) is PinVerdict.RIGHT


def test_wrong_pins_at_all_doors_together_make_every_door_wait(
    db_engine: Engine,
    pins: SqlPinStore,
    person: uuid.UUID,
    admin: Operator,
    audit_log: SqlAuditLog,
) -> None:
    """Walking from door to door buys a guesser pin_person_max_failures PINs in all,
    then every door waits, each further wait twice as long."""
    PinService(pins, POLICY).set_pin(admin, person, PIN, PinKind.PIN)
    limit = POLICY.pin_person_max_failures
    for guess in range(limit):
        door = f"door-{guess // POLICY.pin_max_failures}"  # each door's limit, then the next
        verdict = DoorPins(
            store=pins, policy=POLICY, kiosk_id=door, record_audit=lambda _: None
        ).verify(person, "0000")
        assert verdict is PinVerdict.WRONG
    fresh = DoorPins(store=pins, policy=POLICY, kiosk_id="door-new", record_audit=lambda _: None)
    assert fresh.verify(person, PIN) is PinVerdict.LOCKED
    with pytest.raises(PinLocked, match="at every door"):
        pins.reserve_pin_attempt(person, "door-new", POLICY)
    row = pin_row(db_engine, person)
    assert row is not None
    assert (row["failures"], row["locks"]) == (limit, 1)
    person_waits = [
        details
        for _, _, details in audit_actions(audit_log, admin, PIN_LOCKED_ACTION)
        if details["scope"] == "person"
    ]
    assert person_waits == [
        {"kiosk": "door-3", "scope": "person", "failures": limit, "seconds": 30}
    ]


def test_pins_typed_at_two_kiosks_at_once_get_no_more_checks_than_each_doors_limit(
    fresh_database: str, db_engine: Engine, pins: SqlPinStore, person: uuid.UUID, admin: Operator
) -> None:
    """The counts and their check are one serialised step on the person's rows: forty
    PINs from two kiosks' stores, all started together, reserve exactly each door's
    limit."""
    PinService(pins, POLICY).set_pin(admin, person, PIN, PinKind.PIN)
    other_engine = connect(fresh_database)
    kiosks = [SqlPinStore(db_engine), SqlPinStore(other_engine)]
    guesses = 40
    start = threading.Barrier(guesses)

    def guess(number: int) -> str:
        store = kiosks[number % 2]
        start.wait(30)
        try:
            store.reserve_pin_attempt(person, f"door-{number % 2}", POLICY)
        except PinLocked:
            return "locked"
        return "counted"

    try:
        with ThreadPoolExecutor(guesses) as pool:
            outcomes = list(pool.map(guess, range(guesses)))
    finally:
        other_engine.dispose()
    limit = POLICY.pin_max_failures
    assert outcomes.count("counted") == 2 * limit
    assert outcomes.count("locked") == guesses - 2 * limit
    row = pin_row(db_engine, person)
    assert row is not None
    assert (row["failures"], row["locks"]) == (2 * limit, 0)
    assert door_failures(db_engine, person) == {"door-0": (limit, 1), "door-1": (limit, 1)}


@pytest.mark.parametrize("erase", ["delete", "withdraw"])
def test_a_persons_pins_are_erased_with_them(
    db_engine: Engine,
    identity_store: SqlIdentityStore,
    pins: SqlPinStore,
    person: uuid.UUID,
    admin: Operator,
    erase: str,
) -> None:
    PinService(pins, POLICY).set_pin(admin, person, PIN, PinKind.PIN)
    assert pin_row(db_engine, person) is not None
    if erase == "delete":
        identity_store.delete_person(person, admin)
    else:
        identity_store.withdraw_consent(person, admin)
    assert pin_row(db_engine, person) is None
    # A deleted person's PIN is never right, and nothing is kept for them.
    attempt = pins.reserve_pin_attempt(person, KIOSK, POLICY)
    assert attempt.hashes.pin is None
    if erase == "delete":
        assert pin_row(db_engine, person) is None


def test_the_duress_pin_opens_the_real_door_and_the_alarm_reaches_the_audit_chain(
    db_engine: Engine,
    identity_store: SqlIdentityStore,
    pins: SqlPinStore,
    admin: Operator,
    audit_log: SqlAuditLog,
    tmp_path: Path,
) -> None:
    person = enroll(identity_store, admin, "Ada")
    service = PinService(pins, POLICY)
    service.set_pin(admin, person, PIN, PinKind.PIN)
    service.set_pin(admin, person, DURESS, PinKind.DURESS)
    rules = SqlRulesStore(db_engine)
    rules.ensure_door(Door(KIOSK, "Front door", "UTC"))
    rules.update_door(KIOSK, actor=admin, mode=DoorMode.FACE_AND_PIN)
    events = ResilientEventLog(db_engine, EventSpool(tmp_path / "spool.jsonl"), KIOSK)
    heard: list[AccessDecision] = []

    class Heard:
        def consume(self, decision: AccessDecision) -> None:
            heard.append(decision)

    class Identifier(FakeIdentifier):
        def record(self, decision: AccessDecision) -> None:
            events.record_access(decision)  # the kiosk's own event log, for real

    clock = FakeClock()
    door = DoorRecognizer(
        faces=FakeFaces([(face(),)] * 3),
        identifier=Identifier([match(Candidate(person, "Ada", 0.8))] * 3, kiosk_id=KIOSK),
        door=DoorSettings(frames_to_confirm=3),
        quality=QualitySettings(),
        throttle=RecognitionThrottle(SecuritySettings(), clock),
        access=DoorAccess(kiosk_id=KIOSK, rules=rules, holidays=PublicHolidays()),
        pins=DoorPins(store=pins, policy=POLICY, kiosk_id=KIOSK, record_audit=events.record_audit),
        consumers=[Heard()],
        clock=clock,
    )
    outcomes = [door.process(FRAME) for _ in range(3)]
    prompt = outcomes[2].pin
    assert prompt is not None
    entered = door.enter_pin(prompt.request, DURESS)
    assert entered is not None
    decision = entered.decision
    assert decision is not None
    assert decision.outcome is AccessOutcome.GRANTED
    assert decision.duress is True
    assert heard == [decision]
    (alarm,) = audit_log.audit_events(10, LogFilter(action=DURESS_ACTION), actor=admin)
    assert alarm.target == KIOSK
    assert alarm.details["person_id"] == str(person)
    assert alarm.details["access_event_id"] == str(decision.event_id)
    (stored,) = audit_log.access_events(10, LogFilter(kiosk_id=KIOSK), actor=admin)
    assert stored.outcome is AccessOutcome.GRANTED
    assert stored.person_id == person
    assert DURESS not in everything_stored(db_engine)
    report = AuditService(audit_log).verify(admin)
    assert report.intact, report
    events.close()


def test_a_duress_decision_is_spooled_with_its_flag_and_read_back_the_same() -> None:
    person = uuid.uuid4()
    decision = AccessDecision(
        kiosk_id=KIOSK, outcome=AccessOutcome.GRANTED, latency_ms=900.0, person_id=person
    )
    flagged = replace(decision, duress=True)
    assert decode(json.loads(line_of(flagged))).duress is True
    assert decode(json.loads(line_of(decision))).duress is False
    older = encode(decision)
    del older["duress"]  # a spool written before PINs
    assert decode(older).duress is False
    for bad, why in (
        ({**encode(flagged), "duress": "yes"}, "duress is not true or false"),
        ({**encode(flagged), "person_id": None}, "names the person"),
    ):
        with pytest.raises(SpoolError, match=why):
            decode(bad)
