"""The lock is forced locked first, before the database and the models, and kept
locked when the kiosk's start-up fails (core.access.lock_hold.LockHold), against a
real Modbus-TCP module (pymodbus's own server on 127.0.0.1)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from config.environment import Location
from core.access.lock_hold import LockHold
from core.door_io_settings import DoorIoSettings
from core.settings import Settings
from door_io.modbus import ModbusDoor
from door_io.modbus_module import ModbusModule
from kiosk.app import KioskWindow
from tests.conftest import dispose_windows
from tests.door_events_recorder import wait_until
from tests.door_kiosk_process import LOCK_COIL, KioskProcess
from tests.operator_window import camera_folder

UNREACHABLE_DATABASE = "postgresql+psycopg://u:p@127.0.0.1:1/x"
LOCKED_WITHIN_S = 2.0


@pytest.fixture
def module() -> Iterator[ModbusModule]:
    server = ModbusModule()
    server.start()
    yield server
    server.close()


def door_settings(module: ModbusModule, **changes: object) -> DoorIoSettings:
    return DoorIoSettings.model_validate(
        {
            "adapter": "modbus",
            "modbus_host": "127.0.0.1",
            "modbus_port": module.port,
            "modbus_lock_coil": LOCK_COIL,
            "modbus_timeout_s": 0.5,
            "retry_s": 0.1,
            "retry_max_s": 0.3,
            **changes,
        }
    )


def left_unlocked(module: ModbusModule) -> None:
    """What a kiosk killed during an unlock leaves behind: the coil on."""
    other = ModbusDoor(door_settings(module))
    other.set_lock_output(True)
    other.close()
    assert module.coil(LOCK_COIL)


class Faults:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.seen: list[str | None] = []

    def __call__(self, fault: str | None) -> None:
        with self._changed:
            self.seen.append(fault)
            self._changed.notify_all()

    def wait_for(self, accept: object, timeout_s: float = 5.0) -> None:
        def found() -> bool:
            return any(f is None if accept is None else f is not None for f in self.seen)

        with self._changed:
            assert self._changed.wait_for(found, timeout_s), f"no such report: {self.seen}"


def test_the_hold_relocks_a_coil_left_on_and_keeps_it_locked(module: ModbusModule) -> None:
    left_unlocked(module)
    faults = Faults()
    hold = LockHold(ModbusDoor(door_settings(module)), door_settings(module), faults)
    hold.start()
    try:
        assert hold.wait_first_try(LOCKED_WITHIN_S)
        assert not module.coil(LOCK_COIL)
        assert hold.fault is None
        left_unlocked(module)  # a module that restarted with its output on, say
        wait_until(lambda: not module.coil(LOCK_COIL), timeout_s=LOCKED_WITHIN_S)
    finally:
        io = hold.handover()
    io.set_lock_output(False)  # handed over still open and usable
    io.close()
    assert faults.seen == [None]
    on, off = (LOCK_COIL, True), (LOCK_COIL, False)
    # left on, locked by the hold, left on again, locked again, the controller's write
    assert module.coil_writes == [on, off, on, off, off]


def test_a_module_that_does_not_answer_is_a_fault_tried_again_until_it_does() -> None:
    module = ModbusModule()  # its port is kept, nothing listens on it yet
    faults = Faults()
    settings = door_settings(module)
    hold = LockHold(ModbusDoor(settings), settings, faults)
    hold.start()
    try:
        faults.wait_for("a fault")
        assert "does not answer" in (hold.fault or "")
        module.start()
        faults.wait_for(None)
        assert hold.fault is None
        assert module.coil_writes[0] == (LOCK_COIL, False)
    finally:
        hold.stop()
        module.close()


@pytest.mark.parametrize("answers", [True, False], ids=["module answers", "module silent"])
def test_a_failed_start_shows_the_door_locked_or_faulted(
    qtbot: QtBot, tmp_path: Path, answers: bool
) -> None:
    module = ModbusModule()
    if answers:
        module.start()
        left_unlocked(module)
    settings = Settings(door_io=door_settings(module))
    camera = camera_folder(tmp_path / "camera", np.full((120, 160, 3), 60, np.uint8))
    window = KioskWindow(settings, Location(tmp_path / "data", UNREACHABLE_DATABASE), str(camera))
    qtbot.addWidget(window)
    try:
        window.controller.start()
        screen = window.door
        qtbot.waitUntil(lambda: "cannot start" in screen.status.text(), timeout=30_000)
        expected = "door locked" if answers else "door locked · DOOR FAULT"
        qtbot.waitUntil(lambda: screen.door_state.text() == expected, timeout=5_000)
        if answers:
            assert not module.coil(LOCK_COIL)
    finally:
        dispose_windows([window])
        module.close()


def test_a_kiosk_that_cannot_reach_its_database_locks_the_door_first(
    module: ModbusModule, tmp_path: Path
) -> None:
    left_unlocked(module)
    camera = camera_folder(tmp_path / "camera", np.full((120, 160, 3), 60, np.uint8))
    kiosk = KioskProcess(camera, UNREACHABLE_DATABASE, tmp_path / "data", module)
    try:
        kiosk.wait_for("cannot start: the database cannot be reached")
        assert not module.coil(LOCK_COIL), "locked before the failed start-up ended"
        begun = kiosk.wait_for("door hardware: modbus")
        locked = kiosk.wait_for("held locked until the kiosk has started")
        assert locked - begun < LOCKED_WITHIN_S
        kiosk.wait_for("banner: starting: failed")
        assert not module.coil(LOCK_COIL), "kept locked after the failed start"
    finally:
        code = kiosk.stop(signal.SIGTERM)
    assert code == 0, kiosk.log
    assert "Traceback" not in kiosk.log, kiosk.log
    writes = module.coil_writes[1:]  # after left_unlocked's
    assert writes[:1] == [(LOCK_COIL, False)], "forced locked first"
    assert (LOCK_COIL, True) not in writes
    assert not module.coil(LOCK_COIL), "locked at a clean exit"
