"""The door controller's thread over the simulated door: the lock forced locked at
start and stop, grants, the exit button, alarms, faults retried and reported."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.access.door_control import EXPIRED_REFUSAL, LATE_REFUSAL, DoorControl
from core.access.door_controller import CommandResult, DoorController
from core.access.door_events import (
    Alarm,
    AlarmRaised,
    DoorEvent,
    DoorFaultCleared,
    DoorFaulted,
    ExitRequested,
    LockConfirmed,
    RelockCause,
    Relocked,
    UnlockCause,
    Unlocked,
    UnlockFailed,
    UnlockRefused,
    UnlockUnconfirmed,
)
from core.access.door_io import DoorInputs
from core.access.door_requests import DoorCommand
from core.access.door_status import CONTROL_FAILED
from core.door_io_settings import DoorIoSettings, FailMode
from core.errors import DoorFault
from core.records import AccessDecision, AccessOutcome
from door_io.simulated import SimulatedDoor
from tests.door_events_recorder import WAIT_S, DoorEventRecorder, wait_until

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


class FakeClock:
    """The door's clock, moved by the test."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class StallingDoor(SimulatedDoor):
    """A simulated door whose input read can be held, as a module that answers slowly
    holds the door's thread: ``stall()``, then ``entered`` is set once the thread is
    inside the read, which returns when ``release()`` is called."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self._stalled = False
        self._go_on = threading.Event()

    def stall(self) -> None:
        self._stalled, self._go_on = True, threading.Event()
        self.entered.clear()

    def release(self) -> None:
        self._stalled = False
        self._go_on.set()

    def read_inputs(self) -> DoorInputs:
        if self._stalled:
            self.entered.set()
            self._go_on.wait(WAIT_S)
        return super().read_inputs()


@pytest.fixture
def stalling() -> StallingDoor:
    door = StallingDoor()
    door.stall()  # from the first poll on
    return door


def test_a_grant_that_waited_behind_a_slow_module_is_refused_not_opened_late(
    stalling: StallingDoor, recorder: DoorEventRecorder
) -> None:
    wall = datetime.now(UTC)
    door = DoorController(stalling, FAST, listeners=[recorder], wall_clock=lambda: wall)
    door.start()
    try:
        assert stalling.entered.wait(WAIT_S)
        late = decision()
        command = door.grant(late)  # sent at once, taken once the module answers
        wall += timedelta(seconds=FAST.grant_max_age_s + 1)
        stalling.release()
        assert command.wait(WAIT_S) is CommandResult.REFUSED
        refused = recorder.wait_for(UnlockRefused)
        assert (refused.event_id, refused.why) == (late.event_id, LATE_REFUSAL)
        assert recorder.of(Unlocked) == []
        assert stalling.writes == [False], "only the lock forced at start"
    finally:
        door.stop()


def test_an_operator_unlock_taken_after_its_time_is_refused(
    stalling: StallingDoor, recorder: DoorEventRecorder
) -> None:
    clock = FakeClock()
    door = DoorController(stalling, FAST, listeners=[recorder], clock=clock)
    door.start()
    try:
        assert stalling.entered.wait(WAIT_S)
        command = door.unlock_for(10, operator="ada", reason="delivery")
        clock.now += 11  # the module answers only after the unlock's time (not yet stale)
        stalling.release()
        assert command.wait(WAIT_S) is CommandResult.REFUSED
        assert recorder.wait_for(UnlockRefused).why == EXPIRED_REFUSAL
        assert stalling.writes == [False]
    finally:
        door.stop()


def test_an_operator_unlock_taken_late_lasts_only_what_is_left(
    stalling: StallingDoor, recorder: DoorEventRecorder
) -> None:
    clock = FakeClock()
    door = DoorController(stalling, FAST, listeners=[recorder], clock=clock)
    door.start()
    try:
        assert stalling.entered.wait(WAIT_S)
        command = door.unlock_for(30, operator="ada", reason="delivery")
        sent_at = clock.now
        clock.now += 10
        stalling.release()
        assert command.wait(WAIT_S) is CommandResult.DONE
        assert recorder.wait_for(Unlocked).until_s == pytest.approx(sent_at + 30)
    finally:
        door.stop()


def test_the_relock_due_while_the_module_is_away_is_set_when_it_answers(
    controller: DoorController, hardware: SimulatedDoor, recorder: DoorEventRecorder
) -> None:
    assert controller.unlock_for(0.6, operator="ada", reason="delivery").wait(2) is (
        CommandResult.DONE
    )
    unlocked = recorder.wait_for(Unlocked)
    hardware.unplug()  # the link goes down: the relay keeps its state (unlocked)
    recorder.wait_for(DoorFaulted)
    relocked = recorder.wait_for(Relocked, lambda e: e.cause is not RelockCause.START)
    assert relocked.cause is RelockCause.TIME_UP, "the unlock runs its time, not given up"
    assert relocked.at_s - unlocked.at_s == pytest.approx(0.6, abs=0.15)
    assert hardware.output is True, "the module could not be told yet"
    hardware.unplug(False)
    recorder.wait_for(DoorFaultCleared)
    wait_until(lambda: hardware.output is False)
    assert recorder.of(UnlockFailed) == []


def test_an_unlock_taken_before_the_module_went_away_is_set_again_when_it_answers(
    controller: DoorController, hardware: SimulatedDoor, recorder: DoorEventRecorder
) -> None:
    controller.unlock_for(60, operator="ada", reason="delivery").wait(2)
    hardware.unplug()
    recorder.wait_for(DoorFaulted)
    hardware.reset_output()  # it restarted with the relay off...
    hardware.unplug(False)  # ...and answers again, well within the unlock
    recorder.wait_for(DoorFaultCleared)
    wait_until(lambda: hardware.output is True)
    assert controller.status.state.unlocked
    assert recorder.of(UnlockFailed) == []


class FaultyAdapter(SimulatedDoor):
    """An adapter with a bug: its next ``failures`` lock writes raise what no adapter
    should (not DoorFault)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def set_lock_output(self, on: bool) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("a bug in the adapter")
        super().set_lock_output(on)


