"""The face-and-PIN door, driven by fakes of its protocols: the real PIN checker
(core.access.door_pin, real bcrypt hashes) over a PIN store kept in memory.

The same door on the real database is in test_pin_store.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from core.access.door import DoorRecognizer
from core.access.door_access import Admission
from core.access.door_pin import (
    DURESS_ACTION,
    PIN_ABANDONED_TEXT,
    PIN_LOCKED_TEXT,
    PIN_TIMEOUT_TEXT,
    PIN_UNCHECKED_TEXT,
    DoorPins,
)
from core.access.frame_outcome import FrameOutcome, PinPrompt
from core.access.recognition_throttle import RecognitionThrottle
from core.errors import StoreBusy, StoreError
from core.faces import DetectedFace
from core.log_records import KioskAuditEvent
from core.people.pin_throttle import PinFailures, reserve_pin
from core.people.pins import PinAttempt, PinChange, PinHashes, PinKind, hash_pin
from core.records import AccessDecision, AccessOutcome, Operator, Refusal
from core.settings import DoorSettings, QualitySettings, SecuritySettings
from tests.test_door_policy import (
    FRAME,
    YAO,
    FakeClock,
    FakeFaces,
    FakeIdentifier,
    below,
    face,
    match,
)

PIN = "2468"
DURESS = "1357"
# The cheapest cost allowed: what is tested here is the door's flow, not bcrypt's cost.
POLICY = SecuritySettings(pin_bcrypt_rounds=8, pin_max_failures=3)
NO_FACE: tuple[DetectedFace, ...] = ()


class MemoryPins:
    """A PinStore for one person, in memory, on a fixed database clock; the
    throttle's rules are the real ones (core.people.pin_throttle)."""

    def __init__(self, pin: str | None = PIN, duress: str | None = DURESS) -> None:
        rounds = POLICY.pin_bcrypt_rounds
        self.hashes = PinHashes(
            hash_pin(pin, rounds) if pin else None, hash_pin(duress, rounds) if duress else None
        )
        self.state = PinFailures()
        """The person's counts at the door."""
        self.person = PinFailures()
        """Their counts at all doors."""
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        self.reserved: list[uuid.UUID] = []
        self.accepted = 0
        self.failure: Exception | None = None

    def record_denial(
        self, operator: Operator, permission: str, *, session_ended: bool = False
    ) -> None:
        raise AssertionError("the door acts for no operator")

    def reserve_pin_attempt(
        self, person_id: uuid.UUID, kiosk_id: str, policy: SecuritySettings
    ) -> PinAttempt:
        if self.failure is not None:
            raise self.failure
        count = reserve_pin(self.state, self.person, self.now, policy)
        self.state, self.person = count.door, count.person
        self.reserved.append(person_id)
        return PinAttempt(
            person_id,
            kiosk_id,
            self.hashes,
            count.person.failures,
            bool(count.waits),
            count.waits,
        )

    def pin_accepted(self, attempt: PinAttempt) -> None:
        self.state = self.person = PinFailures()
        self.accepted += 1

    def set_pin(
        self,
        person_id: uuid.UUID,
        kind: PinKind,
        pin_hash: str,
        *,
        actor: Operator,
        clashes: Callable[[str], bool],
    ) -> PinChange:
        raise AssertionError("the door never sets a PIN")

    def clear_pin(self, person_id: uuid.UUID, kind: PinKind, *, actor: Operator) -> bool:
        raise AssertionError("the door never clears a PIN")


@dataclass
class FaceAndPinDoor:
    """The rules allow everyone, at a face_and_pin door; lockdown can be switched on."""

    locked_down: bool = False
    asked: list[uuid.UUID] = field(default_factory=list)
    withdrawn: list[uuid.UUID] = field(default_factory=list)
    busy: StoreError | None = None

    def admit(self, person_id: uuid.UUID, *, pin_checked: bool = False) -> Admission:
        self.asked.append(person_id)
        if self.busy is not None:
            raise self.busy
        if self.locked_down:
            return Admission(Refusal.LOCKDOWN)
        return Admission(None, pin_required=True)

    def withdraw(self, person_id: uuid.UUID) -> None:
        self.withdrawn.append(person_id)


