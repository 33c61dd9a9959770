"""The Modbus-TCP door adapter against a real Modbus-TCP server (pymodbus's own, on
127.0.0.1): the lock coil, the door contact and exit button inputs, the module
going away and coming back."""

from __future__ import annotations

import time
from collections.abc import Iterator

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
)
from core.door_io_settings import DoorIoSettings, FailMode
from core.errors import DoorFault
from core.records import AccessDecision, AccessOutcome
from door_io.hardware import open_door_io
from door_io.modbus import ModbusDoor
from door_io.modbus_module import ModbusModule
from tests.door_events_recorder import DoorEventRecorder, wait_until
from tests.silent_module import SilentModule

pytestmark = pytest.mark.slow  # a real Modbus-TCP module and its time-outs

LOCK_COIL = 3
CONTACT = 4
EXIT = 6


@pytest.fixture
def module() -> Iterator[ModbusModule]:
    server = ModbusModule()
    server.start()
    server.set_input(CONTACT, True)  # a normally-closed contact: on while the door is shut
    yield server
    server.close()


def settings_for(module: ModbusModule, **changes: object) -> DoorIoSettings:
    return DoorIoSettings.model_validate(
        {
            "adapter": "modbus",
            "modbus_host": "127.0.0.1",
            "modbus_port": module.port,
            "modbus_unit": 1,
            "modbus_lock_coil": LOCK_COIL,
            "modbus_contact_input": CONTACT,
            "modbus_exit_input": EXIT,
            "modbus_timeout_s": 0.5,
            "unlock_s": 1,
            "held_open_s": 1,
            "poll_interval_s": 0.02,
            "debounce_s": 0.04,
            "retry_s": 0.1,
            "retry_max_s": 0.4,
            **changes,
        }
    )


@pytest.fixture
def recorder() -> DoorEventRecorder:
    return DoorEventRecorder()


@pytest.fixture
def controller(module: ModbusModule, recorder: DoorEventRecorder) -> Iterator[DoorController]:
    io = open_door_io(settings_for(module))
    assert isinstance(io, ModbusDoor)
    door = DoorController(io, settings_for(module), listeners=[recorder])
    door.start()
    recorder.wait_for(Relocked)
    wait_until(lambda: door.status.state.door_open is not None)  # the inputs were read
    yield door
    door.stop()


def granted() -> AccessDecision:
    return AccessDecision(kiosk_id="door-test", outcome=AccessOutcome.GRANTED, latency_ms=250)


def test_start_forces_a_coil_left_on_off(module: ModbusModule, recorder: DoorEventRecorder) -> None:
    io = ModbusDoor(settings_for(module))
    io.set_lock_output(True)  # what a kiosk killed during an unlock leaves behind
    io.close()
    assert module.coil(LOCK_COIL)
    door = DoorController(
        ModbusDoor(settings_for(module)), settings_for(module), listeners=[recorder]
    )
    door.start()
    try:
        assert recorder.wait_for(Relocked).cause is RelockCause.START
        wait_until(lambda: not module.coil(LOCK_COIL))
    finally:
        door.stop()


def test_a_grant_sets_the_coil_and_it_resets_after_unlock_s(
    controller: DoorController, module: ModbusModule, recorder: DoorEventRecorder
) -> None:
    decision = granted()
    controller.consume(decision)  # returns once the module acknowledged the write
    assert module.coil(LOCK_COIL)
    assert recorder.wait_for(Unlocked).event_id == decision.event_id
    wait_until(lambda: not module.coil(LOCK_COIL), timeout_s=3)
    relocked = recorder.wait_for(Relocked, lambda e: e.cause is RelockCause.TIME_UP)
    assert relocked.at_s - recorder.wait_for(Unlocked).at_s == pytest.approx(1.0, abs=0.2)


def test_a_stranger_never_sets_the_coil(
    controller: DoorController, module: ModbusModule, recorder: DoorEventRecorder
) -> None:
    for outcome in (AccessOutcome.UNKNOWN, AccessOutcome.OFFLINE, AccessOutcome.NO_FACE):
        controller.consume(AccessDecision(kiosk_id="door-test", outcome=outcome, latency_ms=250))
    controller.release(operator="ada", reason="a round trip of the door's thread").wait(2)
    assert not module.coil(LOCK_COIL)
    assert recorder.of(Unlocked) == []


