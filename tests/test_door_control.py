"""Every transition and alarm of the door's control logic, on a fake clock: fast and pure."""

from __future__ import annotations

import uuid

import pytest

from core.access.door_control import (
    EXPIRED_REFUSAL,
    LATE_REFUSAL,
    LOCKDOWN_REFUSAL,
    STALE_REFUSAL,
    DoorControl,
)
from core.access.door_events import (
    Alarm,
    AlarmCleared,
    AlarmRaised,
    DoorClosed,
    DoorEvent,
    DoorOpened,
    ExitRequested,
    LockdownEnded,
    LockdownStarted,
    RelockCause,
    Relocked,
    UnlockCause,
    Unlocked,
    UnlockRefused,
)
from core.door_io_settings import DoorIoSettings

SETTINGS = DoorIoSettings(unlock_s=5, held_open_s=30, grant_max_age_s=2)
EVENT = uuid.uuid4()


@pytest.fixture
def door() -> DoorControl:
    control = DoorControl(SETTINGS)
    control.start(0.0)
    control.door_contact(0.0, is_open=False)
    return control


def kinds(events: list[DoorEvent]) -> list[type[DoorEvent]]:
    return [type(event) for event in events]


def test_start_and_stop_force_the_lock_locked() -> None:
    control = DoorControl(SETTINGS)
    (started,) = control.start(0.0)
    assert isinstance(started, Relocked)
    assert started.cause is RelockCause.START
    control.grant(1.0, event_id=EVENT, age_s=0)
    assert control.state.unlocked
    (stopped,) = control.stop(2.0)
    assert isinstance(stopped, Relocked)
    assert stopped.cause is RelockCause.STOP
    assert not control.state.unlocked


def test_a_grant_unlocks_for_unlock_s_citing_the_decision(door: DoorControl) -> None:
    (unlocked,) = door.grant(10.0, event_id=EVENT, age_s=0.3)
    assert isinstance(unlocked, Unlocked)
    assert (unlocked.cause, unlocked.event_id, unlocked.until_s) == (UnlockCause.GRANT, EVENT, 15.0)
    assert unlocked.details()["access_event_id"] == str(EVENT)
    assert door.state.unlocked
    assert door.next_deadline() == 15.0


def test_the_lock_relocks_when_the_time_runs_out_without_opening(door: DoorControl) -> None:
    door.grant(10.0, event_id=EVENT, age_s=0)
    assert door.tick(14.9) == []
    (relocked,) = door.tick(15.0)
    assert isinstance(relocked, Relocked)
    assert relocked.cause is RelockCause.TIME_UP
    assert not door.state.unlocked
    assert door.next_deadline() is None


def test_the_lock_relocks_when_the_door_closes_after_opening(door: DoorControl) -> None:
    door.grant(10.0, event_id=EVENT, age_s=0)
    assert kinds(door.door_contact(11.0, is_open=True)) == [DoorOpened]
    assert door.state.unlocked, "still released while the person walks through"
    events = door.door_contact(12.5, is_open=False)
    assert kinds(events) == [DoorClosed, Relocked]
    assert isinstance(events[1], Relocked)
    assert events[1].cause is RelockCause.DOOR_CLOSED
    assert not door.state.unlocked
    assert door.tick(100.0) == [], "no alarm after a normal passage"


def test_a_late_grant_is_refused(door: DoorControl) -> None:
    (refused,) = door.grant(10.0, event_id=EVENT, age_s=2.5)
    assert isinstance(refused, UnlockRefused)
    assert (refused.why, refused.event_id) == (LATE_REFUSAL, EVENT)
    assert not door.state.unlocked


def test_a_second_grant_extends_the_unlock(door: DoorControl) -> None:
    door.grant(10.0, event_id=EVENT, age_s=0)
    door.grant(13.0, event_id=uuid.uuid4(), age_s=0)
    assert door.tick(15.0) == []
    assert kinds(door.tick(18.0)) == [Relocked]