@dataclass
class PinDoor:
    recognizer: DoorRecognizer
    faces: FakeFaces
    identifier: FakeIdentifier
    clock: FakeClock
    store: MemoryPins
    rules: FaceAndPinDoor
    alarms: list[KioskAuditEvent]
    consumed: list[AccessDecision]

    def run(self, frames: int) -> list[FrameOutcome]:
        return [self.recognizer.process(FRAME) for _ in range(frames)]

    def asked_for_pin(self) -> PinPrompt:
        """Recognised in three frames, and asked for the PIN on the third."""
        outcomes = self.run(3)
        assert [o.decision for o in outcomes] == [None, None, None]
        prompt = outcomes[2].pin
        assert prompt is not None
        return prompt

    def enter(self, prompt: PinPrompt, pin: str) -> AccessDecision:
        outcome = self.recognizer.enter_pin(prompt.request, pin)
        assert outcome is not None
        assert outcome.decision is not None
        return outcome.decision


def make_pin_door(
    frames: list[tuple[DetectedFace, ...]],
    *,
    store: MemoryPins | None = None,
    door: DoorSettings | None = None,
    with_checker: bool = True,
    searches: int = 3,
) -> PinDoor:
    clock = FakeClock()
    faces = FakeFaces(frames)
    identifier = FakeIdentifier([match(YAO)] * searches)
    store = store or MemoryPins()
    rules = FaceAndPinDoor()
    alarms: list[KioskAuditEvent] = []
    consumed: list[AccessDecision] = []

    class Collect:
        def consume(self, decision: AccessDecision) -> None:
            consumed.append(decision)

    pins = DoorPins(store=store, policy=POLICY, kiosk_id="door-1", record_audit=alarms.append)
    recognizer = DoorRecognizer(
        faces=faces,
        identifier=identifier,
        door=door or DoorSettings(frames_to_confirm=3, pin_timeout_s=10),
        quality=QualitySettings(),
        throttle=RecognitionThrottle(SecuritySettings(), clock),
        access=rules,
        pins=pins if with_checker else None,
        consumers=[Collect()],
        clock=clock,
    )
    return PinDoor(recognizer, faces, identifier, clock, store, rules, alarms, consumed)


def test_the_right_pin_grants_and_the_door_searched_only_until_it_asked() -> None:
    door = make_pin_door([(face(),)] * 8)
    prompt = door.asked_for_pin()
    assert 0 < prompt.remaining_s <= 10
    waiting = door.run(5)  # the person types: each frame still asks, nothing is searched
    assert {o.pin.request for o in waiting if o.pin is not None} == {prompt.request}
    assert all(o.decision is None and not o.searched for o in waiting)
    assert door.identifier.searches == 3
    decision = door.enter(prompt, PIN)
    assert decision.granted
    assert decision.display_name == "Yao Ming"
    assert decision.person_id == YAO.person_id
    assert decision.duress is False
    assert door.identifier.recorded == [decision]
    assert door.consumed == [decision]
    assert door.store.accepted == 1
    assert door.alarms == []
    # The rules were read when the PIN was asked for, and again once it was right.
    assert door.rules.asked == [YAO.person_id, YAO.person_id]


def test_a_wrong_pin_is_refused_as_pin_wrong_and_the_face_is_not_asked_again() -> None:
    door = make_pin_door([(face(),)] * 6)
    prompt = door.asked_for_pin()
    decision = door.enter(prompt, "9999")
    assert decision.outcome is AccessOutcome.REFUSED
    assert decision.refusal is Refusal.PIN_WRONG
    assert decision.reason == "wrong PIN"
    assert decision.person_id == YAO.person_id  # whose PIN was wrong, for the access log
    assert decision.display_name is None
    assert door.store.state.failures == 1
    after = door.run(3)
    assert all(o.decision is None and o.pin is None and not o.searched for o in after)
    assert door.recognizer.enter_pin(prompt.request, PIN) is None  # one PIN per recognition
    assert door.store.reserved == [YAO.person_id]