def test_the_contact_opening_while_locked_is_forced_open_within_a_second(
    controller: DoorController, module: ModbusModule, recorder: DoorEventRecorder
) -> None:
    module.set_input(CONTACT, False)
    alarm = recorder.wait_for(AlarmRaised, timeout_s=1)
    assert alarm.alarm is Alarm.FORCED_OPEN


def test_held_open_after_held_open_s(
    controller: DoorController, module: ModbusModule, recorder: DoorEventRecorder
) -> None:
    controller.consume(granted())
    module.set_input(CONTACT, False)
    alarm = recorder.wait_for(AlarmRaised, timeout_s=3)
    assert alarm.alarm is Alarm.HELD_OPEN
    module.set_input(CONTACT, True)
    wait_until(lambda: controller.status.state.alarms == frozenset())


def test_the_exit_button_unlocks(
    controller: DoorController, module: ModbusModule, recorder: DoorEventRecorder
) -> None:
    module.set_input(EXIT, True)
    recorder.wait_for(ExitRequested)
    assert recorder.wait_for(Unlocked).cause is UnlockCause.EXIT_REQUEST
    wait_until(lambda: module.coil(LOCK_COIL))


def test_the_module_stopping_and_restarting_mid_run(
    controller: DoorController, module: ModbusModule, recorder: DoorEventRecorder
) -> None:
    module.stop()
    recorder.wait_for(DoorFaulted)
    assert controller.status.fault is not None
    with pytest.raises(DoorFault):
        controller.consume(granted())
    module.start()
    module.set_input(CONTACT, True)
    recorder.wait_for(DoorFaultCleared)
    wait_until(lambda: controller.status.fault is None)
    assert not module.coil(LOCK_COIL)
    decision = granted()
    controller.consume(decision)
    assert module.coil(LOCK_COIL)


def test_a_fail_safe_lock_is_locked_again_after_the_module_restarts(
    module: ModbusModule, recorder: DoorEventRecorder
) -> None:
    settings = settings_for(module, fail_mode=FailMode.SAFE)
    door = DoorController(ModbusDoor(settings), settings, listeners=[recorder])
    door.start()
    try:
        wait_until(lambda: module.coil(LOCK_COIL))  # energised: locked
        module.stop()
        recorder.wait_for(DoorFaulted)
        module.start()  # powered up with the coil off: a magnetic lock released
        module.set_input(CONTACT, True)
        recorder.wait_for(DoorFaultCleared)
        wait_until(lambda: module.coil(LOCK_COIL))
    finally:
        door.stop()
    assert module.coil(LOCK_COIL)


RAW_WORDS = ("Modbus Error", "Exception", "Errno", "pymodbus", "[", "\n")


def plain(message: str) -> bool:
    """One line in the kiosk's words: none of pymodbus's own."""
    return not any(word in message for word in RAW_WORDS)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"modbus_lock_coil": 500},
            "has no coil 500; check door_io.modbus_lock_coil (addresses count from 0)",
        ),
        (
            {"modbus_exit_input": 600},
            "has no discrete inputs 4-600; check door_io.modbus_contact_input and "
            "modbus_exit_input (addresses count from 0)",
        ),
        (
            {"modbus_unit": 7},
            "reports a failure for unit 7; check door_io.modbus_unit and restart the module",
        ),
    ],
    ids=["coil", "input", "unit"],
)
def test_a_refused_request_is_one_plain_line_naming_the_fix(
    module: ModbusModule,
    caplog: pytest.LogCaptureFixture,
    changes: dict[str, object],
    expected: str,
) -> None:
    io = ModbusDoor(settings_for(module, **changes))
    with pytest.raises(DoorFault) as fault:
        io.read_inputs()
    io.close()
    assert str(fault.value) == f"the Modbus module at 127.0.0.1:{module.port} {expected}"
    assert plain(str(fault.value))
    assert "ExceptionResponse" in caplog.text, "the module's own answer is kept in the log"


def test_no_module_at_the_address_is_a_fault_naming_the_fix(module: ModbusModule) -> None:
    module.stop()
    io = ModbusDoor(settings_for(module))
    with pytest.raises(DoorFault) as fault:
        io.read_inputs()
    io.close()
    assert str(fault.value) == (
        f"the Modbus module at 127.0.0.1:{module.port} does not answer; check its power and "
        "network cable, and door_io.modbus_host and modbus_port"
    )