def test_a_grant_never_shortens_an_operator_unlock(door: DoorControl) -> None:
    door.unlock_for(10.0, seconds=60, operator="ada", reason="delivery")
    (unlocked,) = door.grant(11.0, event_id=EVENT, age_s=0)
    assert isinstance(unlocked, Unlocked)
    assert unlocked.until_s == 70.0
    assert door.state.unlock_cause is UnlockCause.OPERATOR
    assert door.tick(16.0) == []


def test_the_exit_button_unlocks_without_recognition(door: DoorControl) -> None:
    events = door.request_exit(10.0)
    assert kinds(events) == [ExitRequested, Unlocked]
    assert isinstance(events[1], Unlocked)
    assert events[1].cause is UnlockCause.EXIT_REQUEST
    assert kinds(door.door_contact(11.0, is_open=True)) == [DoorOpened]
    assert kinds(door.door_contact(12.0, is_open=False)) == [DoorClosed, Relocked]


def test_opening_a_locked_door_raises_forced_open_until_it_closes(door: DoorControl) -> None:
    events = door.door_contact(10.0, is_open=True)
    assert kinds(events) == [DoorOpened, AlarmRaised]
    assert isinstance(events[1], AlarmRaised)
    assert events[1].alarm is Alarm.FORCED_OPEN
    assert door.state.alarms == {Alarm.FORCED_OPEN}
    events = door.door_contact(12.0, is_open=False)
    assert kinds(events) == [DoorClosed, AlarmCleared]
    assert door.state.alarms == frozenset()


def test_opening_after_the_unlock_ran_out_is_forced_open(door: DoorControl) -> None:
    door.grant(10.0, event_id=EVENT, age_s=0)
    door.tick(15.0)
    assert kinds(door.door_contact(15.5, is_open=True)) == [DoorOpened, AlarmRaised]


def test_held_open_after_held_open_s_from_an_authorised_opening(door: DoorControl) -> None:
    door.grant(10.0, event_id=EVENT, age_s=0)
    door.door_contact(11.0, is_open=True)
    assert kinds(door.tick(15.0)) == [Relocked], "the time ran out with the door open"
    assert door.tick(40.9) == []
    events = door.tick(41.0)
    assert kinds(events) == [AlarmRaised]
    assert isinstance(events[0], AlarmRaised)
    assert events[0].alarm is Alarm.HELD_OPEN
    assert door.tick(80.0) == [], "raised once"
    events = door.door_contact(90.0, is_open=False)
    assert kinds(events) == [DoorClosed, AlarmCleared]
    assert isinstance(events[1], AlarmCleared)
    assert events[1].alarm is Alarm.HELD_OPEN


def test_no_held_open_when_the_door_closed_in_time(door: DoorControl) -> None:
    door.grant(10.0, event_id=EVENT, age_s=0)
    door.door_contact(11.0, is_open=True)
    door.door_contact(20.0, is_open=False)
    assert door.tick(41.0) == []


def test_lockdown_refuses_grants_and_operator_unlocks_and_relocks(door: DoorControl) -> None:
    door.grant(10.0, event_id=EVENT, age_s=0)
    events = door.lockdown(11.0, operator="ada", reason="police request")
    assert kinds(events) == [LockdownStarted, Relocked]
    assert isinstance(events[1], Relocked)
    assert events[1].cause is RelockCause.LOCKDOWN
    assert door.state.lockdown
    assert not door.state.unlocked
    (refused,) = door.grant(12.0, event_id=EVENT, age_s=0)
    assert isinstance(refused, UnlockRefused)
    assert refused.why == LOCKDOWN_REFUSAL
    (refused,) = door.unlock_for(12.0, seconds=10, operator="bo", reason="x")
    assert isinstance(refused, UnlockRefused)
    assert not door.state.unlocked
    assert door.lockdown(13.0, operator="ada", reason="again") == []


def test_release_ends_lockdown(door: DoorControl) -> None:
    door.lockdown(11.0, operator="ada", reason="drill")
    (ended,) = door.release(20.0, operator="ada", reason="drill over")
    assert isinstance(ended, LockdownEnded)
    assert ended.details() == {"operator": "ada", "reason": "drill over"}
    assert not door.state.lockdown
    assert kinds(door.grant(21.0, event_id=EVENT, age_s=0)) == [Unlocked]
    assert door.release(22.0, operator="ada", reason="twice") == []


