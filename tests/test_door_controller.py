"""The door controller's thread over the simulated door: the lock forced locked at
start and stop, grants, the exit button, alarms, faults retried and reported."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from core.access.door_controller import CommandResult, DoorController
from core.access.door_events import (
    Alarm,
    AlarmRaised,
    DoorFaultCleared,
    DoorFaulted,
    ExitRequested,
    RelockCause,
    Relocked,
    UnlockCause,
    Unlocked,
    UnlockFailed,
    UnlockRefused,
)
from core.door_io_settings import DoorIoSettings, FailMode
from core.errors import DoorFault
from core.records import AccessDecision, AccessOutcome
from door_io.simulated import SimulatedDoor
from tests.door_events_recorder import DoorEventRecorder, wait_until

FAST = DoorIoSettings(
    adapter="simulated",
    unlock_s=0.5,
    held_open_s=1,
    poll_interval_s=0.01,
    debounce_s=0.02,
    retry_s=0.05,
    retry_max_s=0.2,
)


def decision(outcome: AccessOutcome = AccessOutcome.GRANTED, age_s: float = 0) -> AccessDecision:
    return AccessDecision(
        kiosk_id="door-test",
        outcome=outcome,
        latency_ms=300,
        occurred_at=datetime.now(UTC) - timedelta(seconds=age_s),
    )


@pytest.fixture
def hardware() -> SimulatedDoor:
    door = SimulatedDoor()
    door.set_lock_output(True)  # as a crash may have left it: unlocked
    return door


@pytest.fixture
def recorder() -> DoorEventRecorder:
    return DoorEventRecorder()


@pytest.fixture
def controller(hardware: SimulatedDoor, recorder: DoorEventRecorder) -> Iterator[DoorController]:
    door = DoorController(hardware, FAST, listeners=[recorder])
    door.start()
    recorder.wait_for(Relocked)
    wait_until(lambda: door.status.state.door_open is not None)  # the inputs were read
    yield door
    door.stop()


def test_start_forces_the_lock_locked(
    controller: DoorController, hardware: SimulatedDoor, recorder: DoorEventRecorder
) -> None:
    assert recorder.wait_for(Relocked).cause is RelockCause.START
    assert hardware.output is False
    assert not controller.status.state.unlocked


def test_a_grant_unlocks_and_relocks_after_unlock_s(
    controller: DoorController, hardware: SimulatedDoor, recorder: DoorEventRecorder
) -> None:
    granted = decision()
    controller.consume(granted)
    unlocked = recorder.wait_for(Unlocked)
    assert (unlocked.cause, unlocked.event_id) == (UnlockCause.GRANT, granted.event_id)
    assert hardware.output is True
    relocked = recorder.wait_for(Relocked, lambda e: e.cause is RelockCause.TIME_UP)
    assert relocked.at_s - unlocked.at_s == pytest.approx(0.5, abs=0.1)
    assert hardware.output is False


def test_a_stranger_never_touches_the_lock(
    controller: DoorController, hardware: SimulatedDoor
) -> None:
    writes = len(hardware.writes)
    controller.consume(decision(AccessOutcome.UNKNOWN))
    controller.consume(decision(AccessOutcome.LIVENESS_FAILED))
    controller.lockdown(operator="ada", reason="sync").wait(2)  # a round trip of the thread
    assert hardware.writes[writes:] == []


def test_a_late_grant_is_refused_not_opened(
    controller: DoorController, hardware: SimulatedDoor, recorder: DoorEventRecorder
) -> None:
    late = decision(age_s=5)
    assert controller.grant(late).wait(2) is CommandResult.REFUSED
    assert recorder.wait_for(UnlockRefused).event_id == late.event_id
    assert hardware.output is False


def test_fail_safe_energises_to_lock(recorder: DoorEventRecorder) -> None:
    hardware = SimulatedDoor()
    door = DoorController(
        hardware, FAST.model_copy(update={"fail_mode": FailMode.SAFE}), listeners=[recorder]
    )
    door.start()
    try:
        recorder.wait_for(Relocked)
        assert hardware.output is True
        door.consume(decision())
        assert hardware.output is False
    finally:
        door.stop()
    assert hardware.output is True, "locked (energised) at a clean stop"


def test_stop_relocks(
    controller: DoorController, hardware: SimulatedDoor, recorder: DoorEventRecorder
) -> None:
    controller.unlock_for(60, operator="ada", reason="delivery").wait(2)
    assert hardware.output is True
    controller.stop()
    assert recorder.wait_for(Relocked, lambda e: e.cause is RelockCause.STOP)
    assert hardware.output is False


def test_opening_the_locked_door_raises_forced_open(
    controller: DoorController, hardware: SimulatedDoor, recorder: DoorEventRecorder
) -> None:
    hardware.move_door(is_open=True)
    alarm = recorder.wait_for(AlarmRaised, timeout_s=1)
    assert alarm.alarm is Alarm.FORCED_OPEN
    wait_until(lambda: Alarm.FORCED_OPEN in controller.status.state.alarms)


def test_held_open_after_held_open_s(
    controller: DoorController, hardware: SimulatedDoor, recorder: DoorEventRecorder
) -> None:
    controller.consume(decision())
    hardware.move_door(is_open=True)
    alarm = recorder.wait_for(AlarmRaised, timeout_s=3)
    assert alarm.alarm is Alarm.HELD_OPEN
    assert recorder.of(Unlocked)[0].at_s + 1 <= alarm.at_s


def test_the_exit_button_unlocks(
    controller: DoorController, hardware: SimulatedDoor, recorder: DoorEventRecorder
) -> None:
    hardware.hold_exit_button(True)
    recorder.wait_for(ExitRequested)
    assert recorder.wait_for(Unlocked).cause is UnlockCause.EXIT_REQUEST
    hardware.hold_exit_button(False)
    hardware.move_door(is_open=True)
    hardware.move_door(is_open=False)
    assert recorder.of(AlarmRaised) == []


def test_an_unplugged_module_fails_the_grant_then_recovers(
    controller: DoorController, hardware: SimulatedDoor, recorder: DoorEventRecorder
) -> None:
    hardware.unplug()
    granted = decision()
    with pytest.raises(DoorFault, match="unplugged"):
        controller.consume(granted)
    assert recorder.wait_for(UnlockFailed).event_id == granted.event_id
    assert recorder.wait_for(DoorFaulted)
    assert recorder.of(Unlocked) == [], "an unlock never sent is never reported as done"
    assert controller.status.fault is not None
    hardware.unplug(False)
    recorder.wait_for(DoorFaultCleared)
    wait_until(lambda: controller.status.fault is None)
    assert hardware.output is False, "the unlock is given up, not sent late"


def test_commands_after_stop_fail_at_once(controller: DoorController) -> None:
    controller.stop()
    assert controller.lockdown(operator="ada", reason="x").wait(0.1) is CommandResult.FAILED