def test_a_module_that_never_answers_is_one_plain_line(caplog: pytest.LogCaptureFixture) -> None:
    silent = SilentModule()
    try:
        settings = DoorIoSettings(
            adapter="modbus", modbus_host="127.0.0.1", modbus_port=silent.port, modbus_timeout_s=0.3
        )
        io = ModbusDoor(settings)
        with pytest.raises(DoorFault) as fault:
            io.set_lock_output(False)
        io.close()
    finally:
        silent.close()
    assert str(fault.value) == (
        f"the Modbus module at 127.0.0.1:{silent.port} did not answer within 0.3 s; check its "
        "power and network cable, and door_io.modbus_unit (1)"
    )
    assert "ModbusIOException" in caplog.text


def test_the_fault_operators_see_holds_no_pymodbus_text(
    controller: DoorController, module: ModbusModule, recorder: DoorEventRecorder
) -> None:
    module.stop()
    faulted = recorder.wait_for(DoorFaulted)
    assert faulted.detail.startswith(f"the Modbus module at 127.0.0.1:{module.port} ")
    assert plain(faulted.detail), faulted.detail
    wait_until(lambda: controller.status.fault is not None)
    assert plain(controller.status.fault or ""), controller.status.fault
    with pytest.raises(DoorFault) as failed:
        controller.consume(granted())
    assert plain(recorder.wait_for(UnlockFailed).detail)
    assert plain(str(failed.value).split(": ", 1)[1])


def operator_unlock(controller: DoorController, seconds: float) -> CommandResult:
    return controller.unlock_for(seconds, operator="ada", reason="delivery").wait(3)


def test_the_link_back_after_an_unlock_ran_out_drives_the_coil_locked(
    controller: DoorController, module: ModbusModule, recorder: DoorEventRecorder
) -> None:
    assert operator_unlock(controller, 1.0) is CommandResult.DONE
    assert module.coil(LOCK_COIL)
    module.stop(keep_outputs=True)  # the network link goes down; the coil stays on
    recorder.wait_for(DoorFaulted)
    relocked = recorder.wait_for(Relocked, lambda e: e.cause is not RelockCause.START)
    assert relocked.cause is RelockCause.TIME_UP, "the unlock ran its time"
    cleared_before = len(recorder.of(DoorFaultCleared))
    module.start()  # the link is back: the module still has the coil on
    module.set_input(CONTACT, True)
    wait_until(lambda: len(recorder.of(DoorFaultCleared)) > cleared_before)
    wait_until(lambda: not module.coil(LOCK_COIL), timeout_s=2)
    assert module.coil_writes[-1] == (LOCK_COIL, False)


def test_an_unlock_asked_for_while_the_link_is_down_never_fires_later(
    controller: DoorController, module: ModbusModule, recorder: DoorEventRecorder
) -> None:
    module.stop(keep_outputs=True)
    recorder.wait_for(DoorFaulted)
    command = controller.unlock_for(1.0, operator="ada", reason="delivery")
    assert command.wait(3) is CommandResult.FAILED
    assert plain(command.detail)
    assert recorder.wait_for(UnlockFailed).event_id is None  # not a grant's
    with pytest.raises(DoorFault):
        controller.consume(granted())
    time.sleep(1.2)  # the link stays down past the unlock's time (what is tested)
    writes_before = len(module.coil_writes)
    module.start()
    module.set_input(CONTACT, True)
    recorder.wait_for(DoorFaultCleared)
    controller.release(operator="ada", reason="a round trip of the door's thread").wait(2)
    wait_until(lambda: controller.status.state.door_open is not None)
    assert (LOCK_COIL, True) not in module.coil_writes[writes_before:]
    assert not module.coil(LOCK_COIL)
    assert not controller.status.state.unlocked


def test_a_module_that_restarts_within_an_unlock_gets_the_unlock_again(
    controller: DoorController, module: ModbusModule, recorder: DoorEventRecorder
) -> None:
    assert operator_unlock(controller, 3.0) is CommandResult.DONE
    module.stop()  # a power cut: it comes back with the coil off
    recorder.wait_for(DoorFaulted)
    module.start()
    module.set_input(CONTACT, True)
    wait_until(lambda: module.coil(LOCK_COIL), timeout_s=2)  # the door's state, set again
    relocked = recorder.wait_for(Relocked, lambda e: e.cause is not RelockCause.START, timeout_s=4)
    assert relocked.cause is RelockCause.TIME_UP
    wait_until(lambda: not module.coil(LOCK_COIL))