def test_the_duress_pin_grants_like_the_pin_and_raises_the_silent_alarm() -> None:
    right = make_pin_door([(face(),)] * 3)
    granted = right.enter(right.asked_for_pin(), PIN)
    door = make_pin_door([(face(),)] * 3)
    prompt = door.asked_for_pin()
    decision = door.enter(prompt, DURESS)
    # What the screen shows is the same as for the right PIN.
    assert decision.outcome is granted.outcome is AccessOutcome.GRANTED
    assert (decision.display_name, decision.reason, decision.refusal) == (
        granted.display_name,
        granted.reason,
        granted.refusal,
    )
    assert decision.duress is True
    assert door.consumed == [decision]  # the consumers (and integrations) see the flag
    (alarm,) = door.alarms
    assert alarm.action == DURESS_ACTION
    assert alarm.kiosk_id == "door-1"
    assert alarm.details["person_id"] == str(YAO.person_id)
    assert alarm.details["access_event_id"] == str(decision.event_id)
    assert set(alarm.details) == {"person_id", "access_event_id", "outcome"}  # no PIN
    assert door.store.state == PinFailures()  # the duress PIN is a right PIN to the throttle


def test_no_pin_in_time_is_refused_and_a_late_pin_is_never_checked() -> None:
    door = make_pin_door([(face(),)] * 5, door=DoorSettings(frames_to_confirm=3, pin_timeout_s=5))
    prompt = door.asked_for_pin()
    (still,) = door.run(1)
    assert still.pin is not None
    assert still.pin.request == prompt.request
    assert still.pin.remaining_s < prompt.remaining_s  # counting down on the door's clock
    door.clock.now += 5  # the person stands there, typing nothing
    (timed_out,) = door.run(1)
    decision = timed_out.decision
    assert decision is not None
    assert decision.refusal is Refusal.PIN_WRONG
    assert decision.reason == PIN_TIMEOUT_TEXT
    assert door.recognizer.enter_pin(prompt.request, PIN) is None
    assert door.store.reserved == []  # no PIN was typed, so none was counted


def test_a_pin_typed_just_after_the_time_is_refused_without_being_checked() -> None:
    door = make_pin_door([(face(),)] * 3, door=DoorSettings(frames_to_confirm=3, pin_timeout_s=5))
    prompt = door.asked_for_pin()
    door.clock.now += 5  # the OK arrives before the next frame does
    decision = door.enter(prompt, PIN)
    assert decision.refusal is Refusal.PIN_WRONG
    assert decision.reason == PIN_TIMEOUT_TEXT
    assert door.store.reserved == []


def test_a_face_that_leaves_while_asked_is_refused_and_its_pin_goes_nowhere() -> None:
    door = make_pin_door(
        [(face(),)] * 3 + [NO_FACE],
        door=DoorSettings(frames_to_confirm=3, track_max_missed=0, pin_timeout_s=10),
    )
    prompt = door.asked_for_pin()
    (left,) = door.run(1)
    decision = left.decision
    assert decision is not None
    assert decision.outcome is AccessOutcome.REFUSED
    assert decision.refusal is Refusal.PIN_WRONG
    assert decision.reason == PIN_ABANDONED_TEXT
    assert decision.person_id == YAO.person_id
    assert door.recognizer.enter_pin(prompt.request, PIN) is None
    assert door.store.reserved == []


def test_a_pin_typed_for_one_person_is_never_checked_for_the_next() -> None:
    # Yao is asked, leaves; the next face is recognised (Yao again, by the script) and
    # asked anew: the first request's PIN arrives late and is dropped unchecked.
    door = make_pin_door(
        [(face(),)] * 3 + [NO_FACE] + [(face(),)] * 3,
        door=DoorSettings(frames_to_confirm=3, track_max_missed=0, pin_timeout_s=10),
        searches=6,
    )
    first = door.asked_for_pin()
    door.run(1)
    second = door.asked_for_pin()
    assert second.request != first.request
    assert door.recognizer.enter_pin(first.request, PIN) is None
    assert door.store.reserved == []
    assert door.enter(second, PIN).granted


