"""The USB-serial relay board adapter through a pseudo-terminal pair: the test plays
the LCUS-type board and checks the bytes it is sent."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.access.door_controller import DoorController
from core.access.door_events import (
    DoorFaultCleared,
    DoorFaulted,
    RelockCause,
    Relocked,
    Unlocked,
)
from core.door_io_settings import DoorIoSettings
from core.errors import DoorFault
from core.records import AccessDecision, AccessOutcome
from door_io.hardware import open_door_io
from door_io.serial_relay import SerialRelayDoor, relay_command
from tests.door_events_recorder import DoorEventRecorder

ON = bytes.fromhex("A0 01 01 A2")
OFF = bytes.fromhex("A0 01 00 A1")
WAIT_S = 5.0


class RelayBoard:
    """The board's end of the pty: what the kiosk writes arrives here."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        self.port = os.ttyname(self._slave)
        self._closed = False

    def command(self, timeout_s: float = WAIT_S) -> bytes:
        """The next 4-byte command; AssertionError if none came in time."""
        received = b""
        end = time.monotonic() + timeout_s
        while len(received) < 4:
            ready, _, _ = select.select([self.master], [], [], max(0.0, end - time.monotonic()))
            assert ready, f"no command within {timeout_s} s (got {received.hex(' ')})"
            received += os.read(self.master, 4 - len(received))
        return received

    def quiet(self, timeout_s: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout_s)
        return not ready

    def close(self) -> None:
        """Safe to call more than once (a descriptor number is never closed twice: it
        may be another file's by then)."""
        if not self._closed:
            self._closed = True
            os.close(self.master)
            os.close(self._slave)


@pytest.fixture
def board() -> Iterator[RelayBoard]:
    relay = RelayBoard()
    yield relay
    relay.close()


def settings_for(board: RelayBoard, **changes: object) -> DoorIoSettings:
    return DoorIoSettings.model_validate(
        {"adapter": "serial", "serial_port": board.port, "unlock_s": 0.5, **changes}
    )


def test_the_lcus_commands() -> None:
    assert relay_command(1, True) == ON
    assert relay_command(1, False) == OFF
    assert relay_command(2, True) == bytes.fromhex("A0 02 01 A3")


def test_a_grant_closes_the_relay_and_it_opens_after_unlock_s(board: RelayBoard) -> None:
    settings = settings_for(board)
    io = open_door_io(settings)
    assert isinstance(io, SerialRelayDoor)
    recorder = DoorEventRecorder()
    door = DoorController(io, settings, listeners=[recorder])
    door.start()
    try:
        assert board.command() == OFF, "forced locked at start"
        decision = AccessDecision(kiosk_id="door-test", outcome=AccessOutcome.GRANTED, latency_ms=1)
        door.consume(decision)
        assert board.command() == ON
        assert recorder.wait_for(Unlocked).event_id == decision.event_id
        assert board.command() == OFF
        assert recorder.wait_for(Relocked, lambda e: e.cause is RelockCause.TIME_UP)
        door.consume(
            AccessDecision(kiosk_id="door-test", outcome=AccessOutcome.UNKNOWN, latency_ms=1)
        )
        assert board.quiet(0.3), "a stranger sends nothing"
    finally:
        door.stop()
    assert board.command() == OFF, "locked again at a clean stop"


def test_fail_safe_inverts_the_relay(board: RelayBoard) -> None:
    io = SerialRelayDoor(settings_for(board, serial_channel=2, fail_mode="safe"))
    settings = settings_for(board, serial_channel=2, fail_mode="safe")
    door = DoorController(io, settings)
    door.start()
    try:
        assert board.command() == bytes.fromhex("A0 02 01 A3"), "energised: locked"
    finally:
        door.stop()


def test_a_missing_port_is_one_plain_line_naming_the_fix(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = tmp_path / "ttyUSB9"
    io = SerialRelayDoor(DoorIoSettings(adapter="serial", serial_port=str(port)))
    with pytest.raises(DoorFault) as fault:
        io.set_lock_output(False)
    assert str(fault.value) == (
        f"the relay board on {port} is not there; check its USB cable and door_io.serial_port"
    )
    assert "Errno 2" in caplog.text, "pyserial's own words are kept in the log"


def test_a_board_unplugged_while_open_is_one_plain_line(board: RelayBoard) -> None:
    io = SerialRelayDoor(settings_for(board))
    io.set_lock_output(False)
    assert board.command() == OFF
    board.close()  # the board's end goes away: the next write fails with EIO
    with pytest.raises(DoorFault) as fault:
        io.set_lock_output(True)
    assert str(fault.value) == (
        f"the relay board on {board.port} is not there; check its USB cable and door_io.serial_port"
    )


class UsbLink:
    """A stable name for the board, as udev gives one (/dev/serial/by-id/...): a link
    to the pty of the board plugged in now, gone while none is."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.board: RelayBoard | None = None

    def plug(self) -> RelayBoard:
        self.board = RelayBoard()
        self.path.symlink_to(self.board.port)
        return self.board

    def unplug(self) -> None:
        assert self.board is not None
        self.path.unlink()
        self.board.close()
        self.board = None

    def close(self) -> None:
        if self.board is not None:
            self.unplug()


@pytest.fixture
def usb(tmp_path: Path) -> Iterator[UsbLink]:
    link = UsbLink(tmp_path / "ttyRELAY")
    yield link
    link.close()


def grant() -> AccessDecision:
    return AccessDecision(kiosk_id="door-test", outcome=AccessOutcome.GRANTED, latency_ms=1)


def test_a_board_unplugged_is_a_door_fault_and_set_again_when_plugged_back(usb: UsbLink) -> None:
    first = usb.plug()
    settings = DoorIoSettings.model_validate(
        {
            "adapter": "serial",
            "serial_port": str(usb.path),
            "poll_interval_s": 0.02,
            "retry_s": 0.05,
            "retry_max_s": 0.2,
        }
    )
    recorder = DoorEventRecorder()
    door = DoorController(SerialRelayDoor(settings), settings, listeners=[recorder])
    door.start()
    try:
        assert first.command() == OFF
        recorder.wait_for(Relocked)  # the start's write is over
        usb.unplug()  # nothing is written meanwhile: the door must see it by itself
        faulted = recorder.wait_for(DoorFaulted, timeout_s=2)
        assert faulted.detail == (
            f"the relay board on {usb.path} is not there; check its USB cable and "
            "door_io.serial_port"
        )
        assert door.status.fault == faulted.detail
        second = usb.plug()
        recorder.wait_for(DoorFaultCleared)
        assert second.command() == OFF, "the relay set again on the board plugged back"
        assert door.status.fault is None
        door.consume(grant())
        assert second.command() == ON
    finally:
        door.stop()


def test_another_board_under_the_same_name_is_found_and_set_again(usb: UsbLink) -> None:
    first = usb.plug()
    io = SerialRelayDoor(DoorIoSettings(adapter="serial", serial_port=str(usb.path)))
    io.set_lock_output(False)
    assert first.command() == OFF
    usb.path.unlink()  # unplugged and plugged back between two looks: a new device
    second = RelayBoard()
    usb.path.symlink_to(second.port)
    try:
        with pytest.raises(DoorFault) as fault:
            io.read_inputs()
        assert str(fault.value) == (
            f"the relay board on {usb.path} was unplugged and plugged in again; its relay "
            "is set again"
        )
        io.read_inputs()  # opened afresh: the new board
        io.set_lock_output(False)
        assert second.command() == OFF
        assert first.quiet(0.05), "nothing more to the board that went away"
    finally:
        io.close()
        second.close()
        first.close()