def test_exit_button_in_lockdown_unlocks_for_free_egress(door: DoorControl) -> None:
    door.lockdown(11.0, operator="ada", reason="drill")
    assert kinds(door.request_exit(12.0)) == [ExitRequested, Unlocked]


def test_exit_button_in_lockdown_without_rex_unlock_only_excuses_the_opening() -> None:
    control = DoorControl(SETTINGS.model_copy(update={"rex_in_lockdown": False}))
    control.start(0.0)
    control.door_contact(0.0, is_open=False)
    control.lockdown(1.0, operator="ada", reason="drill")
    assert kinds(control.request_exit(2.0)) == [ExitRequested]
    assert not control.state.unlocked
    assert kinds(control.door_contact(3.0, is_open=True)) == [DoorOpened], "egress, not forced"
    assert kinds(control.door_contact(4.0, is_open=False)) == [DoorClosed]
    assert kinds(control.door_contact(20.0, is_open=True)) == [DoorOpened, AlarmRaised]


def test_operator_unlock_for_a_stated_time(door: DoorControl) -> None:
    (unlocked,) = door.unlock_for(10.0, seconds=120, operator="ada", reason="moving day")
    assert isinstance(unlocked, Unlocked)
    assert unlocked.details() == {
        "cause": "operator",
        "seconds": 120.0,
        "operator": "ada",
        "reason": "moving day",
    }
    assert door.tick(129.0) == []
    assert kinds(door.tick(130.0)) == [Relocked]


def test_a_repeated_contact_reading_changes_nothing(door: DoorControl) -> None:
    assert door.door_contact(5.0, is_open=False) == []
    door.door_contact(6.0, is_open=True)
    assert door.door_contact(6.1, is_open=True) == []


def test_a_door_found_open_at_start_is_forced_open() -> None:
    control = DoorControl(SETTINGS)
    control.start(0.0)
    assert control.state.door_open is None
    assert kinds(control.door_contact(0.0, is_open=True)) == [DoorOpened, AlarmRaised]


def test_every_audited_event_has_plain_details() -> None:
    events: list[DoorEvent] = [
        Unlocked(at_s=0, cause=UnlockCause.GRANT, until_s=5, event_id=EVENT),
        Relocked(at_s=0, cause=RelockCause.TIME_UP),
        AlarmRaised(at_s=0, alarm=Alarm.FORCED_OPEN),
        LockdownStarted(at_s=0, operator="ada", reason="r"),
    ]
    for event in events:
        assert event.action is not None
        assert event.action.startswith("door.")
        assert all(isinstance(value, str | int | float) for value in event.details().values())
    assert DoorOpened.action is None


@pytest.mark.parametrize("seconds", [0.0, -3.0])
def test_an_operator_unlock_whose_time_has_passed_is_refused(
    door: DoorControl, seconds: float
) -> None:
    (refused,) = door.unlock_for(10.0, seconds=seconds, operator="ada", reason="delivery")
    assert isinstance(refused, UnlockRefused)
    assert (refused.cause, refused.why, refused.operator) == (
        UnlockCause.OPERATOR,
        EXPIRED_REFUSAL,
        "ada",
    )
    assert not door.state.unlocked


def test_an_operator_unlock_older_than_command_max_age_s_is_set_aside_with_its_command(
    door: DoorControl,
) -> None:
    limit = SETTINGS.command_max_age_s
    (refused,) = door.unlock_for(
        10.0, seconds=3600, operator="ada", reason="delivery", age_s=limit + 1, command_id=7
    )
    assert isinstance(refused, UnlockRefused)
    assert refused.why == (
        f"{STALE_REFUSAL}: asked for {limit + 1:.0f} s before the kiosk took it, more than "
        f"door_io.command_max_age_s ({limit:g} s); ask again"
    )
    assert refused.details()["command_id"] == 7
    assert not door.state.unlocked
    (unlocked,) = door.unlock_for(11.0, seconds=60, operator="ada", reason="x", age_s=limit)
    assert isinstance(unlocked, Unlocked)