def test_an_adapter_bug_is_a_fault_and_the_door_goes_on(recorder: DoorEventRecorder) -> None:
    hardware = FaultyAdapter(failures=0)
    hardware.set_lock_output(True)  # left unlocked by a crash; the bug hits the forced lock
    hardware.failures = 1
    door = DoorController(hardware, FAST, listeners=[recorder])
    door.start()
    try:
        faulted = recorder.wait_for(DoorFaulted)
        assert faulted.detail == (
            "the door hardware (simulated) failed unexpectedly; details in the kiosk's log"
        )
        recorder.wait_for(DoorFaultCleared)
        wait_until(lambda: hardware.output is False)
        door.consume(decision())  # raises DoorFault if the lock did not take it
        assert hardware.output is True
    finally:
        door.stop()


def test_an_unlock_with_its_answer_lost_is_unconfirmed_and_relocked_until_it_reads_back(
    recorder: DoorEventRecorder,
) -> None:
    hardware = SimulatedDoor()
    door = DoorController(hardware, FAST, listeners=[recorder])
    door.start()
    try:
        recorder.wait_for(Relocked)
        hardware.lose_answers()
        granted = decision()
        assert door.grant(granted).wait(WAIT_S) is CommandResult.UNCONFIRMED
        assert recorder.wait_for(UnlockUnconfirmed).event_id == granted.event_id
        assert recorder.of(UnlockFailed) == []
        assert recorder.of(Unlocked) == []
        assert True in hardware.writes, "the unlock did reach the lock"
        wait_until(lambda: hardware.output is False)  # relocked at once, blind
        writes = len(hardware.writes)
        wait_until(lambda: len(hardware.writes) >= writes + 3)  # and again every retry_s
        assert recorder.of(LockConfirmed) == []
        hardware.lose_answers(False)
        recorder.wait_for(LockConfirmed)
        recorder.wait_for(DoorFaultCleared)
        assert door.status.fault is None
    finally:
        door.stop()


def test_a_lock_that_takes_writes_but_never_moves_fails_the_unlock_in_plain_words(
    controller: DoorController, hardware: SimulatedDoor, recorder: DoorEventRecorder
) -> None:
    hardware.stick(False)  # outputs disabled: each write answered, none carried out
    granted = decision()
    assert controller.grant(granted).wait(WAIT_S) is CommandResult.FAILED
    failed = recorder.wait_for(UnlockFailed)
    assert failed.event_id == granted.event_id
    assert failed.detail == (
        "the door hardware (simulated) took the lock output on but reads it back off; check "
        "that its outputs are enabled (not in a manual or test mode) and the relay is not stuck"
    )
    assert controller.status.fault == failed.detail
    assert recorder.of(Unlocked) == []


def test_a_door_stood_down_is_never_driven_again(
    controller: DoorController, hardware: SimulatedDoor, recorder: DoorEventRecorder
) -> None:
    why = "kiosk id door-test is in use by another running kiosk"
    controller.stand_down(why).wait(WAIT_S)
    writes = len(hardware.writes)
    hardware.set_lock_output(True)  # the other kiosk unlocks the door
    granted = decision()
    assert controller.grant(granted).wait(WAIT_S) is CommandResult.REFUSED
    refused = recorder.wait_for(UnlockRefused)
    assert (refused.event_id, refused.why) == (granted.event_id, why)
    assert controller.status.fault == why
    controller.stop()
    assert hardware.writes[writes:] == [True], "only the other kiosk's write"
    assert hardware.output is True, "not relocked at stop: not this kiosk's door any more"
    assert recorder.of(Relocked)[-1].cause is RelockCause.START