def test_pin_entry_locked_after_too_many_wrong_pins_refuses_without_checking() -> None:
    store = MemoryPins()
    store.state = PinFailures(POLICY.pin_max_failures, 1, store.now + timedelta(minutes=5))
    door = make_pin_door([(face(),)] * 3, store=store)
    decision = door.enter(door.asked_for_pin(), PIN)
    assert decision.refusal is Refusal.PIN_WRONG
    assert decision.reason == PIN_LOCKED_TEXT
    assert store.reserved == []  # refused before the check, and not counted


def test_a_pin_that_cannot_be_counted_keeps_the_door_closed_as_offline() -> None:
    store = MemoryPins()
    store.failure = StoreError("the database cannot be reached")
    door = make_pin_door([(face(),)] * 3, store=store)
    decision = door.enter(door.asked_for_pin(), PIN)
    assert decision.outcome is AccessOutcome.OFFLINE
    assert decision.display_name is None


@pytest.mark.parametrize("slow_at", ["the PIN's count", "the rules"])
@pytest.mark.parametrize("pin", [PIN, DURESS], ids=["pin", "duress pin"])
def test_a_pin_met_by_a_busy_database_is_answered_once_and_closes_the_door_to_no_one_else(
    slow_at: str, pin: str
) -> None:
    store = MemoryPins()
    door = make_pin_door([(face(),)] * 3 + [(face(x=400),)] * 3, store=store, searches=6)
    prompt = door.asked_for_pin()
    busy = StoreBusy("canceling statement due to statement timeout")
    if slow_at == "the rules":
        door.rules.busy = busy
    else:
        store.failure = busy
    # The keypad is gone once a PIN is typed: the person is answered now, never left
    # waiting for a keypad that does not come back.
    decision = door.enter(prompt, pin)
    assert decision.outcome is AccessOutcome.OFFLINE
    # A duress PIN raises its silent alarm whenever the PIN itself was checked.
    assert len(door.alarms) == int(pin == DURESS and slow_at == "the rules")
    door.rules.busy, store.failure = None, None
    # Slow is not gone: the next person is searched, not refused for offline_retry_s.
    assert door.run(3)[2].pin is not None


def test_a_lockdown_begun_while_typing_refuses_a_right_pin_and_still_raises_duress() -> None:
    door = make_pin_door([(face(),)] * 3)
    prompt = door.asked_for_pin()
    door.rules.locked_down = True
    decision = door.enter(prompt, DURESS)
    assert decision.outcome is AccessOutcome.REFUSED
    assert decision.refusal is Refusal.LOCKDOWN
    assert decision.duress is True
    assert [a.details["outcome"] for a in door.alarms] == ["refused"]


def test_a_door_that_asks_for_a_pin_it_cannot_check_refuses() -> None:
    door = make_pin_door([(face(),)] * 3, with_checker=False)
    (decision,) = [o.decision for o in door.run(3) if o.decision is not None]
    assert decision.refusal is Refusal.PIN_WRONG
    assert decision.reason == PIN_UNCHECKED_TEXT


def test_a_stranger_at_a_pin_door_is_refused_as_unknown_and_never_asked() -> None:
    door = make_pin_door([(face(),)] * 3)
    door.identifier.answers = [below(YAO)] * 3
    outcomes = door.run(3)
    assert all(o.pin is None for o in outcomes)
    decision = outcomes[2].decision
    assert decision is not None
    assert decision.outcome is AccessOutcome.UNKNOWN
    assert door.rules.asked == []


def test_a_malformed_pin_is_wrong_and_counted() -> None:
    door = make_pin_door([(face(),)] * 3)
    decision = door.enter(door.asked_for_pin(), "24 68")
    assert decision.refusal is Refusal.PIN_WRONG
    assert door.store.state.failures == 1


@pytest.mark.parametrize("wrong", [1, 2])
def test_a_right_pin_after_wrong_ones_starts_the_count_again(wrong: int) -> None:
    store = MemoryPins()
    for _ in range(wrong):
        door = make_pin_door([(face(),)] * 3, store=store)
        door.enter(door.asked_for_pin(), "0000")
    assert store.state.failures == wrong
    door = make_pin_door([(face(),)] * 3, store=store)
    assert door.enter(door.asked_for_pin(), PIN).granted
    assert store.state == PinFailures()