def test_a_request_the_control_cannot_carry_out_fails_alone_and_the_door_goes_on(
    controller: DoorController, hardware: SimulatedDoor, recorder: DoorEventRecorder
) -> None:
    def broken(_control: DoorControl, _now: float) -> list[DoorEvent]:
        raise TypeError("a request built wrong")

    command = DoorCommand(broken)
    controller._commands.put(command)  # as a request with a bug of ours would arrive
    assert command.wait(WAIT_S) is CommandResult.FAILED
    assert "could not carry out the request (TypeError)" in command.detail
    controller.consume(decision())  # the door's thread lives on: the next grant opens
    assert recorder.wait_for(Unlocked).cause is UnlockCause.GRANT
    assert hardware.output


def test_a_bug_on_the_door_thread_drives_the_lock_locked_and_the_status_says_so(
    controller: DoorController,
    hardware: SimulatedDoor,
    recorder: DoorEventRecorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    controller.consume(decision())
    recorder.wait_for(Unlocked)
    assert hardware.output  # unlocked for unlock_s

    def failing_tick(_now: float) -> list[DoorEvent]:
        raise RuntimeError("a bug in the door's control")

    monkeypatch.setattr(controller._control, "tick", failing_tick)
    controller.lockdown(operator="test", reason="wake the door's thread").wait(WAIT_S)
    wait_until(lambda: controller.status.fault == CONTROL_FAILED)
    assert not hardware.output  # driven locked, not left unlocked until a restart
    late = controller.grant(decision())
    assert late.wait(WAIT_S) is CommandResult.FAILED
    assert late.detail == "the door control is not running"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"occurred_at": datetime(2026, 12, 1, 9, 0)}, "no time zone"),
        ({"latency_ms": -1.0}, "latency_ms"),
        ({"latency_ms": float("nan")}, "latency_ms"),
        ({"similarity": float("inf")}, "similarity"),
        ({"outcome": AccessOutcome.REFUSED}, "refusal"),
    ],
)
def test_a_decision_no_consumer_could_use_cannot_be_made(
    change: dict[str, object], problem: str
) -> None:
    fields: dict[str, object] = {
        "kiosk_id": "door-test",
        "outcome": AccessOutcome.GRANTED,
        "latency_ms": 300.0,
    }
    with pytest.raises(ValueError, match=problem):
        AccessDecision(**(fields | change))  # type: ignore[arg-type]


EXIT_UNPLANNED = """
import atexit, sys
from core.access.door_controller import DoorController
from core.door_io_settings import DoorIoSettings
from door_io.simulated import SimulatedDoor
from tests.door_events_recorder import wait_until
from tests.test_door_controller import FAST, decision

hardware = SimulatedDoor()
atexit.register(lambda: print("unlocked at the end:", hardware.output))  # runs last
door = DoorController(hardware, FAST)
door.start()
door.consume(decision())
wait_until(lambda: hardware.output)
print("unlocked:", hardware.output, flush=True)
raise SystemExit(7)  # as a library's SystemExit in a Qt slot ends the kiosk
"""


@pytest.mark.slow  # a process of its own
def test_an_exit_nobody_planned_still_relocks_the_door(tmp_path: Path) -> None:
    script = tmp_path / "exit_unplanned.py"
    script.write_text(EXIT_UNPLANNED)
    ended = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert ended.returncode == 7, ended.stderr
    assert ended.stdout.splitlines() == ["unlocked: True", "unlocked at the end: False"]


def test_a_bug_while_the_module_is_away_relocks_the_door_once_it_answers(
    controller: DoorController,
    hardware: SimulatedDoor,
    recorder: DoorEventRecorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    controller.consume(decision())
    recorder.wait_for(Unlocked)
    hardware.unplug()

    def failing_tick(_now: float) -> list[DoorEvent]:
        raise SystemExit("a library's exit on the door's thread")

    monkeypatch.setattr(controller._control, "tick", failing_tick)
    controller.lockdown(operator="test", reason="wake the door's thread").wait(WAIT_S)
    wait_until(lambda: controller.status.fault == CONTROL_FAILED)
    assert hardware.output  # the module is away: the relock has not taken yet
    hardware.unplug(False)
    wait_until(lambda: not hardware.output)  # tried again until it took
    assert controller.status.fault == CONTROL_FAILED


def test_a_listener_that_raises_system_exit_is_counted_and_the_door_goes_on(
    hardware: SimulatedDoor, recorder: DoorEventRecorder
) -> None:
    def exiting(_event: DoorEvent) -> None:
        raise SystemExit(3)

    door = DoorController(hardware, FAST, listeners=[exiting, recorder])
    door.start()
    try:
        recorder.wait_for(Relocked)
        door.consume(decision())
        recorder.wait_for(Unlocked)
        assert hardware.output
        assert door.listener_failures >= 2
        assert door.status.fault is None
    finally:
        door.stop()
    assert not hardware.output
